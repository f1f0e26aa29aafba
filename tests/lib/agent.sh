# shellcheck shell=bash
# tests/lib/agent.sh — run the agent under test and read its JSON events.
#
#   agent_run LOGNAME ARGS...   runs $MCA_AGENT with ARGS, stdout (the JSON
#                               lines) to $T/LOGNAME.log, stderr to
#                               $T/LOGNAME.err.log; sets AGENT_RC, never fails.
#   events LOGNAME JQ_FILTER    jq -c over the events of one run
#   event_count LOGNAME EVENT   how many lines have that event
#   log_lines LOGNAME           the log's complete lines: a line the agent
#                               is still writing is left for the next read
#   complete_lines FILE         the same for any file written while it is read
#   assert_json_lines LOGNAME   every stdout line is one JSON object with
#                               time, level, event, msg

agent_run() {
	local name=$1
	shift
	set +e
	"$MCA_AGENT" "$@" >"$T/$name.log" 2>"$T/$name.err.log"
	AGENT_RC=$?
	set -e
	log "agent $1 ($name) -> exit $AGENT_RC"
	if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$T/$name.err.log"; then
		cat "$T/$name.err.log" >&2
		fail "sanitizer report in agent run $name"
	fi
}

# A reader of a live log can see the half of a line that is written: a
# write(2) to a file is not atomic for a reader, the file grows a page at a
# time. jq stops at a half line with exit 4, which set -e turns into a
# failed test, so the readers below leave out a last line with no newline.
# A bad line that is complete still fails jq, and the test.
complete_lines() { perl -ne 'print if /\n\z/' "$1"; }
log_lines() { complete_lines "$T/$1.log"; }

events() { log_lines "$1" | jq -c "$2"; }

event_count() {
	log_lines "$1" | jq -c --arg e "$2" 'select(.event == $e)' | wc -l | tr -d ' '
}

