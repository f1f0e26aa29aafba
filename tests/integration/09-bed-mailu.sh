#!/bin/bash
# tests/integration/09-bed-mailu.sh — the bed self-test of the Mailu-shaped
# front (docker/front-mailu, FRONT_KIND=mailu), with openssl, docker and
# /proc only (no agent). It checks the facts of Mailu's real front that the
# image reproduces:
#   1. processes: PID 1 is a supervisor, not nginx; the nginx master (from
#      /var/run/nginx.pid) and the dovecot master (from
#      /run/dovecot/master.pid, running `dovecot -c /etc/dovecot/proxy.conf`)
#      both have PID 1 as parent; the stock /etc/dovecot/dovecot.conf is
#      another file and still parses.
#   2. reloads: `nginx -s reload` alone leaves the seven dovecot endpoints on
#      the old certificate; a bare `dovecot reload` (no -c) and `doveadm
#      reload` reach the master started with -c (through the running config
#      process's socket, else through the stock dovecot.conf, whose base_dir
#      is the same); a docker restart comes back.
#   3. listeners from PORTS, TLS and TLS_FLAVOR as Mailu's configs and
#      dovecot's defaults make them: Mailu's default PORTS, the Helm chart's
#      PORTS=80,443,4190 (with PROXY_PROTOCOL on two ports), TLS=465,993,
#      TLS=443, notls.
#   4. the certificate watcher (image default for TLS_FLAVOR=cert): a pair
#      written in place, then one renamed over the old, each reaches all nine
#      endpoints within about 2 s without any exec from outside.
#   5. TLS_FLAVOR=letsencrypt: certbot's layout with the RSA (mailu) and
#      ECDSA (mailu-ecdsa) lineages; RSA-only and ECDSA-only signature
#      algorithms get the RSA and the ECDSA leaf on every endpoint; a renewed
#      RSA lineage and `nginx -s reload` leave dovecot's seven endpoints on the
#      old RSA leaf while the ECDSA ones are unchanged everywhere.
#
# Env: MCA_MAILU_PORT_BASE (24000). The five listener scenarios run at once,
# on the bases 16000 to 20000.
. "$(dirname "$0")/../lib/lib.sh"

require_root
require_cmd docker openssl python3

BASE=${MCA_MAILU_PORT_BASE:-24000}
export FRONT_KIND=mailu
NAME=mca-mailu-front-$$
WNAME=mca-mailu-watch-$$
LNAME=mca-mailu-le-$$
ALL=$FRONT_PROTOS
NGINX_PROTOS="https smtp"
DOVECOT_PROTOS="smtps submission imaps imap pop3s pop3 sieve"
RSA_ONLY=RSA-PSS+SHA256:RSA+SHA256
ECDSA_ONLY=ECDSA+SHA256

now() { date +%s.%N; }
dt() { awk "BEGIN{printf \"%.2f\", $2-$1}"; }

# fp_of PROTO [PORT_BASE]: the leaf served there ("none" when nothing)
fp_of() {
	front_served_fp 127.0.0.1 "$(front_port "$1" "${2:-$BASE}")" "$1" 2>/dev/null || echo none
}
expect_fp() { # "PROTOS" FP WHAT [PORT_BASE]
	local p
	for p in $1; do assert_eq "$2" "$(fp_of "$p" "${4:-$BASE}")" "$3: $p fingerprint"; done
}
wait_fp() { # "PROTOS" FP TIMEOUT [PORT_BASE]
	local p deadline=$((SECONDS + $3)) ok
	while :; do
		ok=1
		for p in $1; do [ "$(fp_of "$p" "${4:-$BASE}")" = "$2" ] || { ok=0; break; }; done
		((ok)) && return 0
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}
install_pair() { # PREFIX DIR: in place, as cp does (same inodes)
	cp "$T/pki/$1.cert.pem" "$2/cert.pem"
	cp "$T/pki/$1.key.pem" "$2/key.pem"
}
# in_front NAME CMD...: a shell command inside the front
in_front() { local n=$1; shift; docker exec "$n" sh -c "$*"; }
# ppid_of NAME PID: the parent of PID inside the front, from /proc
ppid_of() { in_front "$1" "awk '/^PPid:/{print \$2}' /proc/$2/status"; }

engine_up
at_exit engine_down
front_image_ensure
log "images $FRONT_MAILU_IMAGE ($FRONT_IMAGE_TIMES)"

