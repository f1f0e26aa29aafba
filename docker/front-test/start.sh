#!/bin/bash
# /start.sh — entrypoint of the mca front test image.
# Renders nginx and dovecot configs from the environment, checks them, runs
# both in the foreground as children, forwards SIGTERM/SIGINT and exits as
# soon as either of them dies (so a broken front is visible, not half-alive).
set -euo pipefail

log() { printf 'start.sh: %s\n' "$*" >&2; }

: "${BIND_ADDRESS:=127.0.0.1}"
: "${PORT_HTTPS:=443}"
: "${PORT_SMTP:=25}"
: "${PORT_SMTPS:=465}"
: "${PORT_SUBMISSION:=587}"
: "${PORT_IMAP:=143}"
: "${PORT_IMAPS:=993}"
: "${PORT_POP3:=110}"
: "${PORT_POP3S:=995}"
: "${PORT_SIEVE:=4190}"
: "${PORT_HTTP_AUTH:=8000}"
: "${PROXY_PROTOCOL:=}"
# An OCSP response (DER) for HTTPS to staple, e.g. /certs/ocsp.der; unset:
# no stapling. Only HTTPS: nginx's mail module has no ssl_stapling.
: "${OCSP_STAPLE_FILE:=}"

NAMES="HTTPS SMTP SMTPS SUBMISSION IMAP IMAPS POP3 POP3S SIEVE"

for n in $NAMES HTTP_AUTH; do
	v=PORT_$n
	if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1 || ${!v} > 65535)); then
		log "bad $v='${!v}'"
		exit 2
	fi
done
if ! [[ $PROXY_PROTOCOL =~ ^[0-9,\ ]*$ ]]; then
	log "bad PROXY_PROTOCOL='$PROXY_PROTOCOL' (comma-separated port numbers)"
	exit 2
fi
STAPLING_HTTPS=
if [ -n "$OCSP_STAPLE_FILE" ]; then
	if ! [[ $OCSP_STAPLE_FILE =~ ^/[A-Za-z0-9._/-]+$ ]]; then
		log "bad OCSP_STAPLE_FILE='$OCSP_STAPLE_FILE' (an absolute path)"
		exit 2
	fi
	STAPLING_HTTPS="ssl_stapling on; ssl_stapling_file $OCSP_STAPLE_FILE;"
fi
export STAPLING_HTTPS

# PROXY_PROTOCOL lists actual port numbers. For each service derive:
#   PP_<N>      nginx: " proxy_protocol" or "";  dovecot: "yes"/"no"
#   REALIP_<N>  nginx http: take the client address from the PROXY header
pp_ports=",${PROXY_PROTOCOL// /},"
for n in $NAMES; do
	v=PORT_$n
	if [[ $pp_ports == *",${!v},"* ]]; then on=1; else on=0; fi
	case $n in
	HTTPS | SMTP)
		if ((on)); then printf -v "PP_$n" ' proxy_protocol'; else printf -v "PP_$n" ''; fi
		;;
	*)
		if ((on)); then printf -v "PP_$n" yes; else printf -v "PP_$n" no; fi
		;;
	esac
	if ((on)); then printf -v "REALIP_$n" 'real_ip_header proxy_protocol;'; else printf -v "REALIP_$n" ''; fi
	export "PP_$n" "REALIP_$n"
done
export BIND_ADDRESS PORT_HTTPS PORT_SMTP PORT_SMTPS PORT_SUBMISSION PORT_IMAP \
	PORT_IMAPS PORT_POP3 PORT_POP3S PORT_SIEVE PORT_HTTP_AUTH

# Substitute only our variables: nginx's $vars and dovecot's $protocols stay.
vars=
for n in BIND_ADDRESS PORT_HTTP_AUTH; do vars+="\${$n} "; done
for n in $NAMES; do vars+="\${PORT_$n} \${PP_$n} \${REALIP_$n} "; done
vars+="\${STAPLING_HTTPS} "
envsubst "$vars" </etc/mca/nginx.conf.tmpl >/etc/nginx/nginx.conf
envsubst "$vars" </etc/mca/dovecot.conf.tmpl >/etc/dovecot/dovecot.conf

for f in /certs/cert.pem /certs/key.pem; do
	[ -r "$f" ] || log "warning: $f missing or unreadable (mount a dir with cert.pem and key.pem on /certs)"
done

log "ports: https=$PORT_HTTPS smtp=$PORT_SMTP smtps=$PORT_SMTPS submission=$PORT_SUBMISSION" \
	"imap=$PORT_IMAP imaps=$PORT_IMAPS pop3=$PORT_POP3 pop3s=$PORT_POP3S sieve=$PORT_SIEVE" \
	"auth_http=$PORT_HTTP_AUTH bind=$BIND_ADDRESS proxy_protocol=[${PROXY_PROTOCOL}]"

# Fail early and loudly on a bad config/cert: both print to stderr.
nginx -t
doveconf -n >/dev/null

# Stale pid files from a previous run of this container (docker restart).
rm -f /run/nginx.pid /run/dovecot/master.pid

dovecot -F &
dovecot_pid=$!
nginx -g 'daemon off;' &
nginx_pid=$!
log "dovecot pid $dovecot_pid, nginx pid $nginx_pid"

stopping=0
# shellcheck disable=SC2317 # called by the trap
terminate() {
	stopping=1
	log "got signal, stopping nginx and dovecot"
	kill -QUIT "$nginx_pid" 2>/dev/null || true # graceful nginx shutdown
	kill -TERM "$dovecot_pid" 2>/dev/null || true
}
trap terminate TERM INT

# `wait -n` returns when either child exits (or a trapped signal arrives).
rc=0
while :; do
	wait -n "$dovecot_pid" "$nginx_pid" && rc=0 || rc=$?
	if ((stopping)); then break; fi
	if ! kill -0 "$dovecot_pid" 2>/dev/null; then
		log "dovecot exited (status $rc); stopping nginx"
		break
	fi
	if ! kill -0 "$nginx_pid" 2>/dev/null; then
		log "nginx exited (status $rc); stopping dovecot"
		break
	fi
done
trap - TERM INT
kill -QUIT "$nginx_pid" 2>/dev/null || true
kill -TERM "$dovecot_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true
wait "$dovecot_pid" 2>/dev/null || true
if ((stopping)); then exit 0; fi
((rc != 0)) || rc=1 # a service dying on its own is a failure
exit "$rc"
