#!/bin/bash
# make test-docker-build: `docker build` of a fresh clone works on its own
# (the top-level Dockerfile: a Debian 12 build stage running
# scripts/install-deps.sh --static and `make static`, then FROM scratch),
# and its binary has the sha256 that `make static` gives on this machine
# for the same commit. The image is the one `make image` makes: the same
# config (user, env, entrypoint, healthcheck, labels) and the same layer.
# No registry here: the build stage's BASE is the test bed's debootstrapped
# Debian 12 rootfs (mca-front-base, tests/lib/front-image.sh) with this
# machine's apt sources (deb and deb-src), as debian:12 has them. apt needs
# the network: `--network host` (the engine has no bridge).
# Run by tests/run-integration.sh (the engine, its lock, the base image).
. "$(dirname "$0")/../lib/lib.sh"
require_cmd git jq
[ -n "${FRONT_BASE_IMAGE:-}" ] || fail "no FRONT_BASE_IMAGE: run through tests/run-integration.sh"
sources=/etc/apt/sources.list.d/debian.sources
grep -q deb-src "$sources" || fail "$sources has no deb-src (scripts/install-deps.sh enables it)"

head=$(git -C "$MCA_ROOT" rev-parse HEAD)
clone=$T/clone
git clone -q --no-checkout "$MCA_ROOT" "$clone"
git -C "$clone" checkout -q --detach "$head"

# make static and make image of the same commit on this machine
t0=$(date +%s)
make -C "$clone" static >"$T/make-static.log" 2>&1 || fail "make static in the clone"
want=$(sha256sum <"$clone/build/static/mailu-cert-agent" | cut -d' ' -f1)
log "make static: $(($(date +%s) - t0)) s, sha256 $want"
mine=mca-docker-build-make:$$ theirs=mca-docker-build:$$ base=mca-docker-build-base:$$
MCA_IMAGE_TAG=$mine make -C "$clone" image >"$T/make-image.log" 2>&1 || fail "make image in the clone"
at_exit docker rmi "$mine" ">/dev/null"

# the builder's base: the bed's rootfs with debian:12's apt sources
mkdir "$T/base"
cp "$sources" "$T/base/debian.sources"
: >"$T/base/sources.list"
printf 'FROM %s\nCOPY debian.sources /etc/apt/sources.list.d/debian.sources\nCOPY sources.list /etc/apt/sources.list\n' \
	"$FRONT_BASE_IMAGE" >"$T/base/Dockerfile"
docker build -q -t "$base" "$T/base" >/dev/null 2>"$T/base-build.log" || fail "builder base"
at_exit docker rmi "$base" ">/dev/null"

# every image the legacy builder keeps as cache (one per step of the build
# stage, ~1 GB in all) is removed with the test's own images
rm_steps() {
	# shellcheck disable=SC2046
	docker rmi $(sed -n 's/^ ---> \([0-9a-f]\{12\}\)$/\1/p' "$T/docker-build.log" | sort -u) >/dev/null 2>&1 || true
}
at_exit rm_steps
t0=$(date +%s)
docker build --network host --force-rm --build-arg "BASE=$base" -t "$theirs" "$clone" \
	>"$T/docker-build.log" 2>&1 || fail "docker build of the clone"
log "docker build: $(($(date +%s) - t0)) s"
at_exit docker rmi "$theirs" ">/dev/null"

cid=$(docker create "$theirs")
docker cp "$cid:/mailu-cert-agent" "$T/docker-bin" >/dev/null
docker rm "$cid" >/dev/null
got=$(sha256sum <"$T/docker-bin" | cut -d' ' -f1)
grep -q "^$got  build/static/mailu-cert-agent$" "$T/docker-build.log" || fail "the build stage did not print the sha256 $got"
assert_eq "$want" "$got" "sha256 of the binary from docker build vs make static"
assert_contains "$(docker run --rm --network host "$theirs" version)" "OpenSSL 3" "the image's version"

# the same image as make image makes: the config, and the layer when both
# took the CA bundle from the same ca-certificates version (the build stage
# installs the mirror's newest; a machine may lag behind it). Otherwise the
# same files but the bundle: names, modes, owners, dates and bytes.
host_ca=$(dpkg-query -W -f='${Version}' ca-certificates)
build_ca=$(grep -o 'ca-certificates all [^ ]*' "$T/docker-build.log" | head -n 1 | cut -d' ' -f3)
build_ca=${build_ca:-$host_ca}	# not installed by the build: the base's, as here
layers=', Layers: .RootFS.Layers'
[ "$host_ca" = "$build_ca" ] || layers=
conf="{Architecture, Os, Config: (.Config | {User, Env, Entrypoint, Cmd, Healthcheck, Labels, WorkingDir})$layers}"
a=$(docker image inspect "$mine" | jq -cS ".[0] | $conf")
b=$(docker image inspect "$theirs" | jq -cS ".[0] | $conf")
for i in "$mine" "$theirs"; do
	mkdir "$T/fs-$i"
	cid=$(docker create "$i")
	docker export "$cid" | tar -x -C "$T/fs-$i"
	docker rm "$cid" >/dev/null
done
files="mailu-cert-agent etc/passwd etc/group etc/ssl etc/ssl/certs etc/ssl/certs/ca-certificates.crt"
for f in $files; do
	assert_eq "$(cd "$T/fs-$mine" && stat -c '%n %a %u:%g %Y' "$f")" \
		"$(cd "$T/fs-$theirs" && stat -c '%n %a %u:%g %Y' "$f")" "mode, owner and date of /$f"
	[ -f "$T/fs-$mine/$f" ] || continue
	[ "$f" != etc/ssl/certs/ca-certificates.crt ] || [ -n "$layers" ] || continue
	cmp -s "$T/fs-$mine/$f" "$T/fs-$theirs/$f" || fail "/$f differs"
done
if [ "$a" != "$b" ]; then
	diff <(jq . <<<"$a") <(jq . <<<"$b") >&2 || true
	fail "the image from docker build differs from make image's"
fi
if [ -n "$layers" ]; then
	pass "sha256 $want, the same layer"
fi
log "CA bundles of ca-certificates $host_ca (this machine) and $build_ca (the build stage): the layers differ by it alone"
pass "sha256 $want, the same files but the CA bundle"
