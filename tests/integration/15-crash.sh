#!/bin/bash
# kill -9 at every step boundary of a rotation (a test-only pause point,
# compiled into the ASan test build only), then restart: the journal is
# replayed or undone, cert and key on disk match, and the restarted agent
# finishes the rotation, verified on all nine ports.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" p0 ec256 30 mail.example.test
bed_start p0
src_write p0

i=0
for step in cycle.backup_done install.temp_written install.journal_written \
	install.key_renamed install.cert_renamed install.dir_synced cycle.reloading cycle.verifying; do
	i=$((i + 1))
	certs_leaf "$T" "p$i" ec256 $((30 + i)) mail.example.test
	fp_new=$(certs_fp "$T/p$i.cert.pem")
	# shellcheck disable=SC2046
	MCA_TEST_PAUSE_AT=$step agent_bg "crash-$i" run $(rotate_env) \
		"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
	victim=$AGENT_PID
	wait_event "crash-$i" '.event=="agent.start"' 30
	cp "$T/p$i.cert.pem" "$T/src/cert.pem"
	cp "$T/p$i.key.pem" "$T/src/key.pem"
	wait_event "crash-$i" ".event==\"test.paused\" and .step==\"$step\"" 60
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null || true
	log "killed at $step; on disk: cert $(certs_fp "$T/certs/cert.pem" | head -c 12), journal: $([ -e "$T/state/journal" ] && echo yes || echo no)"

	# shellcheck disable=SC2046
	agent_bg "restart-$i" run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
	wait_event "restart-$i" '.event=="cycle.done"' 90
	assert_eq '"rotated"' "$(events "restart-$i" 'select(.event=="cycle.done") | .outcome')" "outcome after a kill at $step"
	disk_pair_matches || fail "cert and key on disk do not match after a kill at $step"
	[ -e "$T/state/journal" ] && fail "journal left after a kill at $step"
	ls "$T/certs"/.*mca-new* >/dev/null 2>&1 && fail "temp files left after a kill at $step"
	assert_all_serve "$fp_new"
	case $step in
	install.key_renamed | install.cert_renamed | install.dir_synced | install.journal_written)
		assert_eq 1 "$(event_count "restart-$i" install.recovered)" "journal recovery after $step" ;;
	esac
	agent_stop "$AGENT_PID" "restart-$i"
done
pass