certs_ca "$T/pki"
certs_leaf "$T/pki" A ec256 30 mail.a.mca.test &
certs_leaf "$T/pki" B rsa 30 mail.b.mca.test &
certs_leaf "$T/pki" R1 rsa 30 mail.r1.mca.test &
certs_leaf "$T/pki" R2 rsa 31 mail.r2.mca.test &
certs_leaf "$T/pki" E1 ec256 30 mail.e1.mca.test &
wait
FP_A=$(certs_fp "$T/pki/A.cert.pem") FP_B=$(certs_fp "$T/pki/B.cert.pem")
FP_R1=$(certs_fp "$T/pki/R1.cert.pem") FP_R2=$(certs_fp "$T/pki/R2.cert.pem")
FP_E1=$(certs_fp "$T/pki/E1.cert.pem")

# --- 1. processes ------------------------------------------------------------------
mkdir -p "$T/certs"
install_pair A "$T/certs"
at_exit front_stop "$NAME" "$T/front.docker.log"
t=$(now)
FRONT_CERT_WATCHER=0 front_start "$NAME" "$T/certs" "$BASE"
front_wait "$NAME" "$BASE" 60 || fail "Mailu-shaped front did not come up"
T_READY=$(dt "$t" "$(now)")
expect_fp "$ALL" "$FP_A" "fresh start"
assert_eq mailu "$(front_kind_of "$NAME")" "front kind label"

pid1=$(in_front "$NAME" 'tr "\0" " " </proc/1/cmdline')
log "PID 1: $pid1"
assert_ne nginx "$(in_front "$NAME" 'cat /proc/1/comm')" "PID 1's comm"
case $pid1 in *nginx* | *dovecot*) fail "PID 1 is a daemon: $pid1" ;; esac
in_front "$NAME" 'test -s /var/run/nginx.pid' || fail "/var/run/nginx.pid missing"
ngx=$(in_front "$NAME" 'cat /var/run/nginx.pid')
dov=$(in_front "$NAME" 'cat /run/dovecot/master.pid')
assert_contains "$(in_front "$NAME" "tr '\0' ' ' </proc/$ngx/cmdline")" "nginx: master process" "nginx master's cmdline"
assert_contains "$(in_front "$NAME" "tr '\0' ' ' </proc/$ngx/cmdline")" "daemon off;" "nginx master's cmdline"
assert_eq "dovecot -c /etc/dovecot/proxy.conf" \
	"$(in_front "$NAME" "tr '\0' ' ' </proc/$dov/cmdline" | sed 's|^/usr/sbin/||; s/ $//')" "dovecot master's cmdline"
assert_eq 1 "$(ppid_of "$NAME" "$ngx")" "nginx master's parent"
assert_eq 1 "$(ppid_of "$NAME" "$dov")" "dovecot master's parent"
# the stock dovecot.conf is another file, and parses (doveadm reads it)
in_front "$NAME" 'cmp -s /etc/dovecot/dovecot.conf /etc/dovecot/proxy.conf' && fail "dovecot.conf is proxy.conf"
in_front "$NAME" 'doveconf -n -c /etc/dovecot/dovecot.conf >/dev/null' 2>"$T/doveconf.log" ||
	fail "the stock dovecot.conf does not parse: $(cat "$T/doveconf.log")"
in_front "$NAME" 'grep -q "ssl_cert = </certs/cert.pem" /etc/dovecot/proxy.conf' || fail "proxy.conf does not serve /certs/cert.pem"
log "PID 1 '$pid1'; nginx master $ngx and dovecot master $dov (-c /etc/dovecot/proxy.conf) are its children"

# --- 2. reloads ---------------------------------------------------------------------
install_pair B "$T/certs"
t=$(now)
docker exec "$NAME" nginx -s reload
wait_fp "$NGINX_PROTOS" "$FP_B" 10 || expect_fp "$NGINX_PROTOS" "$FP_B" "10 s after nginx -s reload"
T_NGINX=$(dt "$t" "$(now)")
sleep 2
expect_fp "$DOVECOT_PROTOS" "$FP_A" "2 s after nginx -s reload (dovecot still old)"
log "nginx -s reload: https+smtp on B after ${T_NGINX}s, dovecot's seven still on A 2 s later"

t=$(now)
docker exec "$NAME" dovecot reload
wait_fp "$ALL" "$FP_B" 10 || expect_fp "$ALL" "$FP_B" "10 s after a bare dovecot reload"
T_DOVECOT=$(dt "$t" "$(now)")
log "bare 'dovecot reload' (no -c) reloads the master started with -c proxy.conf: all nine on B after ${T_DOVECOT}s"

