#!/usr/bin/env bash
# Build OpenSSL, libcurl, jansson and c-ares as static musl libraries from
# Debian bookworm source packages, into a cached install prefix.
#
# Usage: P=$(scripts/static-deps.sh [ARCH])
#   ARCH: x86_64 or aarch64 (default: this machine's). aarch64 on an x86_64
#   host is cross-compiled with Debian's gcc-aarch64-linux-gnu and musl-dev:arm64,
#   and its smoke test runs under qemu-aarch64-static.
# Prints exactly one line on stdout: the absolute prefix path, which holds
#   include/  lib/{libssl,libcrypto,libcurl,libjansson,libcares}.a  kernel-include/
# Logs go to stderr and to <cache>/deps-<key>.log.
# Link a consumer with ($CC: musl-gcc, or aarch64-linux-musl-gcc):
#   $CC -static -idirafter $P/kernel-include -I$P/include ... \
#     -L$P/lib -lcurl -lssl -lcrypto -lcares -ljansson -lresolv -lpthread
# (curl-config --static-libs is not reliable here; link explicitly.)
#
# Reproducible: the libraries hold no path of the cache, of the work dir or
# of the clone, and no build date, so the same pins and toolchain give the
# same bytes wherever and whenever they are built (`make test-repro`). The
# install prefix baked in (OpenSSL's ENGINESDIR/MODULESDIR, .pc files,
# curl-config) is the fixed $FIXED_PREFIX, never used at run time; the files
# are installed with DESTDIR and moved into the cache.
#
# Needs the packages from scripts/install-deps.sh (musl-tools, cmake,
# dpkg-dev, deb-src enabled; for aarch64 the cross packages). Does not need root.
set -euo pipefail

# Pinned Debian source versions. Bookworm main keeps only its newest version,
# so a point release can retire a pin: then `apt-cache showsrc NAME` shows
# what is current; update the pin (the cache key changes with it).
DEB_OPENSSL=3.0.20-1~deb12u2
DEB_CURL=7.88.1-10+deb12u15
DEB_JANSSON=2.14-2
DEB_CARES=1.18.1-3

# Debian patches that must not be applied: curl's packaging keeps its GnuTLS
# and NSS flavours as the last two patches; its OpenSSL build pops them.
CURL_SKIP_PATCHES=(90_gnutls.patch 99_nss.patch)

# The prefix the libraries are configured for (see above).
FIXED_PREFIX=/usr/local/lib/mailu-cert-agent

script=$(readlink -f "${BASH_SOURCE[0]}")
say() { echo "static-deps: $*" >&2; }
die() { say "ERROR: $*"; [ -z "${log:-}" ] || say "log: $log"; exit 1; }

arch=${1:-$(uname -m)}
case $arch in
  x86_64) gnu=x86_64-linux-gnu deb_arch=amd64 ossl_target=linux-x86_64 ;;
  aarch64) gnu=aarch64-linux-gnu deb_arch=arm64 ossl_target=linux-aarch64 ;;
  *) die "unsupported architecture $arch (x86_64 or aarch64)" ;;
esac
# musl-dev:<arch> ships ARCH-linux-musl-gcc: the GNU cross (or native) gcc
# with musl's specs; binutils are the GNU ones of the same arch.
cc=$arch-linux-musl-gcc
export AR=$gnu-ar RANLIB=$gnu-ranlib NM=$gnu-nm
# The smoke test runs what it built: natively, or under qemu-user.
run=()
[ "$arch" = "$(uname -m)" ] || run=("qemu-$arch-static")

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/mailu-cert-agent
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd -P)

# The key covers the pins, this script, the arch and the toolchain (musl,
# gcc, binutils), so any change to what would be built selects a fresh
# prefix, and a cached prefix gives the bytes a cold build would.
toolchain() {
  dpkg-query -W -f='musl=${Version} ' "musl-dev:$deb_arch" 2>/dev/null || echo -n 'musl=none '
  "$gnu-gcc" -v 2>&1 | tail -n 1
  "$gnu-ld" -v 2>/dev/null || echo 'ld none'
}
key=$( { echo "$DEB_OPENSSL $DEB_CURL $DEB_JANSSON $DEB_CARES $arch"; toolchain; cat "$script"; } \
  | sha256sum | cut -c1-16)
