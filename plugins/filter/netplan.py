# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: node_netplan
short_description: Network plan of one lab node
version_added: 0.1.0
description:
  - Builds the network plan that M(vnet.lab.interfaces) (or a node's entrypoint) applies inside a
    node's network namespace, from the lab's plan and the result of M(vnet.lab.segments).
  - Each interface carries the placeholder address by which it is found and renamed.
  - Hosts get a default route per address family from their C(gateway), then the plan's routes;
    routers get the plan's routes and forward.
  - An interface without an MTU of its own takes its segment's.
positional: node, segments
options:
  _input:
    description: The lab's plan, as returned by M(vnet.lab.address_plan).
    type: dict
    required: true
  node:
    description: Name of the node.
    type: str
    required: true
  segments:
    description:
      - The C(segments) result of M(vnet.lab.segments), which gives each interface its placeholder address.
      - Leave it out for a real board, whose interfaces already carry their planned names.
    type: dict
"""

EXAMPLES = r"""
- name: Apply r1's network plan inside its container
  vnet.lab.interfaces:
    container: "{{ plan.name }}-r1"
    interfaces: "{{ netplan.interfaces }}"
    loopback: "{{ netplan.loopback }}"
    routes: "{{ netplan.routes }}"
    forwarding: "{{ netplan.forwarding }}"
  vars:
    netplan: "{{ plan | vnet.lab.node_netplan('r1', segments_result.segments) }}"

- name: Write the plan a node's entrypoint applies at every start
  ansible.builtin.copy:
    content: "{{ plan | vnet.lab.node_netplan('r1', segments_result.segments) | to_nice_json }}"
    dest: /srv/vnet/demo/r1/netplan.json
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The node network plan.
  type: dict
  contains:
    interfaces:
      description:
        - Planned interfaces by name, each with C(placeholder), C(ipv4), C(ipv6), C(mtu) and C(dhcp).
      type: dict
    loopback:
      description: Loopback addresses, C(ipv4) and C(ipv6) (null for hosts).
      type: dict
    routes:
      description: Routes as C(dst) and C(via), defaults first for hosts.
      type: list
      elements: dict
    forwarding:
      description: Whether the node forwards (routers).
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._netplan import NetplanError, node_netplan


def _node_netplan(plan, node, segments=None):
    try:
        return node_netplan(plan, node, segments)
    except NetplanError as exc:
        raise AnsibleFilterError("vnet.lab.node_netplan: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.node_netplan: malformed plan or segments (%s: %s)"
                                 % (type(exc).__name__, exc)) from exc


class FilterModule:
    def filters(self):
        return {"node_netplan": _node_netplan}
