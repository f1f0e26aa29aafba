#!/bin/bash
# The Kubernetes sidecar path, emulated with the real engine: the agent
# image runs in the front's PID namespace (--pid container:front, as
# shareProcessNamespace gives a pod), with only CAP_KILL, a read-only
# root, and the Secret mounted read-only as the front's /certs. A kubelet
# atomic-writer update -> SIGHUP to the nginx and dovecot masters ->
# verified on all nine endpoints. A bad Secret -> rejected, no signal.
# Two decoys started by `docker exec` with a master's command line (exec
# -a; PPID 0, no workers) are ignored and logged (reload.decoy): the
# SIGHUPs go to the real masters, the pids in the front's pid files.
. "$(dirname "$0")/../lib/lib.sh"

# a tag of our own: other runs may retag :latest meanwhile
IMG=mca-it-$TEST_NAME:$$
MCA_IMAGE_TAG=$IMG make -C "$MCA_ROOT" image >"$T/make.log" 2>&1 ||
	{ tail -20 "$T/make.log"; fail "make image"; }
at_exit "docker rmi $IMG >/dev/null 2>&1"
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
# and the event says why. Its Secret holds B, which the front does not
# serve (A): a front already serving the pair would make the refused
# reload harmless (reload.served_anyway, exit 0).
mkdir -p "$T/state-nonroot" "$T/secret-b"
chown 10001 "$T/state-nonroot"
kubelet_write "$T/secret-b" b cert.pem key.pem
set +e
docker run --rm --pid "container:$FRONT" --network host \
	--cap-drop ALL --cap-add KILL --read-only --security-opt no-new-privileges:true \
	-v "$T/secret-b:/certs:ro" -v "$T/state-nonroot:/state" \
	-e AGENT_SOURCE=k8s-secret:/certs -e AGENT_RELOAD=signal -e AGENT_STATE_DIR=/state \
	-e HOSTNAMES="$N" -e AGENT_ENDPOINTS="$ENDPOINTS" \
	"$IMG" once >"$T/nonroot.log" 2>&1
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
	"$IMG" run >/dev/null
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

# The real masters, by their own pid files, and two decoys in the same PID
# namespace: command lines of masters, started the way the finding says.
nginx_pid=$(docker exec "$FRONT" cat /run/nginx.pid)
dovecot_pid=$(docker exec "$FRONT" cat /run/dovecot/master.pid)
[[ $nginx_pid =~ ^[0-9]+$ && $dovecot_pid =~ ^[0-9]+$ ]] ||
	fail "master pid files: nginx '$nginx_pid', dovecot '$dovecot_pid'"
docker exec -d "$FRONT" bash -c 'exec -a "nginx: master process nginx -g daemon off;" sleep 600'
docker exec -d "$FRONT" bash -c 'exec -a /usr/sbin/dovecot sleep 600'
# decoy ARGV0: the pid of the sleep whose argv[0] is ARGV0
decoy() {
	# shellcheck disable=SC2016 # expanded by the front's bash
	docker exec "$FRONT" bash -c 'for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = sleep ] || continue
		c=$(tr "\0" "\n" <"$d/cmdline" 2>/dev/null | head -n 1)
		[ "$c" = "$1" ] && echo "${d#/proc/}"
	done; true' _ "$1"
}
for _ in $(seq 1 50); do
	nginx_decoy=$(decoy "nginx: master process nginx -g daemon off;")
	dovecot_decoy=$(decoy /usr/sbin/dovecot)
	[ -n "$nginx_decoy" ] && [ -n "$dovecot_decoy" ] && break
	sleep 0.1
done
[[ $nginx_decoy =~ ^[0-9]+$ && $dovecot_decoy =~ ^[0-9]+$ ]] ||
	fail "decoys not seen in /proc: nginx '$nginx_decoy', dovecot '$dovecot_decoy'"
# what the old backend took for masters: the same argv[0], root, and here
# (docker exec) PPID 0, as a container init has under Kubernetes
for pid in "$nginx_decoy" "$dovecot_decoy"; do
	st=$(docker exec "$FRONT" cat "/proc/$pid/stat")
	st=${st##*) }
	assert_eq 0 "$(echo "$st" | cut -d' ' -f2)" "decoy $pid's PPID"
	assert_eq 0 "$(docker exec "$FRONT" awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" "decoy $pid's uid"
done
assert_eq "nginx: master process nginx -g daemon off;|600|" \
	"$(docker exec "$FRONT" cat "/proc/$nginx_decoy/cmdline" | tr '\0' '|')" "nginx decoy's cmdline"
assert_eq "/usr/sbin/dovecot|600|" \
	"$(docker exec "$FRONT" cat "/proc/$dovecot_decoy/cmdline" | tr '\0' '|')" "dovecot decoy's cmdline"
log "masters: nginx $nginx_pid, dovecot $dovecot_pid; decoys: nginx $nginx_decoy, dovecot $dovecot_decoy"

kubelet_write "$S" b cert.pem key.pem
wait_agent '.event=="cycle.done"'
assert_eq '"rotated"' "$(jq -c 'select(.event=="cycle.done") | .outcome' "$T/agent.log")" "outcome"
assert_eq 2 "$(jq -c 'select(.event=="reload.signal" and .sent==true)' "$T/agent.log" | wc -l)" "SIGHUPs sent"
# the SIGHUPs went to the real masters, never to a decoy
assert_eq "nginx:$nginx_pid dovecot:$dovecot_pid" \
	"$(jq -r 'select(.event=="reload.signal") | "\(.service):\(.pid)"' "$T/agent.log" | paste -sd' ' -)" \
	"signalled masters"
# each decoy named once, with why
assert_eq "nginx:$nginx_decoy:no worker children dovecot:$dovecot_decoy:no worker children" \
	"$(jq -r 'select(.event=="reload.decoy" and .level=="warn") | "\(.service):\(.pid):\(.why)"' \
	"$T/agent.log" | sort -r | paste -sd' ' -)" "reload.decoy events"
assert_all_serve "$fp_b"
# SIGHUP would have ended a sleep
docker exec "$FRONT" bash -c 'kill -0 "$@"' _ "$nginx_decoy" "$dovecot_decoy" ||
	fail "a decoy is gone: signalled?"

# a bad Secret: rejected, no signal, B still served
kubelet_write "$S" bad cert.pem key.pem
wait_agent '.event=="cert.rejected"'
sleep 1
alog
assert_eq '"hostname_mismatch"' "$(jq -c 'select(.event=="cert.rejected") | .reason' "$T/agent.log")" "reason"
assert_eq 2 "$(jq -c 'select(.event=="reload.signal")' "$T/agent.log" | wc -l)" "signals after the bad Secret"
assert_eq 2 "$(jq -c 'select(.event=="reload.decoy")' "$T/agent.log" | wc -l)" "decoys after the bad Secret"
assert_all_serve "$fp_b"
docker exec "$FRONT-agent" /mailu-cert-agent healthcheck --state-dir=/state >/dev/null ||
	fail "healthcheck in the agent container"
pass
