#!/bin/bash
# The release artefacts: `make static` gives a fully static binary, `make
# image` a FROM-scratch image, and that image runs `check` against the
# front with --network host, finding the nginx-only reload bug too.
. "$(dirname "$0")/../lib/lib.sh"

make -C "$MCA_ROOT" static image >"$T/make.log" 2>&1 || { tail -30 "$T/make.log"; fail "make static image"; }
bin=$MCA_ROOT/build/static/mailu-cert-agent
assert_contains "$(file "$bin")" "statically linked" "file(1) of the static binary"
assert_contains "$("$bin" version)" "OpenSSL 3" "static binary's version line"
log "static binary: $(stat -c %s "$bin") bytes stripped; $(grep '^image ' "$T/make.log")"

certs_leaf "$T" a ec256 90 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
# the image runs as uid 10001 (docs/operations.md, "Least privilege"): it owns the certs
AGENT_UID=10001
chown -R "$AGENT_UID" "$T/certs"

run_image() { # LOGNAME
	set +e
	docker run --rm --network host -v "$T/certs:/certs:ro" \
		-e HOSTNAMES="$HOSTNAME_SNI" -e AGENT_ENDPOINTS="$ENDPOINTS" \
		mailu-cert-agent:latest check >"$T/$1.log" 2>"$T/$1.err.log"
	AGENT_RC=$?
	set -e
}
run_image ok
assert_json_lines ok
assert_eq 0 "$AGENT_RC" "image check exit code"
assert_eq 9 "$(events ok 'select(.event=="check.done") | .matched')" "matched"

bed_install b
chown -R "$AGENT_UID" "$T/certs"
docker exec "$FRONT" nginx -s reload
wait_served "$(certs_fp "$T/b.cert.pem")" https smtp
run_image stale
assert_eq 2 "$AGENT_RC" "image check exit code, dovecot stale"
assert_eq '["dovecot"]' "$(events stale 'select(.event=="check.done") | .services')" "blamed"

# the image rotates too: `once` from a pair, reloading through the engine's
# socket (static libcurl over a unix socket), then `healthcheck` agrees
docker exec "$FRONT" dovecot reload
certs_leaf "$T" c ec256 120 mail.example.test
src_write c
chown -R "$AGENT_UID" "$T/src"
sock=${DOCKER_HOST#unix://}
img() { # LOGNAME ARGS...
	local n=$1
	shift
	set +e
	docker run --rm --network host -v "$T/certs:/certs" -v "$T/src:/src:ro" \
		-v "$sock:/var/run/docker.sock" --group-add "$(stat -c %g "$sock")" \
		-e HOSTNAMES="$HOSTNAME_SNI" \
		-e AGENT_ENDPOINTS="$ENDPOINTS" -e AGENT_FRONT="$FRONT" \
		-e AGENT_SOURCE=pair:/src/cert.pem,/src/key.pem \
		mailu-cert-agent:latest "$@" >"$T/$n.log" 2>"$T/$n.err.log"
	AGENT_RC=$?
	set -e
}
img once once
assert_eq 0 "$AGENT_RC" "image once exit code"
assert_eq '"rotated"' "$(events once 'select(.event=="cycle.done") | .outcome')" "image rotation"
assert_all_serve "$(certs_fp "$T/c.cert.pem")"
img health healthcheck
assert_eq 0 "$AGENT_RC" "image healthcheck exit code"
pass
