#!/bin/bash
# tests/lib/front-image.sh — build and cache the front test image.
#
# Run it (./tests/lib/front-image.sh [--rebuild]) or source it and call
# front_image_ensure. Needs a running engine (engine_up from engine.sh; run as
# a script it calls engine_up/engine_down itself).
#
# Three cached stages, each keyed by a hash of what it is made of:
#   1. rootfs tarball  ${MCA_CACHE_DIR}/front-rootfs-<rkey>.tar
#        debootstrap --variant=minbase bookworm + packages, trimmed. Slow
#        (~1-2 min, network), so cached outside the repo and outside docker.
#        rkey = hash(suite, variant, package list, this recipe's source).
#   2. base image      mca-front-base:<rkey>          (docker import, seconds)
#   3. test images, each also tagged :latest, built FROM the base image:
#        mca-front-test:<key>   docker/front-test/, the lookalike front
#        mca-front-mailu:<mkey> docker/front-mailu/, shaped like Mailu's real
#                               front (FRONT_KIND=mailu in tests/lib/front.sh)
#        key = hash(rkey, files of the context dir).
#
# Exports after front_image_ensure:
#   FRONT_IMAGE            mca-front-test:<key>
#   FRONT_IMAGE_KEY        <key>
#   FRONT_MAILU_IMAGE      mca-front-mailu:<mkey>
#   FRONT_MAILU_IMAGE_KEY  <mkey>
#   FRONT_BASE_IMAGE       mca-front-base:<rkey>
#   FRONT_ROOTFS_TAR       path of the cached rootfs tarball
#   FRONT_IMAGE_TIMES      "debootstrap=Ns trim+tar=Ns import=Ns build=Ns mailu_build=Ns" (0 = cached)
#
# Environment:
#   MCA_CACHE_DIR      ${XDG_CACHE_HOME:-$HOME/.cache}/mailu-cert-agent
#   MCA_DEBIAN_MIRROR  http://deb.debian.org/debian
#   MCA_FRONT_REBUILD  1 = ignore all caches

MCA_FRONT_SUITE=bookworm
MCA_FRONT_VARIANT=minbase
# nginx (Debian's core build has ssl + realip) with the dynamic mail module,
# dovecot with every protocol Mailu's front serves, openssl for debugging and
# for the probes inside, procps for ps, gettext-base for envsubst in /start.sh.
MCA_FRONT_PACKAGES=nginx,libnginx-mod-mail,dovecot-core,dovecot-imapd,dovecot-pop3d,dovecot-submissiond,dovecot-managesieved,openssl,procps,gettext-base

_fi_log() { printf 'front-image: %s\n' "$*" >&2; }

