#!/bin/bash
# Metrics as Prometheus reads them, and the shipped alerts and dashboard
# (compose-example/monitoring/) on a live agent. Beside the front, two
# endpoints the agent does not reload: P and Q, small TLS servers. The
# agent goes through: all match; a rotation rolled back (P and Q keep the
# old certificate); Q's listener stopped (unreachable); P serving another
# certificate (stale, with a subject to escape); a rotation that fails.
# Every scrape passes `promtool check metrics` with no complaint; an
# unreachable endpoint has no expiry series and says unreachable;
# cert_info names what each endpoint serves. The scrapes, one after the
# other, are the input of `promtool test rules` over the shipped rules;
# every metric the dashboard and the rules name is in the exposition.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd curl python3 jq

command -v promtool >/dev/null 2>&1 || fail "no promtool: run scripts/install-deps.sh"
MON=$MCA_ROOT/compose-example/monitoring
PROM="python3 $MCA_TESTLIB/prom.py"
PORT_BASE=${PORT_BASE:-21000}
MPORT=$((PORT_BASE + 902)) PPORT=$((PORT_BASE + 903)) QPORT=$((PORT_BASE + 904))
P=https://127.0.0.1:$PPORT Q=https://127.0.0.1:$QPORT
JOB=mailu-cert-agent INST=127.0.0.1:$MPORT

# a: served, 5 days left (inside 21d and 7d, not 3d); b, d: the rotations
certs_leaf "$T" a ec256 5 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
certs_leaf "$T" d ec256 90 mail.example.test
# c: what P serves once it is stale: 2 days left, and a subject with a
# quote, a backslash and a non-ASCII letter
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -utf8 \
	-subj "/CN=stale.example.test/O=Quote \" Back \\\\ Caf$(printf '\303\251')" \
	-keyout "$T/c.key.pem" -out "$T/c.cert.pem" 2>/dev/null