install_pair A "$T/certs"
docker exec "$NAME" nginx -s reload
docker exec "$NAME" doveadm reload
wait_fp "$ALL" "$FP_A" 10 || expect_fp "$ALL" "$FP_A" "10 s after nginx -s reload + doveadm reload"
log "doveadm reload reaches it too: all nine back on A"

# How they find the master started with -c: both ask the running config
# process over /run/dovecot/config (root only) for base_dir, and only when
# that socket does not answer parse /etc/dovecot/dovecot.conf, whose
# base_dir (the default /run/dovecot) is the same. So with the socket away
# both still work on the stock file, and fail on one that does not parse;
# with the socket there, a broken stock file does not matter.
hup_count() { docker logs "$NAME" 2>&1 | grep -c "SIGHUP received - reloading configuration"; }
in_front "$NAME" 'cp /etc/dovecot/dovecot.conf /tmp/dovecot.conf.stock && mv /run/dovecot/config /run/dovecot/config.away'
hups=$(hup_count)
docker exec "$NAME" dovecot reload 2>"$T/nosock.log" || fail "dovecot reload without the config socket: $(cat "$T/nosock.log")"
docker exec "$NAME" doveadm reload 2>>"$T/nosock.log" || fail "doveadm reload without the config socket: $(cat "$T/nosock.log")"
in_front "$NAME" 'echo "mca_no_such_setting = 1" >>/etc/dovecot/dovecot.conf'
if docker exec "$NAME" dovecot reload 2>"$T/nosock-broken.log"; then
	fail "dovecot reload passed without the config socket and with a dovecot.conf that does not parse"
fi
if docker exec "$NAME" doveadm reload 2>>"$T/nosock-broken.log"; then
	fail "doveadm reload passed without the config socket and with a dovecot.conf that does not parse"
fi
assert_file_contains "$T/nosock-broken.log" "/etc/dovecot/dovecot.conf" "their error"
in_front "$NAME" 'mv /run/dovecot/config.away /run/dovecot/config'
docker exec "$NAME" dovecot reload 2>"$T/sock-broken.log" ||
	fail "dovecot reload with the config socket and a broken dovecot.conf: $(cat "$T/sock-broken.log")"
in_front "$NAME" 'cp /tmp/dovecot.conf.stock /etc/dovecot/dovecot.conf'
sleep 0.5
assert_eq $((hups + 3)) "$(hup_count)" "dovecot reloads (socket away: 2 of 4 commands; socket back: 1)"
log "dovecot reload / doveadm reload find the master through the config socket, else through the stock dovecot.conf's base_dir"

# a restart: the stale pid files are removed, both daemons come back
docker restart -t 5 "$NAME" >/dev/null
front_wait "$NAME" "$BASE" 60 || fail "front did not come back after docker restart"
expect_fp "$ALL" "$FP_A" "after docker restart"
front_stop "$NAME" "$T/front.docker.log"
assert_file_contains "$T/front.docker.log" "SIGHUP received - reloading configuration" "front log (dovecot reload)"
assert_file_contains "$T/front.docker.log" "removed stale /run/" "front log (stale pid files)"

