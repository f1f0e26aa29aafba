#!/bin/bash
# CERTS_DIR (and the state dir inside it) on a small tmpfs, also mounted
# as the front's /certs, filled up:
#   1. no room for the backup  -> cert.backup skipped, error no_space;
#   2. room for the backup only -> cert.install_failed, error no_space;
# each time nothing is half-written (no temp file, no backups/.new, no
# journal), cert and key on disk are the old pair byte for byte and match,
# every port still serves it, the agent keeps running and retries; once
# space is freed it rotates.
. "$(dirname "$0")/../lib/lib.sh"
PORT_BASE=${PORT_BASE:-26000}
require_root

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
mkdir -p "$T/certs"
mount -t tmpfs -o size=1m,mode=0755 mca-disk-full "$T/certs"
at_exit "umount '$T/certs' 2>/dev/null || umount -l '$T/certs'"
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a
state=$T/certs/.mailu-cert-agent
served_a=$(cd "$T/certs" && sha256sum cert.pem key.pem)

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--state-dir=$state" \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="state.adopted"' 5

# nothing half-written, the old pair in place and served, the agent alive
assert_intact() { # WHAT
	local left
	left=$(cd "$T/certs" && find . -name '*.mca-new' -o -name '.journal*' -o -name journal \
		-o -name '.new' -o -name 'current.new' -o -name 'current.old' -o -name '.status.json.tmp')
	assert_eq "" "$left" "$1: leftovers"
	assert_eq "$served_a" "$(cd "$T/certs" && sha256sum cert.pem key.pem)" "$1: served pair on disk"
	disk_pair_matches || fail "$1: cert and key on disk do not match"
	assert_eq 600 "$(stat -c %a "$T/certs/key.pem")" "$1: key mode"
	assert_all_serve "$fp_a"
	kill -0 "$AGENT_PID" || fail "$1: agent died"
}

# The agent retries on its own, with backoff (2 s doubling, at most 5 min):
# wait for the next try at least as long as the last cycle.retry announced,
# twice over (a retry may be under way as we read), plus a margin.
retry_wait() {
	local ms
	ms=$(events run 'select(.event=="cycle.retry") | .in_ms' | tail -1)
	echo $((2 * ${ms:-2000} / 1000 + 60))
}

# two pages kept aside (exactly one backup: cert and key, 4 KiB each),
# everything else filled
dd if=/dev/zero of="$T/certs/.fill2" bs=4k count=2 status=none
dd if=/dev/zero of="$T/certs/.fill" bs=4k status=none 2>/dev/null || true
assert_eq 0 "$(stat -f -c %a "$T/certs")" "free blocks after filling"

# 1. the backup cannot be written
src_write b
wait_event run '.event=="cert.backup" and .skipped==true' 30
assert_eq '"no_space"' "$(events run 'select(.event=="cert.backup" and .skipped==true) | .error' | head -1)" "backup error code"
wait_event run '.event=="cycle.done"' 10
assert_eq '"failed"' "$(events run 'select(.event=="cycle.done") | .outcome' | head -1)" "outcome, backup failed"
assert_eq 0 "$(event_count run cert.installed)" "installs without a backup"
wait_event run '.event=="cycle.retry"' 10
assert_intact "backup failed"
assert_eq "" "$(find "$state/backups" -mindepth 1)" "backups/ after the failed backup"

# 2. room for the backup, none for the new pair
rm "$T/certs/.fill2"
wait_event run '.event=="cert.install_failed"' "$(retry_wait)"
assert_eq '"no_space"' "$(events run 'select(.event=="cert.install_failed") | .error' | head -1)" "install error code"
assert_contains "$(events run 'select(.event=="cert.install_failed") | .detail' | head -1)" "No space left" "install detail"
assert_eq 1 "$(find "$state/backups" -mindepth 1 -maxdepth 1 | wc -l)" "one backup"
assert_eq "$fp_a" "$(certs_fp "$(printf '%s\n' "$state"/backups/*/ | tail -1)/cert.pem")" "the backup holds a"
wait_event run '.event=="cycle.retry"' 10 2
assert_intact "install failed"
assert_eq 0 "$(events run 'select(.event=="cycle.done" and .outcome=="rotated")' | wc -l)" "rotations while full"
# a retry on a full disk reuses that backup and fails the same way
wait_event run '.event=="cert.install_failed"' "$(retry_wait)" 2
wait_event run '.event=="cert.backup" and .reused==true' 5
assert_intact "install failed again"

# 3. space freed: the next retry rotates
rm "$T/certs/.fill"
wait_event run '.event=="cycle.done" and .outcome=="rotated"' "$(retry_wait)"
# it came as the retry, on the backoff schedule, not from a file change
assert_eq 0 "$(events run 'select(.event=="cycle.retry" and .in_ms > 300000)' | wc -l)" "backoff beyond 5 min"
assert_all_serve "$fp_b"
disk_pair_matches || fail "cert and key on disk do not match after the rotation"
assert_eq "$fp_b" "$(certs_fp "$T/certs/cert.pem")" "cert.pem is b"
assert_eq "$fp_b" "$(certs_fp "$state/current/cert.pem")" "current/ is b"
assert_eq true "$(jq .healthy "$state/status.json")" "status.json healthy"
assert_eq 1 "$(event_count run cert.installed)" "installs"
agent_stop "$AGENT_PID" run
pass
