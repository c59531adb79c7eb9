#!/usr/bin/env bash
# Install the Debian packages the project needs on the machine that runs it, when missing: one apt
# run (apt's lock is the machine's; nothing else of `make setup` runs apt once this is done).
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
# The engine's package too (with its recommends, as scripts/ensure-docker.sh installs it) when no
# dockerd is installed: `make setup` then makes the venv and the base image at once.
engine=()
command -v dockerd >/dev/null || engine=(docker.io)
if [ $((${#need[@]} + ${#engine[@]})) -gt 0 ]; then
  echo "vnet.lab: installing Debian packages: ${need[*]} ${engine[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#need[@]} = 0 ] || apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ ${#engine[@]} = 0 ] || apt-get install -y -qq "${engine[@]}" >/dev/null
fi