# --- 3. listeners ------------------------------------------------------------------
# open PORT: something accepts TCP there
open() { _front_tcp_open 127.0.0.1 "$1"; }
# banner PROTO PORT: the capabilities a plain client sees (EHLO / CAPABILITY)
banner() {
	timeout 5 python3 - "$1" "$2" <<-'PY'
		import socket, sys
		proto, port = sys.argv[1], int(sys.argv[2])
		s = socket.create_connection(("127.0.0.1", port), timeout=4)
		f = s.makefile("rb")
		out = []
		if proto == "smtp":
		    while (l := f.readline())[3:4] == b"-": out.append(l)
		    s.sendall(b"EHLO probe.mca.test\r\n")
		    while True:
		        l = f.readline(); out.append(l)
		        if l[3:4] != b"-": break
		    s.sendall(b"QUIT\r\n")
		elif proto == "sieve":
		    while True:
		        l = f.readline(); out.append(l)
		        if not l or l.startswith(b"OK"): break
		print(b"".join(out).decode(errors="replace"))
	PY
}
# listeners PORT_BASE: "PROTO:MODE ..." for the nine, MODE tls (a leaf), plain
# (TCP, no TLS), pp (TCP, TLS only behind a PROXY header) or closed
listeners() {
	local b=$1 p port out="" mode
	for p in $ALL; do
		port=$(front_port "$p" "$b")
		if ! open "$port"; then
			mode=closed
		elif FRONT_PROBE_TIMEOUT=3 front_served_fp 127.0.0.1 "$port" "$p" >/dev/null 2>&1; then
			mode=tls
		elif [ "$(front_served_fp_proxied 127.0.0.1 "$port" "$p" 2>/dev/null)" = "$FP_A" ]; then
			mode=pp
		else
			mode=plain
		fi
		out+="${out:+ }$p:$mode"
	done
	echo "$out"
}
mkdir -p "$T/lcerts"
install_pair A "$T/lcerts"
declare -a got=()
# NAME BASE PORTS(- = Mailu's default) [docker run args...]
scenarios=(
	"default 17000 -"
	"helm 18000 80,443,4190 -e PROXY_PROTOCOL=18443,18190"
	"tls-465-993 19000 - -e TLS=465,993"
	"tls-443 20000 - -e TLS=443"
	"notls 16000 - -e TLS_FLAVOR=notls"
)
for s in "${scenarios[@]}"; do
	read -r sname sbase sports sargs <<<"$s"
	at_exit front_stop "mca-mailu-$sname-$$" "$T/$sname.docker.log"
	[ "$sports" = - ] && sports=""
	# shellcheck disable=SC2086 # the extra args are words
	FRONT_CERT_WATCHER=0 FRONT_MAILU_PORTS=$sports front_start "mca-mailu-$sname-$$" "$T/lcerts" "$sbase" $sargs
done
for s in "${scenarios[@]}"; do
	read -r sname sbase _ <<<"$s"
	front_wait "mca-mailu-$sname-$$" "$sbase" 60 || fail "front $sname did not come up"
	got[sbase]=$(listeners "$sbase")
	log "$sname: ${got[sbase]} (http:$(open $((sbase + 80)) && echo open || echo closed))"
done
# Mailu's default PORTS 25,80,443,465,993,995,4190: no 587, 143, 110
assert_eq "https:tls smtp:tls smtps:tls submission:closed imaps:tls imap:closed pop3s:tls pop3:closed sieve:tls" \
	"${got[17000]}" "listeners, Mailu's default PORTS"
# the Helm chart's PORTS=80,443,4190: 25 always; 465 and 993 from TLS; 995
# is not in PORTS, so Mailu leaves dovecot's default pop3s listener: it serves
assert_eq "https:pp smtp:tls smtps:tls submission:closed imaps:tls imap:closed pop3s:tls pop3:closed sieve:pp" \
	"${got[18000]}" "listeners, PORTS=80,443,4190 (PROXY_PROTOCOL on 443 and 4190)"
# TLS=465,993: no HTTPS; 995 from dovecot's default pop3s listener
assert_eq "https:closed smtp:tls smtps:tls submission:closed imaps:tls imap:closed pop3s:tls pop3:closed sieve:tls" \
	"${got[19000]}" "listeners, TLS=465,993"
# TLS=443: no 465; 993 and 995 from dovecot's default listeners
assert_eq "https:tls smtp:tls smtps:closed submission:closed imaps:tls imap:closed pop3s:tls pop3:closed sieve:tls" \
	"${got[20000]}" "listeners, TLS=443"
# notls: no TLS anywhere; SMTP and ManageSieve plain, without STARTTLS
assert_eq "https:closed smtp:plain smtps:closed submission:closed imaps:closed imap:closed pop3s:closed pop3:closed sieve:plain" \
	"${got[16000]}" "listeners, notls"
ehlo=$(banner smtp "$(front_port smtp 16000)")
assert_contains "$ehlo" "250 " "notls EHLO"
case $ehlo in *STARTTLS*) fail "notls: port 25 offers STARTTLS: $ehlo" ;; esac
caps=$(banner sieve "$(front_port sieve 16000)")
assert_contains "$caps" '"IMPLEMENTATION"' "notls ManageSieve capabilities"
case $caps in *STARTTLS*) fail "notls: ManageSieve offers STARTTLS: $caps" ;; esac
ehlo=$(banner smtp "$(front_port smtp 17000)")
assert_contains "$ehlo" "STARTTLS" "port 25 EHLO with TLS"
open 17080 || fail "default PORTS: no plain HTTP on 80 (the cert flavor's redirect server)"
open 18080 || fail "PORTS=80,443,4190: no plain HTTP on 80"
open 16080 || fail "notls: no plain HTTP on 80"
for s in "${scenarios[@]}"; do
	read -r sname _ <<<"$s"
	front_stop "mca-mailu-$sname-$$" "$T/$sname.docker.log"
