#!/bin/bash
# The DANE check before a key change, against a real DNS server on
# loopback (dnsmasq serving TLSA as raw records): `once` from a pair:
# source, each bundle with a new key.
#   match     3 1 1 of the new key: dane.ok, rotated; 2 1 1 of the CA too
#   mismatch  warn: rotated, dane.mismatch with the records found and the
#             3 1 1 record to publish; enforce: exit 1, dane_mismatch,
#             nothing touched (files, current/, backups, execs); once the
#             record is published, the same bundle rotates
#   none      NXDOMAIN: dane.none, rotated, even in enforce
#   down      nothing listens: dane.unavailable, rotated (warn); a server
#             that never answers: dane.unavailable (timeout) within the
#             deadline, rotated even in enforce
. "$(dirname "$0")/../lib/lib.sh"
require_cmd dnsmasq

N=mail.example.test
PORT_BASE=${PORT_BASE:-26000}
DNS_PORT=26053		# dnsmasq
DOWN_PORT=26054		# nothing listens
MUTE_PORT=26056		# a socket that reads and never answers

# certs_leaf: same notBefore, so DAYS orders them (each newer than the last)
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b ec256 70 "$N"
certs_leaf "$T" ta ec256 80 "$N"
certs_leaf "$T" c ec256 90 "$N"
certs_leaf "$T" d ec256 100 "$N"
certs_leaf "$T" e ec256 110 "$N"
certs_leaf "$T" f ec256 120 "$N"
certs_leaf "$T" g ec256 130 "$N"
bed_start a

# 3 1 1 of a leaf's key, 2 1 1 of the test CA's: what an admin publishes
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }
for p in a b ta c d e f g; do
	declare "h_$p=$(spki "$T/$p.cert.pem")"
done
h_ca=$(spki "$T/ca.cert.pem")

# dns_serve RDATA...: dnsmasq on 127.0.0.1:DNS_PORT, authoritative for
# example.test (NXDOMAIN for names it has no record of), each RDATA a
# TLSA record of _25._tcp.mail.example.test; replaces the previous one
DNS_PID=
dns_stop() {
	[ -z "$DNS_PID" ] && return 0
	kill "$DNS_PID" 2>/dev/null
	wait "$DNS_PID" 2>/dev/null
	DNS_PID=
}
at_exit dns_stop
dns_serve() {
	local rr=() r i
	for r in "$@"; do rr+=("--dns-rr=_25._tcp.$N,52,$r"); done
	dns_stop
	dnsmasq --no-daemon --conf-file=/dev/null --pid-file= --port=$DNS_PORT \
		--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
		--local=/example.test/ --log-queries --log-facility=- "${rr[@]}" \
		>>"$T/dnsmasq.log" 2>&1 &
	DNS_PID=$!
	for i in $(seq 1 50); do
		ss -Hlun "sport = :$DNS_PORT" | grep -q . && return 0
		sleep 0.1
	done
	fail "dnsmasq does not listen on $DNS_PORT"
}

snapshot() {
	(cd "$T" && sha256sum certs/cert.pem certs/key.pem state/current/cert.pem state/current/key.pem)
	find "$T/state/backups" -mindepth 1 -maxdepth 1 | sort
}

# rotate NAME PREFIX DANE_ARGS...: `once` from PREFIX's pair, DNS at dnsmasq
rotate() {
	local name=$1 prefix=$2
	shift 2
	rm -rf "$T/src" && src_write "$prefix"
	# shellcheck disable=SC2046
	agent_run "$name" once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
		"--dns-server=127.0.0.1:$DNS_PORT" "$@"
	assert_json_lines "$name"
}
field() { events "$1" "select(.event==\"$2\") | $3"; }
assert_rotated() { # NAME PREFIX
	assert_eq 0 "$AGENT_RC" "$1: once exit code"
	assert_eq '"rotated"' "$(field "$1" cycle.done .outcome)" "$1: outcome"
	assert_all_serve "$(certs_fp "$T/$2.cert.pem")"
}
# the check comes before anything is touched: its event precedes cert.backup
assert_before_backup() { # NAME EVENT
	local seq
	seq=$(log_lines "$1" | jq -r 'select(.event|test("^(dane\\.(ok|mismatch|none|unavailable)|cert\\.backup)$")) | .event' | paste -sd' ' -)
	assert_eq "$2 cert.backup" "$seq" "$1: event order"
}

