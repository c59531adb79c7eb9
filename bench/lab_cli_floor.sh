#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The docker-CLI floor of the reference lab: the same containers as the lab bench/lab brought up
# (same images, one per node and one per service), on the same networks, with plain `docker`
# commands and no configuration at all. bench/lab writes the spec on stdin (taken from the lab it
# ran: its networks, nodes, interfaces, addresses and service containers) and times this script:
#
#   bench/lab_cli_floor.sh up   < spec     networks, node containers (one job per node) with their
#                                          interfaces renamed and addressed, service containers
#   bench/lab_cli_floor.sh down < spec     every container and network labelled vnet.lab=<lab>
#
# Spec, one object per line, fields separated by spaces ("-" for none):
#   lab NAME                                      must start with "bench"
#   net NETWORK SUBNET GATEWAY
#   node NODE KIND IMAGE                          kind router|host (forwarding sysctls)
#   if NODE NETWORK PLACEHOLDER IFNAME ADDRESSES  ADDRESSES: comma-separated CIDRs, or -
#   lo NODE ADDRESS
#   svc NODE CONTAINER IMAGE SERVICE              runs `sleep infinity` in the node's namespace:
#                                                 without its configuration the daemon would exit
set -euo pipefail

action=${1:?usage: lab_cli_floor.sh up|down < spec}
spec=$(cat)
field() { awk -v kind="$1" '$1 == kind' <<<"$spec"; }
lab=$(field lab | awk '{print $2}')
case "$lab" in
  bench*) ;;
  *) echo "lab_cli_floor: the spec's lab must be named bench* (got '$lab')" >&2; exit 2 ;;
esac

down() {
  local ids
  mapfile -t ids < <(docker ps -aq --filter "label=vnet.lab=$lab")
  [ "${#ids[@]}" = 0 ] || docker rm -f "${ids[@]}" >/dev/null
  mapfile -t ids < <(docker network ls -q --filter "label=vnet.lab=$lab")
  [ "${#ids[@]}" = 0 ] || docker network rm "${ids[@]}" >/dev/null
}

if [ "$action" = down ]; then
  down
  exit 0
fi
[ "$action" = up ] || { echo "lab_cli_floor: unknown action $action" >&2; exit 2; }

# Segments: bridges without a host address and without masquerading.
while read -r _ net subnet gateway; do
  docker network create -o com.docker.network.bridge.inhibit_ipv4=true \
    -o com.docker.network.bridge.enable_ip_masquerade=false --subnet "$subnet" --gateway "$gateway" \
    --label "vnet.lab=$lab" "$net" >/dev/null &
done < <(field net)
wait

# One job per node: create on the first network, connect the others, start, then rename each
# interface (found by its placeholder address) and add its addresses.
node_up() {
  local node=$1 kind=$2 image=$3 name="$lab-$1" forward=0 first=1 script="" finish="" count=0
  [ "$kind" = router ] && forward=1
  local ifs
  ifs=$(awk -v n="$node" '$1 == "if" && $2 == n' <<<"$spec")
  local create=(docker create --name "$name" --hostname "$node" --init --cap-drop ALL
    --cap-add NET_ADMIN --cap-add NET_RAW --sysctl "net.ipv4.ip_forward=$forward"
    --tmpfs /run/vnet --restart unless-stopped -e VNET_NETPLAN=
    --label "vnet.lab=$lab" --label "vnet.node=$node" --label "vnet.kind=$kind")
  [ -n "$ifs" ] || "${create[@]}" --network none "$image" >/dev/null
  while read -r _ _ net placeholder ifname addresses; do
    [ -n "$net" ] || continue
    if [ "$first" = 1 ]; then
      "${create[@]}" --network "$net" --ip "$placeholder" "$image" >/dev/null
      first=0
    else
      docker network connect --ip "$placeholder" "$net" "$name"
    fi
    # Through a temporary name: Docker's ethN names and the planned ones overlap.
    count=$((count + 1))
    script+="dev=\$(ip -o -4 addr show to $placeholder | awk '{print \$2}');"
    script+="ip link set dev \$dev down; ip link set dev \$dev name vnf$count;"
    finish+="ip link set dev vnf$count name $ifname; ip link set dev $ifname up;"
    finish+="ip addr flush dev $ifname scope global;"
    if [ "$addresses" != - ]; then
      for address in ${addresses//,/ }; do
        finish+="ip addr add $address dev $ifname;"
      done
    fi
  done <<<"$ifs"
  script+=$finish
  script+="ip route del default 2>/dev/null || true;"
  while read -r _ _ address; do
    [ -z "$address" ] || script+="ip addr add $address dev lo;"
  done < <(awk -v n="$node" '$1 == "lo" && $2 == n' <<<"$spec")
  docker start "$name" >/dev/null
  docker exec "$name" sh -ec "$script"
}
while read -r _ node kind image; do
  node_up "$node" "$kind" "$image" &
done < <(field node)
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
[ "$failed" = 0 ] || { echo "lab_cli_floor: a node failed" >&2; exit 1; }

# Service containers in their nodes' namespaces, all at once.
while read -r _ node container image service; do
  docker run -d --name "$container" --network "container:$lab-$node" --init --cap-drop ALL \
    --entrypoint sleep --label "vnet.lab=$lab" --label "vnet.node=$node" --label "vnet.service=$service" \
    --restart unless-stopped "$image" infinity >/dev/null &
done < <(field svc)
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
[ "$failed" = 0 ] || { echo "lab_cli_floor: a service container failed" >&2; exit 1; }
