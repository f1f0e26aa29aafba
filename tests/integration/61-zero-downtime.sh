#!/bin/bash
# Zero downtime under load: tests/tools/tls-load runs TLS handshakes back to
# back against HTTPS (nginx), SMTP+STARTTLS on 25 (nginx's mail module),
# smtps 465 and submission 587 STARTTLS (dovecot submission-login) and
# IMAPS (dovecot imap-login), while the daemon performs 20 rotations from a
# pair: source, one at a time, each a fresh leaf of the test CA (ECDSA and
# RSA in turn). Every handshake is recorded with its times and either the
# served leaf's fingerprint or the reason it failed. Asserted:
#   - 20 cycles, each `rotated` to the pair that was written;
#   - not one failed handshake (refused, reset, timed out, TLS error, or a
#     chain that does not verify to the test CA for mail.example.test); with
#     Mailu's watcher on (FRONT_CERT_WATCHER=1) but dovecot's "421"
#     greetings right after the watcher's own back-to-back reloads;
#   - not one leaf that is not among the 21 installed;
#   - each leaf only inside its lifetime: leaf k (installed by rotation k)
#     not before rotation k began, and not by a handshake that started after
#     rotation k+1 finished (its cycle.done: verified on all nine ports);
#     tests/tools/handshake-check.py judges the records;
#   - established sessions (tests/tools/session-hold.py: two per port, a
#     command every second inside TLS): nginx's SMTP sessions survive every
#     reload; dovecot's end only by its own announced shutdown (its default
#     shutdown_clients = yes; none at all with SHUTDOWN_CLIENTS=no);
#     HTTPS keep-alive drops are only counted.
# Then SIGTERM ends the daemon with 0 and no sanitizer report.
# ROTATIONS (20), LOAD_THREADS (2 per endpoint) and SHUTDOWN_CLIENTS (yes)
# can be changed.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd python3

LOAD=${MCA_TLS_LOAD:-$MCA_ROOT/build/dev/tls-load}
[ -x "$LOAD" ] || fail "no $LOAD: run make build/dev/tls-load"
ROTATIONS=${ROTATIONS:-20}
LOAD_THREADS=${LOAD_THREADS:-2}	# per endpoint
PORT_BASE=${PORT_BASE:-28000}
SHUTDOWN_CLIENTS=${SHUTDOWN_CLIENTS:-yes}	# dovecot's default, as in Mailu

# Leaf i expires a day after leaf i-1, so none is `not_newer` than the one
# it replaces. Issued in parallel (certs_leaf is safe for that).
certs_ca "$T"
for ((i = 0; i <= ROTATIONS; i++)); do
	if ((i % 2)); then type=rsa; else type=ec256; fi
	certs_leaf "$T" "l$i" "$type" $((60 + i)) mail.example.test &
done
wait
declare -a FP
for ((i = 0; i <= ROTATIONS; i++)); do
	FP[i]=$(certs_fp "$T/l$i.cert.pem") || fail "issuing leaf $i failed"
	printf '%s\n' "${FP[i]}" >>"$T/fps"
done
assert_eq $((ROTATIONS + 1)) "$(sort -u "$T/fps" | wc -l)" "distinct leaves"

bed_start l0
if [ "$SHUTDOWN_CLIENTS" = no ]; then
	# the config dovecot runs with (the Mailu-shaped front: proxy.conf)
	docker exec "$FRONT" sh -c "echo 'shutdown_clients = no' >>$(front_dovecot_conf "$FRONT")"
	docker exec "$FRONT" dovecot reload
	wait_served "$(certs_fp "$T/l0.cert.pem")" imaps
fi
src_write l0
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9

# the load: the services both daemons serve, implicit TLS and STARTTLS
"$LOAD" -c "$LOAD_THREADS" -t 5000 -s "$HOSTNAME_SNI" -C "$T/ca.cert.pem" -o "$T/load.tsv" \
	"https=127.0.0.1:$(front_port https "$PORT_BASE")" \
	"smtp=127.0.0.1:$(front_port smtp "$PORT_BASE")" \
	"smtps=127.0.0.1:$(front_port smtps "$PORT_BASE")" \
	"submission=127.0.0.1:$(front_port submission "$PORT_BASE")" \
	"imaps=127.0.0.1:$(front_port imaps "$PORT_BASE")" 2>"$T/load.err.log" &
