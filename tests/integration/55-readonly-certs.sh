#!/bin/bash
# CERTS_DIR read-only (its tmpfs remounted ro) under a running daemon:
# a new pair is backed up (state dir elsewhere) but cannot be installed:
# cert.install_failed with error read_only, nothing changes on disk or on
# any port, the agent keeps running and retrying, `check` still works.
# An agent whose state dir is inside the read-only CERTS_DIR cannot take
# its lock: agent.failed, error read_only, exit 2. Made writable again,
# the daemon rotates without help.
. "$(dirname "$0")/../lib/lib.sh"
PORT_BASE=${PORT_BASE:-26000}
require_root

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
mkdir -p "$T/certs"
mount -t tmpfs -o size=1m,mode=0755 mca-readonly "$T/certs"
at_exit "umount '$T/certs' 2>/dev/null || umount -l '$T/certs'"
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a
inner=$T/certs/.mailu-cert-agent
mkdir -m 0700 "$inner"    # an earlier agent's state dir, inside CERTS_DIR

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="state.adopted"' 5

mount -o remount,ro "$T/certs"
touch "$T/certs/probe" 2>/dev/null && fail "CERTS_DIR is still writable"
listing=$(cd "$T/certs" && ls -lAR --time-style=+%s.%N . && sha256sum cert.pem key.pem)

src_write b
wait_event run '.event=="cert.install_failed"' 30
assert_eq '"read_only"' "$(events run 'select(.event=="cert.install_failed") | .error' | head -1)" "error code"
assert_contains "$(events run 'select(.event=="cert.install_failed") | .detail' | head -1)" "Read-only file system" "detail"
assert_eq "\"$fp_b\"" "$(events run 'select(.event=="cert.install_failed") | .fingerprint' | head -1)" "fingerprint"
wait_event run '.event=="cycle.retry"' 10
assert_eq "$listing" "$(cd "$T/certs" && ls -lAR --time-style=+%s.%N . && sha256sum cert.pem key.pem)" "CERTS_DIR"
disk_pair_matches || fail "cert and key on disk do not match"
assert_all_serve "$fp_a"
assert_eq 0 "$(event_count run cert.installed)" "installs"
assert_eq 0 "$(event_count run reload.exec)" "reloads"
wait_event run '.event=="cert.install_failed"' 60 2
kill -0 "$AGENT_PID" || fail "agent died"

# check needs nothing writable
# shellcheck disable=SC2046
agent_run check check $(bed_env)
assert_eq 0 "$AGENT_RC" "check on a read-only CERTS_DIR"
assert_eq 9 "$(events check 'select(.event=="check.done") | .matched')" "check: matched"
assert_eq "\"$fp_a\"" "$(events check 'select(.event=="check.installed") | .fingerprint')" "check: installed"

# an agent whose state dir is inside the read-only CERTS_DIR
# shellcheck disable=SC2046
agent_run once once $(rotate_env) "--state-dir=$inner" "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 2 "$AGENT_RC" "once with a read-only state dir"
assert_eq '"read_only"' "$(events once 'select(.event=="agent.failed") | .error')" "once: error code"
assert_eq 0 "$(event_count once cycle.done)" "once: cycles"
assert_eq "$listing" "$(cd "$T/certs" && ls -lAR --time-style=+%s.%N . && sha256sum cert.pem key.pem)" "CERTS_DIR after once"

# writable again: the daemon's next retry installs b
mount -o remount,rw "$T/certs"
# its next retry is on the backoff schedule: as long as the last
# cycle.retry announced, twice over, plus a margin
ms=$(events run 'select(.event=="cycle.retry") | .in_ms' | tail -1)
wait_event run '.event=="cycle.done" and .outcome=="rotated"' $((2 * ${ms:-2000} / 1000 + 60))
assert_all_serve "$fp_b"
disk_pair_matches || fail "cert and key on disk do not match after the rotation"
assert_eq "" "$(cd "$T/certs" && find . -name '*.mca-new')" "temp files"
assert_eq 1 "$(event_count run cert.installed)" "installs"
agent_stop "$AGENT_PID" run
pass
