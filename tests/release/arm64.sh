#!/bin/bash
# make test-arm64: the aarch64 release binary ($MCA_AGENT, make static-arm64)
# on this x86_64 machine under qemu-user (qemu-aarch64-static): it is static
# and aarch64; `version` and `--help` work; `check` against the front on
# loopback exits 0 with all nine endpoints matching, for an ECDSA and an RSA
# pair. Then the arm64 image (make image-arm64) runs `check` in the engine,
# through binfmt_misc (Debian's qemu-aarch64 entry, registered here if the
# machine has none: a systemd host does it at boot).
# Run by tests/run-integration.sh (the engine, its lock, the front image).
. "$(dirname "$0")/../lib/lib.sh"
require_cmd qemu-aarch64-static file

bin=$MCA_AGENT
assert_contains "$(file -b "$bin")" "ARM aarch64" "file(1) of $bin"
assert_contains "$(file -b "$bin")" "statically linked" "file(1) of $bin"
log "$(file -b "$bin" | cut -d, -f1-2), $(stat -c %s "$bin") bytes"
# agent_run runs $MCA_AGENT: here the binary under qemu-user
printf '#!/bin/sh\nexec qemu-aarch64-static %q "$@"\n' "$bin" >"$T/agent"
chmod +x "$T/agent"
MCA_AGENT=$T/agent

agent_run version version
assert_eq 0 "$AGENT_RC" "version exit code"
assert_contains "$(cat "$T/version.log")" "mailu-cert-agent " "version"
assert_contains "$(cat "$T/version.log")" "OpenSSL 3" "version"
agent_run help --help
assert_eq 0 "$AGENT_RC" "--help exit code"
assert_contains "$(cat "$T/help.log")" "AGENT_ENDPOINTS" "--help"

certs_leaf "$T" a ec256 90 mail.example.test
certs_leaf "$T" r rsa 90 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
t0=$(date +%s%N)
# shellcheck disable=SC2046
agent_run check check $(bed_env)
log "check under qemu-aarch64: $((($(date +%s%N) - t0) / 1000000)) ms"
assert_json_lines check
assert_eq 0 "$AGENT_RC" "check exit code"
assert_eq 9 "$(events check "select(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_a\")" | wc -l)" "endpoints serving A"
assert_eq '"ok"' "$(events check 'select(.event=="check.done") | .status')" "status"

bed_serve r
fp_r=$(certs_fp "$T/r.cert.pem")
# shellcheck disable=SC2046
agent_run check-rsa check $(bed_env)
assert_eq 0 "$AGENT_RC" "check exit code (RSA)"
assert_eq 9 "$(events check-rsa "select(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_r\")" | wc -l)" "endpoints serving the RSA pair"

# --- the arm64 image, in the engine
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/qemu-aarch64" ]; then
	require_root
	[ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
	# F: the interpreter is opened now, so it runs inside containers too
	cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
	log "registered binfmt_misc qemu-aarch64 ($(sed -n 's/^interpreter //p' "$binfmt/qemu-aarch64"))"
fi
assert_eq enabled "$(head -n 1 "$binfmt/qemu-aarch64")" "binfmt_misc qemu-aarch64"
assert_contains "$("$bin" version)" "mailu-cert-agent " "the binary run through binfmt_misc"
tag=mca-arm64-test:$$
MCA_IMAGE_TAG=$tag make -C "$MCA_ROOT" image-arm64 >"$T/make.log" 2>&1 || fail "make image-arm64"
at_exit docker rmi "$tag" ">/dev/null"
log "$(grep '^image ' "$T/make.log")"
assert_eq arm64 "$(docker image inspect -f '{{.Architecture}}' "$tag")" "image architecture"
chown -R 10001 "$T/certs"
t0=$(date +%s%N)
set +e
docker run --rm --platform linux/arm64 --network host -v "$T/certs:/certs:ro" \
	-e HOSTNAMES="$HOSTNAME_SNI" -e AGENT_ENDPOINTS="$ENDPOINTS" \
	"$tag" check >"$T/image.log" 2>"$T/image.err.log"
rc=$?
set -e
log "image check (linux/arm64): $((($(date +%s%N) - t0) / 1000000)) ms"
assert_eq 0 "$rc" "image check exit code"
assert_eq 9 "$(events image 'select(.event=="check.done") | .matched')" "image check: matched"
pass
