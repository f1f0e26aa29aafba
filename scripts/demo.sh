#!/bin/bash
# make demo: a real front container (nginx + dovecot) in a real engine, a
# renewal done the way many admins do it — new files, `nginx -s reload`
# only — and the agent's `check` finding the seven dovecot ports that
# still serve the old certificate, then confirming the fix. The agent's
# JSON log goes to stdout; narration goes to stderr.
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

PORT_BASE=${DEMO_PORT_BASE:-42000}
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

say "after 'dovecot reload' as well"
docker exec "$FRONT" dovecot reload
wait_served "$(certs_fp "$T/new.cert.pem")" imaps pop3s sieve
demo_check
say "done"