prefix=$cache_root/deps-$key

# Fast path: an existing prefix is complete (it only appears by rename).
if [ -d "$prefix" ]; then
  echo "$prefix"
  exit 0
fi

for tool in "$cc" "$gnu-gcc" "$AR" "$RANLIB" cmake make perl dpkg-source \
  dpkg-parsechangelog apt-get patch file flock "${run[@]}"; do
  command -v "$tool" >/dev/null || die "missing $tool; run scripts/install-deps.sh as root"
done

# One build per key at a time; a second caller waits, then reuses the result.
exec 9>>"$cache_root/.deps-$key.lock"
if ! flock -n 9; then
  say "another build of $key is running; waiting for it"
  flock 9
fi
if [ -d "$prefix" ]; then
  echo "$prefix"
  exit 0
fi

log=$cache_root/deps-$key.log
: >"$log"
# stdout is reserved for the final path (fd 3); everything else -> log+stderr.
exec 3>&1 1> >(tee -a "$log" >&2 3>&- 9>&-) 2>&1

# Leftovers of an interrupted build of this key (we hold its lock now).
rm -rf "$cache_root/.build-$key."*

# The work dir lives next to the prefix so the final rename stays on one
# filesystem (atomic); it is removed whatever happens.
work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Install with DESTDIR into $stage; $stage$FIXED_PREFIX is renamed at the end.
stage=$work/stage
sp=$stage$FIXED_PREFIX
mkdir -p "$sp/lib" "$sp/include" "$work/src" "$work/dl"

jobs=$(nproc)
start=$(date +%s)
say "building $arch into $prefix (key $key, $jobs jobs)"

# No locale, time zone or umask of the caller leaks into what is built.
export LC_ALL=C TZ=UTC
umask 022

# musl-gcc has no Linux kernel headers; borrow the host's (uapi headers are
# libc-independent). C_INCLUDE_PATH puts them after musl's own, as
# -idirafter would, without naming the (random) work dir in any flags:
# OpenSSL embeds its compiler flags in the library (`openssl version -a`).
mkdir "$sp/kernel-include"
for d in /usr/include/linux /usr/include/asm-generic "/usr/include/$gnu/asm"; do
  [ -d "$d" ] || die "missing $d (package linux-libc-dev:$deb_arch)"
  ln -s "$d" "$sp/kernel-include/"
done
export C_INCLUDE_PATH=$sp/kernel-include

# fetch NAME VERSION -> unpacked, unpatched source in $work/src/NAME
fetch() {
  local name=$1 version=$2 dl=$work/dl/$1
  mkdir -p "$dl"
  say "apt-get source $name=$version"
  # Sandbox user root: the mktemp dir is not writable by _apt.
  (cd "$dl" && apt-get source --download-only -o APT::Sandbox::User=root "$name=$version") \
    || die "cannot download $name=$version (deb-src enabled? pin retired? see: apt-cache showsrc $name)"
  dpkg-source --skip-patches -x "$dl/${name}_${version#*:}.dsc" "$work/src/$name"
}

# apply_series DIR SKIP... : apply debian/patches/series in order, minus SKIP
apply_series() {
  local dir=$1; shift
  local series=$dir/debian/patches/series name opts
  [ -f "$series" ] || return 0
  while read -r name opts; do
    case $name in ''|'#'*) continue ;; esac
    if [[ " $* " == *" $name "* ]]; then
      say "  skip patch $name"
      continue
    fi
    patch -d "$dir" -s -N "${opts:--p1}" <"$dir/debian/patches/$name" \
      || die "patch $name failed"
  done <"$series"
}

