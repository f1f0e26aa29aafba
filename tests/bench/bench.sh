#!/bin/bash
# tests/bench/bench.sh: `make bench`. Benchmarks, not tests: it prints one
# table (item | measured | target | verdict) and writes it to
# build/bench/results.md. A missed target is a verdict, never a failure:
# the exit status is non-zero only when the harness itself breaks.
#
# The agent under test is the static release binary (build/static). The
# bed is the integration tests' one (real engine, real nginx + dovecot
# front on PORT_BASE, default 16000; replicas on +1000, +2000, +3000,
# bound to 127.0.0.2..4). Settings: BENCH_ROTATIONS (20) rotations per
# watch mode, BENCH_IDLE_S (60) seconds of idle, BENCH_REPS (10) for the
# fan-out medians, BENCH_POLL_INTERVAL (1s) for the poll-only run,
# BENCH_SIDE (11) rounds each and BENCH_PROBE_MS (20) for section 7.
# Sections:
#   1 rotation latency, inotify and poll only, per phase (cycle.done timings)
#   2 idle cost of the daemon
#   3 image and binary size
#   4 verify fan-out: 9 endpoints vs the slowest single; 4 replicas (36)
#   5 scale: acme.json with 1,000 certificates; 1,000 unrelated files
#   6 the shell-script rotation admins do by hand, on the same bed
#   7 side by side, seen from outside: `cp` of a new pair -> all nine ports
#     serve it, the hand-run shell rotation against the agent (certs-dir)
TEST_NAME=${TEST_NAME:-bench}
. "$(dirname "$0")/../lib/lib.sh"

BENCH_T0=$(date +%s%N)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
BENCH=$(cd "$(dirname "$0")" && pwd)
OUT=$MCA_ROOT/build/bench
mkdir -p "$OUT"
export MCA_AGENT=${MCA_AGENT:-$MCA_ROOT/build/static/mailu-cert-agent}
N=${BENCH_ROTATIONS:-20}
IDLE_S=${BENCH_IDLE_S:-60}
REPS=${BENCH_REPS:-10}
POLL=${BENCH_POLL_INTERVAL:-1s}
SIDE=${BENCH_SIDE:-11}
PROBE_MS=${BENCH_PROBE_MS:-20}
PORT_BASE=${PORT_BASE:-16000}
[ -x "$MCA_AGENT" ] || fail "no static agent at $MCA_AGENT (make static)"
CLK_TCK=$(getconf CLK_TCK)

