#!/bin/bash
# The agent behind a real filtering socket proxy (Debian's haproxy with
# tests/lib/haproxy-docker.cfg: an allow-list of the calls the agent makes,
# 403 for the rest), DOCKER_HOST=tcp://127.0.0.1:PORT.
#   EXEC=1: rotation A -> B from a pair: source, two reload.exec, all nine
#           ports serve B; every call the agent made was allowed, and each is
#           one of the documented nine. HAProxy 2.6 answers a session's
#           upgrade with 200 and passes no stdin on (haproxy issue 2684):
#           one reload.session_refused per command, and the reloads ran
#           in new execs.
#   EXEC=0: a new pair C -> reload.exec_failed naming the refused call
#           (error denied, http_status 403, endpoint POST /containers/{id}/exec),
#           B is still served everywhere and is back in CERTS_DIR, no exec was
#           ever created in the front, and the proxy refused nothing else;
#           rollback.done, outcome rolled_back.
. "$(dirname "$0")/../lib/lib.sh"
. "$MCA_TESTLIB/socket-proxy.sh"
require_cmd haproxy

PROXY_PORT=${MCA_SOCKET_PROXY_PORT:-21375}
ALLOWED="GET /_ping
GET /version
GET /containers/json
GET /containers/{id}/json
GET /containers/{id}/logs
GET /containers/{id}/top
POST /containers/{id}/exec
POST /exec/{id}/start
GET /exec/{id}/json"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
certs_leaf "$T" c ec256 120 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
mkdir -p "$T/src"
install -m 0644 "$T/a.cert.pem" "$T/src/cert.pem"
install -m 0600 "$T/a.key.pem" "$T/src/key.pem"

# the ACME client writes a new pair (cert first, then key)
new_pair() {
	cp "$T/$1.cert.pem" "$T/src/cert.pem.new" && mv "$T/src/cert.pem.new" "$T/src/cert.pem"
	cp "$T/$1.key.pem" "$T/src/key.pem.new" && mv "$T/src/key.pem.new" "$T/src/key.pem"
}
proxied_env() {
	# shellcheck disable=SC2046
	echo $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
		--poll-interval=1s "--docker-host=$SOCKET_PROXY_URL"
}

# --- EXEC=1: the agent's needs, and nothing else, are enough. The front
# is found by its compose label here (the default selector: the list call),
# by name below (inspect).
socket_proxy_start "$PROXY_PORT" EXEC=1
# shellcheck disable=SC2046
agent_bg run run $(proxied_env) --front=label:com.docker.compose.service=front
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9
sleep 1
new_pair b
wait_event run '.event=="cycle.done"' 60
assert_json_lines run
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome through the proxy"
assert_eq 2 "$(events run 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "reload.exec exit 0"
assert_all_serve "$fp_b"
log "timings: $(events run 'select(.event=="cycle.done") | .timings')"
assert_eq '"dovecot reload" "nginx -s reload"' \
	"$(events run 'select(.event=="reload.session_refused") | .command' | tr -d "'" | sort | paste -sd' ' -)" \
	"sessions refused through HAProxy, one per command"
assert_eq 0 "$(events run 'select(.event=="reload.session_refused" and (.detail | startswith("session: start answered HTTP/1.1 200") | not))' | wc -l)" \
	"refused for a start answered 200"
agent_stop "$AGENT_PID" run

calls=$(socket_proxy_calls | sort -u)
log "calls through the proxy: $(paste -sd, <<<"$calls")"
assert_eq "" "$(socket_proxy_calls 403)" "calls refused with EXEC=1"
while read -r c; do
	grep -qxF -- "$c" <<<"$ALLOWED" || fail "undocumented call: $c"
done <<<"$calls"
for c in "GET /containers/json" "POST /containers/{id}/exec" "POST /exec/{id}/start" "GET /exec/{id}/json"; do
	grep -qxF -- "$c" <<<"$calls" || fail "expected call missing: $c"
done
mv "$T/socket-proxy.log" "$T/socket-proxy-exec1.log"
socket_proxy_stop

# --- EXEC=0: the reload is refused: a clear event, then the rollback
socket_proxy_start "$PROXY_PORT" EXEC=0
execs=$(exec_count)
# shellcheck disable=SC2046
agent_bg deny run $(proxied_env)
wait_event deny '.event=="agent.start"' 30
wait_event deny '.event=="verify.endpoint"' 30 9
sleep 1
new_pair c
wait_event deny '.event=="cycle.done"' 60
assert_json_lines deny
f=$(events deny 'select(.event=="reload.exec_failed")')
log "reload.exec_failed: $(head -1 <<<"$f")"
assert_eq '"denied" 403 "POST /containers/{id}/exec"' \
	"$(head -1 <<<"$f" | jq -r '[.error, .http_status, .endpoint] | map(tojson) | join(" ")')" \
	"error, http_status, endpoint"
# the rollback may try its reload too; it is refused the same way
assert_eq 0 "$(jq -c 'select(.error != "denied" or .endpoint != "POST /containers/{id}/exec")' <<<"$f" | wc -l)" \
	"other reload.exec_failed events"
# the front never reloaded: B is served, B is back on disk, no exec exists
assert_all_serve "$fp_b"
cmp -s "$T/certs/cert.pem" "$T/b.cert.pem" || fail "cert.pem is not B after the rollback"
cmp -s "$T/certs/key.pem" "$T/b.key.pem" || fail "key.pem is not B after the rollback"
disk_pair_matches || fail "cert and key on disk do not match"
assert_eq "$execs" "$(exec_count)" "execs created in the front"
agent_stop "$AGENT_PID" deny
assert_eq "POST /containers/{id}/exec" "$(socket_proxy_calls 403 | sort -u)" "calls refused with EXEC=0"
# and the cycle says so: rolled back, B verified
log "rollback: $(events deny 'select(.event|startswith("rollback.")) | {event, reason, cause, verified}' | paste -sd' ' -)"
assert_eq 1 "$(event_count deny rollback.done)" "rollback.done (the old pair is served: nothing was reloaded)"
assert_eq '"rolled_back"' "$(events deny 'select(.event=="cycle.done") | .outcome')" "outcome"
pass