fetch openssl "$DEB_OPENSSL"
fetch curl "$DEB_CURL"
fetch jansson "$DEB_JANSSON"
fetch c-ares "$DEB_CARES"
apply_series "$work/src/openssl"
apply_series "$work/src/curl" "${CURL_SKIP_PATCHES[@]}"
apply_series "$work/src/jansson"
apply_series "$work/src/c-ares"

# Sections per function/object let the agent link with --gc-sections. The
# prefix map keeps the work dir out of __FILE__ (CMake compiles with
# absolute paths); curl, jansson and c-ares do not embed their flags.
common_cflags="-O2 -pipe -ffunction-sections -fdata-sections -ffile-prefix-map=$work/src/=/usr/src/"
# Keep the host's (glibc) pkg-config files out of every musl configure.
export PKG_CONFIG_LIBDIR=$sp/lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$stage
unset CFLAGS CPPFLAGS LDFLAGS LIBS
# cross: configure and CMake must not try to run what they build
configure_args=() cmake_args=()
if [ "${#run[@]}" -gt 0 ]; then
  configure_args=(--host="$arch-linux-musl" --build="$(gcc -dumpmachine)")
  cmake_args=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="$arch")
fi
# aarch64: gcc's outline atomics (libgcc's lse-init.o) need musl's
# __getauxval, which libc.a has and libc.so does not export, so a test
# program that links libcrypto dynamically fails (curl: "OpenSSL could not
# be detected"). configure's and CMake's test programs link statically, as
# everything built on these libraries does.
if [ "$arch" = aarch64 ]; then
  configure_args+=(LDFLAGS=-static)
  cmake_args+=(-DCMAKE_EXE_LINKER_FLAGS=-static -DCMAKE_POLICY_DEFAULT_CMP0056=NEW)
fi
# Any date a build embeds is the package's own: its last changelog entry.
changelog_date() { dpkg-parsechangelog -l "$work/src/$1/debian/changelog" -STimestamp; }

# --- OpenSSL -------------------------------------------------------------
# no-async: musl lacks makecontext. no-module/no-engine: nothing loaded at
# run time in a scratch image. openssldir=/etc/ssl: Debian's CA layout.
# Flags given to Configure (not via CFLAGS) keep its own -O3 defaults.
# Its "built on" date (crypto/buildinf.h) follows SOURCE_DATE_EPOCH.
say "openssl: configure"
(
  cd "$work/src/openssl"
  export SOURCE_DATE_EPOCH; SOURCE_DATE_EPOCH=$(changelog_date openssl)
  CC=$cc ./Configure "$ossl_target" \
    no-shared no-module no-async no-tests no-engine no-comp \
    --prefix="$FIXED_PREFIX" --libdir=lib --openssldir=/etc/ssl \
    -ffunction-sections -fdata-sections
  say "openssl: build"
  make -j"$jobs" build_libs
  # install_dev: headers, .a and .pc only (no CLI, no man pages)
  make install_dev DESTDIR="$stage"
) || die "openssl build failed"

# --- curl ----------------------------------------------------------------
# HTTP(S) over OpenSSL plus unix sockets (docker API); everything else off.
# CA: no bundle compiled in; --with-ca-fallback makes curl use OpenSSL's
# defaults, which honour SSL_CERT_FILE / SSL_CERT_DIR.
say "curl: configure"
(
  cd "$work/src/curl"
  export SOURCE_DATE_EPOCH; SOURCE_DATE_EPOCH=$(changelog_date curl)
  CC=$cc CFLAGS="$common_cflags" \
  ./configure "${configure_args[@]}" --prefix="$FIXED_PREFIX" --libdir="$FIXED_PREFIX/lib" \
    --disable-dependency-tracking --disable-silent-rules \
    --disable-shared --enable-static \
    --with-openssl="$sp" --with-ca-fallback \
    --without-ca-bundle --without-ca-path \
    --enable-unix-sockets \
    --disable-ldap --disable-ldaps --disable-ftp --disable-file \
    --disable-dict --disable-gopher --disable-imap --disable-pop3 \
    --disable-smtp --disable-telnet --disable-tftp --disable-rtsp \
    --disable-mqtt --disable-smb --disable-manual --disable-ntlm \
    --disable-ntlm-wb \
    --without-zlib --without-brotli --without-zstd --without-libpsl \
    --without-libidn2 --without-nghttp2 --without-nghttp3 \
    --without-ngtcp2 --without-librtmp --without-libssh2 \
    --without-libgsasl
  say "curl: build"
  make -j"$jobs" -C lib
  make -C lib install DESTDIR="$stage"
  make -C include install DESTDIR="$stage"
  make install-pkgconfigDATA install-binSCRIPTS DESTDIR="$stage"
) || die "curl build failed"

