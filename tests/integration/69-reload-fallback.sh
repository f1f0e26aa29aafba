#!/bin/bash
# Mailu's front as it really runs (issue #3287): nginx's pid file is gone,
# so the default `nginx -s reload` fails. The agent finds the nginx master
# with ps in the front and sends it SIGHUP there: reload.exec says the
# command failed, reload.fallback (why pid_file_missing, way sighup, the
# master's pid) says how it was reloaded instead, and the cycle ends
# rotated with all nine endpoints serving B, for two execs more than a
# normal reload. The same commands set by the admin (AGENT_RELOAD_COMMANDS
# in mailu.env) are never second-guessed: no fallback, the reload fails
# and the cycle ends rolled_back, B still served.
# Written with bed_start and the lib helpers only, so it runs on any front
# kind the bed starts.
. "$(dirname "$0")/../lib/lib.sh"

# the pid file nginx -s reload reads: /run/nginx.pid (Debian's build, the
# lookalike) or /var/run/nginx.pid (Mailu's nginx.conf); gone in both
rm_pid_file() {
	docker exec "$FRONT" rm -f /run/nginx.pid /var/run/nginx.pid
	docker exec "$FRONT" test ! -e /run/nginx.pid -a ! -e /var/run/nginx.pid ||
		fail "the nginx pid file is still there"
}

for p in a:60 b:90 c:120; do
	certs_leaf "$T" "${p%:*}" ec256 "${p#*:}" mail.example.test
done
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
rm_pid_file
src_write b
t0=$(date +%s.%N)
# shellcheck disable=SC2046
agent_run once once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
t1=$(date +%s.%N)
assert_json_lines once
assert_eq 0 "$AGENT_RC" "once exit code with the pid file gone"
assert_eq '"rotated"' "$(events once 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_eq 9 "$(events once "select(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_b\")" | wc -l)" "verified endpoints"
assert_all_serve "$fp_b"

# the command failed, and said why
failed=$(events once 'select(.event=="reload.exec" and .command=="nginx -s reload")')
assert_eq 1 "$(jq -s 'length' <<<"$failed")" "one nginx -s reload"
assert_ne 0 "$(jq -r .exit_code <<<"$failed")" "nginx -s reload exit code"
# open() of the missing pid file failed (with nginx -t before it, as the
# admin's commands below, an empty one: "invalid PID number" of nothing)
assert_contains "$(jq -r .output <<<"$failed")" 'nginx.pid"' "nginx -s reload output"

# and how it was reloaded instead
fb=$(events once 'select(.event=="reload.fallback" and .why=="pid_file_missing")')
assert_eq 1 "$(jq -s 'length' <<<"$fb")" "reload.fallback for the missing pid file"
assert_eq '"warn"' "$(jq .level <<<"$fb")" "reload.fallback level"
assert_eq '"nginx"' "$(jq .service <<<"$fb")" "service"
assert_eq '"sighup"' "$(jq .way <<<"$fb")" "way"
assert_eq '"nginx -s reload"' "$(jq .failed_command <<<"$fb")" "failed_command"
assert_eq "\"$FRONT\"" "$(jq .container <<<"$fb")" "container"
pid=$(jq -r .pid <<<"$fb")
[[ $pid =~ ^[1-9][0-9]*$ ]] || fail "reload.fallback pid '$pid'"
# the pid is the nginx master's in the front's own PID namespace
assert_contains "$(docker exec "$FRONT" cat "/proc/$pid/cmdline" | tr '\0' ' ')" \
	"nginx: master process" "the signalled process"
assert_eq 0 "$(event_count once reload.fallback_failed)" "reload.fallback_failed"
# a reload after it: dovecot's command ran (or fell back too, on a front
# whose dovecot master is elsewhere)
assert_eq 1 "$(events once 'select(.event=="reload.exec" and .command=="dovecot reload")' | wc -l)" "dovecot reload ran"
# the fallback's cost: ps and kill for each command that fell back, as the
# engine saw the execs created in the front
execs=$(docker events --since "$t0" --until "$t1" --filter "container=$FRONT" \
	--filter event=exec_create --format '{{.Action}}')
log "execs: $(paste -sd, - <<<"$execs")"
n_fb=$(event_count once reload.fallback)
assert_eq $((2 + 2 * n_fb)) "$(wc -l <<<"$execs")" "execs in the front"
assert_eq "$n_fb" "$(grep -c '^exec_create: ps -o pid,ppid,user,args -e$' <<<"$execs")" "ps execs"
assert_eq 1 "$(grep -c "^exec_create: kill -HUP $pid\$" <<<"$execs")" "kill -HUP of the nginx master"

# The admin's own commands, the same words: never second-guessed.
rm_pid_file
src_write c
echo 'AGENT_RELOAD_COMMANDS=nginx -s reload; dovecot reload' >"$T/mailu.env"
# shellcheck disable=SC2046
VERIFY_TIMEOUT=4s agent_run admin --env-file "$T/mailu.env" once $(rotate_env) \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_json_lines admin
assert_eq 2 "$AGENT_RC" "once exit code with the admin's commands"
assert_eq '"rolled_back"' "$(events admin 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_eq 0 "$(event_count admin reload.fallback)" "reload.fallback with the admin's commands"
assert_eq 0 "$(event_count admin reload.fallback_failed)" "reload.fallback_failed"
assert_ne 0 "$(events admin 'select(.event=="reload.exec" and .command=="nginx -s reload") | .exit_code' | head -1)" \
	"nginx -s reload failed"
assert_all_serve "$fp_b"
assert_disk_holds b "after the rollback"
pass