done

# --- 4. the certificate watcher (on by default for TLS_FLAVOR=cert) ------------
mkdir -p "$T/wcerts"
install_pair A "$T/wcerts"
at_exit front_stop "$WNAME" "$T/watch.docker.log"
FRONT_CERT_WATCHER="" front_start "$WNAME" "$T/wcerts" "$BASE"
front_wait "$WNAME" "$BASE" 60 || fail "front with the watcher did not come up"
assert_contains "$(docker logs "$WNAME" 2>&1)" "certwatcher: watching /certs/cert.pem" "the front's log (the watcher on by default)"
execs0=$(docker inspect -f '{{len .ExecIDs}}' "$WNAME")
t=$(now) t_in_place=$t
install_pair B "$T/wcerts"
wait_fp "$ALL" "$FP_B" 10 || expect_fp "$ALL" "$FP_B" "10 s after writing B in place"
T_WATCH=$(dt "$t" "$(now)")
t=$(now)
cp "$T/pki/A.cert.pem" "$T/wcerts/.cert.new" && cp "$T/pki/A.key.pem" "$T/wcerts/.key.new"
mv "$T/wcerts/.cert.new" "$T/wcerts/cert.pem" && mv "$T/wcerts/.key.new" "$T/wcerts/key.pem"
wait_fp "$ALL" "$FP_A" 10 || expect_fp "$ALL" "$FP_A" "10 s after renaming A over B"
T_WATCH_MV=$(dt "$t" "$(now)")
# watchdog takes a file renamed over another as deleted and created: the
# pair is reconfigured four times (Mailu: /config.py each time), and no more
for ((i = 0; i < 100; i++)); do
	[ "$(front_watcher_reconfigs "$WNAME")" -ge 4 ] && break
	sleep 0.1
done
sleep 1.5
assert_eq 4 "$(front_watcher_reconfigs "$WNAME")" "the watcher's reconfigurations for a pair renamed into place"
assert_eq "$execs0" "$(docker inspect -f '{{len .ExecIDs}}' "$WNAME")" "docker execs during the watcher's reloads"
# first_log_after T0 TEXT: epoch time of the watcher front's first log line
# holding TEXT at or after T0
first_log_after() {
	local ts
	ts=$(docker logs -t "$WNAME" 2>&1 | grep -F -- "$2" | awk '{print $1}' | while read -r ts; do
		ts=$(date -d "$ts" +%s.%N)
		awk "BEGIN{exit !($ts >= $1)}" && { echo "$ts"; break; }
	done)
	[ -n "$ts" ] || { printf "no '%s' in the watcher front's log after %s\n" "$2" "$1" >&2; return 1; }
	echo "$ts"
}
# The watcher's own delay: from the write to its dovecot reload (or its
# reconfiguring), by the timestamps of docker logs: a poll a second, so
# under 2 s. Serving everywhere also waits for the new login processes and
# for probes of nine ports, so that gets 5 s.
w=$(first_log_after "$t_in_place" "certwatcher: reloading a running dovecot") || fail "no dovecot reload by the watcher"
W_IN_PLACE=$(dt "$t_in_place" "$w")
w=$(first_log_after "$t" ": reconfiguring") || fail "no reconfiguring by the watcher"
W_RENAME=$(dt "$t" "$w")
# A pair read half old, half new, as a reload between the two renames of an
# install would: B's RSA cert beside A's EC key. nginx takes it without an
# error (`nginx -t` passes) and fails every handshake (alert 40): why the
# agent never installs while the watcher is at work.
cp "$T/pki/B.cert.pem" "$T/wcerts/cert.pem"
mixed=""
for ((i = 0; i < 50; i++)); do
	mixed=$(openssl s_client -connect "127.0.0.1:$(front_port https "$BASE")" -servername mail.a.mca.test \
		</dev/null 2>&1) || true
	case $mixed in *"alert handshake failure"*) break ;; esac
	sleep 0.1