# --- match: the new key's 3 1 1 is published beside the old one ---------
# and a dozen 3 0 0 records of the old certificate: an answer larger than
# EDNS's 1232 bytes, which c-ares takes again over TCP
full_a=$(openssl x509 -in "$T/a.cert.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')
decoys=()
for i in $(seq 11 22); do decoys+=("030000$full_a$i"); done	# each its own
dns_serve "030101$h_a" "${decoys[@]}" "030101$h_b"
rotate match b --dane=warn
assert_rotated match b
assert_eq "\"3 1 1 $h_b\"" "$(field match dane.ok .record)" "match: the matching record"
assert_eq '"mail.example.test"' "$(field match dane.ok .host)" "match: host"
assert_eq 14 "$(field match dane.ok .records)" "match: records found (over TCP)"
assert_before_backup match dane.ok
assert_eq 0 "$(event_count match dane.mismatch)" "match: no mismatch"

# DANE-TA: the issuer's 2 1 1 matches a new leaf key, the CA being in the chain
dns_serve "020101$h_ca"
rotate ta ta --dane=enforce
assert_rotated ta ta
assert_eq "\"2 1 1 $h_ca\"" "$(field ta dane.ok .record)" "DANE-TA: the matching record"

# --- mismatch, warn: installed anyway, and told what to publish -----------
dns_serve "030101$h_ta" "010101$h_c"
rotate warn c --dane=warn --log-level=debug
assert_rotated warn c
assert_eq "\"3 1 1 $h_c\"" "$(field warn dane.mismatch .publish)" "warn: the record to publish"
# (in the order DNS gave them, which is not the zone's)
assert_eq "$(jq -nc --arg a "3 1 1 $h_ta" --arg b "1 1 1 $h_c" '[$a, $b] | sort')" \
	"$(field warn dane.mismatch '.records | sort')" "warn: the records found"
assert_eq '"warn"' "$(field warn dane.mismatch .mode)" "warn: mode"
assert_eq '"warn"' "$(field warn dane.mismatch .level)" "warn: level"
# PKIX-EE (usage 1) is out of scope: a debug line says so, it is not matched
assert_eq '"pkix_usage"' "$(field warn dane.record_skipped .reason)" "warn: PKIX-EE skipped"
assert_before_backup warn "dane.mismatch"

# --- mismatch, enforce: rejected, nothing touched ---------------------------
dns_serve "030101$h_c"
before=$(snapshot)
execs=$(exec_count)
rotate enforce d --dane=enforce
assert_eq 1 "$AGENT_RC" "enforce: once exit code"
assert_eq '"dane_mismatch"' "$(field enforce cert.rejected .reason)" "enforce: reason"
assert_contains "$(field enforce cert.rejected .detail)" "3 1 1 $h_d" "enforce: the detail names the record"
assert_eq "\"3 1 1 $h_d\"" "$(field enforce dane.mismatch .publish)" "enforce: the record to publish"
assert_eq '"enforce"' "$(field enforce dane.mismatch .mode)" "enforce: mode"
assert_eq '"rejected"' "$(field enforce cycle.done .outcome)" "enforce: outcome"
assert_eq 0 "$(event_count enforce cert.backup)" "enforce: no backup"
assert_eq "$before" "$(snapshot)" "enforce: certs dir, current/ and backups"
assert_eq "$execs" "$(exec_count)" "enforce: execs in the front"
assert_all_serve "$(certs_fp "$T/c.cert.pem")"
# the admin publishes the new record beside the old one: the same bundle goes in
dns_serve "030101$h_c" "030101$h_d"
rotate published d --dane=enforce
assert_rotated published d
assert_eq "\"3 1 1 $h_d\"" "$(field published dane.ok .record)" "published: the matching record"

# --- no record: NXDOMAIN never blocks, not even in enforce ---------------
rotate none e --dane=enforce --dane-hosts=nomx.example.test
assert_rotated none e
assert_eq '"nxdomain"' "$(field none dane.none .reason)" "none: reason"
assert_eq '"nomx.example.test"' "$(field none dane.none .host)" "none: host"
assert_eq '"info"' "$(field none dane.none .level)" "none: level"

# --- DNS down: nothing listens ----------------------------------------------
dns_stop
rotate down f --dane=warn "--dns-server=127.0.0.1:$DOWN_PORT"
assert_rotated down f
assert_eq '"warn"' "$(field down dane.unavailable .level)" "down: level"
assert_eq "\"127.0.0.1:$DOWN_PORT\"" "$(field down dane.unavailable .server)" "down: server"
log "down: $(field down dane.unavailable '{reason, detail}')"

# --- DNS that never answers: bounded by the deadline, never blocking -----
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", '"$MUTE_PORT"'))
time.sleep(120)' &
MUTE_PID=$!
at_exit "kill $MUTE_PID 2>/dev/null"
for i in $(seq 1 50); do
	ss -Hlun "sport = :$MUTE_PORT" | grep -q . && break
	sleep 0.1
done
rotate mute g --dane=enforce "--dns-server=127.0.0.1:$MUTE_PORT"
assert_rotated mute g
assert_eq '"timeout"' "$(field mute dane.unavailable .reason)" "mute: reason"
ms=$(field mute cycle.done .timings.dane_ms)
[ "$ms" -ge 1500 ] && [ "$ms" -le 3000 ] || fail "mute: the lookup took $ms ms, not about 2 s"
kill "$MUTE_PID" 2>/dev/null
log "dnsmasq answered $(grep -c 'query\[TLSA\]' "$T/dnsmasq.log") TLSA queries"
pass
