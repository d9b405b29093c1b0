#!/usr/bin/env bash
# Everything Hexagone needs on a fresh Debian 12 machine: Debian packages, the virtualenv, the package.
# Idempotent and quick when nothing changed (stamp files under .venv/).
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  # state
  postgresql postgresql-contrib
  # invoices: PDF/A embeds its fonts
  fonts-dejavu-core
  # compute hosts: QEMU, image tools, guest networking
  qemu-system-x86 qemu-utils busybox-static cpio genisoimage dnsmasq-base iproute2 nftables
  openssh-client debootstrap e2fsprogs
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root or install them)" >&2; exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.hexagone-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
