#!/bin/bash
# /certwatcher.sh — the certificate watcher of the mca Mailu-shaped front
# test image, started by /start.sh for TLS_FLAVOR=cert|mail unless
# CERT_WATCHER=0. Behaves like Mailu's certwatcher.py (a watchdog
# PollingObserver on the directory of the cert and key; read, not copied):
# every second each of /certs/$TLS_CERT_FILENAME and /certs/$TLS_KEYPAIR_FILENAME
# is stat()ed (symlinks followed), and a change of one of them
#   - in place (same inode, other size or mtime): "modified": runs
#     `nginx -s reload` if /var/run/nginx.pid exists and `doveadm reload`
#     if /run/dovecot/master.pid exists;
#   - created, deleted or replaced (another inode, e.g. a rename over it):
#     runs /config.sh, which re-renders the configs and sends SIGHUP to
#     nginx and dovecot.
# One action per changed file and poll: a pair written in one second can
# reload twice, as in Mailu.
set -u

cert=/certs/${TLS_CERT_FILENAME:-cert.pem}
key=/certs/${TLS_KEYPAIR_FILENAME:-key.pem}

say() { printf 'certwatcher: %s\n' "$*" >&2; }
snap() { stat -L -c '%i %s %.9Y' "$1" 2>/dev/null || echo absent; }

reload_daemons() {
	if [ -e /var/run/nginx.pid ]; then
		say "reloading a running nginx"
		nginx -s reload
	fi
	if [ -e /run/dovecot/master.pid ]; then
		say "reloading a running dovecot"
		doveadm reload
	fi
}

old_cert=$(snap "$cert")
old_key=$(snap "$key")
say "watching $cert and $key every 1 s"
while :; do
	sleep 1
	for which in cert key; do
		if [ $which = cert ]; then path=$cert old=$old_cert; else path=$key old=$old_key; fi
		new=$(snap "$path")
		[ "$new" = "$old" ] && continue
		if [ $which = cert ]; then old_cert=$new; else old_key=$new; fi
		if [ "$old" = absent ] || [ "$new" = absent ] || [ "${old%% *}" != "${new%% *}" ]; then
			say "$path created, deleted or replaced: reconfiguring"
			/config.sh
		else
			say "$path modified"
			reload_daemons
		fi
	done
done
