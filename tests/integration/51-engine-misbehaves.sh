#!/bin/bash
# The agent (`once`, a real rotation A -> B from a pair: source) against
# an Engine API that misbehaves on one call: tests/tools/bad-engine.py on
# a unix socket passes every other call to the real engine, so the agent
# finds the real front and only the chosen call fails: 500, 404, 409, a
# body that is not JSON, truncated, 9 MiB, 8 MiB of [{},{},...] with no
# length, [{},{},...] of the list's whole 1 MiB cap, a broken stream
# frame, not HTTP at all, an empty reply, an API too old, no answer, a
# trickle. Each fault: the first error event names it with its stable
# code, the agent does not crash (exit 2, rolled_back, no sanitizer
# report), it ends within bounds (time, and for the [{},{},...] answers
# its peak RSS: within 32 MiB of the truncated answer's on the same
# path), and nothing is installed half-way: a fault in finding the
# front defers the install (cert.install_deferred, nothing touched), a
# later one is rolled back; CERTS_DIR holds A byte for byte, no temp file
# or journal is left, and the real front serves A on all nine ports. A
# fault in starting an exec meets the agent's session shell first
# (AGENT_RELOAD_EXEC=kept, the default), then the one-shot exec it falls
# back to. Then the same relay with no fault rotates B, its reloads in
# session shells (no exec's state asked).
. "$(dirname "$0")/../lib/lib.sh"
require_cmd python3

PORT_BASE=${PORT_BASE:-25000}
certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
# found by a label of its own: the list call, GET /containers/json
bed_start a --label mca.it51=front
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write b
before=$(cd "$T/certs" && sha256sum cert.pem key.pem)

python3 "$MCA_ROOT/tests/tools/bad-engine.py" "$T/bad.sock" "${DOCKER_HOST#unix://}" \
	"$T/rules" "$T/requests" 2>"$T/bad-engine.log" &
at_exit "kill $! 2>/dev/null"
for _ in $(seq 1 50); do [ -S "$T/bad.sock" ] && break; sleep 0.1; done
[ -S "$T/bad.sock" ] || fail "bad-engine did not start"

