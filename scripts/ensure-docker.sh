#!/usr/bin/env bash
# Make sure a Docker Engine answers on this machine. When none does, install
# Debian's docker.io (if dockerd is missing) and start dockerd in the background.
set -euo pipefail

log=${VNET_DOCKERD_LOG:-/var/log/vnet-dockerd.log}
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=$(command -v docker || true)

answers() { [ -n "$docker_cli" ] && timeout 10 "$docker_cli" info >/dev/null 2>&1; }

if answers; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "vnet.lab: no Docker Engine installed; installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
  docker_cli=/usr/bin/docker
fi

if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1 && answers; then
  echo "vnet.lab: started the docker service"
  exit 0
fi

echo "vnet.lab: no Docker Engine answers; starting dockerd in the background (log: $log)"
nohup dockerd >>"$log" 2>&1 &
for _ in $(seq 1 60); do
  if answers; then
    exit 0
  fi
  sleep 0.5
done
echo "vnet.lab: dockerd did not answer within 30 s; see $log" >&2
exit 1
