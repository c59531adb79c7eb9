# SPDX-License-Identifier: GPL-3.0-or-later
"""Node network plans (private to vnet.lab).

A node network plan is what one node applies inside its network namespace: its interfaces
(each with the placeholder address by which it is found), its loopback addresses, its routes
and whether it forwards. It is built from three things only:

* the lab's plan (``vnet.lab.address_plan``),
* the node's name,
* the ``segments`` result of ``vnet.lab.segments`` (placeholder address of every endpoint).

Rules:

* an interface's MTU is its own, else its segment's, else null (leave the kernel's);
* hosts get a default route per address family from ``gateway`` (``0.0.0.0/0`` and ``::/0``),
  then the plan's routes (a plan route to a default already given by the gateway is dropped);
* routers get the plan's routes only, and forward; hosts do not forward;
* a node without loopback addresses (hosts) gets ``{ipv4: null, ipv6: null}``;
* in a lab with a ``dns`` service, every node without a DHCP interface gets
  ``dns: {servers: [...], search: [domain]}`` (the IPv4 address of each dns service, as DHCP hands
  them out to the others, whose DHCP client writes the file): the node's entrypoint writes it
  to ``/etc/resolv.conf``, which the containers in its namespace share, so a node or host with
  static addresses asks the lab's server, not Docker's resolver (127.0.0.11). Without a dns
  service the key is absent and Docker's file is left alone.

Errors are collected, then raised together as one ``NetplanError`` whose lines name the node,
the interface and the segment.

Example (router ``r1`` on a /30 to ``r2``)::

    interfaces:
      eth1: {placeholder: 100.64.0.2, ipv4: 10.1.0.1/30, ipv6: null, mtu: null, dhcp: false}
    loopback: {ipv4: 10.0.0.1/32, ipv6: null}
    routes: [{dst: 192.168.2.0/24, via: 10.1.0.2}]
    forwarding: true
"""

from __future__ import annotations

import ipaddress

from ansible_collections.vnet.lab.plugins.module_utils._dhcp import dns_servers

DEFAULT_DST = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}


class NetplanError(ValueError):
    """One or more reasons why a node network plan cannot be built, one per line."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _default_routes(node_name, gateway, errors):
    routes = []
    for family in ("ipv4", "ipv6"):
        via = (gateway or {}).get(family)
        if not via:
            continue
        try:
            ipaddress.ip_address(via)
        except ValueError:
            errors.append("node %s: gateway %s %r is not an address" % (node_name, family, via))
            continue
        routes.append({"dst": DEFAULT_DST[family], "via": via})
    return routes


def _same_dst(a, b):
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return a == b


def _interfaces(node_name, node, plan_segments, segments, errors):
    result = {}
    for ifname in sorted(node.get("interfaces") or {}):
        entry = node["interfaces"][ifname]
        segment = entry.get("segment")
        endpoint = "%s:%s" % (node_name, ifname)
        placeholder = None
        if segments is None:
            pass    # a real board: its interfaces carry their planned names already
        elif segment not in segments:
            errors.append("node %s interface %s: segment %s is not in the segments result"
                          % (node_name, ifname, segment))
        else:
            placeholder = (segments[segment].get("endpoints") or {}).get(endpoint)
            if placeholder is None:
                errors.append("node %s interface %s: segment %s has no placeholder address for %s"
                              % (node_name, ifname, segment, endpoint))
        mtu = entry.get("mtu")
        if mtu is None:
            mtu = (plan_segments.get(segment) or {}).get("mtu")
        result[ifname] = {
            "placeholder": placeholder,
            "ipv4": entry.get("ipv4"),
            "ipv6": entry.get("ipv6"),
            "mtu": mtu,
            "dhcp": bool(entry.get("dhcp")),
            "secondary": list(entry.get("secondary") or []),
        }
    return result


def node_netplan(plan, node_name, segments=None):
    """Return the node network plan of ``node_name`` (see the module docstring)."""
    nodes = plan.get("nodes") or {}
    if node_name not in nodes:
        raise NetplanError(["node %s is not in the plan (nodes: %s)"
                            % (node_name, ", ".join(sorted(nodes)) or "none")])
    node = nodes[node_name]
    errors = []
    interfaces = _interfaces(node_name, node, plan.get("segments") or {}, segments, errors)

    kind = node.get("kind")
    if kind not in ("router", "host"):
        errors.append("node %s: kind %r is neither router nor host" % (node_name, kind))

    routes = []
    if kind == "host":
        routes = _default_routes(node_name, node.get("gateway"), errors)
    for route in node.get("routes") or []:
        if any(_same_dst(route["dst"], given["dst"]) for given in routes):
            continue
        routes.append({"dst": route["dst"], "via": route["via"]})

    if errors:
        raise NetplanError(errors)

    loopback = node.get("loopback") or {}
    netplan = {
        "interfaces": interfaces,
        "loopback": {"ipv4": loopback.get("ipv4"), "ipv6": loopback.get("ipv6")},
        "routes": routes,
        "forwarding": kind == "router",
    }
    servers = dns_servers(plan)
    # A node with a DHCP interface has its resolver from its lease (the client writes the file).
    if servers and not any(entry["dhcp"] for entry in interfaces.values()):
        netplan["dns"] = {"servers": servers, "search": [plan["domain"]] if plan.get("domain") else []}
    return netplan
