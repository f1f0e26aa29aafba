#!/usr/bin/env bash
# Install every Debian package needed to build and test mailu-cert-agent,
# and enable deb-src so scripts/static-deps.sh can `apt-get source`.
# Idempotent; a warm run (everything present) does no network I/O.
#   --static  only what `make static` needs (the Dockerfile's build stage)
#   --arm64   also the aarch64 cross toolchain and qemu-user (`make
#             static-arm64`, `make test-arm64`): not for `make test`
set -euo pipefail

static_only=0 arm64=0
for a in "$@"; do
  case $a in
    --static) static_only=1 ;;
    --arm64) arm64=1 ;;
    *) echo "usage: install-deps.sh [--static] [--arm64]" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# `make static`: musl, and the static deps from Debian source packages
# (static-deps.sh); git for the version (git describe)
STATIC_PACKAGES=(
  build-essential make musl-tools git ca-certificates
  dpkg-dev cmake perl patch xz-utils bzip2 file linux-libc-dev
)
PACKAGES=(
  "${STATIC_PACKAGES[@]}"
  # toolchains: glibc for tests/tools
  gcc pkg-config clang valgrind
  # dynamic dev libs for the glibc debug/test build (c-ares: DANE's TLSA lookups)
  libssl-dev libcurl4-openssl-dev libjansson-dev libc-ares-dev
  # runtime/test tooling
  ca-certificates openssl curl jq python3 procps iproute2
  # image build and test rootfs
  docker.io debootstrap
  # a real ACME CA and real ACME clients on loopback (tests/lib/acme.sh)
  pebble certbot lego
  # compose-example/ under Debian's compose 1.29, and a filtering Docker API
  # proxy (tests/integration/30-compose.sh, 31-socket-proxy.sh)
  docker-compose haproxy
  # issue 7: libFuzzer (clang-14's runtime), a shifted wall clock for the
  # clock-jump test, a unix-socket relay for the engine fault tests
  clang-14 libclang-rt-14-dev faketime libfaketime socat
  # issue 15: a real DNS server on loopback serving TLSA records
  # (tests/integration/69-dane.sh)
  dnsmasq-base
)

# `make static-arm64`: Debian's aarch64 cross gcc with musl and the kernel
# headers of arm64 (multiarch), and qemu-user to run what it builds
ARM64_PACKAGES=(gcc-aarch64-linux-gnu musl-dev:arm64 linux-libc-dev:arm64 qemu-user-static)

[ "$static_only" = 0 ] || PACKAGES=("${STATIC_PACKAGES[@]}")
[ "$arm64" = 0 ] || PACKAGES+=("${ARM64_PACKAGES[@]}")

SOURCES=/etc/apt/sources.list.d/debian.sources
need_update=0

# arm64 packages (musl-dev:arm64) need the architecture known to dpkg.
if [[ " ${PACKAGES[*]} " == *:arm64\ * ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  echo "install-deps.sh: added the arm64 architecture (dpkg)" >&2
  need_update=1
fi

# deb-src: turn `Types: deb` into `Types: deb deb-src` (a line that already
# names deb-src no longer matches, so this is idempotent).
if [ -f "$SOURCES" ] && grep -qx 'Types: deb' "$SOURCES"; then
  sed -i 's/^Types: deb$/Types: deb deb-src/' "$SOURCES"
  echo "install-deps.sh: enabled deb-src in $SOURCES" >&2
  need_update=1
fi
# A one-line sources.list (debootstrap's): a deb-src line beside each deb line.
if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list &&
  ! grep -q '^deb-src ' /etc/apt/sources.list; then
  src=$(sed -n 's/^deb /deb-src /p' /etc/apt/sources.list)
  printf '%s\n' "$src" >>/etc/apt/sources.list
  echo "install-deps.sh: enabled deb-src in /etc/apt/sources.list" >&2
  need_update=1
fi
# Source indexes missing (fresh machine, or lists cleaned): refresh.
if ! compgen -G '/var/lib/apt/lists/*_Sources*' >/dev/null; then
  need_update=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  # one line per installed arch (linux-libc-dev: amd64 and arm64)
  st=$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | sort -u || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  need_update=1
fi

if [ "$need_update" -eq 1 ]; then
  # Retry once: mirrors occasionally answer with a transient hash mismatch.
  apt-get update >&2 || { sleep 5; apt-get update >&2; }
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}" >&2
  apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

# promtool (tests/integration/41, 42: `promtool check metrics`, `check rules`,
# `test rules`). Only promtool, taken out of Debian's prometheus .deb: the
# package would also install the server, and its postinst starts it on
# :9090 (all addresses) wherever init scripts run, with a dozen libjs
# dependencies for its web UI. The .deb is fetched with apt-get download
# (the same mirror, signature and version apt would install).
if [ "$static_only" = 0 ] && ! command -v promtool >/dev/null 2>&1; then
  [ "$need_update" -eq 1 ] || apt-get update >&2
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true	# apt's download sandbox user
  (cd "$tmp" && apt-get download prometheus >&2)
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb |
    tar -x -O ./usr/bin/promtool >/usr/local/bin/promtool.new
  chmod 0755 /usr/local/bin/promtool.new
  mv /usr/local/bin/promtool.new /usr/local/bin/promtool
  rm -rf "$tmp"
  echo "install-deps.sh: installed $(promtool --version 2>&1 | head -n 1)" >&2
fi

echo "install-deps.sh: all build/test packages present" >&2
