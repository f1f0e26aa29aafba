#!/bin/bash
# /certwatcher.sh — the certificate watcher of the mca Mailu-shaped front
# test image, started by /start.sh for TLS_FLAVOR=cert|mail unless
# CERT_WATCHER=0. Behaves like Mailu's certwatcher.py (a watchdog
# PollingObserver on the directory of the cert and key; read, not copied):
# every second each of /certs/$TLS_CERT_FILENAME and /certs/$TLS_KEYPAIR_FILENAME
# is stat()ed (symlinks followed) and compared as watchdog 4.0.0's
# DirectorySnapshotDiff does (Mailu pins it):
#   - same inode, other size or mtime: "modified": runs `nginx -s reload`
#     if /var/run/nginx.pid exists and `doveadm reload` if
#     /run/dovecot/master.pid exists;
#   - another inode (a rename over it): "deleted" and "created";
#     appeared: "created"; gone: "deleted". Each of these runs /config.sh,
#     which re-renders the configs and sends SIGHUP to nginx and dovecot.
# Per poll, all deleted events first, then modified, then created, one
# action each, one after another: a pair renamed into place is
# reconfigured four times, as in Mailu. Between polls the watcher has no
# child process (Mailu's sleeps in Python): a child means it is at work.
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

# a pipe nobody writes: `read -t 1` on it sleeps without a child process
fifo=/run/certwatcher.fifo
if ! { rm -f "$fifo" && mkfifo -m 600 "$fifo" && exec 3<>"$fifo"; }; then
	say "cannot make $fifo"
	exit 1
fi
rm -f "$fifo"

reconfigure() { say "$1 $2: reconfiguring"; /config.sh; }

old_cert=$(snap "$cert")
old_key=$(snap "$key")
say "watching $cert and $key every 1 s"
while :; do
	read -r -t 1 -u 3 _ || :
	deleted=() modified=() created=()
	for which in cert key; do
		if [ $which = cert ]; then path=$cert old=$old_cert; else path=$key old=$old_key; fi
		new=$(snap "$path")
		[ "$new" = "$old" ] && continue
		if [ $which = cert ]; then old_cert=$new; else old_key=$new; fi
		if [ "$old" = absent ]; then
			created+=("$path")
		elif [ "$new" = absent ]; then
			deleted+=("$path")
		elif [ "${old%% *}" != "${new%% *}" ]; then
			deleted+=("$path") created+=("$path")
		else
			modified+=("$path")
		fi
	done
	for path in "${deleted[@]}"; do reconfigure "$path" deleted; done
	for path in "${modified[@]}"; do say "$path modified"; reload_daemons; done
	for path in "${created[@]}"; do reconfigure "$path" created; done
done