LOAD_PID=$!
at_exit "kill -TERM $LOAD_PID 2>/dev/null"
log "load generator pid $LOAD_PID, $LOAD_THREADS threads per endpoint"
# and established sessions: a command inside TLS every second, across reloads
python3 "$MCA_ROOT/tests/tools/session-hold.py" -n 2 -i 1 -l 45 -C "$T/ca.cert.pem" -s "$HOSTNAME_SNI" \
	"https=127.0.0.1:$(front_port https "$PORT_BASE")" \
	"smtp=127.0.0.1:$(front_port smtp "$PORT_BASE")" \
	"smtps=127.0.0.1:$(front_port smtps "$PORT_BASE")" \
	"submission=127.0.0.1:$(front_port submission "$PORT_BASE")" \
	"imaps=127.0.0.1:$(front_port imaps "$PORT_BASE")" >"$T/hold.json" 2>"$T/hold.err.log" &
HOLD_PID=$!
at_exit "kill -TERM $HOLD_PID 2>/dev/null"
sleep 2
kill -0 "$LOAD_PID" || fail "the load generator died"
kill -0 "$HOLD_PID" || fail "session-hold died"

# Rotations, one at a time: write pair i (its start time, in us, goes to
# $T/marks), wait for its cycle.done, then a quiet second in which only pair
# i may be served. A cycle that did not rotate to pair i ends the rotations;
# the handshakes are still judged and shown before the test fails.
t_rot=$SECONDS
for ((i = 1; i <= ROTATIONS; i++)); do
	printf '%s %s\n' "$i" "$(date +%s%6N)" >>"$T/marks"
	src_write "l$i"
	wait_event run '.event=="cycle.done"' 120 "$i"
	got=$(events run 'select(.event=="cycle.done") | "\(.outcome) \(.fingerprint)"' | jq -r . | sed -n "${i}p")
	[ "$got" = "rotated ${FP[i]}" ] || { log "cycle $i: $got, expected rotated ${FP[i]}"; break; }
	sleep 1
done
t_rot=$((SECONDS - t_rot))
kill -TERM "$LOAD_PID" "$HOLD_PID"
wait "$LOAD_PID" || fail "load generator exit code $?"
wait "$HOLD_PID" || fail "session-hold exit code $?"
log "load generator: $(tail -n 1 "$T/load.err.log")"
log "cycle ms (median, max): $(jq -s -c '[.[] | select(.event=="cycle.done")] as $c |
	["ms", "detect_ms", "reload_ms", "verify_ms"] | map(. as $k |
	[$c[] | (if $k == "ms" then .ms else .timings[$k] end)] | sort |
	{($k): [.[length / 2 | floor], .[-1]]}) | add' "$T/run.log")"

# Every handshake against the 21 leaves and their lifetimes.
S=$T/summary.json
# A front that reloads itself (Mailu's certificate watcher on): its
# reloads are read from the daemons' own log lines, whoever sent them.
front_log=""
if [ "${FRONT_CERT_WATCHER:-0}" = 1 ]; then
	docker logs -t "$FRONT" >"$T/front.timed.log" 2>&1
	front_log=$T/front.timed.log
fi
FRONT_LOG=$front_log python3 "$MCA_ROOT/tests/tools/handshake-check.py" "$T/load.tsv" "$T/fps" "$T/marks" \
	"$T/run.log" "$T/hold.json" >"$S" || fail "handshake-check failed"
log "handshakes: $(jq -c 'del(.per_endpoint, .sessions, .reasons, .bad)' "$S")"
log "per endpoint: $(jq -r '.per_endpoint | to_entries | map("\(.key) \(.value.ok + .value.failed)" +
	" (\(.value.failed) failed, \(.value.older_after_newer) older after newer)") | join(", ")' "$S")"