ROWS=$T/rows
: >"$ROWS"
# row ITEM MEASURED TARGET VERDICT
row() {
	printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"
	printf '  %-58s %-26s %-14s %s\n' "$1" "$2" "$3" "$4" >&2
}
# verdict VALUE LIMIT: "met" if VALUE <= LIMIT
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { print (v + 0 <= l + 0) ? "met" : "MISSED" }'; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# CPU of a process, reaped threads included (clock ticks -> ms)
cpu_ms() { awk -v t="$CLK_TCK" '{ printf "%.0f", ($14 + $15) * 1000 / t }' "/proc/$1/stat"; }
# CPU of the live threads in ns (schedstat: exact, not tick-sampled)
sched_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
# context switches of the live threads (voluntary + involuntary): wakeups
ctxsw() { cat /proc/"$1"/task/*/status | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }'; }
rss_kb() { awk -v k="${2:-VmRSS}:" '$1 == k { print $2 }' "/proc/$1/status"; }

n_events() { grep -c "\"event\":\"$2\"" "$T/$1.log" || true; }
# wait_count LOG EVENT COUNT [TIMEOUT_S]: cheap (grep, 20 ms steps)
wait_count() {
	local end=$((SECONDS + ${4:-60}))
	while [ "$SECONDS" -le "$end" ]; do
		[ "$(n_events "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.02
	done
	fail "timed out waiting for $3 x $2 in $1.log"
}

log "agent $MCA_AGENT ($(stat -c %s "$MCA_AGENT") bytes)"
engine_up
front_image_ensure
export FRONT_IMAGE DOCKER_HOST

# every rotation installs a newer certificate (the agent rejects an older
# one as not_newer): r1 .. r2N, each valid one day longer than the last
certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 61 mail.example.test
for ((i = 1; i <= 2 * N + 1; i++)); do
	certs_leaf "$T" "r$i" ec256 $((90 + i)) mail.example.test
done
ROT=0	# rotations so far, over both modes
bed_start a
mkdir -p "$T/src"
install -m 0644 "$T/a.cert.pem" "$T/src/cert.pem"
install -m 0600 "$T/a.key.pem" "$T/src/key.pem"
log "bed up: $FRONT on $PORT_BASE"

# An ACME client's write of a pair, in one process so the writer itself
# costs microseconds: each file to a temp name, renamed over the old one,
# the certificate first.
write_pair() { # PREFIX
	python3 - "$T/$1.cert.pem" "$T/$1.key.pem" "$T/src" <<-'EOF'
		import os, sys
		for src, dst in ((sys.argv[1], "cert.pem"), (sys.argv[2], "key.pem")):
		    data = open(src, "rb").read()
		    tmp = os.path.join(sys.argv[3], dst + ".new")
		    with open(tmp, "wb") as f:
		        f.write(data)
		    os.replace(tmp, os.path.join(sys.argv[3], dst))
	EOF
}

# ---- 1. rotation latency ------------------------------------------------
# rotate MODE: N rotations A<->B by the daemon; sets R_* from rotations.py
rotate() {
	local mode=$1 name=rot_$1 i c0 c1
	local -a extra=()
	[ "$mode" = poll ] && extra=(--watch=poll "--poll-interval=$POLL")
	# shellcheck disable=SC2046
	agent_bg "$name" run $(rotate_env) "--state-dir=$T/state-$mode" \
		"--source=pair:$T/src/cert.pem,$T/src/key.pem" "${extra[@]}"
	wait_count "$name" agent.start 1 30
	wait_count "$name" verify.endpoint 9 30
	sleep 1
	c0=$(cpu_ms "$AGENT_PID")
	for ((i = 1; i <= N; i++)); do
		ROT=$((ROT + 1))
		write_pair "r$ROT"
		wait_count "$name" cycle.done "$i" 60
		# a quiet spell between rotations, past the storm window (1 s
		# after a cycle's end); in poll mode it also moves the write to
		# another phase of the poll period
		sleep "1.$((RANDOM % 5 + 1))"
	done
	c1=$(cpu_ms "$AGENT_PID")
	agent_stop "$AGENT_PID" "$name"
	[ "$(n_events "$name" cert.rejected)" = 0 ] || fail "$mode: rejections during the bench"
	eval "$(python3 "$BENCH/rotations.py" "$T/$name.log" | sed "s/^/R_${mode}_/")"
	local n_var=R_${mode}_n
	[ "${!n_var}" = "$N" ] || fail "$mode: ${!n_var} of $N cycles rotated"
	eval "R_${mode}_cpu=$(calc "($c1 - $c0) / $N")"
	cp "$T/$name.log" "$OUT/$name.log"
}

log "1. rotations: $N with inotify"
rotate inotify
log "1. rotations: $N with poll only ($POLL)"
rotate poll

# ---- profile of one rotation (BENCH_PROFILE=1) ------------------------
# The dev build (glibc, -O2 -g) under callgrind, instrumented only from
# the write to cycle.done, every thread; the top of callgrind_annotate
# goes to build/bench/callgrind.txt.
if [ "${BENCH_PROFILE:-0}" = 1 ]; then
	log "profile: one rotation under callgrind"
	(cd "$MCA_ROOT" && make -s all)
	ROT=$((ROT + 1))
	# shellcheck disable=SC2046
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
		"$MCA_ROOT/build/dev/mailu-cert-agent" run $(rotate_env) "--state-dir=$T/state-prof" \
		"--source=pair:$T/src/cert.pem,$T/src/key.pem" --probe-timeout=10s \
		>"$T/prof.log" 2>"$T/prof.err.log" &
	ppid=$!
	at_exit "kill -KILL $ppid 2>/dev/null"
	wait_count prof agent.start 1 120
	wait_count prof verify.endpoint 9 120
	sleep 1
	callgrind_control -i on "$ppid" >/dev/null
	write_pair "r$ROT"
	wait_count prof cycle.done 1 120
	callgrind_control -i off "$ppid" >/dev/null
	kill -TERM "$ppid"
	wait "$ppid" || true
	grep '"event":"cycle.done"' "$T/prof.log" >"$OUT/callgrind.cycle.json"
	callgrind_annotate --inclusive=no "$OUT/callgrind.out" >"$T/cg.self" 2>/dev/null || true
	callgrind_annotate --inclusive=yes "$OUT/callgrind.out" >"$T/cg.incl" 2>/dev/null || true
	head -45 "$T/cg.self" >"$OUT/callgrind.txt"
	head -60 "$T/cg.incl" >"$OUT/callgrind.inclusive.txt"
fi

# ---- 6. the shell-script rotation, same bed ------------------------------
log "6. shell-script rotations: $N"
: >"$T/shell.ms"
for ((i = 1; i <= N; i++)); do
	if ((i % 2)); then prefix=a; else prefix=b; fi
	t0=$(now_ms)
	cp "$T/$prefix.cert.pem" "$T/certs/cert.pem"
	cp "$T/$prefix.key.pem" "$T/certs/key.pem"
	docker exec "$FRONT" nginx -s reload
	docker exec "$FRONT" dovecot reload
	echo $(($(now_ms) - t0)) >>"$T/shell.ms"
	sleep 0.2
done
# shellcheck disable=SC2034 # read through eval
SHELL_MED=$(sort -n "$T/shell.ms" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
SHELL_P95=$(sort -n "$T/shell.ms" | awk '{ a[NR] = $1 } END { i = int(NR * 0.95 + 0.999); print a[i] }')

# ---- 7. side by side, seen from outside ----------------------------------
# A new pair `cp`'d into the certs dir, timed until all nine ports serve
# it, as an outside prober sees it: tests/tools/tls-load (its own TLS and
# STARTTLS code, none of the agent's), one thread per port, a handshake
# every PROBE_MS. The hand-run shell rotation (cp, cp, docker exec nginx -s
# reload, docker exec dovecot reload) against the agent (certs-dir source,
# inotify, the static binary), SIDE rounds each, in pairs of one of each in
# a random order, every round after a random quiet gap at a random phase
# of the probes. The agent runs throughout, stopped (SIGSTOP) for a shell
# round and then left to take the shell's pair too, untimed, before the
# next round. tests/bench/served.py reads the records.
log "7. side by side: $SIDE rounds each, every port probed every $PROBE_MS ms from outside"
(cd "$MCA_ROOT" && make -s build/dev/tls-load >"$T/tls-load-make.log" 2>&1) ||
	fail "make build/dev/tls-load: $(tail -3 "$T/tls-load-make.log")"
# wait for these pids only: a private dockerd this shell started is a child too
leaf_pids=()
for ((i = 1; i <= 2 * SIDE; i++)); do
	certs_leaf "$T" "s$i" ec256 $((200 + i)) mail.example.test &
	leaf_pids+=($!)
done
wait "${leaf_pids[@]}"
probes=()
for p in $FRONT_PROTOS; do probes+=("$p=127.0.0.1:$(front_port "$p" "$PORT_BASE")"); done
"$MCA_ROOT/build/dev/tls-load" -i "$PROBE_MS" -t 2000 -s "$HOSTNAME_SNI" -o "$T/probe.tsv" \
	"${probes[@]}" 2>"$T/probe.err.log" &
probe_pid=$!
at_exit "kill -TERM $probe_pid 2>/dev/null"
# --dane=off as in the tests (rotate_env): the bed's host names are in no
# zone, and a TLSA lookup of them would time the machine's resolver
agent_bg side run "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" --dane=off \
	"--endpoints=$ENDPOINTS" "--front=$FRONT" --probe-timeout=3s "--state-dir=$T/state-side"
side_pid=$AGENT_PID
wait_count side agent.start 1 30
wait_count side verify.endpoint 9 30
sleep 1
: >"$T/marks"
K=0
# side_round KIND: the next pair, after a quiet 1.0-1.4 s and a random phase
# of the probes: the mark, then the cp of both files (and the shell's execs)
side_round() {
	local fp n ms
	K=$((K + 1))
	fp=$(certs_fp "$T/s$K.cert.pem")
	n=$(n_events side cycle.done)
	[ "$1" = agent ] || kill -STOP "$side_pid"
	ms=$((1000 + RANDOM % 400 + RANDOM % PROBE_MS))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	echo "$1 ${EPOCHREALTIME/./} $fp" >>"$T/marks"
	cp "$T/s$K.cert.pem" "$T/certs/cert.pem"
	cp "$T/s$K.key.pem" "$T/certs/key.pem"
	if [ "$1" = shell ]; then
		docker exec "$FRONT" nginx -s reload
		docker exec "$FRONT" dovecot reload
		sleep 1	# every port caught up (the analysis checks it)
		kill -CONT "$side_pid"
	else
		# as quiet as the shell's round while it is timed: wait_count's
		# grep every 20 ms would load the 2 cores the reloads need
		sleep 1
	fi
	# the agent's cycle (for a shell round: it takes the pair served already)
	wait_count side cycle.done $((n + 1)) 60
	sleep 0.3
}
for ((i = 0; i < SIDE; i++)); do
	if ((RANDOM % 2)); then side_round shell; side_round agent; else side_round agent; side_round shell; fi
done
sleep 2	# idle again after work: memtrim has run
SIDE_RSS=$(rss_kb "$side_pid")
agent_stop "$side_pid" side
[ "$(grep '"event":"cycle.done"' "$T/side.log" | grep -vc '"outcome":"rotated"')" = 0 ] ||
	fail "side by side: a cycle of the agent did not rotate (side.log)"
kill -TERM "$probe_pid"
wait "$probe_pid" || true
cp "$T/probe.tsv" "$T/marks" "$T/side.log" "$OUT/"
eval "$(python3 "$BENCH/served.py" "$T/probe.tsv" "$T/marks" 2>"$T/served.log" | sed 's/^/S_/')"
sed 's/^/  /' "$T/served.log" >&2
cp "$T/served.log" "$OUT/served.log"
# the agent's own timings, of its rounds only (not of taking a shell round's pair)
awk '$1 == "agent" { print $3 }' "$T/marks" >"$T/agent.fps"
jq -r --rawfile fps "$T/agent.fps" 'select(.event == "cycle.done" and
	(.fingerprint as $f | $fps | split("\n") | index($f))) | .cycle' "$T/side.log" >"$T/agent.cycles"
jq -c --rawfile cs "$T/agent.cycles" 'select(.cycle as $c | $c != null and
	($cs | split("\n") | index($c)))' "$T/side.log" >"$T/side-agent.log"
eval "$(python3 "$BENCH/rotations.py" "$T/side-agent.log" | sed 's/^/R_side_/')"
prefix=s$K	# what the certs dir holds now

# ---- 2. idle cost --------------------------------------------------------
log "2. idle: ${IDLE_S}s"
# shellcheck disable=SC2086 # the nine names, split on purpose
wait_served "$(certs_fp "$T/$prefix.cert.pem")" $FRONT_PROTOS
agent_bg idle run "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" "--endpoints=$ENDPOINTS" \
	"--front=$FRONT" --probe-timeout=3s "--state-dir=$T/state-idle" --drift-interval=10m
wait_count idle agent.start 1 30
wait_count idle verify.endpoint 9 30
sleep 2
i0=$(sched_ns "$AGENT_PID") k0=$(cpu_ms "$AGENT_PID") w0=$(ctxsw "$AGENT_PID")
sleep "$IDLE_S"
i1=$(sched_ns "$AGENT_PID") k1=$(cpu_ms "$AGENT_PID") w1=$(ctxsw "$AGENT_PID")
IDLE_RSS=$(rss_kb "$AGENT_PID")
IDLE_ANON=$(rss_kb "$AGENT_PID" RssAnon) IDLE_FILE=$(rss_kb "$AGENT_PID" RssFile)
[ "$(n_events idle cycle.done)" = 0 ] || fail "idle: the idle agent ran a cycle"
agent_stop "$AGENT_PID" idle
IDLE_CPU=$(calc "($i1 - $i0) / 1e6" 2)
IDLE_TICKS=$((k1 - k0))
IDLE_WAKE=$(calc "($w1 - $w0) * 60 / $IDLE_S" 1)

# ---- 4. verify fan-out ---------------------------------------------------
# check_ms ENDPOINTS: check.done's ms (the verify of those endpoints)
check_ms() {
	"$MCA_AGENT" check "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" \
		"--endpoints=$1" --probe-timeout=5s >"$T/check.log" 2>>"$T/check.err.log" || true
	jq -r 'select(.event=="check.done") | if .matched == .endpoints then .ms else "bad" end' "$T/check.log"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# median_check ENDPOINTS: median over REPS of check_ms
median_check() {
	local r v
	for ((r = 0; r < REPS; r++)); do
		v=$(check_ms "$1")
		[ "$v" != bad ] || fail "fan-out: check of $1 did not match"
		echo "$v"
	done | median
}
log "4. fan-out: $REPS x 9 endpoints, $REPS x each alone"
ALL9=$(median_check "$ENDPOINTS")
SLOWEST=0 SLOWEST_EP=
IFS=, read -r -a eps <<<"$ENDPOINTS"
for ep in "${eps[@]}"; do
	v=$(median_check "$ep")
	if [ "$v" -gt "$SLOWEST" ]; then SLOWEST=$v SLOWEST_EP=$ep; fi
done

log "4. fan-out: 3 more fronts (36 endpoints)"
EP36=$ENDPOINTS
for r in 2 3 4; do
	b=$((PORT_BASE + (r - 1) * 1000))
	front_start "$FRONT-r$r" "$T/certs" "$b" -e BIND_ADDRESS=127.0.0.$r >/dev/null
	at_exit front_stop "$FRONT-r$r" "$T/front-r$r.docker.log"
	EP36=$EP36,$(front_endpoints "$b" 127.0.0.$r)
done
# the replicas answer once a check of all 36 matches (60 s)
for ((i = 0; i < 60; i++)); do
	[ "$(check_ms "$EP36")" != bad ] && break
	sleep 1
done
ALL36=$(median_check "$EP36")

# ---- 3. sizes ------------------------------------------------------------
log "3. make image"
IMG=$(cd "$MCA_ROOT" && make -s image 2>&1 | sed -n 's/^image .*: \([0-9]*\) bytes$/\1/p')
[ -n "$IMG" ] || fail "make image printed no size"
BIN=$(stat -c %s "$MCA_AGENT")

# ---- 5. scale ------------------------------------------------------------
ACME_ROW=
if (cd "$MCA_ROOT" && make -s build/dev/acme-select >"$T/acme-make.log" 2>&1) &&
	[ -x "$MCA_ROOT/build/dev/acme-select" ]; then
	fx=$OUT/acme-1000
	if [ ! -s "$fx/acme.json" ]; then
		log "5. generating acme.json with 1,000 certificates (cached in $fx)"
		/usr/bin/python3 "$BENCH/acme-json-scale.py" "$fx" 1000 "$HOSTNAME_SNI"
	fi
	ACME_SIZE=$(stat -L -c %s "$fx/acme.json")
	: >"$T/acme.ms"
	for ((r = 0; r < 5; r++)); do
		"$MCA_ROOT/build/dev/acme-select" "$fx/acme.json" "$HOSTNAME_SNI" >"$T/acme.json.out" ||
			fail "acme-select found nothing in $fx/acme.json"
		jq -r '.ms' "$T/acme.json.out" >>"$T/acme.ms"
		jq -r '.maxrss_kb' "$T/acme.json.out" >>"$T/acme.rss"
	done
	ACME_MS=$(median <"$T/acme.ms")
	ACME_RSS=$(sort -n "$T/acme.rss" | tail -1)
	ACME_ROW=1
else
	log "5. no acme-select driver (make build/dev/acme-select failed): n/a"
fi

# poll_cost NAME EXTRA_FILES: sets POLL_COST, the CPU per 1 s poll (µs) of a poll-only agent on
# a certs dir with the served pair and EXTRA_FILES unrelated files, over
# 18 s (every 6th poll also re-reads and hashes the pair)
poll_cost() {
	local dir=$T/$1 m0 m1 i
	mkdir -p "$dir"
	cp -p "$T/certs/cert.pem" "$T/certs/key.pem" "$dir/"
	for ((i = 0; i < $2; i++)); do echo "$i" >"$dir/unrelated-$i.txt"; done
	agent_bg "$1" run "--certs-dir=$dir" "--hostnames=$HOSTNAME_SNI" "--endpoints=$ENDPOINTS" \
		--reload=none --probe-timeout=3s "--state-dir=$T/state-$1" --watch=poll --poll-interval=1s
	wait_count "$1" agent.start 1 30
	wait_count "$1" verify.endpoint 9 30
	sleep 2
	m0=$(sched_ns "$AGENT_PID")
	sleep 18
	m1=$(sched_ns "$AGENT_PID")
	agent_stop "$AGENT_PID" "$1"
	POLL_COST=$(calc "($m1 - $m0) / 1000 / 18" 0)
}
log "5. poll cost: certs dir with 1,000 unrelated files, and without"
poll_cost many 1000
POLL_US=$POLL_COST
poll_cost few 0
POLL0_US=$POLL_COST

# ---- the table -----------------------------------------------------------
for m in inotify poll; do
	for k in total detect settle validate install reload exec verify verify_net verify_wait work own own_noinst cycle rounds cpu; do
		v=R_${m}_${k}_med p=R_${m}_${k}_p95
		printf -v "${m}_${k}" '%s' "${!v:-}"
		printf -v "${m}_${k}_p" '%s' "${!p:-}"
	done
	c=R_${m}_cpu
	printf -v "${m}_cpu" '%s' "${!c}"
done
# shellcheck disable=SC2154 # set through printf -v above
{
	row "1. rotation, inotify: whole (median / p95, n=$N)" "$inotify_total / $inotify_total_p ms" "≤ 1500 ms" "$(verdict "$inotify_total_p" 1500)"
	row "   settle window (included in whole)" "$inotify_settle ms" "-" "-"
	row "   detect after the settle window" "$inotify_detect / $inotify_detect_p ms" "≤ 50 ms" "$(verdict "$inotify_detect_p" 50)"
	row "   validate" "$inotify_validate / $inotify_validate_p ms" "-" "-"
	row "   install (backup, pair checks, journal, fsyncs)" "$inotify_install / $inotify_install_p ms" "-" "-"
	row "   reload (2 execs, at once)" "$inotify_reload / $inotify_reload_p ms" "-" "-"
	row "   of which exec round trips" "$inotify_exec / $inotify_exec_p ms" "-" "-"
	row "   verify (9 endpoints)" "$inotify_verify / $inotify_verify_p ms" "-" "-"
	row "   of which probing / backoff waits" "$inotify_verify_net / $inotify_verify_wait ms ($inotify_rounds rounds)" "-" "-"
	row "   agent's own share" "$inotify_own / $inotify_own_p ms" "≤ 20 ms" "$(verdict "$inotify_own_p" 20)"
	row "   of it outside install" "$inotify_own_noinst / $inotify_own_noinst_p ms" "-" "-"
	row "   agent CPU per rotation (all threads)" "$inotify_cpu ms" "-" "-"
	row "1. rotation, poll only ($POLL): whole" "$poll_total / $poll_total_p ms" "-" "-"
	row "   detect after the settle window" "$poll_detect / $poll_detect_p ms" "≤ poll interval" "-"
	row "   agent's own share (detect is the poll's)" "$poll_work / $poll_work_p ms" "≤ 20 ms" "$(verdict "$poll_work_p" 20)"
	row "2. idle ${IDLE_S}s: RSS (static binary)" "$(calc "$IDLE_RSS / 1024" 2) MiB" "≤ 3 MiB" "$(verdict "$IDLE_RSS" 3072)"
	row "   of which anonymous / file (binary text)" "$(calc "$IDLE_ANON / 1024" 2) / $(calc "$IDLE_FILE / 1024" 2) MiB" "-" "-"
	row "   CPU time over ${IDLE_S}s (schedstat; ticks)" "$IDLE_CPU ms ($IDLE_TICKS ms)" "≤ 30 ms" "$(verdict "$IDLE_CPU" 30)"
	row "   wakeups per minute (context switches)" "$IDLE_WAKE" "-" "-"
	row "3. image size (make image)" "$(calc "$IMG / 1000000" 2) MB ($IMG B)" "≤ 6 MB" "$(verdict "$IMG" 6000000)"
	row "   static binary, stripped" "$(calc "$BIN / 1000000" 2) MB ($BIN B)" "-" "-"
	row "4. verify 9 endpoints / slowest single (median of $REPS)" "$ALL9 / $SLOWEST ms = $(calc "$ALL9 / $SLOWEST" 2)x" "≤ 1.3x" "$(verdict "$(calc "$ALL9 / $SLOWEST" 2)" 1.3)"
	row "   slowest single endpoint" "${SLOWEST_EP%%://*}" "-" "-"
	row "   4 fronts, 36 endpoints / slowest single" "$ALL36 ms = $(calc "$ALL36 / $SLOWEST" 2)x" "-" "-"
	if [ -n "$ACME_ROW" ]; then
		row "5. acme.json, 1,000 certs ($(calc "$ACME_SIZE / 1000000" 1) MB): select" "$ACME_MS ms" "≤ 100 ms" "$(verdict "$ACME_MS" 100)"
		row "   peak RSS" "$(calc "$ACME_RSS / 1024" 1) MiB" "≤ 16 MiB" "$(verdict "$ACME_RSS" 16384)"
	else
		row "5. acme.json, 1,000 certs: select / peak RSS" "n/a (driver missing)" "≤ 100 ms, ≤ 16 MiB" "n/a"
	fi
	row "   poll with 1,000 unrelated files: CPU per interval" "$POLL_US µs (without: $POLL0_US µs)" "-" "-"
	row "6. shell script (cp, 2 docker exec, no verify)" "$SHELL_MED / $SHELL_P95 ms" "-" "-"
	row "   agent cycle (validate..verify) / shell script" "$inotify_cycle ms = $(calc "$inotify_cycle / $SHELL_MED" 2)x" "-" "-"
	row "7. cp → nine ports serve it, outside prober: shell (median / p95, n=${S_shell_n:-0})" "${S_shell_med:-n/a} / ${S_shell_p95:-n/a} ms" "-" "-"
	row "   agent (certs-dir, inotify; n=${S_agent_n:-0})" "${S_agent_med:-n/a} / ${S_agent_p95:-n/a} ms" "≤ 450 ms, < shell" \
		"$(if [ -n "${S_agent_med:-}" ] && [ -n "${S_shell_med:-}" ] && [ "$S_agent_med" -lt "$S_shell_med" ]; then verdict "$S_agent_med" 450; else echo MISSED; fi)"
	row "   slowest nginx / dovecot port (medians): shell; agent" "${S_shell_nginx_med:-n/a} / ${S_shell_dovecot_med:-n/a} ms; ${S_agent_nginx_med:-n/a} / ${S_agent_dovecot_med:-n/a} ms" "-" "-"
	row "   rounds missed (a port never served it): shell / agent" "${S_shell_missed:-0} / ${S_agent_missed:-0}" "0" "$(verdict "$((${S_shell_missed:-0} + ${S_agent_missed:-0}))" 0)"
	row "   agent's cycle.done (n=${R_side_n:-0}): settle / detect after it / install / reload / verify (medians)" "${R_side_settle_med:-n/a} / ${R_side_detect_med:-n/a} / ${R_side_install_med:-n/a} / ${R_side_reload_med:-n/a} / ${R_side_verify_med:-n/a} ms" "-" "-"
	row "   agent RSS idle after its rotations (2 s)" "$(calc "$SIDE_RSS / 1024" 2) MiB" "-" "-"
	BENCH_S=$(calc "($(date +%s%N) - $BENCH_T0) / 1e9" 0)
	row "bench run time" "$BENCH_S s" "≤ 600 s" "$(verdict "$BENCH_S" 600)"
} 2>/dev/null

host="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r), load average $LOAD0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
{
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $host, agent $("$MCA_AGENT" version 2>/dev/null | head -1 || true)."
	echo "Times are median / p95 unless noted."
	echo
	echo "| item | measured | target | verdict |"
	echo "|---|---|---|---|"
	sed 's/|/ | /g; s/^/| /; s/$/ |/' "$ROWS"
} >"$OUT/results.md"
echo
column -t -s'|' -N item,measured,target,verdict "$ROWS" 2>/dev/null || cat "$ROWS"
echo
echo "machine: $host"
echo "written to build/bench/results.md"
