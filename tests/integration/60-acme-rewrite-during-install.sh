#!/bin/bash
# The ACME client rewrites the files while the agent is in the middle of a
# cycle. The agent is held at one step for a few seconds (MCA_TEST_PAUSE_AT
# + MCA_TEST_PAUSE_MS, test builds only) while the test writes a third
# pair, or half of one, then it goes on.
#
# pair: source (the agent installs): the cycle in progress installs exactly
# the bytes it validated (a sampler never sees a mismatched pair in
# CERTS_DIR outside an install's journal; the next backup holds them byte
# for byte) and ends rotated; the next cycle takes the newest pair, verified
# on all nine ports. A half-written pair is waited for (or rejected once,
# after AGENT_SETTLE_TIMEOUT) and the completed pair is never rejected.
#
# certs-dir source (the ACME client writes CERTS_DIR itself): the agent
# never reloads files it did not validate (cycle.superseded: the newer files
# get their own cycle), and never puts an older pair back over a newer one
# the client wrote, neither in a rollback decided before the write
# (rollback.skipped) nor in its own restore racing the write.
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-27000}
PAUSE_MS=${PAUSE_MS:-4000}
# RACE_PARTS: which halves to run (while debugging one)
RACE_PARTS=" ${RACE_PARTS:-pair certs-dir} "

certs_leaf "$T" a ec256 30 mail.example.test
gate_setup   # every attempt of the bundle in $T/gate/bad.pem ends in a rollback
bed_start a -v "$T/gate:/gate:ro"
src_write a
pair="--source=pair:$T/src/cert.pem,$T/src/key.pem"
gated=$GATED
days=30
newpair() { days=$((days + 1)); certs_leaf "$T" "$1" ec256 "$days" mail.example.test; }

# sampler: CERTS_DIR never holds a mismatched pair outside an install's
# journal (checked twice, 200 ms apart, so a rename caught between the two
# reads of one check is not counted)
touch "$T/sampling"
(
	while [ -e "$T/sampling" ]; do
		if [ ! -e "$T/state/journal" ] && ! disk_pair_matches 2>/dev/null; then
			sleep 0.2
			if [ ! -e "$T/state/journal" ] && ! disk_pair_matches 2>/dev/null; then
				echo "$(date +%T.%N) $(certs_fp "$T/certs/cert.pem" | head -c 12)" >>"$T/mismatch"
			fi
		fi
		sleep 0.05
	done
) &
sampler=$!
at_exit "rm -f $T/sampling; kill $sampler 2>/dev/null"

# paused_agent NAME STEP ARGS...: an agent held PAUSE_MS at STEP
paused_agent() {
	local name=$1 step=$2
	shift 2
	MCA_TEST_PAUSE_AT=$step MCA_TEST_PAUSE_MS=$PAUSE_MS agent_bg "$name" run "$@"
	wait_event "$name" '.event=="agent.start"' 30
}

# hold NAME STEP: wait until the agent pauses at STEP (the first time)
hold() {
	wait_event "$1" ".event==\"test.paused\" and .step==\"$2\"" 60
}

# still_paused NAME: the write just made landed while the agent was held
still_paused() {
	assert_eq 0 "$(event_count "$1" test.resumed)" "test.resumed before the write was done (raise PAUSE_MS)"
}

# cycle_of NAME FP: the outcome of the cycle that took FP
cycle_of() {
	wait_event "$1" ".event==\"cycle.done\" and .fingerprint==\"$2\"" 90
	events "$1" "select(.event==\"cycle.done\" and .fingerprint==\"$2\") | .outcome" | head -1 | tr -d '"'
}

# settled_on NAME PREFIX: the end state: PREFIX's bytes on disk and in
# current/, served on all nine ports, status verified, nothing left over
settled_on() {
	local name=$1 want=$2 fp
	fp=$(certs_fp "$T/$want.cert.pem")
	wait_status - "$fp" 30
	assert_disk_holds "$want" "($name)"
	assert_no_leftovers "($name)"
	assert_all_serve "$fp"
	assert_eq 0 "$(event_count "$name" rollback.failed)" "$name: rollback.failed"
	assert_eq 0 "$(event_count "$name" install.journal_invalid)" "$name: install.journal_invalid"
}

