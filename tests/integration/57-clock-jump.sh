#!/bin/bash
# Wall-clock jumps, with libfaketime moving the daemon's clock at run time
# (FAKETIME_TIMESTAMP_FILE, re-read on every call; CLOCK_MONOTONIC and
# file times left real, as after an NTP step).
#   - a pair valid only from tomorrow: cert.rejected not_yet_valid,
#     nothing installed, not retried while the clock stands still;
#   - the clock jumps 2 days ahead: the same unchanged files are tried
#     again (cert.retry_due) and installed, nobody touching them;
#   - expiry warnings follow the wall clock: +75 d -> 21d, +86 d -> 7d,
#     +95 d -> expired;
#   - the clock jumps 200 days back: the drift timer (monotonic) keeps its
#     pace, status.json keeps being rewritten.
. "$(dirname "$0")/../lib/lib.sh"
PORT_BASE=${PORT_BASE:-26000}
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
[ -r "$FAKETIME_LIB" ] || skip "needs libfaketime ($FAKETIME_LIB)"

N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
# valid from tomorrow for 90 days
certs_leaf_dates "$T" f ec256 "$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)" \
	"$(date -u -d '+91 days' +%Y%m%d%H%M%SZ)" "$N"
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_f=$(certs_fp "$T/f.cert.pem")
src_write a

# the agent, with a clock the test moves
clock() { echo "$1" >"$T/faketime.new" && mv "$T/faketime.new" "$T/faketime"; log "agent clock: $1"; }
clock +0
cat >"$T/faked" <<EOS
#!/bin/sh
export LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 \
	ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
exec "$MCA_AGENT" "\$@"
EOS
chmod +x "$T/faked"
real_agent=$MCA_AGENT
MCA_AGENT=$T/faked
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	--poll-interval=1s --drift-interval=2s
MCA_AGENT=$real_agent
wait_event run '.event=="agent.start"' 30

# a pair from the future
src_write f
src_stat=$(stat -c '%i %s %Y.%y' "$T/src/cert.pem" "$T/src/key.pem")
wait_event run '.event=="cert.rejected"' 30
assert_eq '"not_yet_valid"' "$(events run 'select(.event=="cert.rejected") | .reason')" "reason"
assert_eq "\"$fp_f\"" "$(events run 'select(.event=="cert.rejected") | .fingerprint')" "rejected fingerprint"
sleep 8    # 8 polls and a re-hash (every 6th poll) with the clock unchanged
assert_eq 1 "$(event_count run cert.rejected)" "rejections while the clock stands still"
assert_eq 0 "$(event_count run cert.retry_due)" "retries while the clock stands still"
assert_eq 0 "$(event_count run cert.installed)" "installs"
assert_all_serve "$fp_a"

# the clock passes notBefore: the same files go in
clock +2d
wait_event run '.event=="cycle.done" and .outcome=="rotated"' 60
assert_eq 1 "$(event_count run cert.retry_due)" "cert.retry_due"
assert_eq '"not_yet_valid"' "$(events run 'select(.event=="cert.retry_due") | .reason')" "retry_due reason"
assert_eq "$src_stat" "$(stat -c '%i %s %Y.%y' "$T/src/cert.pem" "$T/src/key.pem")" "source files untouched"
assert_all_serve "$fp_f"
assert_eq 1 "$(event_count run cert.rejected)" "rejections in all"
# the agent's own log shows the jumped clock
assert_contains "$(events run 'select(.event=="cycle.done" and .outcome=="rotated") | .time')" \
	"$(date -u -d '+2 days' +%Y-%m-%d)" "the agent's clock"

# expiry warnings follow the wall clock (notAfter is 91 days out)
assert_eq 0 "$(event_count run expiry.warning)" "warnings with 89 days left"
clock +75d
wait_event run '.event=="expiry.warning" and .threshold=="21d"' 20
clock +86d
wait_event run '.event=="expiry.warning" and .threshold=="7d"' 20
assert_eq 0 "$(events run 'select(.event=="expiry.warning" and .threshold=="3d")' | wc -l)" "3d warning at 5 days left"
clock +95d
wait_event run '.event=="expiry.warning" and .expired==true' 20
assert_eq error "$(events run 'select(.event=="expiry.warning" and .expired==true) | .level' | tr -d '"')" "level once expired"

# a jump 200 days back does not stall the timers: drift checks go on at
# their monotonic pace and rewrite status.json each time
clock -200d
sleep 3
m0=$(stat -c %Y.%y "$T/state/status.json")
n0=$(wc -l <"$T/run.log")
sleep 7
m1=$(stat -c %Y.%y "$T/state/status.json")
assert_ne "$m0" "$m1" "status.json rewritten after the backward jump"
checks=$(log_lines run | tail -n +"$((n0 + 1))" | jq -c 'select(.event=="verify.endpoint")' | wc -l)
[ "$checks" -ge 18 ] || fail "only $checks endpoint probes in 7 s after the backward jump (drift every 2 s, 9 endpoints)"
assert_contains "$(jq -r .time "$T/state/status.json")" "$(date -u -d '-200 days' +%Y-%m-%d)" "status time follows the wall clock"
kill -0 "$AGENT_PID" || fail "agent died"
agent_stop "$AGENT_PID" run
pass
