#!/usr/bin/env bash
# Installs every dependency from Debian 12 packages and builds Weir into ./build.
# Idempotent: a second run only rebuilds what changed. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  g++ meson ninja-build pkg-config
  libpcap-dev libpugixml-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev  # blocks/classify (JA3/JA4 hashes, QUIC Initial decryption) and the mPlane bridge
  libcpp-httplib-dev openssl  # the mPlane bridge: HTTPS, and certificates for its tests
  libdpdk-dev dpdk  # DpdkSource; its tests run on virtual devices
  # tests compare against independent tools
  tshark tcpdump tcptrace
  libndpi-bin  # ndpiReader: tests/ndpi_agreement.py
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  echo "setup: installing ${missing[*]}" >&2
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release -Dwerror=true >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built build/engine/cli/engine" >&2
