#!/bin/bash
# Least privilege, for real: the release image as its default (non-root)
# user, with the Docker socket's group and nothing else (--cap-drop ALL,
# --read-only, no-new-privileges), rotates and verifies on all nine ports.
# Each right taken away fails clearly and changes nothing:
#  - the image's default user is not root (docker image inspect), and the
#    running agent has that uid, no capability at all, no_new_privs;
#  - Mailu's certs volume as Mailu leaves it (root's) -> `run` refuses to
#    start: agent.failed naming the state dir and "Permission denied", exit
#    2, the certs dir untouched;
#  - after the documented `chown -R 10001 /mailu/certs`: the daemon adopts
#    A, an ACME deploy hook writes B, `cycle.done rotated`, openssl sees B
#    on all nine ports, `healthcheck` in the container exits 0;
#  - without the socket's group: `once` with a new pair C -> an event with
#    error "connect_failed" and "Permission denied", C never served, the
#    certs dir's pair is B again (byte for byte), exit 2;
#  - the state dir on a volume of its own, the certs dir read-only to the
#    uid: `once` with C -> cert.install_failed, exit 2, nothing changed.
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-29000}
IMG=mca-it-$TEST_NAME:$$
sock=${DOCKER_HOST#unix://}
[ -S "$sock" ] || skip "DOCKER_HOST $DOCKER_HOST is not a unix socket"
SOCK_GID=$(stat -c %g "$sock")

MCA_IMAGE_TAG=$IMG make -C "$MCA_ROOT" image >"$T/make.log" 2>&1 ||
	{ tail -30 "$T/make.log"; fail "make image"; }
at_exit "docker rmi $IMG >/dev/null 2>&1"

# the image's default user: numeric, not root
user=$(docker image inspect -f '{{.Config.User}}' "$IMG")
uid=${user%%:*} gid=${user#*:}
[[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] || fail "image USER '$user' is not numeric uid:gid"
[ "$uid" != 0 ] || fail "image USER is root ($user)"
log "image default user $user; socket gid $SOCK_GID"

N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b ec256 90 "$N"
certs_leaf "$T" c ec256 120 "$N"
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
fp_c=$(certs_fp "$T/c.cert.pem")
bed_start a   # the certs dir as Mailu leaves it: root's, key.pem 0600

# snapshot DIR: every entry with owner, mode, size and content hash
snapshot() {
	(cd "$1" && find . -printf '%p %U:%G %m %s %i\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k2)
}

# img NAME [docker run args...] -- [agent args...]: the image as its default
# user with no capability, a read-only root and no-new-privileges, on the
# host network, the certs dir and the engine socket mounted. Foreground;
# stdout to $T/NAME.log, stderr to $T/NAME.err.log, exit code in AGENT_RC.
DRUN=(--network host --cap-drop ALL --read-only --security-opt no-new-privileges:true
	--label mca.test=1 -v "$T/certs:/certs" -v "$sock:/var/run/docker.sock"
	-e HOSTNAMES="$N" -e AGENT_ENDPOINTS="$ENDPOINTS" -e AGENT_FRONT="$FRONT"
	-e AGENT_PROBE_TIMEOUT=5s -e AGENT_VERIFY_TIMEOUT=20s)
img() {
	local n=$1 a=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	set +e
	docker run --rm "${DRUN[@]}" "${a[@]}" "$IMG" "$@" >"$T/$n.log" 2>"$T/$n.err.log"
	AGENT_RC=$?
	set -e
	log "image $* ($n) -> exit $AGENT_RC"
}

# --- 1. Mailu's certs volume as Mailu leaves it: root-owned -> refuses to start
before=$(snapshot "$T/certs")
img root-owned --group-add "$SOCK_GID" -- run
assert_eq 2 "$AGENT_RC" "run on a root-owned certs dir: exit code"
assert_json_lines root-owned
reason=$(events root-owned 'select(.event=="agent.failed") | .reason')
assert_contains "$reason" "/certs/.mailu-cert-agent" "agent.failed reason"
assert_contains "$reason" "Permission denied" "agent.failed reason"
assert_eq "$before" "$(snapshot "$T/certs")" "certs dir after the refused start"
assert_all_serve "$fp_a"

# --- 2. the documented step, once, as root: the agent's uid owns the certs dir
chown -R "$uid" "$T/certs"

docker run -d --name "$FRONT-agent" "${DRUN[@]}" --group-add "$SOCK_GID" \
	-e AGENT_POLL_INTERVAL=1s "$IMG" run >/dev/null
at_exit "docker logs $FRONT-agent >$T/agent.docker.log 2>&1; docker rm -f $FRONT-agent >/dev/null 2>&1"
alog() { docker logs "$FRONT-agent" 2>"$T/agent.err.log" >"$T/agent.log"; }
wait_agent() { # JQ_SELECT [COUNT] [TIMEOUT_S]
	local i
	for ((i = 0; i < ${3:-60} * 5; i++)); do
		alog
		[ "$(jq -c "select($1)" "$T/agent.log" | wc -l)" -ge "${2:-1}" ] && return 0
		[ "$(docker inspect -f '{{.State.Running}}' "$FRONT-agent")" = true ] ||
			fail "the agent container stopped: $(tail -3 "$T/agent.log")"
		sleep 0.2
	done
	fail "timed out waiting for $1 in the agent's log"
}
wait_agent '.event=="agent.start"'
wait_agent "(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_a\")" 9

# what the running agent is: the image's uid, the socket's group, no caps
pid=$(docker inspect -f '{{.State.Pid}}' "$FRONT-agent")
st=$(cat "/proc/$pid/status")
field() { sed -n "s/^$1:[[:space:]]*//p" <<<"$st"; }
assert_eq "$uid $uid $uid $uid" "$(field Uid | tr -s '\t ' ' ')" "agent's uids (real, effective, saved, fs)"
assert_eq "$gid $gid $gid $gid" "$(field Gid | tr -s '\t ' ' ')" "agent's gids"
# supplementary groups: the socket's, and the engine repeats the primary one
assert_eq "$(printf '%s\n' "$SOCK_GID" "$gid" | sort -un | paste -sd' ')" \
	"$(field Groups | tr -s '\t ' '\n' | sed '/^$/d' | sort -un | paste -sd' ')" "agent's supplementary groups"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	assert_eq 0000000000000000 "$(field $c)" "agent's $c"
done
assert_eq 1 "$(field NoNewPrivs)" "agent's NoNewPrivs"
assert_eq true "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$FRONT-agent")" "read-only root"
assert_eq "$uid 700" "$(stat -c '%u %a' "$T/certs/.mailu-cert-agent")" "state dir owner and mode"

# the ACME tool's deploy hook writes B, owned by the agent's uid
sleep 1
install -o "$uid" -m 0600 "$T/b.key.pem" "$T/certs/key.pem.new"
install -o "$uid" -m 0644 "$T/b.cert.pem" "$T/certs/cert.pem.new"
mv "$T/certs/cert.pem.new" "$T/certs/cert.pem"
mv "$T/certs/key.pem.new" "$T/certs/key.pem"
wait_agent '.event=="cycle.done"' 1 90
assert_eq '"rotated"' "$(jq -c 'select(.event=="cycle.done") | .outcome' "$T/agent.log")" "outcome"
assert_eq 2 "$(jq -c 'select(.event=="reload.exec" and .exit_code==0)' "$T/agent.log" | wc -l)" "reload.exec"
assert_eq 9 "$(jq -c "select(.event==\"verify.ok\") | .matched" "$T/agent.log" | tail -1)" "verify.ok matched"
assert_all_serve "$fp_b"
docker exec "$FRONT-agent" /mailu-cert-agent healthcheck >"$T/health.log" 2>&1 ||
	fail "healthcheck in the agent container: $(cat "$T/health.log")"
assert_eq "$uid 644" "$(stat -c '%u %a' "$T/certs/.mailu-cert-agent/status.json")" "status file owner and mode"
docker stop -t 10 "$FRONT-agent" >/dev/null
alog
assert_eq 1 "$(jq -c 'select(.event=="agent.stop")' "$T/agent.log" | wc -l)" "agent.stop"
docker rm -f "$FRONT-agent" >/dev/null

# a new pair C from a pair: source, readable by the agent's uid
mkdir -p "$T/src"
install -o "$uid" -m 0644 "$T/c.cert.pem" "$T/src/cert.pem"
install -o "$uid" -m 0600 "$T/c.key.pem" "$T/src/key.pem"
SRC=(-v "$T/src:/src:ro" -e "AGENT_SOURCE=pair:/src/cert.pem,/src/key.pem")

# --- 3. without the socket's group: a clear connect error, nothing served
img nogroup "${SRC[@]}" -- once
assert_eq 2 "$AGENT_RC" "once without the socket's group: exit code"
assert_json_lines nogroup
denied=$(events nogroup 'select(.error=="connect_failed")')
[ -n "$denied" ] || fail "no event with error connect_failed: $(cut -c1-300 "$T/nogroup.log")"
assert_contains "$denied" "Permission denied" "the connect error"
log "without the socket's group: $(head -1 <<<"$denied" | jq -c '{event, error, endpoint, detail}')"
assert_all_serve "$fp_b"
cmp -s "$T/certs/cert.pem" "$T/b.cert.pem" || fail "cert.pem is not B after the failed once"
cmp -s "$T/certs/key.pem" "$T/b.key.pem" || fail "key.pem is not B after the failed once"
[ "$(events nogroup 'select(.event=="reload.exec")')" = "" ] || fail "an exec ran without the socket's group"

# --- 4. the certs dir read-only to the uid (state dir on its own volume):
# the install fails, the served pair and the certs dir stay as they were
chown -R 0:0 "$T/certs"
mkdir -p "$T/state4"
chown "$uid" "$T/state4"
chmod 0644 "$T/certs/key.pem"   # readable, so only writing is missing
before=$(snapshot "$T/certs")
img rocerts --group-add "$SOCK_GID" "${SRC[@]}" -v "$T/state4:/state" \
	-e AGENT_STATE_DIR=/state -- once
assert_eq 2 "$AGENT_RC" "once with a read-only certs dir: exit code"
assert_json_lines rocerts
detail=$(events rocerts 'select(.event=="cert.install_failed") | .detail')
assert_contains "$detail" "Permission denied" "cert.install_failed detail"
assert_eq "$before" "$(snapshot "$T/certs")" "certs dir after the failed install"
[ "$(events rocerts 'select(.event=="reload.exec")')" = "" ] || fail "an exec ran after a failed install"
assert_all_serve "$fp_b"
[ "$fp_c" != "$fp_b" ] || fail "C and B are the same certificate"
pass
