#!/bin/bash
# The nginx-only reload bug, fixed and guarded: with AGENT_RELOAD_COMMANDS
# "nginx -s reload" (dovecot not reloaded) verify fails on exactly the
# seven dovecot endpoints, the agent rolls back, all nine serve A again,
# outcome rolled_back and `once` exits 2.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write b

# shellcheck disable=SC2046
VERIFY_TIMEOUT=4s agent_run once once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	"--reload-commands=nginx -s reload"
assert_json_lines once
assert_eq 2 "$AGENT_RC" "once exit code"
assert_eq '"rolled_back"' "$(events once 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_eq 7 "$(events once 'select(.event=="verify.failed") | .stale | length')" "stale endpoints"
assert_eq '["dovecot"]' "$(events once 'select(.event=="verify.failed") | .services')" "blamed"
assert_eq 7 "$(events once "select(.event==\"verify.endpoint\" and .match==false and .service==\"dovecot\" and .fingerprint==\"$fp_a\")" | wc -l)" "dovecot serving A"
assert_eq 1 "$(event_count once rollback.done)" "rollback.done"
assert_all_serve "$fp_a"
cmp "$T/certs/cert.pem" "$T/a.cert.pem" || fail "cert.pem is not A again"
cmp "$T/certs/key.pem" "$T/a.key.pem" || fail "key.pem is not A again"
disk_pair_matches || fail "disk pair mismatched"

# the default commands reload both daemons: the same bundle now rotates
# shellcheck disable=SC2046
agent_run again once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 0 "$AGENT_RC" "once exit code with the default commands"
assert_all_serve "$fp_b"
pass
