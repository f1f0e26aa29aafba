#!/bin/bash
# Builds the release image (FROM scratch: the static binary and a CA
# bundle) with a real engine: the one at DOCKER_HOST, or a private one.
# Usage: tests/lib/image-build.sh [--arch arm64] BINARY
#   amd64 (default): tags mailu-cert-agent:<version> and :latest
#   arm64:           tags mailu-cert-agent:<version>-arm64 and :arm64
# MCA_IMAGE_TAG=NAME:TAG adds one more tag: a test that must run exactly the
# image it built uses it, since other runs may retag :latest meanwhile.
#
# The instructions are the top-level Dockerfile's release stage (its lines
# from `FROM scratch` on), so `docker build .` and this make the same image.
# Reproducible: the one layer is made from files dated the commit's time
# (scripts/release-rootfs.sh), and what `docker build` adds that changes
# each time (created dates, the build container's id and hostname, the
# parent image id) is set to the commit's time or dropped before the image
# is loaded: the same binary gives the same image id (docs/testing.md).
set -euo pipefail

arch=amd64
if [ "${1:-}" = --arch ]; then
	arch=${2:?--arch amd64|arm64}
	shift 2
fi
bin=${1:?static binary}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/engine.sh"

case $arch in
amd64) want='x86-64' suffix='' tag=latest ;;
arm64) want='ARM aarch64' suffix=-arm64 tag=arm64 ;;
*) echo "image-build.sh: --arch amd64 or arm64, not $arch" >&2; exit 2 ;;
esac
file "$bin" | grep -q 'statically linked' || { echo "$bin is not static" >&2; exit 1; }
file "$bin" | grep -q "$want" || { echo "$bin is not $want: $(file -b "$bin")" >&2; exit 1; }
engine_up
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"; engine_down' EXIT

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
SOURCE_DATE_EPOCH=$epoch "$root/scripts/release-rootfs.sh" "$bin" "$ctx/rootfs"
sed -n '/^FROM scratch/,$p' "$root/Dockerfile" |
	sed 's#^COPY --from=build /rootfs/ /$#COPY rootfs/ /#' >"$ctx/Dockerfile"
if [ "$(grep -c '^COPY' "$ctx/Dockerfile")" != 1 ] || ! grep -qx 'COPY rootfs/ /' "$ctx/Dockerfile"; then
	echo "image-build.sh: the Dockerfile's release stage must copy exactly /rootfs/ from build" >&2
	exit 1
fi
# No --platform: the legacy builder makes a FROM scratch image for the
# engine's own platform and then refuses it as not linux/arm64; the
# architecture is set in the config below (the layer holds no code it runs).
built=$(docker build -q "$ctx/" 2>"$ctx/build.err") ||
	{ cat "$ctx/build.err" >&2; exit 1; }

# docker save -> the config rewritten -> docker load: the new id is the
# sha256 of the new config. Layers are not touched.
save=$ctx/save
mkdir "$save"
docker save "$built" | tar -x -C "$save"
cfg=$(jq -r '.[0].Config' "$save/manifest.json")
jq -cS --arg t "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)" --arg a "$arch" '
	with_entries(select(.key | IN("architecture", "os", "config", "rootfs", "history")))
	| .architecture = $a | .os = "linux"
	| .created = $t | .config.Image = "" | .config.Hostname = ""
	| .history |= map(.created = $t)' "$save/$cfg" >"$ctx/config.json"
id=$(sha256sum "$ctx/config.json" | cut -d' ' -f1)
rm -f "$save/$cfg" "$save/repositories"
mv "$ctx/config.json" "$save/$id.json"
jq -c --arg c "$id.json" '.[0].Config = $c | .[0].RepoTags = null' "$save/manifest.json" >"$ctx/m.json"
mv "$ctx/m.json" "$save/manifest.json"
tar -C "$save" -c . | docker load -q >/dev/null
[ "sha256:$id" = "$built" ] || docker rmi "$built" >/dev/null 2>&1 || true

version=$(git -C "$root" describe --tags --always --abbrev=12 --dirty 2>/dev/null || echo dev)
for t in "mailu-cert-agent:$version$suffix" "mailu-cert-agent:$tag" ${MCA_IMAGE_TAG:+"$MCA_IMAGE_TAG"}; do
	docker tag "sha256:$id" "$t"
done
size=$(docker image inspect -f '{{.Size}}' "sha256:$id")
echo "image mailu-cert-agent:$tag ($version, linux/$arch, id sha256:${id:0:12}): $size bytes"
