#!/bin/bash
# The engine socket disappears in the middle of a rotation. The agent
# talks to the shared engine through a relay we own (socat on
# $T/engine.sock); a test pause point (MCA_TEST_PAUSE_AT=cycle.reloading,
# MCA_TEST_PAUSE_MS) holds the agent after a reload command, the relay and
# every connection it carries are killed and the socket removed, and the
# agent goes on:
#   1. after `nginx -t`: the next exec fails with connect_failed, the old
#      pair is put back on disk (rollback.done, verified false: nothing to
#      reload it with), the front still serves A on all nine ports, and the
#      bundle is retried with growing backoff; the retries find no engine
#      and touch nothing on disk (cert.install_deferred). The relay comes
#      back: B is rotated, verified on all nine ports.
#   2. after `nginx -s reload` (reload commands "nginx -s reload; dovecot
#      reload"): nginx already serves C, dovecot B; the disk pair is B and
#      matches; every port still completes a handshake. The relay comes
#      back: C is rotated everywhere.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd socat setsid

PORT_BASE=${PORT_BASE:-25000}
certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
certs_leaf "$T" c ec256 120 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
fp_c=$(certs_fp "$T/c.cert.pem")
src_write a
SOCK=$T/engine.sock

# relay_start / relay_stop: the agent's engine socket, and its end (the
# relay's whole process group: the forked children carry the agent's
# kept-alive connection)
RELAY_PID=
# shellcheck disable=SC2016 # expanded at exit: only the relay running then
at_exit '[ -z "$RELAY_PID" ] || kill -- -"$RELAY_PID" 2>/dev/null'
relay_start() {
	setsid socat "UNIX-LISTEN:$SOCK,fork" "UNIX-CONNECT:${DOCKER_HOST#unix://}" 2>>"$T/socat.log" &
	RELAY_PID=$!
	for _ in $(seq 1 50); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
	fail "relay did not start"
}
relay_stop() {
	kill -- -"$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null || true
	RELAY_PID=
	rm -f "$SOCK"
	[ -e "$SOCK" ] && fail "socket still there"
	return 0
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# after_ms NAME JQ: ms from epoch of the first matching event
event_ms() { events "$1" "select($2) | .time" | head -1 | xargs -I{} date -d {} +%s%3N; }

relay_start
echo 'AGENT_RELOAD_COMMANDS=nginx -t; nginx -s reload; dovecot reload' >"$T/mailu.env"
# shellcheck disable=SC2046
MCA_TEST_PAUSE_AT=cycle.reloading MCA_TEST_PAUSE_MS=3000 agent_bg run run $(rotate_env) \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s \
	"--docker-host=unix://$SOCK" --env-file "$T/mailu.env"
# (the env file is read again on SIGHUP: scenario 2 changes the commands)
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9

scenario() { # N NEW_PREFIX OLD_FP NEW_FP
	local n=$1 new=$2 old_fp=$3 new_fp=$4 c back first done_n retries inst0 def0
	done_n=$(event_count run cycle.done)
	src_write "$new"
	wait_event run '.event=="test.paused"' 60 $(($(event_count run test.paused) + 1))
	relay_stop
	log "$n: relay killed at the pause after $(events run 'select(.event=="reload.exec") | .command' | tail -1)"
	wait_event run '.event=="cycle.done"' 60 $((done_n + 1))
	c=$(events run 'select(.event=="cycle.done") | .cycle' | tail -1)
	assert_eq '"rolled_back"' "$(events run "select(.cycle==$c and .event==\"cycle.done\") | .outcome")" "$n: outcome with the engine gone"
	first=$(events run "select(.cycle==$c and (.event==\"reload.exec_failed\" or .event==\"front.lookup_failed\"))" | head -1)
	log "$n: $(jq -c '{event, error, endpoint, detail}' <<<"$first"), detected $(($(event_ms run "(.cycle==$c and .event==\"reload.exec_failed\")") - $(event_ms run "(.cycle==$c and .event==\"test.resumed\")"))) ms after the pause ended"
	assert_contains "$(jq -r .detail <<<"$first")" "$SOCK" "$n: detail names the socket"
	assert_eq reload.exec_failed "$(jq -r .event <<<"$first")" "$n: first error event"
	assert_eq connect_failed "$(jq -r .error <<<"$first")" "$n: error code"
	assert_eq 0 "$(events run "select(.cycle==$c and .event==\"reload.exec_failed\" and .error!=\"connect_failed\")" | wc -l)" "$n: other error codes"
	assert_eq false "$(events run "select(.cycle==$c and .event==\"rollback.done\") | .verified")" "$n: rollback verified"
	assert_eq "$(certs_fp "$T/certs/cert.pem")" "$old_fp" "$n: cert.pem back to the old pair"
	disk_pair_matches || fail "$n: cert and key on disk do not match"
	# a few retries while the socket is gone, each one further apart
	inst0=$(event_count run cert.installed) def0=$(event_count run cert.install_deferred)
	wait_event run '.event=="cycle.retry"' 60 $(($(event_count run cycle.retry) + 2))
	# while the engine is away, a retry touches nothing on disk
	assert_eq "$inst0" "$(event_count run cert.installed)" "$n: installs during the outage"
	(($(event_count run cert.install_deferred) >= def0 + 2)) || fail "$n: no cert.install_deferred during the outage"
	retries=$(events run 'select(.event=="cycle.retry") | .in_ms' | tail -2 | paste -sd' ' -)
	read -r r1 r2 <<<"$retries"
	((r1 < r2)) || fail "$n: backoff does not grow: $retries"
	disk_pair_matches || fail "$n: cert and key on disk do not match during the outage"
	kill -0 "$AGENT_PID" || fail "$n: agent died"
	served_during=$(for p in $FRONT_PROTOS; do front_served_fp 127.0.0.1 "$(front_port "$p" "$PORT_BASE")" "$p" | head -c 8; echo -n " "; done)
	log "$n: served during the outage (${FRONT_PROTOS// /,}): $served_during"
	SERVED_DURING=$served_during

	relay_start
	back=$(now_ms)
	wait_event run '.event=="cycle.done" and .outcome=="rotated"' 180 $(($(events run 'select(.event=="cycle.done" and .outcome=="rotated")' | wc -l) + 1))
	log "$n: rotated $(($(event_ms run ".event==\"cycle.done\" and .outcome==\"rotated\" and .fingerprint==\"$new_fp\"") - back)) ms after the relay came back"
	assert_all_serve "$new_fp"
	disk_pair_matches || fail "$n: cert and key on disk do not match at the end"
	assert_eq 0 "$(event_count run cert.rejected)" "$n: rejections"
}

echo 'AGENT_RELOAD_COMMANDS=nginx -t; nginx -s reload; dovecot reload' >"$T/mailu.env"
scenario 1 b "$fp_a" "$fp_b"
a8=${fp_a:0:8}
assert_eq "$a8 $a8 $a8 $a8 $a8 $a8 $a8 $a8 $a8 " "$SERVED_DURING" "1: A served everywhere during the outage"

echo 'AGENT_RELOAD_COMMANDS=nginx -s reload; dovecot reload' >"$T/mailu.env"
kill -HUP "$AGENT_PID"
wait_event run '.event=="config.reloaded"' 10
scenario 2 c "$fp_b" "$fp_c"
b8=${fp_b:0:8} c8=${fp_c:0:8}
assert_eq "$c8 $c8 $b8 $b8 $b8 $b8 $b8 $b8 $b8 " "$SERVED_DURING" "2: nginx on C, dovecot on B during the outage"
agent_stop "$AGENT_PID" run
pass
