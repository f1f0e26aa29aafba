#!/bin/bash
# The Kubernetes sidecar path, emulated with the real engine: the agent
# image runs in the front's PID namespace (--pid container:front, as
# shareProcessNamespace gives a pod), with only CAP_KILL, a read-only
# root, and the Secret mounted read-only as the front's /certs. A kubelet
# atomic-writer update -> SIGHUP to the nginx and dovecot masters ->
# verified on all nine endpoints. A bad Secret -> rejected, no signal.
. "$(dirname "$0")/../lib/lib.sh"

make -C "$MCA_ROOT" image >"$T/make.log" 2>&1 || { tail -20 "$T/make.log"; fail "make image"; }
N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b ec256 90 "$N"
certs_leaf "$T" bad ec256 120 other.example.test
fp_b=$(certs_fp "$T/b.cert.pem")
S=$T/secret
mkdir -p "$S" "$T/state"

kubelet_write "$S" a cert.pem key.pem

# the front reads the Secret as its /certs, read-only
PORT_BASE=${PORT_BASE:-21000}
FRONT=mca-it-$TEST_NAME
HOSTNAME_SNI=$N
front_start "$FRONT" "$S" "$PORT_BASE" >/dev/null
at_exit front_stop "$FRONT" "$T/front.docker.log"
front_wait "$FRONT" "$PORT_BASE" 60
ENDPOINTS=$(front_endpoints "$PORT_BASE")

# As the image's default user (10001), CAP_KILL is granted but inert: no
# ambient capabilities, and the masters are root's. The SIGHUP is refused,
# and the event says why.
mkdir -p "$T/state-nonroot"
chown 10001 "$T/state-nonroot"
set +e
docker run --rm --pid "container:$FRONT" --network host \
	--cap-drop ALL --cap-add KILL --read-only --security-opt no-new-privileges:true \
	-v "$S:/certs:ro" -v "$T/state-nonroot:/state" \
	-e AGENT_SOURCE=k8s-secret:/certs -e AGENT_RELOAD=signal -e AGENT_STATE_DIR=/state \
	-e HOSTNAMES="$N" -e AGENT_ENDPOINTS="$ENDPOINTS" \
	mailu-cert-agent:latest once >"$T/nonroot.log" 2>&1
rc=$?
set -e
assert_eq 2 "$rc" "once as uid 10001 with CAP_KILL: exit code"
assert_eq false "$(jq -c 'select(.event=="reload.signal") | .sent' "$T/nonroot.log" | head -1)" "SIGHUP sent as uid 10001"
assert_file_contains "$T/nonroot.log" "Operation not permitted (not uid 0: the signal backend runs as user 0 with only CAP_KILL)" "once as uid 10001"

# uid 0, not the image's 10001: an added capability takes effect only for
# uid 0 (no ambient capabilities), and the masters are root's
docker run -d --name "$FRONT-agent" --pid "container:$FRONT" --network host \
	--user 0:0 --cap-drop ALL --cap-add KILL --read-only --security-opt no-new-privileges:true \
	-v "$S:/certs:ro" -v "$T/state:/state" \
	-e AGENT_SOURCE=k8s-secret:/certs -e AGENT_RELOAD=signal -e AGENT_STATE_DIR=/state \
	-e HOSTNAMES="$N" -e AGENT_ENDPOINTS="$ENDPOINTS" -e AGENT_POLL_INTERVAL=1s \
	mailu-cert-agent:latest run >/dev/null
at_exit "docker logs $FRONT-agent >$T/agent.docker.log 2>&1; docker rm -f $FRONT-agent >/dev/null 2>&1"
alog() { docker logs "$FRONT-agent" 2>/dev/null >"$T/agent.log"; }
wait_agent() { # JQ_SELECT [COUNT]
	for _ in $(seq 1 600); do
		alog
		[ "$(jq -c "select($1)" "$T/agent.log" | wc -l)" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	fail "timed out waiting for $1 in the agent's log"
}
wait_agent '.event=="agent.start"'
wait_agent '.event=="verify.endpoint"' 9
sleep 1

kubelet_write "$S" b cert.pem key.pem
wait_agent '.event=="cycle.done"'
assert_eq '"rotated"' "$(jq -c 'select(.event=="cycle.done") | .outcome' "$T/agent.log")" "outcome"
assert_eq 2 "$(jq -c 'select(.event=="reload.signal" and .sent==true)' "$T/agent.log" | wc -l)" "SIGHUPs sent"
assert_eq '"nginx" "dovecot"' "$(jq -c 'select(.event=="reload.signal") | .service' "$T/agent.log" | paste -sd' ' -)" "signalled services"
# the pids are the masters in the front's namespace
for pid in $(jq -r 'select(.event=="reload.signal") | .pid' "$T/agent.log"); do
	cmd=$(docker exec "$FRONT" cat "/proc/$pid/cmdline" | tr '\0' ' ')
	case $cmd in "nginx: master process"* | *dovecot*) ;; *) fail "pid $pid is '$cmd'" ;; esac
done
assert_all_serve "$fp_b"

# a bad Secret: rejected, no signal, B still served
kubelet_write "$S" bad cert.pem key.pem
wait_agent '.event=="cert.rejected"'
sleep 1
alog
assert_eq '"hostname_mismatch"' "$(jq -c 'select(.event=="cert.rejected") | .reason' "$T/agent.log")" "reason"
assert_eq 2 "$(jq -c 'select(.event=="reload.signal")' "$T/agent.log" | wc -l)" "signals after the bad Secret"
assert_all_serve "$fp_b"
docker exec "$FRONT-agent" /mailu-cert-agent healthcheck --state-dir=/state >/dev/null ||
	fail "healthcheck in the agent container"
pass
