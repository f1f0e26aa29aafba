#!/usr/bin/env bash
# Install every Debian package needed to build and test mailu-cert-agent,
# and enable deb-src so scripts/static-deps.sh can `apt-get source`.
# Idempotent; a warm run (everything present) does no network I/O.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # toolchains: glibc for tests/tools, musl for the static release binary
  build-essential gcc make pkg-config musl-tools clang valgrind
  # building the static deps from Debian source packages (static-deps.sh)
  dpkg-dev cmake perl patch xz-utils bzip2 file linux-libc-dev
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

SOURCES=/etc/apt/sources.list.d/debian.sources
need_update=0

# deb-src: turn `Types: deb` into `Types: deb deb-src` (a line that already
# names deb-src no longer matches, so this is idempotent).
if [ -f "$SOURCES" ] && grep -qx 'Types: deb' "$SOURCES"; then
  sed -i 's/^Types: deb$/Types: deb deb-src/' "$SOURCES"
  echo "install-deps.sh: enabled deb-src in $SOURCES" >&2
  need_update=1
fi
# Source indexes missing (fresh machine, or lists cleaned): refresh.
if ! compgen -G '/var/lib/apt/lists/*_Sources*' >/dev/null; then
  need_update=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
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
if ! command -v promtool >/dev/null 2>&1; then
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