# newest backup NAME PREFIX: the newest backup holds PREFIX's bytes exactly
newest_backup_is() {
	local b
	b=$(find "$T/state/backups" -mindepth 1 -maxdepth 1 -type d -name '2*' | sort | tail -1)
	cmp -s "$b/cert.pem" "$T/$2.cert.pem" && cmp -s "$b/key.pem" "$T/$2.key.pem" ||
		fail "$1: the newest backup ($b) is not $2 byte for byte"
}

#
# 1. pair: source: a third pair written while the agent installs, reloads, verifies
#
if [[ $RACE_PARTS == *" pair "* ]]; then
k=0
for step in install.temp_written install.key_renamed cycle.reload_before.2 cycle.verifying verify.probed; do
	k=$((k + 1))
	b=b$k c=c$k
	newpair "$b"
	newpair "$c"
	fp_b=$(certs_fp "$T/$b.cert.pem")
	fp_c=$(certs_fp "$T/$c.cert.pem")
	# shellcheck disable=SC2046
	paused_agent "pair-$k" "$step" $(rotate_env) "$pair" --poll-interval=1s
	src_write "$b"
	hold "pair-$k" "$step"
	src_write "$c"
	still_paused "pair-$k"
	assert_eq rotated "$(cycle_of "pair-$k" "$fp_b")" "pair, $c written at $step: the cycle of $b"
	assert_eq "\"$fp_b\"" "$(events "pair-$k" "select(.event==\"cert.installed\") | .fingerprint" | head -1)" "pair, $step: installed"
	assert_eq rotated "$(cycle_of "pair-$k" "$fp_c")" "pair, $c written at $step: the next cycle"
	settled_on "pair-$k" "$c"
	newest_backup_is "pair-$k" "$b"
	assert_eq 0 "$(event_count "pair-$k" cert.rejected)" "pair, $step: rejections"
	agent_stop "$AGENT_PID" "pair-$k"
	log "pair: $c written at $step: $b rotated, then $c"
done

# half a pair (the new cert beside the old key) while the agent verifies;
# the key follows 2 s later: waited for, then rotated, never rejected
newpair bh1
newpair ch1
# shellcheck disable=SC2046
paused_agent pair-half cycle.verifying $(rotate_env) "$pair" --poll-interval=1s
src_write bh1
hold pair-half cycle.verifying
cp "$T/ch1.cert.pem" "$T/src/cert.pem"
still_paused pair-half
assert_eq rotated "$(cycle_of pair-half "$(certs_fp "$T/bh1.cert.pem")")" "pair, half written: the cycle in progress"
sleep 2
cp "$T/ch1.key.pem" "$T/src/key.pem"
assert_eq rotated "$(cycle_of pair-half "$(certs_fp "$T/ch1.cert.pem")")" "pair, half written: the completed pair"
settled_on pair-half ch1
assert_eq 0 "$(event_count pair-half cert.rejected)" "pair, half written: rejections"
agent_stop "$AGENT_PID" pair-half

# the same, but the key comes only after AGENT_SETTLE_TIMEOUT: the
# mismatched pair is rejected once, the completed one (same cert) is not
newpair bh2
newpair ch2
fp_ch2=$(certs_fp "$T/ch2.cert.pem")
# shellcheck disable=SC2046
paused_agent pair-late install.temp_written $(rotate_env) "$pair" --poll-interval=1s --settle-timeout=3s
src_write bh2
hold pair-late install.temp_written
cp "$T/ch2.cert.pem" "$T/src/cert.pem"
still_paused pair-late
assert_eq rotated "$(cycle_of pair-late "$(certs_fp "$T/bh2.cert.pem")")" "pair, half written, late key: the cycle in progress"
wait_event pair-late '.event=="cert.rejected"' 30
assert_eq '"key_mismatch"' "$(events pair-late 'select(.event=="cert.rejected") | .reason')" "the half-written pair's rejection"
cp "$T/ch2.key.pem" "$T/src/key.pem"
wait_event pair-late ".event==\"cycle.done\" and .fingerprint==\"$fp_ch2\" and .outcome==\"rotated\"" 90
settled_on pair-late ch2
assert_eq 1 "$(event_count pair-late cert.rejected)" "pair, late key: rejections"
agent_stop "$AGENT_PID" pair-late

