#!/bin/bash
# Metrics under a flood: the daemon (no front needed: --reload=none, no
# certificate yet, so it only waits and serves) with 16 idle connections
# renewed under the 5 s deadline and one client that streams after each
# answer (tests/tools/metrics-flood.py). /healthz must keep answering, as
# Docker's healthcheck and Kubernetes probes ask it: >= 95 % of probes,
# one every 200 ms for 25 s, answered 200 within 1 s; no streaming
# connection lives past the lingering bound (1 s, 64 KiB).
. "$(dirname "$0")/../lib/lib.sh"
require_cmd curl python3 jq

PORT_BASE=${PORT_BASE:-21000}
MPORT=$((PORT_BASE + 967))
WINDOW=25
mkdir -p "$T/certs"

agent_bg run run "--certs-dir=$T/certs" "--state-dir=$T/state" \
	--hostnames=mail.example.test "--endpoints=imaps://127.0.0.1:$((PORT_BASE + 993))" \
	--reload=none --poll-interval=1s "--metrics-listen=127.0.0.1:$MPORT"
wait_event run '.event=="agent.start"' 30
probe() {
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 1 \
		"http://127.0.0.1:$MPORT/healthz" || true
}
for _ in $(seq 1 50); do
	[ "$(probe | cut -d' ' -f1)" = 200 ] && break
	sleep 0.1
done
assert_eq 200 "$(probe | cut -d' ' -f1)" "/healthz before the flood"

python3 "$MCA_ROOT/tests/tools/metrics-flood.py" -n 16 -s $((WINDOW + 2)) \
	127.0.0.1 "$MPORT" >"$T/flood.json" 2>"$T/flood.err.log" &
flood=$!
at_exit "kill $flood 2>/dev/null"
sleep 1
log "flooding; probing /healthz every 200 ms for ${WINDOW} s"
# one probe every 200 ms, each on its own as a prober's are: a slow answer
# does not delay the next (one line each, appended whole)
: >"$T/probes.txt"
probes=()
for _ in $(seq 1 $((WINDOW * 5))); do
	probe >>"$T/probes.txt" &
	probes+=($!)
	sleep 0.2
done
wait "${probes[@]}"
wait "$flood" || fail "metrics-flood.py failed: $(cat "$T/flood.err.log")"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died under the flood"

total=$(wc -l <"$T/probes.txt")
ok=$(awk '$1 == 200 && $2 < 1.0' "$T/probes.txt" | wc -l)
slow=$(sort -k2 -n "$T/probes.txt" | tail -n 1)
log "probes answered 200 within 1 s: $ok of $total (slowest: $slow)"
log "flood: $(cat "$T/flood.json")"
fj() { jq -r ".$1" "$T/flood.json"; }
# the flood was on: the idle connections were held, open
awk -v m="$(fj idle_open_mean)" 'BEGIN { exit !(m >= 12) }' ||
	fail "idle connections not held: mean $(fj idle_open_mean) open"
assert_eq $((WINDOW * 5)) "$total" "probes"
[ $((ok * 100)) -ge $((total * 95)) ] ||
	fail "/healthz answered within 1 s for $ok of $total probes (< 95 %)"
# the streamer was answered, streamed, and was cut at the drain bound
[ "$(fj streams)" -ge 5 ] || fail "the streamer streamed $(fj streams) times"
awk -v s="$(fj longest_stream_s)" 'BEGIN { exit !(s < 3) }' ||
	fail "a streaming connection lived $(fj longest_stream_s) s after its answer"

assert_eq 200 "$(probe | cut -d' ' -f1)" "/healthz after the flood"
agent_stop "$AGENT_PID" run
pass "$ok of $total probes within 1 s"
