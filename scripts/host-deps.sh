#!/usr/bin/env bash
# Install the Debian packages the project needs on the machine that runs it, when missing.
set -euo pipefail
need=()
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v dot >/dev/null || need+=(graphviz)
command -v git >/dev/null || need+=(git)
command -v make >/dev/null || need+=(make)
command -v shellcheck >/dev/null || need+=(shellcheck)
if [ ${#need[@]} -gt 0 ]; then
  echo "vnet.lab: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