# cmake_build NAME CMAKE-ARGS...: the static library of a CMake project
cmake_build() {
  local name=$1; shift
  say "$name: configure"
  (
    cd "$work/src/$name"
    export SOURCE_DATE_EPOCH; SOURCE_DATE_EPOCH=$(changelog_date "$name")
    CC=$cc CFLAGS="$common_cflags" cmake -S . -B build "${cmake_args[@]}" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_AR="$(command -v "$AR")" \
      -DCMAKE_RANLIB="$(command -v "$RANLIB")" \
      -DCMAKE_INSTALL_PREFIX="$FIXED_PREFIX" -DCMAKE_INSTALL_LIBDIR=lib "$@"
    say "$name: build"
    make -C build -j"$jobs"
    make -C build install DESTDIR="$stage"
  ) || die "$name build failed"
}

# --- jansson -------------------------------------------------------------
# The orig tarball ships no configure script: use its CMake build.
cmake_build jansson -DBUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
  -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON

# --- c-ares --------------------------------------------------------------
# The TLSA lookups of the DANE check (agent/dane.c). Its CMake build: the
# static library only, no tools, no tests.
cmake_build c-ares -DCARES_STATIC=ON -DCARES_SHARED=OFF -DCARES_STATIC_PIC=OFF \
  -DCARES_BUILD_TOOLS=OFF -DCARES_BUILD_TESTS=OFF -DCARES_INSTALL=ON

# --- smoke test ------------------------------------------------------------
# Link a program against all four the way the agent will, run it (under
# qemu-user when cross-built), and make sure the result is really static.
say "smoke test"
cat >"$work/smoke.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <jansson.h>
#include <ares.h>

int main(void) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!(v->features & CURL_VERSION_SSL)) return 2;
    if (!(v->features & CURL_VERSION_UNIX_SOCKETS)) return 3;
    if (strncmp(v->ssl_version, "OpenSSL/", 8) != 0) return 4;
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) return 6;
    ares_channel ch;
    if (ares_init(&ch) != ARES_SUCCESS) return 7;
    ares_destroy(ch);
    ares_library_cleanup();
    json_t *o = json_pack("{s:s,s:s,s:s}", "curl", curl_version(),
                          "openssl", OpenSSL_version(OPENSSL_VERSION),
                          "c-ares", ares_version(NULL));
    char *s = o ? json_dumps(o, JSON_SORT_KEYS) : NULL;
    if (!s) return 5;
    puts(s);
    free(s);
    json_decref(o);
    curl_global_cleanup();
    return 0;
}
C
"$cc" -static -Os -I"$sp/include" "$work/smoke.c" \
  -o "$work/smoke" -L"$sp/lib" -lcurl -lssl -lcrypto -lcares -ljansson -lresolv -lpthread \
  || die "smoke test does not link"
"${run[@]}" "$work/smoke" || die "smoke test failed (exit $?)"
file -b "$work/smoke" | grep -q 'statically linked' \
  || die "smoke test is not static: $(file -b "$work/smoke")"
for lib in libssl libcrypto libcurl libjansson libcares; do
  [ -f "$sp/lib/$lib.a" ] || die "missing $lib.a"
done

# Keep only what consumers need; libtool archives name the staging paths.
rm -f "$sp"/lib/*.la
say "done in $(( $(date +%s) - start ))s"
cp "$log" "$sp/build.log"
mv -T "$sp" "$prefix"
echo "$prefix" >&3
