#!/bin/bash
# Builds the release image (FROM scratch: the static binary and a CA
# bundle) with a real engine: the one at DOCKER_HOST, or a private one.
# Usage: tests/lib/image-build.sh BINARY   -> tags mailu-cert-agent:latest
# MCA_IMAGE_TAG=NAME:TAG adds one more tag: a test that must run exactly the
# image it built uses it, since other runs may retag :latest meanwhile.
set -euo pipefail

bin=${1:?static binary}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/engine.sh"

file "$bin" | grep -q 'statically linked' || { echo "$bin is not static" >&2; exit 1; }
engine_up
trap engine_down EXIT

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"; engine_down' EXIT
cp "$bin" "$ctx/mailu-cert-agent"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
cp "$root/docker/agent/Dockerfile" "$root/docker/agent/passwd" \
	"$root/docker/agent/group" "$ctx/"
version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)
docker build -q -t "mailu-cert-agent:$version" -t mailu-cert-agent:latest \
	${MCA_IMAGE_TAG:+-t "$MCA_IMAGE_TAG"} "$ctx" >/dev/null
size=$(docker image inspect -f '{{.Size}}' mailu-cert-agent:latest)
echo "image mailu-cert-agent:latest ($version): $size bytes"
