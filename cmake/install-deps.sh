#!/usr/bin/env bash
# Installs conpar's build, test and plotting dependencies from Debian's archive; idempotent.
set -euo pipefail
pkgs=(g++ cmake make ninja-build git libbenchmark-dev libgtest-dev libgmock-dev libtbb-dev libboost-dev
      nlohmann-json3-dev libcli11-dev python3 python3-matplotlib python3-numpy python3-scipy
      python3-pytest python3-pytest-xdist python3-yaml libbenchmark-tools chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "conpar: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Another apt run (an image's first boot, a parallel job) may hold the lock: wait for it, do not fail.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
