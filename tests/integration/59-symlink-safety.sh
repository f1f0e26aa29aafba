#!/bin/bash
# Symlink safety (deliverable 6).
# CERTS_DIR: a served file that is a link leading out of CERTS_DIR is
# rejected as symlink_escape and never opened: not /etc/shadow, not a
# file holding a private key with a unique marker, not a FIFO (a writer
# blocked on the FIFO would be released by an open). strace proves no
# open*() of any of them.
# State dir: links planted at status.json, journal, lock, backups,
# current, the temp names, inside backups/ and inside current/ are never
# followed: the files and dirs they point to stay byte-identical; the
# agent's own names are replaced (state.repaired), the journal link is
# refused (install.journal_invalid) and removed, a linked backup is
# skipped by `rollback`, a linked current/key.pem is not used.
. "$(dirname "$0")/../lib/lib.sh"
PORT_BASE=${PORT_BASE:-26000}
require_root
require_cmd strace

N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b ec256 90 "$N"
certs_leaf "$T" c ec256 120 "$N"
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")

# every agent run below goes through strace: the calls on paths, with the
# paths (LeakSanitizer cannot run under ptrace; the other checks stay)
cat >"$T/traced" <<EOS
#!/bin/sh
ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0 exec strace -f -qq -s 4096 -e trace=open,openat,openat2,creat,truncate,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,chmod,fchmodat \
	-o "$T/strace.\$\$.log" "$MCA_AGENT" "\$@"
EOS
chmod +x "$T/traced"
real_agent=$MCA_AGENT
MCA_AGENT=$T/traced
traced_run() { # NAME ARGS...: agent_run under strace; syscalls in $T/NAME.strace
	rm -f "$T"/strace.*.log
	agent_run "$@"
	cat "$T"/strace.*.log >"$T/$1.strace"
}
# no syscall of the trace names PATH
never_touched() { # RUN PATH
	if grep -F -- "$2" "$T/$1.strace" >&2; then
		fail "$1: the agent made a system call on $2 (above)"
	fi
}
# no open*() names the file NAME, by any path or relative to any dir fd
never_opened() { # RUN NAME
	if grep -E "(open|openat|openat2|creat)\((-?[0-9A-Z_]+, )?\"([^\"]*/)?$2\"" "$T/$1.strace" >&2; then
		fail "$1: the agent opened $2 (above)"
	fi
}

# Every file the test itself puts into CERTS_DIR goes through put: the old
# entry (maybe a link to /etc/shadow) is removed first, so nothing here
# ever writes through a link (cp would).
put() { rm -f "$2"; cp "$1" "$2"; }
link() { rm -f "$2"; ln -s "$1" "$2"; }
at_exit "for f in '$T'/certs/*.pem; do [ -L \"\$f\" ] && rm -f \"\$f\"; done"

# --- 1. CERTS_DIR, certs-dir source: links that lead out ---
MARK="MCA-SECRET-$(openssl rand -hex 12)"
mkdir -p "$T/outside"
{ echo "# $MARK"; cat "$T/b.key.pem"; } >"$T/outside/secret.pem"
chmod 0600 "$T/outside/secret.pem"
mkfifo "$T/outside/fifo"
snap_outside() { (cd "$T/outside" && ls -lAR --time-style=+%s.%N . && sha256sum secret.pem); }
outside_before=$(snap_outside)

# 1a. cert.pem -> /etc/shadow
shadow_before=$(sha256sum /etc/shadow)
put "$T/b.key.pem" "$T/certs/key.pem"
link /etc/shadow "$T/certs/cert.pem"
# shellcheck disable=SC2046
traced_run shadow once $(bed_env) --front="$FRONT" "--state-dir=$T/state1" --source=certs-dir
assert_eq 1 "$AGENT_RC" "once with cert.pem -> /etc/shadow"
assert_eq '"symlink_escape"' "$(events shadow 'select(.event=="cert.rejected") | .reason')" "reason"
never_touched shadow /etc/shadow
never_opened shadow cert.pem
assert_contains "$(cat "$T/shadow.strace")" "$T/certs" "the trace"   # the trace works

# 1b. key.pem -> a key with a unique marker, outside
put "$T/b.cert.pem" "$T/certs/cert.pem"
link "$T/outside/secret.pem" "$T/certs/key.pem"
# shellcheck disable=SC2046
traced_run secret once $(bed_env) --front="$FRONT" "--state-dir=$T/state1" --source=certs-dir
assert_eq 1 "$AGENT_RC" "once with key.pem -> outside"
assert_eq '"symlink_escape"' "$(events secret 'select(.event=="cert.rejected") | .reason')" "reason"
never_touched secret "$T/outside/secret.pem"
never_opened secret key.pem
grep -qE 'openat2?\(.*"cert.pem"' "$T/secret.strace" || fail "the trace shows no open of cert.pem at all"
if grep -rqF -- "$MARK" "$T"/secret.log "$T"/secret.err.log "$T/state1"; then
	fail "the marker of the outside file appears in the agent's output or state"
fi
# the daemon and check on the same link
# shellcheck disable=SC2046
traced_run check check $(bed_env)
assert_eq 2 "$AGENT_RC" "check with key.pem -> outside"
never_touched check "$T/outside/secret.pem"

