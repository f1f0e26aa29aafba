#!/bin/bash
# A reload command that hangs in the front (`sleep 600` after the real
# reloads): AGENT_RELOAD_TIMEOUT bounds it, the agent reports
# reload.timeout (exit_code null, error timeout, the exec's host pid),
# kills the hung process from inside the front (ps + kill, no shell), and
# rolls back: A is served on all nine ports and on disk, verified. The
# bundle is retried with backoff (the engine answered; the front did not);
# once the commands are fixed (SIGHUP re-reads the env file) B rotates.
# The commands run in the agent's session shells (AGENT_RELOAD_EXEC=kept).
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-25000}
certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a

# hung_execs: processes that still run `sleep 600`: an exec's own, or a
# child of the agent's session shell (AGENT_RELOAD_EXEC=kept, the default)
hung_execs() {
	docker exec "$FRONT" ps -o pid=,ppid=,args= | awk '$3 == "sleep" && $4 == "600" && NF == 4' | wc -l
}

echo 'AGENT_RELOAD_COMMANDS=nginx -t; nginx -s reload; dovecot reload; sleep 600' >"$T/mailu.env"
# shellcheck disable=SC2046
agent_bg run --env-file "$T/mailu.env" run $(rotate_env) \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s --reload-timeout=3s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9
t0=$(date +%s%N)
src_write b
wait_event run '.event=="cycle.done"' 90
ms=$((($(date +%s%N) - t0) / 1000000))
# hold the agent in its retry backoff (2 s) while we look at the front
kill -STOP "$AGENT_PID"
assert_json_lines run
c=$(events run 'select(.event=="cycle.done") | .cycle' | head -1)
log "first cycle: $(events run "select(.cycle==$c) | .event" | uniq | paste -sd' ' -) in $ms ms"
assert_eq '"rolled_back"' "$(events run 'select(.event=="cycle.done") | .outcome' | head -1)" "outcome"

# two hangs (the rotation's and the rollback's), each reported and killed
to=$(events run "select(.cycle==$c and .event==\"reload.timeout\")")
log "reload.timeout: $(head -1 <<<"$to")"
assert_eq 2 "$(wc -l <<<"$to")" "reload.timeout events"
assert_eq "null null" "$(jq -r '.exit_code' <<<"$to" | paste -sd' ' -)" "exit_code"
assert_eq "timeout timeout" "$(jq -r '.error' <<<"$to" | paste -sd' ' -)" "error"
assert_eq "sleep 600" "$(jq -r '.command' <<<"$to" | sort -u)" "command"
assert_eq "3000" "$(jq -r '.timeout_ms' <<<"$to" | sort -u)" "timeout_ms"
assert_eq "true true" "$(jq -r '.killed' <<<"$to" | paste -sd' ' -)" "killed"
assert_eq 0 "$(jq -r 'select(.pid <= 1)' <<<"$to" | wc -l)" "host pid given"
assert_eq 0 "$(events run "select(.cycle==$c and .event==\"reload.exec_failed\")" | wc -l)" "no reload.exec_failed for a timeout"
assert_eq 0 "$(hung_execs)" "sleep 600 processes left in the front"
# the real reloads before the hang ran; the rollback's reload put A back
assert_eq 6 "$(events run "select(.cycle==$c and .event==\"reload.exec\" and .exit_code==0)" | wc -l)" "reload.exec exit 0"
assert_eq true "$(events run "select(.cycle==$c and .event==\"rollback.done\") | .verified")" "rollback verified"
assert_all_serve "$fp_a"
cmp "$T/certs/cert.pem" "$T/a.cert.pem" || fail "cert.pem is not A"
disk_pair_matches || fail "cert and key on disk do not match"
((ms < 60000)) || fail "a 3 s reload timeout took $ms ms to roll back"
kill -CONT "$AGENT_PID"
wait_event run '.event=="cycle.retry"' 10
assert_eq 0 "$(event_count run cert.rejected)" "rejections"

# the admin fixes the commands: the retry rotates B
echo 'AGENT_RELOAD_COMMANDS=nginx -t; nginx -s reload; dovecot reload' >"$T/mailu.env"
kill -HUP "$AGENT_PID"
wait_event run '.event=="config.reloaded"' 10
wait_event run '.event=="cycle.done" and .outcome=="rotated"' 120
assert_all_serve "$fp_b"
assert_eq 0 "$(hung_execs)" "sleep 600 processes left in the front at the end"
disk_pair_matches || fail "cert and key on disk do not match at the end"
log "timeouts: $(events run 'select(.event=="reload.timeout") | .killed' | wc -l), cycles: $(events run 'select(.event=="cycle.done") | .outcome' | paste -sd' ' -)"
agent_stop "$AGENT_PID" run
pass
