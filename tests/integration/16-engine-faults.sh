#!/bin/bash
# Engine faults: the front stopped -> the reload fails clearly, the pair
# is rolled back on disk, the agent keeps running and rotates once the
# front is back. The engine socket missing -> a clear error and retries
# with growing backoff, not a busy loop.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a
before=$(cd "$T/certs" && sha256sum cert.pem key.pem)

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
docker stop -t 2 "$FRONT" >/dev/null
src_write b
wait_event run '.event=="cycle.done"' 60
# nothing installed with no front to reload: kept (rolled_back before it had a name)
assert_eq '"kept" "rolled_back"' "$(events run 'select(.event=="cycle.done") | "\(.outcome|tojson) \(.legacy_outcome|tojson)"' | head -1 | jq -r .)" "outcome, front stopped"
wait_event run '.event=="front.none"' 5
assert_eq "$before" "$(cd "$T/certs" && sha256sum cert.pem key.pem)" "CERTS_DIR rolled back"
wait_event run '.event=="cycle.retry"' 10
kill -0 "$AGENT_PID" || fail "agent died"
docker start "$FRONT" >/dev/null
front_wait "$FRONT" "$PORT_BASE" 60
wait_event run '.event=="cycle.done" and .outcome=="rotated"' 90
assert_all_serve "$fp_b"
agent_stop "$AGENT_PID" run

# no engine at all
certs_leaf "$T" c ec256 120 mail.example.test
before=$(cd "$T/certs" && sha256sum cert.pem key.pem)
# shellcheck disable=SC2046
DOCKER_HOST=unix://$T/no-engine.sock agent_bg noengine run $(rotate_env) \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event noengine '.event=="agent.start"' 30
src_write c
wait_event noengine '.event=="cycle.retry"' 30 3
assert_eq '"connect_failed"' "$(events noengine 'select(.event=="front.lookup_failed") | .error' | head -1)" "error code"
delays=$(events noengine 'select(.event=="cycle.retry") | .in_ms' | head -3 | paste -sd' ' -)
read -r d1 d2 d3 <<<"$delays"
[ "$d1" -lt "$d2" ] && [ "$d2" -lt "$d3" ] || fail "backoff does not grow: $delays"
# CPU time of the whole run so far stays small: it sleeps between tries
ticks=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
[ "$ticks" -lt 300 ] || fail "agent used $ticks ticks of CPU waiting for the engine"
assert_eq "$before" "$(cd "$T/certs" && sha256sum cert.pem key.pem)" "CERTS_DIR after engine loss"
agent_stop "$AGENT_PID" noengine
pass
