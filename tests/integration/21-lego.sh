#!/bin/bash
# lego: source with a real ACME CA (pebble) and a real lego, both on
# loopback. lego issues mail.example.test into DIR; the daemon, started with
# --source=lego:DIR/mail.example.test (it reads DIR/certificates/DOMAIN.crt,
# leaf + issuer, and DOMAIN.key) and --ca-file=<pebble's root of this start>,
# rotates it in and verifies it on all nine ports. `lego renew` (new cert
# and key, written in place one file after the other) -> exactly one more
# rotation, no rejection, no reload on a mismatched pair.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/acme.sh"
require_cmd pebble lego

pebble_start
lego_run "$T/lego" mail.example.test run
issue_ms=$ACME_LAST_MS
crt=$T/lego/certificates/mail.example.test.crt
key=$T/lego/certificates/mail.example.test.key
fp1=$(certs_fp "$crt")
openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$crt" "$crt" >/dev/null ||
	fail "lego's chain does not verify to pebble's root"

certs_leaf "$T" a ec256 60 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=lego:$T/lego/mail.example.test" "--ca-file=$PEBBLE_ROOT" \
	--poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="cycle.done"' 60
assert_json_lines run
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "first outcome"
assert_eq "\"$fp1\"" "$(events run 'select(.event=="cycle.done") | .fingerprint')" "first fingerprint"
c=$(events run 'select(.event=="cycle.done") | .cycle' | head -1)
assert_eq "\"$fp_a\"" "$(events run "select(.cycle==$c and .event==\"cert.backup\") | .fingerprint")" "backup of the bed's pair"
assert_eq 9 "$(events run "select(.cycle==$c and .event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp1\")" | wc -l)" "endpoints verified, first bundle"
assert_all_serve "$fp1"
cmp "$T/certs/cert.pem" "$crt" || fail "cert.pem is not lego's .crt"
cmp "$T/certs/key.pem" "$key" || fail "key.pem is not lego's .key"
rot1_ms=$(events run 'select(.event=="cycle.done") | .ms')
log "first rotation: $rot1_ms ms, $(events run 'select(.event=="cycle.done") | .timings')"

sleep 1	# idle, so the second cycle's detect_ms is the renewal's alone
key_before=$(openssl pkey -in "$key" -pubout | sha256sum)
lego_run "$T/lego" mail.example.test renew
renew_ms=$ACME_LAST_MS
fp2=$(certs_fp "$crt")
assert_ne "$fp1" "$fp2" "fingerprint after lego renew"
assert_ne "$key_before" "$(openssl pkey -in "$key" -pubout | sha256sum)" "key after lego renew"
wait_event run ".event==\"cycle.done\" and .fingerprint==\"$fp2\"" 60
assert_renewal_rotation lego "$fp1" "$fp2" "$crt" "$key"
rot2_ms=$(events run "select(.event==\"cycle.done\" and .fingerprint==\"$fp2\") | .ms")
log "renewal rotation: $rot2_ms ms, $(events run "select(.event==\"cycle.done\" and .fingerprint==\"$fp2\") | .timings")"
agent_stop "$AGENT_PID" run
pass "pebble ${PEBBLE_START_MS} ms, lego run ${issue_ms} ms, renew ${renew_ms} ms; rotations ${rot1_ms} ms, ${rot2_ms} ms"
