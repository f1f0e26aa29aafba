#!/bin/sh
# Lay out what the release image holds, as one folder for one COPY:
#   DIR/mailu-cert-agent                     the static binary, 0755
#   DIR/etc/ssl/certs/ca-certificates.crt   Debian's Mozilla CA set (the
#                                            ca-certificates package)
#   DIR/etc/passwd, DIR/etc/group           docker/agent/: names for 10001
# Every file and folder is dated SOURCE_DATE_EPOCH (default: the commit's
# time), so `docker build` makes the same layer from the same files: the
# legacy builder keeps the mtimes and modes it is given.
# Usage: scripts/release-rootfs.sh BINARY DIR
# Used by `make image` (tests/lib/image-build.sh) and the Dockerfile's build stage.
set -eu

bin=${1:?static binary}
out=${2:?output folder}
root=$(cd "$(dirname "$0")/.." && pwd)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}

mkdir -p "$out/etc/ssl/certs"
install -m 0755 "$bin" "$out/mailu-cert-agent"
# The package's certificates in name order (C locale), not this machine's
# /etc/ssl/certs/ca-certificates.crt: that one also holds the CAs a machine
# adds (/usr/local/share/ca-certificates) and those it deselects, so two
# builders would give two bundles. A site CA: mount a bundle, SSL_CERT_FILE.
moz=/usr/share/ca-certificates/mozilla
[ -n "$(ls "$moz"/*.crt 2>/dev/null)" ] || { echo "release-rootfs.sh: no $moz/*.crt (package ca-certificates)" >&2; exit 1; }
(export LC_ALL=C; for f in "$moz"/*.crt; do cat "$f"; done) >"$out/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$out/etc/ssl/certs/ca-certificates.crt"
install -m 0644 "$root/docker/agent/passwd" "$out/etc/passwd"
install -m 0644 "$root/docker/agent/group" "$out/etc/group"
find "$out" -type d -exec chmod 0755 {} +
find "$out" -exec touch -h -d "@$epoch" {} +
