#!/bin/bash
# Key material never leaves the key files, and the key files are private.
# The daemon (umask 000, so no mode comes from the umask) goes through:
# start (adopts A), a rotation to B with a fresh key, a rejected bundle
# (cert D with key E: key_mismatch), a rejected key file (F's PEM with a
# damaged header), a rollback (C, whose reload hook fails once), a drift
# heal, SIGTERM; then `check`, `healthcheck`, and a `once` paused with its
# journal and temp files written (killed -9, recovered by the next `once`).
# Every output channel is scanned for the bytes of every key (A..G) in every
# form tests/lib/key-needles.py makes (PEM lines, PKCS#8 and traditional DER
# as hex and base64, the private scalar / RSA d, p, q as hex and base64):
# stdout JSON and stderr of each run, status.json, the journal, /metrics and
# /healthz scrapes, the webhook bodies, the front's docker logs, and every
# file under the certs and state dirs with a group or other read bit.
# Modes: state dir and every dir under it 0700; every key copy 0600; the
# installed key.pem 0600; the journal and the temp key 0600 while they exist.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd python3

PORT_BASE=${PORT_BASE:-29000}
MPORT=$((PORT_BASE + 900)) WPORT=$((PORT_BASE + 910))
N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b rsa 90 "$N"       # the fresh key of the rotation
certs_leaf "$T" c ec384 120 "$N"    # rolled back
certs_leaf "$T" d ec256 130 "$N"
certs_leaf "$T" e ec256 130 "$N"    # d's cert with e's key: mismatch
certs_leaf "$T" f rsa 130 "$N"      # key file with a damaged header
certs_leaf "$T" g ec256 140 "$N"    # the paused/recovered once
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
fp_g=$(certs_fp "$T/g.cert.pem")
SCAN=$MCA_TESTLIB/key-needles.py
python3 "$SCAN" make "$T"/{a,b,c,d,e,f,g}.key.pem >"$T/needles.tsv" || fail "key-needles make"
log "$(wc -l <"$T/needles.tsv") needles from 7 keys"

# the scanner finds what it should: a leak in each form, in a JSON string
python3 - "$T/b.key.pem" "$T/canary" <<'PY' || fail "canary"
import base64, json, re, subprocess, sys
k, out = sys.argv[1], sys.argv[2]
pem = open(k).read()
der = subprocess.run(["openssl", "pkey", "-in", k, "-outform", "DER"], capture_output=True, check=True).stdout
txt = subprocess.run(["openssl", "pkey", "-in", k, "-text", "-noout"], capture_output=True, check=True).stdout.decode()
d = re.search(r"^privateExponent:\s*\n((?:\s+[0-9a-f:]+\n)+)", txt, re.M).group(1)
d = re.sub(r"[\s:]", "", d)
# from the private part of the DER (past n and e): the public half is no leak
forms = {"pem": pem, "derhex": der.hex()[1600:1660].upper(), "derb64": base64.b64encode(der).decode()[1200:1260],
         "scalar": d[40:80]}
for name, s in forms.items():
    open("%s.%s" % (out, name), "w").write(json.dumps({"event": "x", "detail": s}) + "\n")
PY
for form in pem derhex derb64 scalar; do
	python3 "$SCAN" scan "$T/needles.tsv" "$T/canary.$form" >"$T/canary.$form.out" &&
		fail "the scanner missed a key leak ($form)"
done
log "scanner canaries: $(cat "$T"/canary.*.out | sed 's/.*: //' | sort -u | paste -sd, -)"
rm -f "$T"/canary.*

bed_start a
src_write a
# an admin's reload step that fails once when /tmp/mca-fail-once exists
fail_once_hook
python3 "$MCA_TESTLIB/webhook-receiver.py" "$WPORT" "$T/hooks.jsonl" &
recv=$!
at_exit "kill $recv 2>/dev/null"
: >"$T/hooks.jsonl"

scrape() { # NAME
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$T/scrape.$1.metrics" || true
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/healthz" >"$T/scrape.$1.healthz" || true
}
COMMON=(--log-level=debug "--reload-commands=nginx -t; nginx -s reload; dovecot reload; mca-hook"
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --settle-timeout=3s --poll-interval=1s)
umask 000
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "${COMMON[@]}" --drift-interval=3s \
	"--metrics-listen=127.0.0.1:$MPORT" "--webhook-url=http://127.0.0.1:$WPORT/hook"
umask 022
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9
scrape start

# rotation to B (fresh RSA key)
src_write b
wait_event run '.event=="cycle.done"' 60
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "B's outcome"
scrape rotated
assert_all_serve "$fp_b"

# rejected: D's cert with E's key
cp "$T/d.cert.pem" "$T/src/cert.pem"
cp "$T/e.key.pem" "$T/src/key.pem"
wait_event run '.event=="cert.rejected" and .reason=="key_mismatch"' 60
# rejected: F's key with a damaged header (the body is intact base64)
cp "$T/f.cert.pem" "$T/src/cert.pem"
sed 's/BEGIN PRIVATE KEY/BEGIN PRIVATE KEX/' "$T/f.key.pem" >"$T/src/key.pem"
wait_event run '.event=="cert.rejected" and .reason!="key_mismatch"' 60
log "rejections: $(events run 'select(.event=="cert.rejected") | .reason' | paste -sd' ' -)"
scrape rejected

