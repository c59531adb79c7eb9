#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The docker-CLI floor of a lab: what a plain shell script does to bring the same lab up, without
# Ansible, with the same images and container options. bench/boot writes the lab as a spec on
# stdin (it computes the plan and the placeholder subnets) and times this script:
#
#   bench/cli_floor.sh up   < spec     networks, node containers (one job per node), addresses,
#                                      service containers, then the checks of the spec
#   bench/cli_floor.sh down < spec     every container and network labelled vnet.lab=<lab>
#
# Spec, one object per line, fields separated by spaces ("-" for none):
#   lab NAME
#   net NETWORK SUBNET GATEWAY MTU
#   node NODE KIND IMAGE                          kind router|host (forwarding sysctls)
#   if NODE NETWORK PLACEHOLDER IFNAME IPV4 IPV6  in the node's interface order
#   lo NODE ADDRESS
#   route NODE DST VIA
#   ipsec NODE IMAGE CONFIG_DIR BACKEND           strongSwan in the node's namespace
#   initiate NODE CONNECTION
#   sa NODE CONNECTION                            wait until its CHILD_SA is installed
#   ping NODE DESTINATION SOURCE                  3 echo requests, all answered
set -euo pipefail

action=${1:?usage: cli_floor.sh up|down < spec}
spec=$(cat)
field() { awk -v kind="$1" '$1 == kind' <<<"$spec"; }
lab=$(field lab | awk '{print $2}')
[ -n "$lab" ] || { echo "cli_floor: the spec names no lab" >&2; exit 2; }

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
[ "$action" = up ] || { echo "cli_floor: unknown action $action" >&2; exit 2; }

# Segments: bridges without a host address and without masquerading.
while read -r _ net subnet gateway mtu; do
  opts=(-o com.docker.network.bridge.inhibit_ipv4=true -o com.docker.network.bridge.enable_ip_masquerade=false)
  [ "$mtu" = - ] || opts+=(-o "com.docker.network.driver.mtu=$mtu")
  docker network create "${opts[@]}" --subnet "$subnet" --gateway "$gateway" \
    --label "vnet.lab=$lab" "$net" >/dev/null &
done < <(field net)
wait

# One job per node: create on the first network, connect the others, start, then set the
# interfaces up as planned from inside (found by their placeholder addresses).
node_up() {
  local node=$1 kind=$2 image=$3 name="$lab-$1" forward=0 first=1 script="" finish="" count=0
  [ "$kind" = router ] && forward=1
  local ifs
  ifs=$(awk -v n="$node" '$1 == "if" && $2 == n' <<<"$spec")
  local create=(docker create --name "$name" --hostname "$node" --init --cap-drop ALL
    --cap-add NET_ADMIN --cap-add NET_RAW --sysctl "net.ipv4.ip_forward=$forward"
    --sysctl "net.ipv6.conf.all.forwarding=$forward" --sysctl net.ipv6.conf.all.disable_ipv6=0
    --sysctl net.ipv6.conf.default.disable_ipv6=0 --tmpfs /run/vnet --restart unless-stopped
    -e VNET_NETPLAN= --label "vnet.lab=$lab" --label "vnet.node=$node" --label "vnet.kind=$kind")
  if [ -z "$ifs" ]; then
    "${create[@]}" --network none "$image" >/dev/null
  fi
  while read -r _ _ net placeholder ifname ipv4 ipv6; do
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
    [ "$ipv4" = - ] || finish+="ip addr add $ipv4 dev $ifname;"
    [ "$ipv6" = - ] || finish+="ip addr add $ipv6 dev $ifname nodad;"
  done <<<"$ifs"
  script+=$finish
  script+="ip route del default 2>/dev/null || true;"
  while read -r _ _ address; do
    [ -z "$address" ] || script+="ip addr add $address dev lo;"
  done < <(awk -v n="$node" '$1 == "lo" && $2 == n' <<<"$spec")
  while read -r _ _ dst via; do
    [ -z "$dst" ] || script+="ip route replace $dst via $via proto static;"
  done < <(awk -v n="$node" '$1 == "route" && $2 == n' <<<"$spec")
  docker start "$name" >/dev/null
  docker exec "$name" sh -ec "$script"
}
while read -r _ node kind image; do
  node_up "$node" "$kind" "$image" &
done < <(field node)
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
[ "$failed" = 0 ] || { echo "cli_floor: a node failed" >&2; exit 1; }

# Services in the nodes' namespaces (strongSwan, its configuration written beforehand).
while read -r _ node image config backend; do
  devices=()
  [ "$backend" != libipsec ] || devices=(--device /dev/net/tun:/dev/net/tun:rwm)
  docker run -d --name "$lab-$node-ipsec" --network "container:$lab-$node" --init --cap-drop ALL \
    --cap-add NET_ADMIN --cap-add NET_BIND_SERVICE "${devices[@]}" \
    -v "$config/swanctl:/etc/swanctl:ro" -v "$config/charon:/etc/strongswan.d/vnet:ro" \
    --label "vnet.lab=$lab" --label "vnet.node=$node" --label vnet.service=ipsec \
    --restart unless-stopped "$image" >/dev/null &
done < <(field ipsec)
wait
while read -r _ node conn; do
  docker exec "$lab-$node-ipsec" /usr/local/sbin/vnet-ipsec-initiate "$conn" >/dev/null || true
done < <(field initiate)

# Checks: security associations installed, then traffic answered.
while read -r _ node conn; do
  for _ in $(seq 1 100); do
    if docker exec "$lab-$node-ipsec" swanctl --list-sas --ike "$conn" 2>/dev/null | grep -q INSTALLED; then
      continue 2
    fi
    sleep 0.2
  done
  echo "cli_floor: no SA $conn on $node" >&2
  exit 1
done < <(field sa)
while read -r _ node destination source; do
  src=()
  [ "$source" = - ] || src=(-I "$source")
  docker exec "$lab-$node" ping -c 3 -i 0.2 -W 2 "${src[@]}" "$destination" >/dev/null \
    || { echo "cli_floor: $node cannot reach $destination" >&2; exit 1; }
done < <(field ping)