done
assert_contains "$mixed" "alert handshake failure" "HTTPS with an RSA cert beside an EC key"
docker exec "$WNAME" nginx -t >/dev/null 2>&1 || fail "nginx -t refused an RSA cert beside an EC key"
front_stop "$WNAME" "$T/watch.docker.log"
assert_file_contains "$T/watch.docker.log" "certwatcher: reloading a running nginx" "watcher log (in place)"
assert_file_contains "$T/watch.docker.log" "certwatcher: reloading a running dovecot" "watcher log (in place)"
assert_file_contains "$T/watch.docker.log" "/certs/key.pem created: reconfiguring" "watcher log (rename)"
awk "BEGIN{exit !($W_IN_PLACE <= 2.0 && $W_RENAME <= 2.0)}" ||
	fail "the watcher reacted ${W_IN_PLACE}s (in place) and ${W_RENAME}s (rename) after the write"
awk "BEGIN{exit !($T_WATCH <= 5.0 && $T_WATCH_MV <= 5.0)}" ||
	fail "the watcher's reloads took ${T_WATCH}s (in place) and ${T_WATCH_MV}s (rename) to reach all nine"
log "watcher: reloaded ${W_IN_PLACE}s after an in-place write, all nine on B after ${T_WATCH}s;" \
	"reconfigured ${W_RENAME}s after a rename, all nine back on A after ${T_WATCH_MV}s"

# --- 5. TLS_FLAVOR=letsencrypt --------------------------------------------------
mkdir -p "$T/lecerts"
le_lineage "$T/lecerts" mailu "$T/pki/R1"
le_lineage "$T/lecerts" mailu-ecdsa "$T/pki/E1"
at_exit front_stop "$LNAME" "$T/le.docker.log"
front_start "$LNAME" "$T/lecerts" "$BASE" -e TLS_FLAVOR=letsencrypt
front_wait "$LNAME" "$BASE" 60 || fail "letsencrypt front did not come up"
FRONT_SIGALGS=$RSA_ONLY expect_fp "$ALL" "$FP_R1" "letsencrypt, RSA-only client"
FRONT_SIGALGS=$ECDSA_ONLY expect_fp "$ALL" "$FP_E1" "letsencrypt, ECDSA-only client"
log "letsencrypt: RSA leaf for RSA-only clients, ECDSA leaf for ECDSA-only clients, on all nine"

le_lineage "$T/lecerts" mailu "$T/pki/R2"
assert_eq 2 "$LE_VERSION" "renewed lineage version"
live=$T/lecerts/letsencrypt/live/mailu
for k in cert privkey chain fullchain; do
	assert_eq "../../archive/mailu/${k}2.pem" "$(readlink "$live/$k.pem")" "live/mailu/$k.pem link"
done
[ -z "$(find "$live" -name 'previous_*')" ] || fail "previous_ links left in $live"
assert_eq "$FP_R2" "$(certs_fp "$live/nginx-chain.pem")" "nginx-chain.pem rewritten"
docker exec "$LNAME" nginx -s reload
FRONT_SIGALGS=$RSA_ONLY wait_fp "$NGINX_PROTOS" "$FP_R2" 10 ||
	FRONT_SIGALGS=$RSA_ONLY expect_fp "$NGINX_PROTOS" "$FP_R2" "RSA, 10 s after nginx -s reload"
sleep 2
FRONT_SIGALGS=$RSA_ONLY expect_fp "$DOVECOT_PROTOS" "$FP_R1" "RSA, 2 s after nginx -s reload (dovecot still old)"
FRONT_SIGALGS=$ECDSA_ONLY expect_fp "$ALL" "$FP_E1" "ECDSA after the RSA renewal (unchanged)"
log "renewed RSA lineage + nginx -s reload: dovecot's seven stale for RSA clients only"
docker exec "$LNAME" dovecot reload
FRONT_SIGALGS=$RSA_ONLY wait_fp "$ALL" "$FP_R2" 10 ||
	FRONT_SIGALGS=$RSA_ONLY expect_fp "$ALL" "$FP_R2" "RSA, 10 s after dovecot reload"
FRONT_SIGALGS=$ECDSA_ONLY expect_fp "$ALL" "$FP_E1" "ECDSA after dovecot reload"
front_stop "$LNAME" "$T/le.docker.log"

printf 'timing: ready=%ss nginx_reload=%ss dovecot_reload=%ss watcher_in_place=%ss/%ss watcher_rename=%ss/%ss\n' \
	"$T_READY" "$T_NGINX" "$T_DOVECOT" "$W_IN_PLACE" "$T_WATCH" "$W_RENAME" "$T_WATCH_MV"
pass "Mailu-shaped front: $FRONT_MAILU_IMAGE"
