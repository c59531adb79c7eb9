#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: address_plan
short_description: The address plan of a lab, computed from its topology
version_added: 0.1.0
description:
  - Validates a lab's topology (nodes, links, address pools, services) and computes its address plan, that is
    a prefix for every segment, an address for every interface, loopbacks for routers, gateways for hosts and,
    with C(routing=static), static routes.
  - The plan is plain data, the input of every other part of the collection (segments, node interfaces,
    service roles). The same topology always gives the same plan, whatever the order of its keys or links.
  - The module only computes; it changes nothing anywhere and always reports C(changed=false).
  - With C(routing=static), a prefix that a node would reach at two sites (the same prefix pinned on separate
    segments) is left out of that node's routes; each such case is a line of RV(plan.routing_notes) and a
    warning.
  - A topology with problems fails the task once, with every problem found, one per line of C(msg),
    and also as the list RV(errors).
  - The input format, with every key, default and rule, is the collection's C(docs/topology.md).
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - netaddr
  - PyYAML
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module has no side effect, so check mode computes the same plan.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  topology:
    description:
      - The lab's topology, usually read from a YAML file with P(ansible.builtin.file#lookup) and
        P(ansible.builtin.from_yaml#filter).
      - "Top-level keys: C(name) (required), C(domain), C(routing) (V(none), V(static) or V(ospf)), C(addressing)
        (pools), C(nodes) (required), C(links) and C(vpn) (IPsec tunnels, checked against the plan)."
    type: dict
    required: true
notes:
  - Pools that run out, pinned addresses outside their prefix, duplicate addresses, unknown keys and the like
    are all reported in one run; nothing is guessed.
seealso:
  - module: vnet.lab.segments
  - module: vnet.lab.interfaces
"""

EXAMPLES = r"""
- name: Plan the lab's addresses
  vnet.lab.address_plan:
    topology: "{{ lookup('ansible.builtin.file', 'topology.yml') | ansible.builtin.from_yaml }}"
  register: planned

- name: Plan a two-router lab with a LAN behind each router and static routes
  vnet.lab.address_plan:
    topology:
      name: demo
      routing: static
      nodes:
        r1: {kind: router}
        r2: {kind: router}
        h1: {kind: host}
        h2: {kind: host}
      links:
        - endpoints: [r1:eth1, r2:eth1]
        - endpoints: [r1:eth2, h1:eth0]
          ipv4: 192.168.1.0/24
        - endpoints: [r2:eth2, h2:eth0]
  register: planned

- name: Show where h1 is
  ansible.builtin.debug:
    msg: "h1 has {{ planned.plan.nodes.h1.interfaces.eth0.ipv4 }} via {{ planned.plan.nodes.h1.gateway.ipv4 }}"
"""

RETURN = r"""
plan:
  description:
    - The address plan. Every key is always present, V(null) where nothing applies.
    - Names are in natural order (V(r2) before V(r10)).
  returned: success
  type: dict
  contains:
    name:
      description: The lab's name.
      type: str
      sample: demo
    domain:
      description: The lab's DNS domain (default C(<name>.test)).
      type: str
      sample: demo.test
    routing:
      description: V(none), V(static) (the plan holds static routes) or V(ospf) (routes come from the ospf role).
      type: str
      sample: static
    routing_notes:
      description:
        - With C(routing=static), one line per prefix left out of some nodes' static routes because they would
          reach it at several sites, naming the prefix, the segments and the nodes; also returned as warnings.
          C([]) when there is none.
      type: list
      elements: str
      sample:
        - "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h3-eth0) from r2: left out
          of its static routes; pin distinct prefixes or route it yourself"
    nodes:
      description:
        - Per node, its C(kind), C(loopback) (C({ipv4, ipv6}) for routers, V(null) for hosts), C(gateway) (bare
          addresses, hosts only), C(interfaces) (per interface C(segment), C(ipv4), C(ipv6) as C(addr/len),
          C(dhcp), C(mtu), C(secondary)), C(routes) (C([{dst, via}]), sorted) and C(services).
      type: dict
      sample:
        r1:
          kind: router
          loopback: {ipv4: 10.0.0.1/32, ipv6: null}
          gateway: {ipv4: null, ipv6: null}
          interfaces:
            eth1: {segment: r1-eth1, ipv4: 10.1.0.1/30, ipv6: null, dhcp: false, mtu: null, secondary: []}
          routes: [{dst: 10.0.0.2/32, via: 10.1.0.2}]
          services: {}
    segments:
      description:
        - Per segment (a link's C(name), else C(<node>-<ifname>) of its first endpoint), its C(type) (V(p2p) or
          V(lan)), C(ipv4) and C(ipv6) prefixes, C(endpoints) (sorted by node, then interface), C(mtu) and C(link)
          (C(type) V(bridge), V(macvlan) with C(parent), or V(vxlan) with C(vni), C(remote), C(local), C(port),
          C(dev)).
      type: dict
      sample:
        r1-eth1:
          type: p2p
          ipv4: 10.1.0.0/30
          ipv6: null
          endpoints: ["r1:eth1", "r2:eth1"]
          mtu: null
          link: {type: bridge}
    vpn:
      description: The topology's C(vpn) section (IPsec tunnels by name), as given; C({}) when none.
      type: dict
      sample: {}
errors:
  description: Every problem found in the topology, one line each, the same lines as C(msg).
  returned: failure
  type: list
  elements: str
  sample:
    - "link 2 (r1:eth2, h1:eth0): address 192.168.2.5/24 of h1:eth0 is outside the prefix 192.168.1.0/24"
    - "ran out of ipv4 prefixes in pool p2p (10.1.0.0/29 in /30 prefixes): no prefix for segments r3-eth1 and r4-eth1"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils._addressing import HAS_YAML, make_plan
from ansible_collections.vnet.lab.plugins.module_utils._topology import (
    HAS_NETADDR,
    NETADDR_IMPORT_ERROR,
    TopologyError,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            topology=dict(type="dict", required=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=NETADDR_IMPORT_ERROR)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    try:
        plan = make_plan(module.params["topology"])
    except TopologyError as exc:
        module.fail_json(msg="\n".join(exc.errors), errors=exc.errors)
    for note in plan["routing_notes"]:
        module.warn(note)
    module.exit_json(changed=False, plan=plan)


if __name__ == "__main__":
    main()
