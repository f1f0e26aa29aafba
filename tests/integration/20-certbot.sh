#!/bin/bash
# certbot: source with a real ACME CA (pebble) and a real certbot, both on
# loopback. certbot issues mail.example.test; the daemon, started with
# --source=certbot:LIVE and --ca-file=<pebble's root of this start>, rotates
# it in and verifies it on all nine ports. `certbot renew --force-renewal`
# (new cert, new key; certbot swaps the live/ links one at a time, privkey
# before fullchain) -> exactly one more rotation, no rejection, and no
# reload ever ran on a mismatched pair (`nginx -s reload` would fail on one).
# A CA file that is not pebble's root -> untrusted_chain, nothing touched.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/acme.sh"
require_cmd pebble certbot

pebble_start
certbot_issue "$T/le" mail.example.test mail.example.test
issue_ms=$ACME_LAST_MS
live=$T/le/live/mail.example.test
fp1=$(certs_fp "$live/fullchain.pem")
openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$live/fullchain.pem" "$live/cert.pem" >/dev/null ||
	fail "certbot's chain does not verify to pebble's root"

certs_leaf "$T" a ec256 60 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
assert_ne "$fp_a" "$fp1" "certbot's cert vs the bed's"

# AGENT_CA_FILE is really checked: another CA's root rejects the chain.
# shellcheck disable=SC2046
agent_run wrongca once $(rotate_env) "--source=certbot:$live" "--ca-file=$T/ca.cert.pem" \
	"--state-dir=$T/state-wrongca"
assert_eq 1 "$AGENT_RC" "once with a foreign CA file"
assert_eq '"untrusted_chain"' "$(events wrongca 'select(.event=="cert.rejected") | .reason')" "reason"
assert_eq 0 "$(event_count wrongca reload.exec)" "reloads after a rejection"
assert_eq "$fp_a" "$(certs_fp "$T/certs/cert.pem")" "cert.pem after a rejection"

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=certbot:$live" "--ca-file=$PEBBLE_ROOT" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="cycle.done"' 60
assert_json_lines run
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "first outcome"
assert_eq "\"$fp1\"" "$(events run 'select(.event=="cycle.done") | .fingerprint')" "first fingerprint"
c=$(events run 'select(.event=="cycle.done") | .cycle' | head -1)
assert_eq "\"$fp_a\"" "$(events run "select(.cycle==$c and .event==\"cert.backup\") | .fingerprint")" "backup of the bed's pair"
assert_eq 9 "$(events run "select(.cycle==$c and .event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp1\")" | wc -l)" "endpoints verified, first bundle"
assert_all_serve "$fp1"
cmp "$T/certs/cert.pem" "$live/fullchain.pem" || fail "cert.pem is not certbot's fullchain.pem"
cmp "$T/certs/key.pem" "$live/privkey.pem" || fail "key.pem is not certbot's privkey.pem"
rot1_ms=$(events run 'select(.event=="cycle.done") | .ms')
log "first rotation: $rot1_ms ms, $(events run 'select(.event=="cycle.done") | .timings')"

# the renewal: certbot writes archive/*2.pem and swaps the four links
sleep 1	# idle, so the second cycle's detect_ms is the renewal's alone
certbot_renew "$T/le"
renew_ms=$ACME_LAST_MS
fp2=$(certs_fp "$live/fullchain.pem")
assert_ne "$fp1" "$fp2" "fingerprint after certbot renew"
[ "$(readlink "$live/privkey.pem")" = ../../archive/mail.example.test/privkey2.pem ] ||
	fail "certbot did not renew the key: $(readlink "$live/privkey.pem")"
wait_event run ".event==\"cycle.done\" and .fingerprint==\"$fp2\"" 60
assert_renewal_rotation certbot "$fp1" "$fp2" "$live/fullchain.pem" "$live/privkey.pem"
rot2_ms=$(events run "select(.event==\"cycle.done\" and .fingerprint==\"$fp2\") | .ms")
log "renewal rotation: $rot2_ms ms, $(events run "select(.event==\"cycle.done\" and .fingerprint==\"$fp2\") | .timings")"
agent_stop "$AGENT_PID" run
pass "pebble ${PEBBLE_START_MS} ms, certbot issue ${issue_ms} ms, renew ${renew_ms} ms; rotations ${rot1_ms} ms, ${rot2_ms} ms"