if [ "$(jq '.failed + .unknown + .outside_lifetime' "$S")" != 0 ]; then
	jq -r '.reasons[] | "  \(.[1]) x \(.[0])"' "$S" >&2
	jq -r '.bad[]' "$S" >&2
fi
if [ -n "$front_log" ]; then
	# Mailu's watcher reloads dovecot once per file event, four times back to
	# back per pair: a "421" greeting from a login process the previous one
	# of those reloads was shutting down is the front's own doing (counted,
	# not ours); every other failure is ours
	log "the front's own back-to-back dovecot reloads: $(jq .front_burst_greetings "$S") greetings 421"
	assert_eq 0 "$(jq '.failed - .front_burst_greetings' "$S")" "failed handshakes (but the front's own reload bursts)"
else
	assert_eq 0 "$(jq .failed "$S")" "failed handshakes"
fi
assert_eq 0 "$(jq .unknown "$S")" "handshakes with an unknown certificate"
assert_eq 0 "$(jq .outside_lifetime "$S")" "handshakes with a leaf outside its lifetime"
assert_eq "$ROTATIONS" "$(jq .rotations "$S")" "rotations"
assert_eq "$ROTATIONS" "$(jq .cycles "$S")" "cycles"
assert_eq 0 "$(events run 'select(.event=="rollback.start" or .event=="verify.failed")' | wc -l)" "rollbacks"
for p in https smtp smtps submission imaps; do
	[ "$(jq --arg p "$p" '.per_endpoint[$p].ok // 0' "$S")" -ge "$ROTATIONS" ] ||
		fail "too few handshakes on $p: $(jq -c --arg p "$p" '.per_endpoint[$p]' "$S")"
done
# the load really overlapped the rotations and the reloads themselves
[ "$(jq .during_rotation.old "$S")" -gt 0 ] || fail "no handshake with the old leaf during a rotation"
[ "$(jq .during_rotation.new "$S")" -gt 0 ] || fail "no handshake with the new leaf during a rotation"
[ "$(jq .during_reload "$S")" -ge "$ROTATIONS" ] || fail "too few handshakes while the front reloaded"
# Sessions established before a reload. nginx keeps its mail sessions (the
# old worker serves them until they end). dovecot, with its default
# shutdown_clients = yes, ends every session of the old processes 6 s after
# a reload, announced ("* BYE Shutting down", "421 4.3.2 ... Shutting down";
# the client reconnects): only announced drops pass, and with
# SHUTDOWN_CLIENTS=no none at all. nginx closes idle HTTP keep-alive
# connections at every reload (clients retry): counted, not asserted.
log "established sessions: $(jq -c '.sessions | map_values({opened, answered, drops, announced, after_reload_ms: (.after_reload_ms | if length > 0 then [min, max] else [] end)})' "$S")"
jq -r '.sessions | to_entries[] | .key as $p | .value.reasons[] | "  \($p): \(.[1]) x \(.[0])"' "$S" >&2
assert_eq 0 "$(jq .sessions.smtp.drops "$S")" "nginx mail (smtp) sessions dropped"
for p in smtps submission imaps; do
	if [ "$SHUTDOWN_CLIENTS" = no ]; then
		assert_eq 0 "$(jq --arg p "$p" '.sessions[$p].drops' "$S")" "$p sessions dropped (shutdown_clients = no)"
	else
		assert_eq "$(jq --arg p "$p" '.sessions[$p].drops' "$S")" "$(jq --arg p "$p" '.sessions[$p].announced' "$S")" \
			"$p sessions dropped without dovecot's announced shutdown"
	fi
done
for p in smtp smtps submission imaps; do
	[ "$(jq --arg p "$p" '.sessions[$p].answered' "$S")" -ge "$ROTATIONS" ] ||
		{ cat "$T/hold.err.log" >&2; fail "too few commands answered in held $p sessions"; }
done
assert_all_serve "${FP[ROTATIONS]}"
agent_stop "$AGENT_PID" run
pass "$(jq -r '"\(.handshakes) handshakes (\(.per_second)/s over \(.seconds) s), 0 failed, 0 unknown"' "$S"), $ROTATIONS rotations in ${t_rot}s"
