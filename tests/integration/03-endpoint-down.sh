#!/bin/bash
# (c) An endpoint that does not answer is critical (exit 2, unreachable),
# whether refused (nothing listens) or silent (a frozen front: timeout).
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 90 mail.example.test
bed_start a

# one more endpoint on a port where nothing listens
dead="imaps://127.0.0.1:$((PORT_BASE + 999))"
agent_run refused check "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" \
	"--endpoints=$ENDPOINTS,$dead"
assert_eq 2 "$AGENT_RC" "exit code with a refused endpoint"
assert_eq "[\"$dead\"]" "$(events refused 'select(.event=="check.done") | .unreachable' | tr -d ' ')" "unreachable"
assert_eq '"connection_refused"' "$(events refused "select(.event==\"verify.endpoint\" and .endpoint==\"$dead\") | .error")" "error code"
assert_eq 9 "$(events refused 'select(.event=="check.done") | .matched')" "the nine others still match"

# a frozen front: connections are accepted by the kernel, nothing answers
docker pause "$FRONT" >/dev/null
at_exit docker unpause "$FRONT" '>/dev/null 2>&1'
start=$(date +%s%N)
agent_run frozen check "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" \
	"--endpoints=$ENDPOINTS" --probe-timeout=1500ms
took=$(( ($(date +%s%N) - start) / 1000000 ))
docker unpause "$FRONT" >/dev/null
assert_eq 2 "$AGENT_RC" "exit code with a frozen front"
assert_eq 9 "$(events frozen 'select(.event=="verify.endpoint" and .error=="timeout")' | wc -l)" "timeouts"
assert_eq 9 "$(events frozen 'select(.event=="check.done") | .unreachable | length')" "unreachable count"
# bounded: per-endpoint timeout, probes overlapping (not 9 x 1.5 s in a row)
[ "$took" -lt 9000 ] || fail "frozen check took ${took} ms"
pass
