# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: ipsec_connections
short_description: strongSwan connections of one lab node
version_added: 0.1.0
description:
  - Derives, from the lab's plan and the topology's C(vpn) section, the IPsec connections of one
    node, in the form the vnet.lab.ipsec role takes as I(ipsec_connections).
  - Each tunnel of C(vpn) names its C(mode) (C(host-to-host) or C(site-to-site)), its two
    C(peers) (C(node) or C(node:ifname)), and optionally C(family) (C(ipv4), the default, or
    C(ipv6)), C(auth) (C(psk), the default, or C(pubkey)), C(proposals), C(esp_proposals),
    C(local_ts) and C(remote_ts).
  - A peer's address is the one on the interface it names, else on the segment both peers share,
    else the tunnel is an error.
  - Host-to-host protects the two peer addresses; site-to-site protects each peer's C(lan)
    segments of the family, but the one its IKE address is on and those both peers are on;
    C(local_ts) and C(remote_ts) replace what the first and the second peer protect.
  - Every tunnel is checked on every call; all problems are reported together, one line each,
    naming the tunnel.
positional: vpn, node
options:
  _input:
    description: The lab's plan, as returned by M(vnet.lab.address_plan).
    type: dict
    required: true
  vpn:
    description: The topology's C(vpn) section (tunnel name to tunnel); null gives no connections.
    type: dict
    required: true
  node:
    description: Name of the node whose connections are wanted.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Run gw1's IPsec tunnels
  ansible.builtin.include_role:
    name: vnet.lab.ipsec
  vars:
    ipsec_lab: "{{ plan.name }}"
    ipsec_node: gw1
    ipsec_connections: "{{ plan | vnet.lab.ipsec_connections(topology.vpn, 'gw1') }}"
    ipsec_psk: "{{ vault_ipsec_psk }}"

# vpn:
#   site-a-b:
#     mode: site-to-site
#     peers: [gw1, "gw2:eth3"]
#     proposals: aes256-sha256-modp3072
- name: Show what gw1 protects
  ansible.builtin.debug:
    msg: "{{ (plan | vnet.lab.ipsec_connections(vpn, 'gw1')) | map(attribute='local_ts') | list }}"
"""

RETURN = r"""
_value:
  description: The node's connections, in tunnel name order; empty when the node is in no tunnel.
  type: list
  elements: dict
  contains:
    name:
      description: Tunnel name (the swanctl connection and child name).
      type: str
    mode:
      description: C(host-to-host) or C(site-to-site).
      type: str
    family:
      description: C(ipv4) or C(ipv6).
      type: str
    peer:
      description: The other node of the tunnel.
      type: str
    initiator:
      description: Whether this node is the tunnel's first peer, which brings the tunnel up once deployed.
      type: bool
    start_action:
      description:
        - C(trap) on both peers - traffic that needs the tunnel brings it up, none leaves in clear
          text before.
      type: str
    local_addr:
      description: This node's IKE address, without prefix length.
      type: str
    remote_addr:
      description: The peer's IKE address, without prefix length.
      type: str
    local_ts:
      description: Prefixes protected on this side.
      type: list
      elements: str
    remote_ts:
      description: Prefixes protected on the peer's side.
      type: list
      elements: str
    local_id:
      description: This node's IKE identity (its name).
      type: str
    remote_id:
      description: The peer's IKE identity (its name).
      type: str
    auth:
      description: C(psk) or C(pubkey).
      type: str
    proposals:
      description: IKE proposals, strongSwan syntax.
      type: list
      elements: str
    esp_proposals:
      description: ESP proposals, strongSwan syntax.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._ipsec import IpsecError, connections, probes


def ipsec_connections(plan, vpn, node):
    try:
        return connections(plan, vpn, node)
    except IpsecError as exc:
        raise AnsibleFilterError("vnet.lab.ipsec_connections: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.ipsec_connections: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from exc


def ipsec_probes(plan, vpn):
    try:
        return probes(plan, vpn)
    except IpsecError as exc:
        raise AnsibleFilterError("vnet.lab.ipsec_probes: %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"ipsec_connections": ipsec_connections, "ipsec_probes": ipsec_probes}