rm -f "$T/sampling"
wait "$sampler" 2>/dev/null || true
[ ! -s "$T/mismatch" ] || fail "CERTS_DIR held a mismatched pair outside an install: $(cat "$T/mismatch")"
fi
rm -f "$T/sampling"
[[ $RACE_PARTS == *" certs-dir "* ]] || pass "pair: only"

#
# 2. certs-dir: the ACME client writes CERTS_DIR itself, racing the agent
#
# client_write PREFIX [cert|key|both]: as a deploy hook would, in place
client_write() {
	case ${2:-both} in
	cert) cp "$T/$1.cert.pem" "$T/certs/cert.pem" ;;
	key) cp "$T/$1.key.pem" "$T/certs/key.pem" ;;
	both) cp "$T/$1.cert.pem" "$T/certs/cert.pem" && cp "$T/$1.key.pem" "$T/certs/key.pem" ;;
	esac
}

# 2a. a newer pair lands before the reload: the validated one is not
# reloaded (cycle.superseded), the newer one rotates
k=0
for step in cycle.validated install.backup_written cycle.installed; do
	k=$((k + 1))
	b=db$k c=dc$k
	newpair "$b"
	newpair "$c"
	fp_b=$(certs_fp "$T/$b.cert.pem")
	fp_c=$(certs_fp "$T/$c.cert.pem")
	# shellcheck disable=SC2046
	paused_agent "dir-$k" "$step" $(rotate_env) --source=certs-dir --poll-interval=1s "$gated"
	client_write "$b"
	hold "dir-$k" "$step"
	client_write "$c"
	still_paused "dir-$k"
	assert_eq unchanged "$(cycle_of "dir-$k" "$fp_b")" "certs-dir, $c written at $step: the cycle of $b"
	assert_eq 1 "$(event_count "dir-$k" cycle.superseded)" "certs-dir, $step: cycle.superseded"
	c1=$(events "dir-$k" "select(.event==\"cycle.done\" and .fingerprint==\"$fp_b\") | .cycle" | head -1)
	assert_eq 0 "$(events "dir-$k" "select(.cycle==$c1 and .event==\"reload.exec\")" | wc -l)" "certs-dir, $step: reloads of $b"
	assert_eq rotated "$(cycle_of "dir-$k" "$fp_c")" "certs-dir, $c written at $step: the next cycle"
	settled_on "dir-$k" "$c"
	assert_eq 0 "$(event_count "dir-$k" cert.rejected)" "certs-dir, $step: rejections"
	agent_stop "$AGENT_PID" "dir-$k"
	log "certs-dir: $c written at $step: $b not reloaded, $c rotated"
done

# 2b. half a pair lands before the reload: not reloaded, waited for, rotated
newpair dbh
newpair dch
# shellcheck disable=SC2046
paused_agent dir-half cycle.installed $(rotate_env) --source=certs-dir --poll-interval=1s "$gated"
client_write dbh
hold dir-half cycle.installed
client_write dch cert
still_paused dir-half
assert_eq unchanged "$(cycle_of dir-half "$(certs_fp "$T/dbh.cert.pem")")" "certs-dir, half written: the cycle in progress"
sleep 2
client_write dch key
assert_eq rotated "$(cycle_of dir-half "$(certs_fp "$T/dch.cert.pem")")" "certs-dir, half written: the completed pair"
settled_on dir-half dch
assert_eq 0 "$(event_count dir-half cert.rejected)" "certs-dir, half written: rejections"
agent_stop "$AGENT_PID" dir-half

