#!/bin/bash
# Every reason code of this step, fed its bad input through a pair:
# source: one cert.rejected with that reason, CERTS_DIR byte-identical,
# no exec in the front, `once` exits 1. Then the daemon: a bad bundle is
# rejected once (not retried while its files stay), the agent keeps running.
. "$(dirname "$0")/../lib/lib.sh"

N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
bed_start a
now=$(date -u +%s)
d() { date -u -d "@$((now + $1 * 86400))" +%Y%m%d%H%M%SZ; }
s() { date -u -d "@$((now + $1))" +%Y%m%d%H%M%SZ; }	# seconds from now
certs_leaf "$T" good ec256 90 "$N"
certs_leaf "$T" expired ec256 -1 "$N"
certs_leaf_dates "$T" future ec256 "$(d 2)" "$(d 90)" "$N"
certs_leaf "$T" other ec256 90 other.example.test
certs_leaf "$T" wild ec256 90 "*.example.test"
certs_leaf "$T" weak rsa1024 90 "$N"
certs_leaf "$T" p521 ec521 90 "$N"
# not_newer: issued (notBefore) before the installed pair, whatever it expires;
# a pair issued later is newer even with a shorter life (a 45-day profile)
certs_leaf_dates "$T" older ec256 "$(d -2)" "$(d 30)" "$N"
certs_leaf_dates "$T" short ec256 "$(s -3000)" "$(d 45)" "$N"
certs_leaf_dates "$T" stale ec256 "$(d -2)" "$(d 300)" "$N"
mkdir -p "$T/otherca"
certs_ca "$T/otherca"
certs_leaf "$T/otherca" foreign ec256 90 "$N"
openssl pkcs8 -topk8 -in "$T/good.key.pem" -passout pass:secret -out "$T/enc.key.pem" 2>/dev/null
head -c 2000000 /dev/urandom | base64 >"$T/big.pem"
echo "this is not PEM" >"$T/junk.pem"

snapshot() { (cd "$T/certs" && sha256sum cert.pem key.pem); }
before=$(snapshot)
execs=$(exec_count)

# case REASON CERT_FILE KEY_FILE [extra agent args...]
case_() {
	local reason=$1 cert=$2 key=$3
	shift 3
	rm -rf "$T/src" && mkdir -p "$T/src"
	[ "$cert" = - ] || cp -P "$cert" "$T/src/cert.pem"
	[ "$key" = - ] || cp -P "$key" "$T/src/key.pem"
	# shellcheck disable=SC2046
	agent_run "r-$reason" once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" "$@"
	assert_eq 1 "$AGENT_RC" "once exit code for $reason"
	assert_eq "\"$reason\"" "$(events "r-$reason" 'select(.event=="cert.rejected") | .reason')" "reason"
	assert_eq '"rejected"' "$(events "r-$reason" 'select(.event=="cycle.done") | .outcome')" "outcome for $reason"
	assert_eq "$before" "$(snapshot)" "CERTS_DIR after $reason"
	assert_eq "$execs" "$(exec_count)" "execs in the front after $reason"
	if grep -q 'PRIVATE KEY' "$T/r-$reason.log"; then fail "key material in the log ($reason)"; fi
}

case_ unreadable - "$T/good.key.pem"
case_ too_large "$T/big.pem" "$T/good.key.pem"
case_ not_pem "$T/junk.pem" "$T/good.key.pem"
case_ no_certificate "$T/good.key.pem" "$T/good.key.pem"
case_ no_key "$T/good.cert.pem" "$T/good.cert.pem"
case_ encrypted_key "$T/good.cert.pem" "$T/enc.key.pem"
case_ key_mismatch "$T/good.cert.pem" "$T/a.key.pem"
case_ expired "$T/expired.cert.pem" "$T/expired.key.pem"
case_ not_yet_valid "$T/future.cert.pem" "$T/future.key.pem"
case_ hostname_mismatch "$T/other.cert.pem" "$T/other.key.pem"
case_ untrusted_chain "$T/otherca/foreign.cert.pem" "$T/otherca/foreign.key.pem" "--ca-file=$T/ca.cert.pem"
case_ weak_key "$T/weak.cert.pem" "$T/weak.key.pem"
cp "$T/p521.cert.pem" "$T/p521b.cert.pem"
case_ weak_key "$T/p521.cert.pem" "$T/p521.key.pem"
case_ not_newer "$T/older.cert.pem" "$T/older.key.pem"
# a link that leaves the source directory
ln -sf "$T/good.cert.pem" "$T/escape.pem"
case_ symlink_escape "$T/escape.pem" "$T/good.key.pem"

# the checks that pass: a wildcard covers the name (RFC 6125), a chain to
# AGENT_CA_FILE verifies
rm -rf "$T/src" && src_write wild
# shellcheck disable=SC2046
agent_run wild once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" "--ca-file=$T/ca.cert.pem"
assert_eq 0 "$AGENT_RC" "a wildcard certificate from the trusted CA"

# issued after the installed 90-day pair, with 45 days: newer, no --force
rm -rf "$T/src" && src_write short
# shellcheck disable=SC2046
agent_run short once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 0 "$AGENT_RC" "a shorter pair issued later: exit code"
assert_eq '"rotated"' "$(events short 'select(.event=="cycle.done") | .outcome')" "a shorter pair issued later"
# issued before it, expiring long after it: still not_newer, files untouched
before=$(snapshot)
execs=$(exec_count)
case_ not_newer "$T/stale.cert.pem" "$T/stale.key.pem"

# the daemon: rejected once, not retried while the files stay, still running
rm -rf "$T/src" && src_write other
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=300ms
wait_event run '.event=="cert.rejected"' 30
sleep 2
assert_eq 1 "$(event_count run cert.rejected)" "rejections of an unchanged bad bundle"
kill -0 "$AGENT_PID" || fail "agent died"
# once the files change, the new bundle is taken
certs_leaf_dates "$T" fresh ec256 "$(s -2400)" "$(d 120)" "$N"
src_write fresh
wait_event run '.event=="cycle.done" and .outcome=="rotated"' 60
agent_stop "$AGENT_PID" run
# the exec counter behind the "no exec" checks above does count: this
# rotation's two reload commands are there
n=$(exec_count)
[ "$n" -ge $((execs + 2)) ] || fail "exec_count saw $n execs after a rotation, $execs before"
pass
