#!/bin/bash
# The reload commands' session shells (AGENT_RELOAD_EXEC=kept, the
# default), seen from the front: the daemon rotates A -> B -> C -> D and
# the engine creates two execs in the front in all (one session shell per
# command, started with the daemon), not two per rotation; each
# rotation's reload.exec says exit 0 with nginx's own output. The shells
# are killed in the front: the next rotation still rotates (the lost
# sessions are opened again: two more execs). The agent stops: no session
# shell is left in the front. Then AGENT_RELOAD_EXEC=each: two execs per
# rotation, no shell kept.
. "$(dirname "$0")/../lib/lib.sh"

# each later pair valid a day longer: the agent refuses an older one (not_newer)
i=0
for p in a b c d e f g; do
	certs_leaf "$T" "$p" ec256 $((60 + i)) mail.example.test
	i=$((i + 1))
done
bed_start a
src_write a

# shells: the agent's session shells running in the front now
shells() {
	docker exec "$FRONT" ps -o args= | grep -c '^sh -c .* mailu-cert-agent-reload$' || true
}

# agent_execs: execs created in the front so far, but the test's own (ps, pkill)
agent_execs() {
	docker events --since "$(docker inspect -f '{{.State.StartedAt}}' "$FRONT")" \
		--until "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" --filter "container=$FRONT" \
		--filter event=exec_create --format '{{.Action}}' |
		grep -cvE '^exec_create: (ps|pkill) ' || true
}

# rotate NAME PAIR N: write PAIR, wait for agent NAME's Nth cycle.done, rotated to it
rotate() {
	local fp
	fp=$(certs_fp "$T/$2.cert.pem")
	src_write "$2"
	wait_event "$1" '.event=="cycle.done"' 60 "$3"
	assert_eq '"rotated"' "$(events "$1" 'select(.event=="cycle.done") | .outcome' | sed -n "${3}p")" "cycle $3 outcome"
	assert_all_serve "$fp"
}

execs0=$(agent_execs)
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
pid=$AGENT_PID
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9
# opened at the daemon's start, after its first verify
for _ in $(seq 1 50); do [ "$(shells)" = 2 ] && break; sleep 0.1; done
assert_eq 2 "$(shells)" "session shells at the start, before any reload"
rotate run b 1
assert_eq 2 "$(shells)" "session shells after the first reload"
rotate run c 2
rotate run d 3
assert_eq 2 "$(($(agent_execs) - execs0))" "execs created for three rotations"
assert_eq 6 "$(events run 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "reload.exec exit 0"
assert_eq 3 "$(events run 'select(.event=="reload.exec" and .command=="nginx -s reload") | .output' | grep -c 'signal process started')" "nginx's own output, three times"

# the shells die under the agent: the next reload opens new ones
docker exec "$FRONT" pkill -f 'mailu-cert-agent-reload$' || fail "no session shell to kill"
for _ in $(seq 1 20); do [ "$(shells)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(shells)" "session shells after pkill"
rotate run e 4
assert_eq 4 "$(($(agent_execs) - execs0))" "execs created after the shells were lost"
assert_eq 2 "$(shells)" "session shells opened again"
assert_eq 8 "$(events run 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "reload.exec exit 0 after the loss"

agent_stop "$pid" run
for _ in $(seq 1 50); do [ "$(shells)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(shells)" "session shells after the agent stopped"

# a new exec per command, per rotation
execs1=$(agent_execs)
# shellcheck disable=SC2046
agent_bg each run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s \
	--reload-exec=each
pid=$AGENT_PID
wait_event each '.event=="agent.start"' 30
wait_event each '.event=="verify.endpoint"' 30 9
rotate each f 1
rotate each g 2
assert_eq 4 "$(($(agent_execs) - execs1))" "execs created for two rotations with each"
assert_eq 0 "$(shells)" "session shells with each"
agent_stop "$pid" each
pass
