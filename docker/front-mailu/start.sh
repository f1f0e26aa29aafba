#!/bin/bash
# /start.sh — PID 1 of the mca Mailu-shaped front test image.
#
# Behaves the way Mailu's front starts (core/nginx/start.py, read, not
# copied): a small supervisor that is neither nginx nor dovecot.
#   1. stale pid files under /run go, and /var/run/nginx.pid;
#   2. TLS_FLAVOR=cert|mail: the certificate watcher (/certwatcher.sh) starts
#      in the background unless CERT_WATCHER=0 (Mailu has no such switch: its
#      watcher always runs for these flavors). letsencrypt|mail-letsencrypt:
#      Mailu starts certbot here; the test front has no ACME CA, the tests
#      write certbot's layout themselves (tests/lib/front.sh le_lineage);
#   3. /config.sh renders the configs (Mailu: /config.py);
#   4. `dovecot -c /etc/dovecot/proxy.conf`: dovecot daemonizes, so its
#      master's parent becomes PID 1; its exit status is not looked at;
#   5. nginx in the foreground (-g 'daemon off;') as our child; when it
#      exits, so does the container. dovecot dying does not end it.
# SIGTERM ends PID 1 with 143 at once: the kernel then kills the rest.
set -u

log() { printf 'start.sh: %s\n' "$*" >&2; }

: "${TLS_FLAVOR:=cert}"
export TLS_FLAVOR

# Stale pid files from a previous run of this container (docker restart).
find /run -xdev -type f -name '*.pid' -print -delete 2>/dev/null | sed 's/^/start.sh: removed stale /' >&2
rm -f /var/run/nginx.pid

case $TLS_FLAVOR in
letsencrypt | mail-letsencrypt)
	log "TLS_FLAVOR=$TLS_FLAVOR: no certbot in the test front; certificates come from /certs/letsencrypt/live/{mailu,mailu-ecdsa}"
	;;
mail | cert)
	if [ "${CERT_WATCHER:-1}" != 0 ]; then
		/certwatcher.sh &
		log "certificate watcher pid $!"
	else
		log "certificate watcher off (CERT_WATCHER=0)"
	fi
	;;
esac

/config.sh || log "config.sh exited $?"
dovecot -c /etc/dovecot/proxy.conf || log "dovecot -c /etc/dovecot/proxy.conf exited $?"

nginx -g 'daemon off;' &
nginx_pid=$!
log "nginx pid $nginx_pid (PID 1 is $$)"

trap 'log "SIGTERM, terminating"; exit 143' TERM
trap 'exit 130' INT

rc=1
# `wait` returns early for a trapped signal, and when any child of ours
# (the watcher, a reparented orphan) ends; only nginx's exit ends PID 1.
while kill -0 "$nginx_pid" 2>/dev/null; do
	wait "$nginx_pid"
	rc=$?
done
log "nginx exited (status $rc)"
((rc > 0)) || rc=143
exit "$rc"