assert_json_lines() {
	local bad
	bad=$(jq -R 'fromjson? // "BAD" | if type == "object" and has("time") and has("level")
		and has("event") and has("msg") then empty else "BAD" end' "$T/$1.log" | wc -l)
	assert_eq 0 "$bad" "non-JSON or incomplete event lines in $1"
}

# bed_start PREFIX [docker run args...]
#   a certs dir $T/certs holding PREFIX.{cert,key}.pem as cert.pem/key.pem,
#   and a running front (FRONT, on PORT_BASE, default 21000) serving it;
#   sets ENDPOINTS (all nine) and HOSTNAME_SNI. FRONT_KIND (lookalike or
#   mailu, tests/lib/front.sh) picks the front.
bed_start() {
	local prefix=$1
	shift
	PORT_BASE=${PORT_BASE:-21000}
	FRONT=mca-it-$TEST_NAME
	HOSTNAME_SNI=mail.example.test
	mkdir -p "$T/certs"
	bed_install "$prefix"
	front_start "$FRONT" "$T/certs" "$PORT_BASE" "$@" >/dev/null
	at_exit front_stop "$FRONT" "$T/front.docker.log"
	front_wait "$FRONT" "$PORT_BASE" 60
	log "front $FRONT: $(front_kind_of "$FRONT") ($(docker inspect -f '{{.Config.Image}}' "$FRONT"))"
	ENDPOINTS=$(front_endpoints "$PORT_BASE")
}

# bed_install PREFIX: copy a pair into the certs dir as an ACME client would
bed_install() {
	install -m 0644 "$T/$1.cert.pem" "$T/certs/cert.pem"
	install -m 0600 "$T/$1.key.pem" "$T/certs/key.pem"
}

# bed_serve PREFIX: install the pair as an admin would by hand, reload both
# daemons in the front, and wait until nginx and dovecot serve it
bed_serve() {
	bed_install "$1"
	docker exec "$FRONT" nginx -s reload
	docker exec "$FRONT" dovecot reload
	wait_served "$(certs_fp "$T/$1.cert.pem")" https imaps
}

# the agent's settings for the bed
bed_env() {
	echo "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" "--endpoints=$ENDPOINTS" \
		"--probe-timeout=5s"
}

# wait_served FP PROTO...: until every PROTO on the bed serves FP (10 s)
wait_served() {
	local fp=$1 p i ok
	shift
	for i in $(seq 1 50); do
		ok=1
		for p in "$@"; do
			[ "$(front_served_fp 127.0.0.1 "$(front_port "$p" "$PORT_BASE")" "$p")" = "$fp" ] || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		sleep 0.2
	done
	fail "timed out waiting for $* to serve ${fp:0:16}"
}

# agent_bg NAME ARGS...: starts the agent in the background (stdout to
# $T/NAME.log); sets AGENT_PID; stopped (SIGTERM, then SIGKILL) at exit.
agent_bg() {
	local name=$1
	shift
	"$MCA_AGENT" "$@" >"$T/$name.log" 2>"$T/$name.err.log" &
	AGENT_PID=$!
	at_exit "kill -TERM $AGENT_PID 2>/dev/null; sleep 0.5; kill -KILL $AGENT_PID 2>/dev/null"
	log "agent $1 ($name, pid $AGENT_PID)"
}

# wait_event NAME JQ_SELECT [TIMEOUT_S=60] [COUNT=1]: until COUNT lines of
# $T/NAME.log match `select(JQ_SELECT)`
wait_event() {
	local name=$1 sel=$2 timeout=${3:-60} count=${4:-1} i n
	for ((i = 0; i < timeout * 10; i++)); do
		n=0
		# the log is made by the agent's background shell: it may not be there yet
		[ ! -e "$T/$name.log" ] || n=$(log_lines "$name" | jq -c "select($sel)" | wc -l)
		[ "$n" -ge "$count" ] && return 0
		sleep 0.1
	done
	fail "timed out waiting for $count x ($sel) in $name.log"
}

# wait_status PID FP [TIMEOUT_S=60]: until $T/state/status.json, written by
# PID (- for any), says FP is verified and healthy
wait_status() {
	local i pid=$1
	[ "$pid" = - ] && pid=null
	for ((i = 0; i < ${3:-60} * 10; i++)); do
		jq -e --argjson pid "$pid" --arg fp "$2" \
			'($pid == null or .pid == $pid) and .fingerprint == $fp and .verified == true and .healthy == true' \
			"$T/state/status.json" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "status.json never said $2 verified for pid $1: $(cat "$T/state/status.json" 2>/dev/null)"
}

# assert_disk_holds PREFIX WHAT: cert.pem and key.pem in the certs dir and
# in the state dir's current/ are PREFIX's bytes exactly
assert_disk_holds() {
	local f
	for f in certs/cert.pem certs/key.pem state/current/cert.pem state/current/key.pem; do
		cmp -s "$T/$f" "$T/$1.${f##*/}" || fail "$f is not $1 $2"
	done
}

# assert_no_leftovers WHAT: no install journal and no temp file in the
# certs dir or the state dir (an install finished or undone)
assert_no_leftovers() {
	local left
	[ ! -e "$T/state/journal" ] || fail "journal left $1"
	left=$(find "$T/certs" "$T/state" -name '*.mca-new' -o -name .new -o -name current.new -o -name current.old)
	[ -z "$left" ] || fail "temp files left $1: $left"
}

# agent_stop PID [LOGNAME]: SIGTERM, wait, expect exit 0 and agent.stop
agent_stop() {
	local pid=$1 rc
	kill -TERM "$pid"
	set +e
	wait "$pid"
	rc=$?
	set -e
	assert_eq 0 "$rc" "agent exit code after SIGTERM"
	if [ -n "${2:-}" ]; then
		assert_eq 1 "$(event_count "$2" agent.stop)" "agent.stop events"
		if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$T/$2.err.log"; then
			cat "$T/$2.err.log" >&2
			fail "sanitizer report in agent run $2"
		fi
	fi
}

# exec_count: how many execs the engine created in the front so far
exec_count() {
	# ExecIDs forgets an exec once it ended: ask the engine's event log,
	# from the front's start until now
	docker events --since "$(docker inspect -f '{{.State.StartedAt}}' "$FRONT")" \
		--until "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" --filter "container=$FRONT" \
		--filter event=exec_create --format '{{.Action}}' | wc -l | tr -d ' '
}

# assert_all_serve FP: openssl (not the agent) sees FP on all nine ports
assert_all_serve() {
	local p
	for p in $FRONT_PROTOS; do
		assert_eq "$1" "$(front_served_fp 127.0.0.1 "$(front_port "$p" "$PORT_BASE")" "$p")" "$p serves"
	done
}

# disk_pair_matches: cert.pem and key.pem in $T/certs belong together
disk_pair_matches() {
	[ "$(openssl x509 -in "$T/certs/cert.pem" -noout -pubkey | sha256sum)" = \
	  "$(openssl pkey -in "$T/certs/key.pem" -pubout | sha256sum)" ]
}

# rotate_env: the settings every rotation test shares. DANE is off: its
# default (warn) asks the machine's resolver for TLSA on every key change,
# and no test should depend on that resolver; 71-dane.sh turns it on
# against its own DNS server (a later flag wins).
rotate_env() {
	echo "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" "--endpoints=$ENDPOINTS" \
		"--front=$FRONT" "--probe-timeout=3s" "--verify-timeout=${VERIFY_TIMEOUT:-15s}" \
		"--state-dir=$T/state" "--dane=off"
}

# kubelet_write DIR PREFIX [CERT_NAME KEY_NAME]: the kubelet's atomic writer
# for a Secret volume: a new timestamped dir, a ..data_tmp link renamed over
# ..data, the visible names as links through ..data, the old dir removed.
kubelet_write() {
	local dir=$1 prefix=$2 cn=${3:-tls.crt} kn=${4:-tls.key} ts old
	ts="..$(date -u +%Y_%m_%d_%H_%M_%S.%N)"
	old=$(readlink "$dir/..data" 2>/dev/null || true)
	mkdir "$dir/$ts"
	cp "$T/$prefix.cert.pem" "$dir/$ts/$cn"
	cp "$T/$prefix.key.pem" "$dir/$ts/$kn"
	chmod 0644 "$dir/$ts/$cn" "$dir/$ts/$kn"
	ln -s "$ts" "$dir/..data_tmp"
	mv -T "$dir/..data_tmp" "$dir/..data"
	[ -e "$dir/$cn" ] || ln -s "..data/$cn" "$dir/$cn"
	[ -e "$dir/$kn" ] || ln -s "..data/$kn" "$dir/$kn"
	[ -z "$old" ] || rm -rf "${dir:?}/$old"
}

# src_write PREFIX: a pair: source's files ($T/src/cert.pem, key.pem) get
# PREFIX's pair, written in place, cert first, as an ACME client would
src_write() {
	mkdir -p "$T/src"
	cp "$T/$1.cert.pem" "$T/src/cert.pem"
	cp "$T/$1.key.pem" "$T/src/key.pem"
}

# gate_setup: a reload step that refuses one bundle, as a broken deploy
# would: $T/gate/check (mount $T/gate at /gate in the front) exits 1 while
# /certs/cert.pem is the cert copied into $T/gate/bad.pem (empty at first).
# Sets GATED, the --reload-commands flag with the gate as a 4th command.
gate_setup() {
	mkdir -p "$T/gate"
	cat >"$T/gate/check" <<-'EOF'
		#!/bin/sh
		if cmp -s /certs/cert.pem /gate/bad.pem; then
			echo "gate: this bundle is refused" >&2
			exit 1
		fi
	EOF
	chmod 0755 "$T/gate/check"
	: >"$T/gate/bad.pem"
	GATED="--reload-commands=nginx -t; nginx -s reload; dovecot reload; /gate/check"
}

# fail_once_hook: installs mca-hook in the running front ($FRONT), an
# admin's own reload step (AGENT_RELOAD_COMMANDS allows any) that fails
# once, exit 3, when /tmp/mca-fail-once exists there (the test touches it),
# and succeeds otherwise: a bundle whose reload fails, then a rollback
# whose reload succeeds.
fail_once_hook() {
	docker exec -i "$FRONT" sh -c 'cat >/usr/local/bin/mca-hook && chmod 0755 /usr/local/bin/mca-hook' <<-'EOF'
		#!/bin/sh
		if [ -e /tmp/mca-fail-once ]; then
			rm -f /tmp/mca-fail-once
			echo "mca-hook: failing once" >&2
			exit 3
		fi
	EOF
}