# 1c. cert.pem -> a FIFO outside, a writer blocked on it
link "$T/outside/fifo" "$T/certs/cert.pem"
put "$T/b.key.pem" "$T/certs/key.pem"
( exec 3>"$T/outside/fifo"; echo opened >"$T/fifo.opened" ) &
writer=$!
at_exit "kill $writer 2>/dev/null"
# shellcheck disable=SC2046
traced_run fifo once $(bed_env) --front="$FRONT" "--state-dir=$T/state1" --source=certs-dir
assert_eq 1 "$AGENT_RC" "once with cert.pem -> FIFO"
assert_eq '"symlink_escape"' "$(events fifo 'select(.event=="cert.rejected") | .reason')" "reason"
sleep 0.5
[ -e "$T/fifo.opened" ] && fail "the agent opened the FIFO outside CERTS_DIR"
kill -0 "$writer" || fail "the FIFO writer is gone"
never_touched fifo "$T/outside/fifo"
never_opened fifo cert.pem
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
assert_eq "$outside_before" "$(snap_outside)" "the outside dir after the CERTS_DIR cases"
assert_eq "$shadow_before" "$(sha256sum /etc/shadow)" "/etc/shadow"
assert_all_serve "$fp_a"    # nothing was reloaded
put "$T/a.cert.pem" "$T/certs/cert.pem"
put "$T/a.key.pem" "$T/certs/key.pem"
chmod 0600 "$T/certs/key.pem"

# --- 2. state dir: links at every name the agent owns ---
state=$T/state
src_write b
mkdir -p "$state" "$T/outside/dir" "$T/outside/cur"
chmod 0700 "$state"
echo "outside status" >"$T/outside/status"
echo "outside lock" >"$T/outside/lock"
echo "outside tmp" >"$T/outside/tmp"
cp "$T/c.cert.pem" "$T/outside/cur/cert.pem"
cp "$T/c.key.pem" "$T/outside/cur/key.pem"
# a journal that would roll c forward, were it followed
jq -nc --arg fp "$(certs_fp "$T/c.cert.pem")" --arg kh "$(sha256sum <"$T/c.key.pem" | cut -d' ' -f1)" \
	'{version:1, op:"install", certs_dir:"x", cert:"cert.pem", key:"key.pem",
	  cert_tmp:".cert.pem.mca-new", key_tmp:".key.pem.mca-new", fingerprint:$fp, key_sha256:$kh}' \
	>"$T/outside/journal"
ln -s "$T/outside/status" "$state/status.json"
ln -s "$T/outside/tmp" "$state/.status.json.tmp"
ln -s "$T/outside/journal" "$state/journal"
ln -s "$T/outside/tmp" "$state/.journal.mca-new"
ln -s "$T/outside/lock" "$state/lock"
ln -s "$T/outside/dir" "$state/backups"
ln -s "$T/outside/cur" "$state/current"
outside_before=$(snap_outside)

# shellcheck disable=SC2046
traced_run state once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 0 "$AGENT_RC" "once with a booby-trapped state dir"
assert_eq "$outside_before" "$(snap_outside)" "the outside files after the state-dir run"
for f in status journal lock tmp dir cur/cert.pem cur/key.pem; do
	never_touched state "$T/outside/$f"
done
assert_eq "backups current lock status.json" \
	"$(events state 'select(.event=="state.repaired") | .entry' | tr -d '"' | sort | xargs)" "repaired entries"
assert_eq 4 "$(events state 'select(.event=="state.repaired" and .found=="symlink")' | wc -l)" "repaired links"
assert_eq 1 "$(event_count state install.journal_invalid)" "the journal link refused"
assert_eq '"undone"' "$(events state 'select(.event=="install.recovered") | .action')" "recovery"
assert_eq '"rotated"' "$(events state 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_all_serve "$fp_b"
disk_pair_matches || fail "cert and key on disk do not match"
for f in status.json lock; do
	[ -f "$state/$f" ] && [ ! -L "$state/$f" ] || fail "$f is not a regular file now"
done
for d in backups current; do
	[ -d "$state/$d" ] && [ ! -L "$state/$d" ] || fail "$d is not a directory now"
done
[ -e "$state/journal" ] || [ -L "$state/journal" ] && fail "the journal link is still there"
[ -L "$state/.status.json.tmp" ] && fail ".status.json.tmp link still there"
[ -L "$state/.journal.mca-new" ] && fail ".journal.mca-new link still there"
assert_eq "$fp_a" "$(certs_fp "$(printf '%s\n' "$state"/backups/*/ | tail -1)/cert.pem")" "the backup holds a"

# --- 3. links inside backups/ and current/ ---
# a "newest" backup that is a link to c's pair outside, and current/key.pem a link
ln -s "$T/outside/cur" "$state/backups/20991231T235959Z-cccccccccccc"
link "$T/outside/secret.pem" "$state/current/key.pem"
outside_before=$(snap_outside)
# shellcheck disable=SC2046
traced_run rb rollback $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 0 "$AGENT_RC" "rollback past a linked backup"
assert_eq "\"$fp_a\"" "$(events rb 'select(.event=="rollback.start") | .to')" "rolled back to a, not the linked c"
assert_all_serve "$fp_a"
assert_eq "$outside_before" "$(snap_outside)" "the outside files after rollback"
never_touched rb "$T/outside/cur"
never_touched rb "$T/outside/secret.pem"
[ -L "$state/current" ] && fail "current is a link"
[ -L "$state/current/key.pem" ] && fail "current/key.pem is still a link"
assert_eq "$fp_a" "$(certs_fp "$state/current/cert.pem")" "current/ is a"
MCA_AGENT=$real_agent
pass
