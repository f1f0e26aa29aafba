#!/bin/bash
# The front container restarts (`docker restart`) during the reload step
# of a rotation (test pause point cycle.reloading, after `nginx -t`: the
# commands are set, so they run one at a time, with reloads after the pause):
#   1. the restart ends inside the pause: the restarted front read the new
#      pair from disk, the remaining reloads run on the new processes, and
#      the rotation ends `rotated`, verified on all nine ports.
#   2. the agent goes on while the front is still restarting (a short
#      pause, `docker restart` started as the pause began): whatever the
#      timing, the end is consistent: `rotated` with the new pair on all
#      nine ports, or `rolled_back` with the old pair served everywhere;
#      never `failed`, never a mismatched pair on disk, and the agent
#      keeps running. A command that failed because the front was
#      stopping or starting (nginx -s reload without nginx, exit 1; an
#      exec into a stopping container, exit 126/137) is no fault of the
#      bundle: front.restarted, cycle.retry, and in the end `rotated`.
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-25000}
in_order="--reload-commands=nginx -t; nginx -s reload; dovecot reload"
certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
certs_leaf "$T" c ec256 120 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
fp_c=$(certs_fp "$T/c.cert.pem")
src_write a

# settled NAME: waits until the agent's last cycle.done is final (not
# followed by a retry), prints its outcome
settled() {
	local n1 n2 last
	for _ in $(seq 1 180); do
		n1=$(events "$1" 'select(.event=="cycle.done" or .event=="cycle.retry") | .event' 2>/dev/null | paste -sd' ' -)
		if [ "${n1##* }" = '"cycle.done"' ]; then
			sleep 3	# a retry is announced right after cycle.done
			n2=$(events "$1" 'select(.event=="cycle.done" or .event=="cycle.retry") | .event' 2>/dev/null | paste -sd' ' -)
			if [ "$n1" = "$n2" ]; then
				last=$(events "$1" 'select(.event=="cycle.done") | .outcome' | tail -1)
				echo "$last"
				return 0
			fi
		fi
		sleep 1
	done
	fail "the agent never settled"
}

# --- 1: the restart ends within the pause (a short pause, then held)
# shellcheck disable=SC2046
MCA_TEST_PAUSE_AT=cycle.reloading MCA_TEST_PAUSE_MS=2000 agent_bg one run $(rotate_env) \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s "$in_order"
wait_event one '.event=="agent.start"' 30
wait_event one '.event=="verify.endpoint"' 30 9
src_write b
wait_event one '.event=="test.paused"' 60
# held in its pause (SIGSTOP) until the front is back, however loaded the host
kill -STOP "$AGENT_PID"
t0=$(date +%s%N)
docker restart -t 1 "$FRONT" >/dev/null
front_wait "$FRONT" "$PORT_BASE" 60
log "1: the front restarted in $((($(date +%s%N) - t0) / 1000000)) ms, inside the pause"
assert_eq 0 "$(event_count one test.resumed)" "1: the agent resumed before the front was back"
kill -CONT "$AGENT_PID"
wait_event one '.event=="cycle.done"' 120
assert_eq '"rotated"' "$(events one 'select(.event=="cycle.done") | .outcome')" "1: outcome"
assert_eq 3 "$(events one 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "1: reload.exec exit 0"
assert_all_serve "$fp_b"
disk_pair_matches || fail "1: cert and key on disk do not match"
agent_stop "$AGENT_PID" one

# --- 2: the agent goes on while the front restarts
# shellcheck disable=SC2046
MCA_TEST_PAUSE_AT=cycle.reloading MCA_TEST_PAUSE_MS=300 agent_bg two run $(rotate_env) \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s "$in_order"
wait_event two '.event=="agent.start"' 30
wait_event two '.event=="verify.endpoint"' 30 9
src_write c
wait_event two '.event=="test.paused"' 60
docker restart -t 1 "$FRONT" >/dev/null &
restart_pid=$!
outcome=$(settled two)
wait "$restart_pid" || fail "docker restart failed"
front_wait "$FRONT" "$PORT_BASE" 60
log "2: $(events two 'select(.event=="cycle.done" or .event=="reload.exec_failed" or .event=="front.restarted" or .event=="front.none" or .event=="cycle.retry" or (.event=="reload.exec" and .exit_code!=0)) | "\(.event) \(.outcome // .error // .exit_code // .in_ms // "")"' | paste -sd, -)"
log "2: failed commands: $(events two 'select(.event=="reload.exec" and .exit_code!=0) | "\(.command): \(.exit_code) \(.output)"' | paste -sd'|' -)"
disk_pair_matches || fail "2: cert and key on disk do not match"
kill -0 "$AGENT_PID" || fail "2: agent died"
case $outcome in
'"rotated"') assert_all_serve "$fp_c"; cmp "$T/certs/cert.pem" "$T/c.cert.pem" || fail "2: disk is not C" ;;
'"rolled_back"') assert_all_serve "$fp_b"; cmp "$T/certs/cert.pem" "$T/b.cert.pem" || fail "2: disk is not B" ;;
*) fail "2: outcome $outcome" ;;
esac
assert_eq 0 "$(events two 'select(.event=="cycle.done" and .outcome=="failed")' | wc -l)" "2: failed cycles"
log "2: ended $outcome"
# consistent either way; but a restart is no fault of the bundle's: it is
# retried until it rotates, not dropped until its files change
assert_eq '"rotated"' "$outcome" "2: final outcome"
agent_stop "$AGENT_PID" two
pass