fp_a=$(certs_fp "$T/a.cert.pem") fp_c=$(certs_fp "$T/c.cert.pem")
subj_c=$(openssl x509 -in "$T/c.cert.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
enddate() { date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
na_a=$(enddate "$T/a.cert.pem") na_c=$(enddate "$T/c.cert.pem")
log "c's subject as RFC 2253: $subj_c"

# P and Q: TLS on loopback with a given pair, until killed
cat >"$T/tls-serve.py" <<'EOF'
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
def serve(c):
    try:
        c.settimeout(5)
        with ctx.wrap_socket(c, server_side=True) as s:
            s.recv(1)
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
EOF
tls_serve() { # PORT PREFIX: sets SERVED_PID
	python3 "$T/tls-serve.py" "$1" "$T/$2.cert.pem" "$T/$2.key.pem" 2>>"$T/tls-serve.log" &
	SERVED_PID=$!
	at_exit "kill $SERVED_PID 2>/dev/null"
	for _ in $(seq 1 50); do
		[ "$(front_served_fp 127.0.0.1 "$1" https 2>/dev/null)" = "$(certs_fp "$T/$2.cert.pem")" ] && return 0
		sleep 0.1
	done
	fail "the TLS server on $1 does not serve $2"
}

bed_start a
src_write a
tls_serve "$PPORT" a
pserver=$SERVED_PID
tls_serve "$QPORT" a
qserver=$SERVED_PID

export VERIFY_TIMEOUT=3s	# rotate_env's
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--endpoints=$ENDPOINTS,$P,$Q" \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s \
	--drift-interval=2s "--metrics-listen=127.0.0.1:$MPORT"
wait_event run '.event=="agent.start"' 30

scrape() { # NAME: NAME.prom, and NAME.tsv to query
	curl -sf --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$T/$1.prom" &&
		$PROM tsv "$T/$1.prom" >"$T/$1.tsv"
}
# q SCRAPE NAME FIELD [LABEL=VALUE...]: FIELD ("value", or a label's value)
# of each sample mailu_cert_agent_NAME having every LABEL=VALUE (unescaped)
q() {
	local IFS=$'\t'
	WANT="${*:4}" awk -F'\t' -v name="mailu_cert_agent_$2" -v field="$3" '
		BEGIN { n = split(ENVIRON["WANT"], w, "\t") }
		$1 != name { next }
		{ for (i = 1; i <= n; i++) { ok = 0; for (j = 3; j <= NF; j++) ok = ok || $j == w[i]; if (!ok) next } }
		field == "value" { print $2; next }
		{ for (j = 3; j <= NF; j++) if (index($j, field "=") == 1) print substr($j, length(field) + 2) }' "$T/$1.tsv"
}
get() { q "$1" "$2" value "${@:3}"; }
state() { # SCRAPE URL STATE: that state series' value
	get "$1" endpoint_state "endpoint=$2" key_type=ecdsa "state=$3"
}
# scrape_until NAME WHAT CMD...: scrapes into NAME.prom until CMD succeeds (30 s)
scrape_until() {
	local name=$1 what=$2
	shift 2
	for _ in $(seq 1 150); do
		scrape "$name" && "$@" && return 0
		sleep 0.2
	done
	fail "timed out waiting for $what"
}
all_match() { [ "$(get "$1" endpoint_state state=match | grep -c '^1$')" = 11 ]; }
is_one() { [ "$("${@:2}")" = 1 ]; }

# s0: all eleven match, healthy; the moment of this scrape is the rules
# test's time 0
T0=$(date +%s)
scrape_until s0 "all eleven endpoints matching" all_match s0
assert_eq 1 "$(get s0 healthy)" "healthy at s0"
log "s0: all match ($(wc -c <"$T/s0.prom") bytes)"

# s1: b is installed, P and Q keep a: rolled back, all match a again
src_write b
wait_event run '.event=="cycle.done" and .outcome=="rolled_back"' 60
scrape_until s1 "the rollback in the metrics" is_one s1 get s1 rotations_total outcome=rolled_back
all_match s1 || fail "not all matching after the rollback"
assert_eq 1 "$(get s1 healthy)" "healthy at s1"
log "s1: rolled back"

# s2: Q stops listening: unreachable, unhealthy
kill "$qserver"
wait "$qserver" 2>/dev/null || true
q_down() { [ "$(state s2 "$Q" unreachable)" = 1 ] && [ "$(get s2 healthy)" = 0 ]; }
scrape_until s2 "Q unreachable and the agent unhealthy" q_down
assert_eq 1 "$(state s2 "$P" match)" "P still matching at s2"
log "s2: Q unreachable"

# s3: P serves c: stale, and a heal that cannot help
kill "$pserver"
wait "$pserver" 2>/dev/null || true
n_failed=$(event_count run drift.failed)
tls_serve "$PPORT" c
wait_event run '.event=="drift.failed"' 30 $((n_failed + 1))
scrape_until s3 "P stale" is_one s3 state s3 "$P" stale
assert_eq 0 "$(get s3 healthy)" "healthy at s3"
log "s3: P stale"

# s4: d is installed, then a again, and neither verifies: failed
src_write d
wait_event run '.event=="cycle.done" and .outcome=="failed"' 60
scrape_until s4 "the failed rotation in the metrics" is_one s4 get s4 rotations_total outcome=failed
assert_eq 0 "$(get s4 healthy)" "healthy at s4"
log "s4: failed"

# every scrape: promtool has nothing to say
for f in s0 s1 s2 s3 s4; do
	out=$(promtool check metrics <"$T/$f.prom" 2>&1) || fail "promtool check metrics $f: $out"
	[ -z "$out" ] || fail "promtool check metrics $f: $out"
done
log "promtool check metrics: s0..s4 clean"
for f in s0 s1 s2 s3 s4; do
	! grep -q '^mailu_cert_agent_up[ {]' "$T/$f.prom" || fail "$f has mailu_cert_agent_up"
	! grep -qE '[{,](container|pod|namespace|job|instance)="' "$T/$f.prom" ||
		fail "$f has a target label: $(grep -E '[{,](container|pod|namespace|job|instance)="' "$T/$f.prom" | head -n 1)"
done

# the unreachable endpoint: its state, no expiry and no certificate
for f in s2 s3 s4; do
	assert_eq 1 "$(state $f "$Q" unreachable)" "Q unreachable ($f)"
	assert_eq 0 "$(state $f "$Q" match)" "Q's match state ($f)"
	assert_eq 0 "$(state $f "$Q" stale)" "Q's stale state ($f)"
	assert_eq "" "$(get $f cert_not_after_timestamp_seconds source=served "endpoint=$Q")" "Q's expiry ($f)"
	assert_eq "" "$(get $f cert_info "endpoint=$Q")" "Q's cert_info ($f)"
done
assert_eq "$na_a" "$(get s1 cert_not_after_timestamp_seconds source=served "endpoint=$Q")" "Q's expiry while it answered"
# one-hot: every (endpoint, key type) has exactly one state at 1
for f in s0 s1 s2 s3 s4; do
	assert_eq 11 "$(get $f endpoint_state | grep -c '^1$')" "states at 1 ($f)"
	assert_eq 33 "$(get $f endpoint_state | wc -l)" "state series ($f)"
done
# cert_info names what each endpoint serves: a everywhere, c on P
for url in ${ENDPOINTS//,/ } "$P"; do
	want=$fp_a subj=CN=mail.example.test issuer="CN=MCA Test CA"
	[ "$url" != "$P" ] || want=$fp_c subj=$subj_c issuer=$subj_c
	assert_eq "$want" "$(q s3 cert_info fingerprint_sha256 "endpoint=$url" key_type=ecdsa)" "cert_info fingerprint of $url"
	assert_eq "$subj" "$(q s3 cert_info subject "endpoint=$url")" "cert_info subject of $url"
	assert_eq "$issuer" "$(q s3 cert_info issuer "endpoint=$url")" "cert_info issuer of $url"
done
assert_eq "$na_c" "$(get s3 cert_not_after_timestamp_seconds source=served "endpoint=$P")" "P's expiry (c)"
assert_eq 1 "$(state s3 "$P" stale)" "P stale"
log "P's cert_info line: $(grep "^mailu_cert_agent_cert_info{endpoint=\"$P\"" "$T/s3.prom")"
# the reloads and verifies are counted where a scrape can see them
[ "$(get s4 verify_duration_seconds_count)" -ge 4 ] || fail "verify histogram count: $(get s4 verify_duration_seconds_count)"
[ -n "$(get s4 reload_exec_total "front=$FRONT" "command=dovecot reload" result=ok)" ] ||
	fail "no reload_exec_total{front=$FRONT}"

# the shipped files: rules and config check, the dashboard parses
out=$(promtool check rules "$MON/mailu-cert-agent.rules.yml" 2>&1) || fail "promtool check rules: $out"
log "promtool check rules: $(echo "$out" | grep SUCCESS)"
(cd "$MON" && promtool check config prometheus.yml >/dev/null 2>&1) || fail "promtool check config: $(cd "$MON" && promtool check config prometheus.yml 2>&1)"
jq -e '.panels | length > 0' "$MON/mailu-cert-agent.dashboard.json" >/dev/null || fail "the dashboard does not parse"
# every metric they name is one the agent exports (up is Prometheus')
$PROM names "$T"/s[0-4].prom >"$T/exported.txt"
for f in "$MON/mailu-cert-agent.dashboard.json" "$MON/mailu-cert-agent.rules.yml"; do
	grep -oE 'mailu_cert_agent_[a-z_]+' "$f" | sort -u >"$T/named.txt"
	[ -s "$T/named.txt" ] || fail "$f names no metric"
	unknown=$(comm -23 "$T/named.txt" "$T/exported.txt")
	[ -z "$unknown" ] || fail "${f##*/} names metrics the agent does not export: $unknown"
	log "${f##*/}: $(wc -l <"$T/named.txt") metric names, all exported"
done
# the dashboard's queries are PromQL: as recording rules, promtool parses them
jq -r '[.. | .expr? // empty] | to_entries[] | "  - record: dashboard_expr_\(.key)\n    expr: \(.value | gsub("\\$(job|instance)"; ".*") | @json)"' \
	"$MON/mailu-cert-agent.dashboard.json" | { echo 'groups:'; echo '- name: dashboard'; echo '  rules:'; cat; } >"$T/dashboard-exprs.yml"
out=$(promtool check rules "$T/dashboard-exprs.yml" 2>&1) || fail "dashboard queries: $out"
log "dashboard queries: $(echo "$out" | grep SUCCESS)"

# The rules test. Group 1: the five scrapes, one a minute: s0 for minutes
# 0-9, s1 10-19, s2 20-39, s3 40-59, s4 60-89. Group 2: a scrape that
# fails (up 0, no series). In a file of its own, in 5 min steps: s4 for
# two and a half days. Expected: what the
# rules must make of these series (for: durations included): the expiry
# in days from the certificates' notAfter, as the series carry it.
days() { awk -v n="$1" -v t="$T0" -v e="$2" 'BEGIN { printf "%.1f", (n - t - e) / 86400 }'; }
# at EVAL_TIME ALERTNAME [ALERT...]: one alert_rule_test case; no ALERT: none fires
at() {
	printf '      - eval_time: %s\n        alertname: %s\n        exp_alerts:%s\n' "$1" "$2" \
		"$([ $# -gt 2 ] || echo ' []')"
	[ $# -le 2 ] || printf '%s\n' "${@:3}"
}
# alert LABELS SUMMARY DESCRIPTION: one expected alert (job and instance added)
alert() {
	printf '          - exp_labels: {job: %s, instance: %s%s}\n' "$JOB" "'$INST'" "${1:+, $1}"
	printf '            exp_annotations:\n              summary: %s\n              description: %s\n' \
		"'$2'" "'$3'"
}
expiring() { # SEVERITY THRESHOLD NOTAFTER EVAL_S
	alert "key_type: ecdsa, severity: $1" \
		"The soonest-expiring ecdsa certificate served through $INST expires in $(days "$3" "$4") days" \
		"Under $2 days left. The agent installs a renewal the moment the ACME client writes it: check the ACME client."
}
unreachable_q=$(alert "endpoint: '$Q', key_type: ecdsa, state: unreachable, severity: critical" \
	"$Q answers no TLS handshake (ecdsa)" \
	"Refused, timed out or no certificate of that key type: the agent log has verify.endpoint with the error.")
unhealthy=$(alert "severity: warning" "mailu-cert-agent at $INST is unhealthy" \
	"Its last cycle failed or its last verify did not match everywhere; /healthz says why.")
group() { # NAME [INTERVAL]: a test group's head, its input_series to follow
	printf '  - name: %s\n    interval: %s\n    input_series:\n' "$1" "${2:-1m}"
}
series() { $PROM series --job "$JOB" --instance "$INST" --shift "$T0" --indent 6 "$@"; }
{
	printf 'rule_files:\n  - %s\nevaluation_interval: 1m\ntests:\n' "$MON/mailu-cert-agent.rules.yml"
	group "five live scrapes, one a minute"
	series "$T/s0.prom:10" "$T/s1.prom:10" "$T/s2.prom:20" "$T/s3.prom:20" "$T/s4.prom:30"
	echo '    alert_rule_test:'
	at 10m MailuCertExpiring
	at 9m MailuCertRotationRolledBack
	at 16m MailuCertExpiring "$(expiring info 21 "$na_a" 960)" "$(expiring warning 7 "$na_a" 960)"
	at 16m MailuCertRotationRolledBack "$(alert "outcome: rolled_back, severity: warning" \
		"A new certificate behind $INST was rolled back" \
		"It was installed, not served everywhere in time, and the old pair is served again. It is not retried until its files change.")"
	for a in RotationFailed AgentUnhealthy EndpointUnreachable EndpointStale; do
		at 16m "MailuCert$a"
	done
	at 25m MailuCertEndpointUnreachable
	at 35m MailuCertEndpointUnreachable "$unreachable_q"
	at 35m MailuCertAgentUnhealthy "$unhealthy"
	at 35m MailuCertEndpointStale
	at 35m MailuCertExpiring "$(expiring info 21 "$na_a" 2100)" "$(expiring warning 7 "$na_a" 2100)"
	at 58m MailuCertEndpointStale "$(alert "endpoint: '$P', key_type: ecdsa, state: stale, severity: warning" \
		"$P serves another ecdsa certificate than the installed one" \
		"The agent reloads a stale front at each drift check; it still is. mailu_cert_agent_cert_info has what it serves; the agent log has drift.failed.")"
	at 58m MailuCertExpiring "$(expiring info 21 "$na_c" 3480)" "$(expiring warning 7 "$na_c" 3480)" \
		"$(expiring critical 3 "$na_c" 3480)"
	at 58m MailuCertExpired
	at 65m MailuCertRotationFailed "$(alert "outcome: failed, severity: critical" \
		"A rotation behind $INST failed and could not be rolled back" \
		"The agent is unhealthy until a verify passes: the agent log has cycle.done and rollback.failed.")"
	at 75m MailuCertRotationRolledBack
	at 89m MailuCertEndpointUnreachable "$unreachable_q"
	at 89m MailuCertAgentUnhealthy "$unhealthy"
	at 89m MailuCertAgentDown
	group "the agent not scraped"
	printf '      - series: %s\n        values: %s\n' "'up{job=\"$JOB\", instance=\"$INST\"}'" "'1x4 0x30'"
	echo '    alert_rule_test:'
	at 8m MailuCertAgentDown
	at 12m MailuCertAgentDown "$(alert "severity: critical" "mailu-cert-agent at $INST is not scraped" \
		"Nothing above can fire while it is down.")"
	at 12m MailuCertExpiring
	at 12m MailuCertAgentUnhealthy
} >"$T/rules-test.yml"
{
	printf 'rule_files:\n  - %s\nevaluation_interval: 5m\ntests:\n' "$MON/mailu-cert-agent.rules.yml"
	group "the last scrape, days later" 5m
	series "$T/s4.prom:720"
	echo '    alert_rule_test:'
	at 1d MailuCertExpired
	at 2d6h MailuCertExpired "$(alert "key_type: ecdsa, severity: critical" \
		"An endpoint behind $INST serves an expired ecdsa certificate" \
		"Mail clients refuse it. mailu_cert_agent_cert_info names the endpoint and the certificate.")"
	at 2d6h MailuCertExpiring
	at 2d6h MailuCertRotationFailed
} >"$T/rules-test-days.yml"
out=$(promtool test rules "$T/rules-test.yml" "$T/rules-test-days.yml" 2>&1) || {
	cp "$T/rules-test.yml" "$T/rules-test.yml.log"
	fail "promtool test rules: $out"
}
log "promtool test rules: $(echo "$out" | tr -s '\n' ' ')"
agent_stop "$AGENT_PID" run
pass