_fi_dirs() {
	MCA_CACHE_DIR=${MCA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mailu-cert-agent}
	MCA_FRONT_CONTEXT=${MCA_FRONT_CONTEXT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../docker/front-test" && pwd)}
	MCA_FRONT_MAILU_CONTEXT=${MCA_FRONT_MAILU_CONTEXT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../docker/front-mailu" && pwd)}
}

# Trim the debootstrapped tree in $1. Part of the rootfs key (its source is hashed).
_front_rootfs_trim() {
	local r=$1
	# Docs, man pages, translations, package lists and downloaded .debs: not
	# needed to run, about half the size.
	rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
		"$r"/usr/share/lintian "$r"/usr/share/linda "$r"/usr/share/bug \
		"$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
		"$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
		"$r"/var/log/*.log "$r"/var/log/apt/* "$r"/tmp/* "$r"/var/tmp/*
	find "$r"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
	# The self-signed keys the postinsts of dovecot-core and ssl-cert generate:
	# a test must never be served a certificate it did not put in /certs.
	rm -rf "$r"/etc/dovecot/private
	rm -f "$r"/etc/ssl/certs/ssl-cert-snakeoil.pem "$r"/etc/ssl/private/ssl-cert-snakeoil.key
	find "$r"/etc/ssl/certs -xtype l -delete # hash links to the removed snakeoil cert
	# Configs are rendered by /start.sh from the templates; drop the stock ones
	# so nothing can be picked up by accident.
	rm -rf "$r"/etc/dovecot/conf.d "$r"/etc/nginx/sites-enabled/* "$r"/etc/nginx/conf.d/*
	: >"$r"/etc/dovecot/users # empty passwd-file: services start, nobody logs in
	chmod 0644 "$r"/etc/dovecot/users
	mkdir -p "$r"/certs "$r"/etc/mca
}

_front_rootfs_build() { # OUT_TAR
	local out=$1 tmp t0 t1 t2
	mkdir -p "$MCA_CACHE_DIR"
	# Same filesystem as the cache: the final mv is atomic. Not tmpfs/nodev:
	# debootstrap makes device nodes and executes the tree's binaries.
	tmp=$(mktemp -d "$MCA_CACHE_DIR/rootfs-build.XXXXXX")
	_fi_log "debootstrap $MCA_FRONT_SUITE into $tmp (packages: $MCA_FRONT_PACKAGES)"
	t0=$(date +%s)
	if ! debootstrap --variant="$MCA_FRONT_VARIANT" --include="$MCA_FRONT_PACKAGES" \
		"$MCA_FRONT_SUITE" "$tmp/root" "${MCA_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
		>"$tmp/debootstrap.log" 2>&1; then
		_fi_log "debootstrap failed; tail of $tmp/debootstrap.log:"
		tail -n 30 "$tmp/debootstrap.log" >&2
		# Leave $tmp for inspection but make sure nothing stays mounted in it.
		umount -R "$tmp/root/proc" "$tmp/root/sys" 2>/dev/null || true
		return 1
	fi
	t1=$(date +%s)
	# debootstrap unmounts proc/sys on success; refuse to tar a mounted tree.
	if grep -q " $tmp/root/" /proc/mounts; then
		_fi_log "something is still mounted under $tmp/root"
		return 1
	fi
	_front_rootfs_trim "$tmp/root"
	# /dev is provided by the runtime; numeric owners so no name lookups.
	tar --numeric-owner --one-file-system -C "$tmp/root" --exclude=./dev/* -cf "$tmp/rootfs.tar" .
	mv -f "$tmp/rootfs.tar" "$out"
	t2=$(date +%s)
	rm -rf "$tmp"
	_FI_T_DEBOOTSTRAP=$((t1 - t0))
	_FI_T_TAR=$((t2 - t1))
	_fi_log "rootfs $(du -h "$out" | cut -f1) in $out (debootstrap ${_FI_T_DEBOOTSTRAP}s, trim+tar ${_FI_T_TAR}s)"
}

_front_rootfs_key() {
	{
		echo "suite=$MCA_FRONT_SUITE variant=$MCA_FRONT_VARIANT packages=$MCA_FRONT_PACKAGES"
		declare -f _front_rootfs_trim _front_rootfs_build
	} | sha256sum | cut -c1-16
}

_front_context_key() { # RKEY [CONTEXT]
	{
		echo "rkey=$1"
		local f
		for f in "${2:-$MCA_FRONT_CONTEXT}"/*; do
			printf '%s %s\n' "$(basename "$f")" "$(stat -c %a "$f")"
			cat "$f"
		done
	} | sha256sum | cut -c1-16
}

# Older generations (other keys) would pile up at ~140 MB each: drop them.
# Plain rmi (no -f): an image a running container uses stays.
_front_image_prune() { # RKEY KEY MAILU_KEY
	local ref f
	for ref in $(docker images --format '{{.Repository}}:{{.Tag}}' mca-front-test) \
		$(docker images --format '{{.Repository}}:{{.Tag}}' mca-front-mailu) \
		$(docker images --format '{{.Repository}}:{{.Tag}}' mca-front-base); do
		case $ref in
		mca-front-test:latest | "mca-front-test:$2" | "mca-front-base:$1") ;;
		mca-front-mailu:latest | "mca-front-mailu:$3") ;;
		*) docker rmi "$ref" >/dev/null 2>&1 || true ;;
		esac
	done
	for f in "$MCA_CACHE_DIR"/front-rootfs-*.tar; do
		[ -e "$f" ] && [ "$f" != "$MCA_CACHE_DIR/front-rootfs-$1.tar" ] && rm -f "$f"
	done
	return 0
}

_fi_image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# _fi_build IMAGE CONTEXT BASE: docker build, seconds in _FI_T_BUILD.
# Legacy builder is enough (no RUN steps); its "deprecated" warning (no
# buildx plugin here) is harmless, so output is only shown on failure.
_fi_build() {
	local img=$1 ctx=$2 base=$3 t0 t1
	_fi_log "docker build $img from $ctx"
	t0=$(date +%s.%N)
	if ! DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" \
		-t "$img" -t "${img%%:*}:latest" "$ctx" >"$MCA_CACHE_DIR/front-build.log" 2>&1; then
		_fi_log "docker build failed:"
		cat "$MCA_CACHE_DIR/front-build.log" >&2
		return 1
	fi
	t1=$(date +%s.%N)
	_FI_T_BUILD=$(awk "BEGIN{printf \"%.1f\", $t1-$t0}")
}

front_image_ensure() {
	_fi_dirs
	local rkey key mkey tar base img mimg t0 t1 lockfd built=0
	_FI_T_DEBOOTSTRAP=0 _FI_T_TAR=0
	local t_import=0 t_build=0 t_mbuild=0
	rkey=$(_front_rootfs_key)
	key=$(_front_context_key "$rkey")
	mkey=$(_front_context_key "$rkey" "$MCA_FRONT_MAILU_CONTEXT")
	tar=$MCA_CACHE_DIR/front-rootfs-$rkey.tar
	base=mca-front-base:$rkey
	img=mca-front-test:$key
	mimg=mca-front-mailu:$mkey
	mkdir -p "$MCA_CACHE_DIR"

	# Serialize concurrent builders (two test shells at once).
	exec {lockfd}>"$MCA_CACHE_DIR/front-image.lock"
	flock -w 900 "$lockfd" || { _fi_log "lock timeout"; exec {lockfd}>&-; return 1; }

	if [ "${MCA_FRONT_REBUILD:-0}" = 1 ]; then
		rm -f "$tar"
		docker rmi -f "$img" "$mimg" "$base" >/dev/null 2>&1 || true
	fi

	if ! _fi_image_exists "$img" || ! _fi_image_exists "$mimg"; then
		if ! _fi_image_exists "$base"; then
			if [ ! -s "$tar" ]; then
				if ! _front_rootfs_build "$tar"; then exec {lockfd}>&-; return 1; fi
			fi
			_fi_log "docker import $tar as $base"
			t0=$(date +%s.%N)
			if ! docker import \
				--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
				"$tar" "$base" >/dev/null; then
				exec {lockfd}>&-
				return 1
			fi
			t1=$(date +%s.%N)
			t_import=$(awk "BEGIN{printf \"%.1f\", $t1-$t0}")
		fi
		if ! _fi_image_exists "$img"; then
			_fi_build "$img" "$MCA_FRONT_CONTEXT" "$base" || { exec {lockfd}>&-; return 1; }
			t_build=$_FI_T_BUILD
		fi
		if ! _fi_image_exists "$mimg"; then
			_fi_build "$mimg" "$MCA_FRONT_MAILU_CONTEXT" "$base" || { exec {lockfd}>&-; return 1; }
			t_mbuild=$_FI_T_BUILD
		fi
		built=1
	fi
	docker tag "$img" mca-front-test:latest
	docker tag "$mimg" mca-front-mailu:latest
	if ((built)); then _front_image_prune "$rkey" "$key" "$mkey"; fi
	exec {lockfd}>&-

	export FRONT_IMAGE=$img FRONT_IMAGE_KEY=$key FRONT_BASE_IMAGE=$base FRONT_ROOTFS_TAR=$tar
	export FRONT_MAILU_IMAGE=$mimg FRONT_MAILU_IMAGE_KEY=$mkey
	export FRONT_IMAGE_TIMES="debootstrap=${_FI_T_DEBOOTSTRAP}s trim+tar=${_FI_T_TAR}s import=${t_import}s build=${t_build}s mailu_build=${t_mbuild}s"
	_fi_log "ready: $FRONT_IMAGE and $FRONT_MAILU_IMAGE ($FRONT_IMAGE_TIMES)"
}

# Run as a script: bring up an engine, ensure the image, leave the engine as it was.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	. "$(dirname "$0")/engine.sh"
	[ "${1:-}" = --rebuild ] && export MCA_FRONT_REBUILD=1
	engine_up
	trap engine_down EXIT
	front_image_ensure
	echo "$FRONT_IMAGE"
	echo "$FRONT_MAILU_IMAGE"
fi