# rollback: C's reload fails once, B is restored and verified
docker exec "$FRONT" touch /tmp/mca-fail-once
src_write c
wait_event run '.event=="rollback.done"' 90
wait_event run '.event=="cycle.done" and .outcome=="rolled_back"' 30
assert_all_serve "$fp_b"
scrape rolled_back

# drift: dovecot on A, B put back with nginx only -> healed
bed_install a
docker exec "$FRONT" dovecot reload
wait_served "$fp_a" imaps
bed_install b
docker exec "$FRONT" nginx -s reload >/dev/null 2>&1
wait_event run '.event=="drift.healed"' 60
scrape healed
for _ in $(seq 1 60); do
	[ "$(wc -l <"$T/hooks.jsonl")" -ge 2 ] && break
	sleep 0.5
done
[ "$(wc -l <"$T/hooks.jsonl")" -ge 2 ] || fail "webhooks: $(wc -l <"$T/hooks.jsonl") posts, expected 2 or more"
agent_stop "$AGENT_PID" run

# the other commands' output
# shellcheck disable=SC2046
agent_run check check $(bed_env) --log-level=debug
assert_eq 0 "$AGENT_RC" "check exit code"
agent_run health healthcheck "--state-dir=$T/state" --log-level=debug

# modes after all that (the agent ran with umask 000)
assert_eq 700 "$(stat -c %a "$T/state")" "state dir mode"
bad=$(find "$T/state" -type d ! -perm 0700 -printf '%p %m\n')
[ -z "$bad" ] || fail "dirs under the state dir not 0700: $bad"
nkeys=$(find "$T/state" -name key.pem | wc -l)
[ "$nkeys" -ge 2 ] || fail "expected key copies in the state dir (current and backups), found $nkeys"
bad=$(find "$T/state" -name key.pem ! -perm 0600 -printf '%p %m\n')
[ -z "$bad" ] || fail "key copies not 0600: $bad"
bad=$(find "$T/state" "$T/certs" -type f -perm /o+w -printf '%p %m\n')
[ -z "$bad" ] || fail "world-writable files: $bad"
assert_eq 600 "$(stat -c %a "$T/certs/key.pem")" "installed key.pem mode"
assert_eq 644 "$(stat -c %a "$T/certs/cert.pem")" "installed cert.pem mode"
log "state: $(find "$T/state" -printf '%P %m\n' | sort | paste -sd, -)"

# a once paused with its journal and temp files written: their modes now
cp "$T/g.cert.pem" "$T/src/cert.pem"
cp "$T/g.key.pem" "$T/src/key.pem"
umask 000
# shellcheck disable=SC2046
MCA_TEST_PAUSE_AT=install.journal_written agent_bg paused once $(rotate_env) "${COMMON[@]}"
umask 022
wait_event paused '.event=="test.paused"' 60
assert_eq 600 "$(stat -c %a "$T/state/journal")" "journal mode"
assert_eq 600 "$(stat -c %a "$T/certs/.key.pem.mca-new")" "temp key mode"
assert_eq 644 "$(stat -c %a "$T/certs/.cert.pem.mca-new")" "temp cert mode"
cp "$T/state/journal" "$T/journal.copy"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
# shellcheck disable=SC2046
agent_run recovered once $(rotate_env) "${COMMON[@]}"
assert_eq 1 "$(event_count recovered install.recovered)" "install.recovered"
assert_all_serve "$fp_g"
[ ! -e "$T/state/journal" ] || fail "journal left"
! ls "$T/certs"/.*mca-new* >/dev/null 2>&1 || fail "temp files left"

# every channel, every key: nothing
docker logs "$FRONT" >"$T/front.docker.out" 2>&1
# and every file under the certs and state dirs that group or others may
# read: the cert copies (served, current/, backups/) among them
mapfile -t readable < <(find "$T/certs" "$T/state" -type f -perm /044)
[ "${#readable[@]}" -ge 3 ] || fail "expected the served, current and backup cert.pem among the readable files: ${readable[*]}"
channels=("$T"/*.log "$T"/scrape.* "$T/hooks.jsonl" "$T/state/status.json" "$T/journal.copy"
	"$T/front.docker.out" "${readable[@]}")
if ! python3 "$SCAN" scan "$T/needles.tsv" "${channels[@]}" >"$T/leaks.out"; then
	cat "$T/leaks.out" >&2
	fail "key material found in an output channel"
fi
log "scanned ${#channels[@]} files ($(cat "${channels[@]}" | wc -c) bytes; $(wc -l <"$T/hooks.jsonl") webhook bodies, $(find "$T" -maxdepth 1 -name "scrape.*" | wc -l) scrapes): no key bytes"
pass