# 2c. the newer pair lands during the reload (before nginx -t, or between
# it and nginx -s reload): the front loads it, the verify of the validated
# one fails, and the rollback must not put the older pair back over the
# client's (rollback.skipped, outcome failed); the newer one rotates
k=0
for step in cycle.reload_before.1 cycle.reload_before.2; do
	k=$((k + 1))
	b=dbr$k c=dcr$k
	newpair "$b"
	newpair "$c"
	# shellcheck disable=SC2046
	paused_agent "dir-rb-$k" "$step" $(rotate_env) --source=certs-dir --poll-interval=1s "$gated" --verify-timeout=5s
	client_write "$b"
	hold "dir-rb-$k" "$step"
	client_write "$c"
	still_paused "dir-rb-$k"
	assert_eq failed "$(cycle_of "dir-rb-$k" "$(certs_fp "$T/$b.cert.pem")")" "certs-dir, $c written at $step: the cycle of $b"
	assert_eq '"superseded"' "$(events "dir-rb-$k" 'select(.event=="rollback.skipped") | .reason')" "rollback.skipped"
	assert_eq rotated "$(cycle_of "dir-rb-$k" "$(certs_fp "$T/$c.cert.pem")")" "certs-dir, $c written at $step: the next cycle"
	settled_on "dir-rb-$k" "$c"
	assert_eq 0 "$(event_count "dir-rb-$k" rollback.done)" "certs-dir, $c written at $step: rollbacks"
	agent_stop "$AGENT_PID" "dir-rb-$k"
	log "certs-dir: $c written at $step: no rollback over it, $c rotated"
done

# 2d. the client writes while the agent's own restore is half-way (temp
# files and journal written, nothing renamed): the restore gives way
newpair dbx
newpair dcx
cp "$T/dbx.cert.pem" "$T/gate/bad.pem"
# shellcheck disable=SC2046
paused_agent dir-restore rollback.install.journal_written $(rotate_env) --source=certs-dir --poll-interval=1s "$gated"
client_write dbx
hold dir-restore rollback.install.journal_written
client_write dcx
still_paused dir-restore
assert_eq failed "$(cycle_of dir-restore "$(certs_fp "$T/dbx.cert.pem")")" "certs-dir, written during the restore: the refused cycle"
assert_eq '"superseded"' "$(events dir-restore 'select(.event=="rollback.skipped") | .reason')" "rollback.skipped"
assert_eq rotated "$(cycle_of dir-restore "$(certs_fp "$T/dcx.cert.pem")")" "certs-dir, written during the restore: the next cycle"
settled_on dir-restore dcx
assert_eq 0 "$(event_count dir-restore rollback.done)" "certs-dir, written during the restore: rollbacks"
agent_stop "$AGENT_PID" dir-restore

# 2e. the same race, but the agent is killed -9 during its restore and the
# client writes while it is down: on restart the journal's restore is
# undone, not finished over the client's pair, which then rotates
newpair dbk
newpair dck
cp "$T/dbk.cert.pem" "$T/gate/bad.pem"
# shellcheck disable=SC2046
MCA_TEST_PAUSE_AT=rollback.install.journal_written agent_bg dir-kill run $(rotate_env) \
	--source=certs-dir --poll-interval=1s "$gated"
victim=$AGENT_PID
wait_event dir-kill '.event=="agent.start"' 30
client_write dbk
wait_event dir-kill '.event=="test.paused" and .step=="rollback.install.journal_written"' 60
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
[ -e "$T/state/journal" ] || fail "certs-dir, killed during the restore: no journal"
client_write dck
# shellcheck disable=SC2046
agent_bg dir-kill-restart run $(rotate_env) --source=certs-dir --poll-interval=1s "$gated"
wait_event dir-kill-restart '.event=="install.recovered"' 30
assert_eq '"undone"' "$(events dir-kill-restart 'select(.event=="install.recovered") | .action')" "certs-dir, killed during the restore: recovery"
assert_eq rotated "$(cycle_of dir-kill-restart "$(certs_fp "$T/dck.cert.pem")")" "certs-dir, killed during the restore: the client's pair"
settled_on dir-kill-restart dck
agent_stop "$AGENT_PID" dir-kill-restart

# 2f. a plain refused bundle in certs-dir still rolls back (the check above
# gives way only to a newer pair, not to the refused one)
newpair dbz
cp "$T/dbz.cert.pem" "$T/gate/bad.pem"
# shellcheck disable=SC2046
agent_bg dir-refused run $(rotate_env) --source=certs-dir --poll-interval=1s "$gated"
wait_event dir-refused '.event=="agent.start"' 30
client_write dbz
assert_eq rolled_back "$(cycle_of dir-refused "$(certs_fp "$T/dbz.cert.pem")")" "certs-dir, refused bundle"
settled_on dir-refused dck
agent_stop "$AGENT_PID" dir-refused
pass
