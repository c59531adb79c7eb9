#!/usr/bin/env bash
# Make sure the lab's base image exists on the local engine.
#   VNET_BASE_IMAGE   name of the image to provide      (default vnet/base:bookworm)
#   VNET_BASE_SOURCE  auto | pull | debootstrap          (default auto)
# auto pulls debian:bookworm-slim and falls back to debootstrap + docker import
# when no registry answers (air-gapped classrooms, this project's CI).
set -euo pipefail

image=${VNET_BASE_IMAGE:-vnet/base:bookworm}
source=${VNET_BASE_SOURCE:-auto}
suite=${VNET_BASE_SUITE:-bookworm}
mirror=${VNET_BASE_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi

if [ "$source" = auto ] || [ "$source" = pull ]; then
  if timeout 60 docker pull -q "debian:${suite}-slim" >/dev/null 2>&1; then
    docker tag "debian:${suite}-slim" "$image"
    echo "vnet.lab: base image $image from debian:${suite}-slim"
    exit 0
  fi
  if [ "$source" = pull ]; then
    echo "vnet.lab: could not pull debian:${suite}-slim" >&2
    exit 1
  fi
  echo "vnet.lab: no registry answers; building $image with debootstrap"
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
root=$(mktemp -d /var/tmp/vnet-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
# Keep images small: no apt caches, no docs, as the slim image does.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' - "$image" >/dev/null
echo "vnet.lab: base image $image built with debootstrap ($suite)"
