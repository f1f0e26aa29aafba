#!/bin/bash
# make demo: a real front container (nginx + dovecot) in a real engine.
# 1. a renewal done the way many admins do it (new files, `nginx -s reload`
#    only): `check` finds the seven dovecot ports on the old certificate;
# 2. the daemon starts, sees the drift and heals it (reload + verify);
# 3. the next renewal lands in the certs dir: a real rotation, verified on
#    all nine ports;
# 4. a bad bundle (wrong host name) lands: rejected, nothing touched.
# The agent's JSON log goes to stdout; narration goes to stderr.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export MCA_AGENT=${MCA_AGENT:-$root/build/dev/mailu-cert-agent}
TEST_NAME=demo
. "$root/tests/lib/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

engine_up
at_exit engine_down
say "building (or reusing) the front test image: nginx + dovecot, as Mailu's front"
front_image_ensure

PORT_BASE=${DEMO_PORT_BASE:-22000}
certs_leaf "$T" old ec256 30 mail.example.test
certs_leaf "$T" new ec256 90 mail.example.test
say "front serving certificate A ($(certs_fp "$T/old.cert.pem" | head -c 16)...) on nine loopback ports"
bed_start old

demo_check() {
	# shellcheck disable=SC2046
	"$MCA_AGENT" check $(bed_env) || echo "(check exit code $?)" >&2
}

say "mailu-cert-agent check: all nine ports serve the installed certificate"
demo_check

say "renewal lands certificate B ($(certs_fp "$T/new.cert.pem" | head -c 16)...); the admin runs 'nginx -s reload' only"
bed_install new
docker exec "$FRONT" nginx -s reload
wait_served "$(certs_fp "$T/new.cert.pem")" https smtp
say "mailu-cert-agent check: dovecot's seven ports still serve A"
demo_check

say "mailu-cert-agent run: starts, finds the stale dovecot ports and heals them"
state=$T/state
: >"$T/daemon.log"
# shellcheck disable=SC2046
"$MCA_AGENT" run $(bed_env) --front="$FRONT" --state-dir="$state" --source=certs-dir \
	--poll-interval=2s >"$T/daemon.log" 2>&1 &
daemon=$!
at_exit "kill $daemon 2>/dev/null"
follow() { tail -n +1 -f "$T/daemon.log" & }
follow
tailer=$!
at_exit "kill $tailer 2>/dev/null"
until_event() { # JQ_SELECT
	for _ in $(seq 1 300); do
		jq -e "select($1)" "$T/daemon.log" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "demo: timed out waiting for $1" >&2
	return 1
}
until_event '.event=="drift.healed"'

certs_leaf "$T" next ec256 120 mail.example.test
sleep 1
say "the ACME client renews again, writing cert.pem then key.pem in place: the agent rotates"
cp "$T/next.cert.pem" "$T/certs/cert.pem"
cp "$T/next.key.pem" "$T/certs/key.pem"
until_event '.event=="cycle.done" and .outcome=="rotated"'

certs_leaf "$T" wrong ec256 120 www.other.test
sleep 1
say "a bad bundle lands (a certificate for another host name): rejected, nothing touched"
cp "$T/wrong.cert.pem" "$T/certs/cert.pem"
cp "$T/wrong.key.pem" "$T/certs/key.pem"
until_event '.event=="cycle.done" and .outcome=="rejected"'
sleep 0.5
kill -TERM "$daemon"
wait "$daemon" || true
sleep 0.3
kill "$tailer" 2>/dev/null || true
say "done: openssl sees $(front_served_fp 127.0.0.1 "$(front_port imaps "$PORT_BASE")" imaps | head -c 16)... on IMAPS (the renewed certificate, $(certs_fp "$T/next.cert.pem" | head -c 16)...)"