# The agent runs under a wrapper that writes its peak RSS (ru_maxrss, KiB)
# to $MCA_RSS_FILE.
cat >"$T/measured" <<EOS
#!/usr/bin/env python3
import os, resource, subprocess, sys
rc = subprocess.call(["$MCA_AGENT"] + sys.argv[1:])
with open(os.environ["MCA_RSS_FILE"], "w") as f:
    f.write("%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc if rc >= 0 else 128 - rc)
EOS
chmod +x "$T/measured"
real_agent=$MCA_AGENT
MCA_AGENT=$T/measured

# fault MODE REGEX EVENT CODE [MAX_S=30]: one `once` with that fault; sets
# LAST (the run's name), FIRST (its first error event) and RSS (its peak, KiB)
fault() {
	local mode=$1 re=$2 ev=$3 code=$4 max=${5:-30} name=f-$1-$(($(date +%s%N) % 100000)) t0 ms first
	echo "$mode $re" >"$T/rules"
	: >"$T/requests"
	t0=$(date +%s%N)
	# shellcheck disable=SC2046
	MCA_RSS_FILE=$T/$name.rss agent_run "$name" once $(rotate_env) \
		"--source=pair:$T/src/cert.pem,$T/src/key.pem" \
		"--docker-host=unix://$T/bad.sock" --front=label:mca.it51=front --reload-timeout=3s \
		--reload-exec="${FAULT_EXEC:-kept}"
	ms=$((($(date +%s%N) - t0) / 1000000))
	RSS=$(cat "$T/$name.rss")
	assert_json_lines "$name"
	grep -q "^$mode " "$T/requests" || fail "$mode: the fault was never hit ($(sort -u "$T/requests" | paste -sd, -))"
	first=$(events "$name" 'select(.event=="front.lookup_failed" or .event=="reload.exec_failed" or .event=="reload.timeout")' | head -1)
	log "$mode on $re: $ms ms, exit $AGENT_RC, peak RSS $RSS KiB: $(jq -c '{event, error, http_status, endpoint, detail}' <<<"$first")"
	assert_eq "$ev" "$(jq -r .event <<<"$first")" "$mode: event"
	assert_eq "$code" "$(jq -r .error <<<"$first")" "$mode: error code"
	assert_eq 2 "$AGENT_RC" "$mode: exit code"
	# a fault before the install (finding the front) touches nothing (kept,
	# rolled_back before it had a name); one after it is rolled back
	if [ "$ev" = front.lookup_failed ]; then
		assert_eq '"kept" "rolled_back"' "$(events "$name" 'select(.event=="cycle.done") | "\(.outcome|tojson) \(.legacy_outcome|tojson)"' | jq -r .)" "$mode: outcome"
	else
		assert_eq '"rolled_back"' "$(events "$name" 'select(.event=="cycle.done") | .outcome')" "$mode: outcome"
	fi
	if [ "$ev" = front.lookup_failed ]; then
		assert_eq "1 0 0" "$(event_count "$name" cert.install_deferred) $(event_count "$name" cert.installed) $(event_count "$name" rollback.done)" "$mode: deferred, not installed"
	else
		assert_eq "1 1" "$(event_count "$name" cert.installed) $(event_count "$name" rollback.done)" "$mode: installed, rolled back"
	fi
	assert_eq "$before" "$(cd "$T/certs" && sha256sum cert.pem key.pem)" "$mode: CERTS_DIR"
	disk_pair_matches || fail "$mode: cert and key on disk do not match"
	[ -e "$T/state/journal" ] && fail "$mode: journal left behind"
	ls "$T/certs"/.*mca-new* >/dev/null 2>&1 && fail "$mode: temp files left"
	((ms < max * 1000)) || fail "$mode: took $ms ms (bound $max s)"
	echo "$mode $code $ms ${RSS}KiB" >>"$T/times"
	LAST=$name
	FIRST=$first
}

fault 500 '^POST /exec/.*/start$' reload.exec_failed http_status
assert_eq 500 "$(events "$LAST" 'select(.event=="reload.exec_failed") | .http_status' | head -1)" "500: http_status"
fault 404 '^POST /containers/.*/exec$' reload.exec_failed not_found
fault 409 '^POST /containers/.*/exec$' reload.exec_failed not_running
fault garbage '^POST /containers/.*/exec$' reload.exec_failed bad_answer
fault truncated '^GET /containers/json$' front.lookup_failed bad_answer
base_rss=$RSS
fault huge '^GET /containers/json$' front.lookup_failed bad_answer
# [{},{},...]: 8 MiB of it cost ~1 GiB under ASan when the tree was built
fault objects '^GET /containers/json$' front.lookup_failed bad_answer
((RSS < base_rss + 32768)) || fail "objects: peak RSS $RSS KiB, truncated's $base_rss KiB"
assert_eq "answer larger than 1048576 bytes" "$(jq -r .detail <<<"$FIRST")" "objects: detail"
fault manyvalues '^GET /containers/json$' front.lookup_failed bad_answer
((RSS < base_rss + 32768)) || fail "manyvalues: peak RSS $RSS KiB, truncated's $base_rss KiB"
assert_eq "answer of more than 65536 JSON values" "$(jq -r .detail <<<"$FIRST")" "manyvalues: detail"
fault badframe '^POST /exec/.*/start$' reload.exec_failed bad_answer
# an exec's state is asked by a one-shot exec (AGENT_RELOAD_EXEC=each, and
# what a session falls back to); a session asks it only when a command hangs
FAULT_EXEC=each fault nohttp '^GET /exec/.*/json$' reload.exec_failed bad_answer
FAULT_EXEC=each fault close '^GET /exec/.*/json$' reload.exec_failed bad_answer
fault old '^GET /version$' front.lookup_failed api_too_old
FAULT_EXEC=each fault slow '^GET /exec/.*/json$' reload.exec_failed timeout 60
fault trickle '^POST /exec/.*/start$' reload.timeout timeout 60
fault slow '^GET /containers/json$' front.lookup_failed timeout 60
# after each fault the real front still serves A everywhere
assert_all_serve "$fp_a"

# the same relay, no fault: B rotates (the faults above were the cause)
: >"$T/rules"
: >"$T/requests"
MCA_AGENT=$real_agent
# shellcheck disable=SC2046
agent_run pass once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	"--docker-host=unix://$T/bad.sock" --front=label:mca.it51=front
assert_eq 0 "$AGENT_RC" "exit code with no fault"
assert_eq '"rotated"' "$(events pass 'select(.event=="cycle.done") | .outcome')" "outcome with no fault"
assert_all_serve "$fp_b"
assert_eq 2 "$(grep -c '^pass POST /exec/.*/start$' "$T/requests")" "execs started (two sessions)"
assert_eq 0 "$(grep -c '^pass GET /exec/.*/json$' "$T/requests")" "exec states asked"
log "times: $(paste -sd, "$T/times")"
pass
