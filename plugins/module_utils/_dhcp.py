# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""DHCPv4 scopes of one node, derived from a lab's plan (docs/contract.md, "Services").

``scopes(plan, node)`` returns one scope per interface the node's dhcp service serves, in the
order of ``serve``. The service's options in the plan (``plan.nodes.<node>.services.dhcp``)::

    serve: [eth1, eth2]        # default: the node's interfaces on lan segments that have an IPv4
                               # address of their own (p2p links and DHCP clients are left out)
    range: [10, 100]           # host numbers of the first and last address leased (default 10, 100),
                               # clipped to the prefix
    default_lease_time: 120    # seconds (defaults: 120, 60, 3600)
    min_lease_time: 60
    max_lease_time: 3600

A scope::

    interface: eth1
    segment: lan1
    subnet: 192.168.1.0/24
    network: 192.168.1.0
    netmask: 255.255.255.0
    ranges: [[192.168.1.10, 192.168.1.100]]   # the range less every address the plan gives on
                                              # this segment, cut into pieces around them
    routers: [192.168.1.1]     # the node's address there; on a host, the segment's first router
    dns_servers: [192.168.0.2] # IPv4 address of every dns service of the lab (nodes in name order)
    domain: lab.test
    server_identifier: null    # the dhcp service's own address when it is on this interface
    wait_for: [192.168.1.1/24] # addresses the interface carries before dhcpd may start
    default_lease_time: 120
    min_lease_time: 60
    max_lease_time: 3600
    authoritative: true

Only the addresses of this segment's endpoints (and the service addresses they carry) are
skipped: the same prefix on another segment (another site) is another broadcast domain.

Errors are collected, then raised together as one ``DhcpError``, one problem per line.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.vnet.lab.plugins.module_utils._topology import name_key

DEFAULT_RANGE = (10, 100)
DEFAULT_LEASE_TIMES = {"default_lease_time": 120, "min_lease_time": 60, "max_lease_time": 3600}


class DhcpError(ValueError):
    """One or more reasons why the scopes cannot be built, one per line."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _ipv4(text):
    if not text:
        return None
    address = ipaddress.ip_interface(text)
    return address if address.version == 4 else None


def _default_serve(plan, node):
    interfaces = node.get("interfaces") or {}
    segments = plan.get("segments") or {}
    return [ifname for ifname in sorted(interfaces, key=name_key)
            if (segments.get(interfaces[ifname].get("segment")) or {}).get("type") == "lan"
            and not interfaces[ifname].get("dhcp") and _ipv4(interfaces[ifname].get("ipv4"))]


def _segment_members(plan, segment):
    """[(node name, node, interface entry)] on a segment, nodes and interfaces in name order."""
    members = []
    nodes = plan.get("nodes") or {}
    for name in sorted(nodes, key=name_key):
        interfaces = nodes[name].get("interfaces") or {}
        for ifname in sorted(interfaces, key=name_key):
            if interfaces[ifname].get("segment") == segment:
                members.append((name, nodes[name], interfaces[ifname]))
    return members


def _taken(members):
    taken = set()
    for _name, _node, entry in members:
        for text in [entry.get("ipv4")] + list(entry.get("secondary") or []):
            address = _ipv4(text)
            if address is not None:
                taken.add(address.ip)
    return taken


def _ranges(first, last, taken):
    """[[first, last]] of the addresses from first to last that are not taken."""
    ranges = []
    start = None
    current = first
    while current <= last:
        if current in taken:
            if start is not None:
                ranges.append([str(start), str(current - 1)])
                start = None
        elif start is None:
            start = current
        current += 1
    if start is not None:
        ranges.append([str(start), str(last)])
    return ranges


def _host_range(where, option, errors):
    if option is None:
        return DEFAULT_RANGE
    if (not isinstance(option, (list, tuple)) or len(option) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in option)
            or option[0] > option[1]):
        errors.append("%s: range %r is not [first, last] host numbers (first <= last)" % (where, option))
        return None
    return tuple(option)


def _lease_times(where, service, errors):
    times = {}
    for key, default in DEFAULT_LEASE_TIMES.items():
        value = service.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append("%s: %s %r is not a positive number of seconds" % (where, key, value))
            value = default
        times[key] = value
    if not times["min_lease_time"] <= times["default_lease_time"] <= times["max_lease_time"]:
        errors.append("%s: lease times must be min_lease_time <= default_lease_time <= max_lease_time"
                      " (got %d, %d, %d)" % (where, times["min_lease_time"],
                                             times["default_lease_time"], times["max_lease_time"]))
    return times


def dns_servers(plan):
    """Bare IPv4 address of every dns service of the lab, nodes in name order."""
    servers = []
    nodes = plan.get("nodes") or {}
    for name in sorted(nodes, key=name_key):
        service = (nodes[name].get("services") or {}).get("dns")
        address = _ipv4((service or {}).get("ipv4"))
        if address is not None and str(address.ip) not in servers:
            servers.append(str(address.ip))
    return servers


def _routers(node_name, node, address, members):
    if node.get("kind") == "router":
        return [str(address.ip)]
    for name, member, entry in members:
        router = _ipv4(entry.get("ipv4"))
        if name != node_name and member.get("kind") == "router" and router is not None:
            return [str(router.ip)]
    return []


def scopes(plan, node_name):
    """The scopes of ``node_name``'s dhcp service (see the module docstring)."""
    nodes = plan.get("nodes") or {}
    if node_name not in nodes:
        raise DhcpError(["node %s is not in the plan (nodes: %s)"
                         % (node_name, ", ".join(sorted(nodes, key=name_key)) or "none")])
    node = nodes[node_name]
    service = (node.get("services") or {}).get("dhcp")
    if service is None:
        raise DhcpError(["node %s runs no dhcp service (plan.nodes.%s.services.dhcp)" % (node_name, node_name)])
    where = "node %s service dhcp" % node_name
    errors = []
    interfaces = node.get("interfaces") or {}
    serve = service.get("serve")
    if serve is None:
        serve = _default_serve(plan, node)
    elif isinstance(serve, str):
        serve = [serve]
    serve = list(dict.fromkeys(serve))
    if not serve:
        errors.append("%s: no interface to serve (serve is empty and the node has no lan interface"
                      " with an IPv4 address)" % where)
    host_range = _host_range(where, service.get("range"), errors)
    times = _lease_times(where, service, errors)
    domain = plan.get("domain")
    servers = dns_servers(plan)
    identifier = _ipv4(service.get("ipv4"))

    result = []
    for ifname in serve:
        at = "%s interface %s" % (where, ifname)
        entry = interfaces.get(ifname)
        if entry is None:
            errors.append("%s: the node has no such interface (it has %s)"
                          % (at, ", ".join(sorted(interfaces, key=name_key)) or "none"))
            continue
        address = _ipv4(entry.get("ipv4"))
        if address is None:
            errors.append("%s: the interface has no IPv4 address of its own to serve from" % at)
            continue
        if host_range is None:
            continue
        subnet = address.network
        members = _segment_members(plan, entry.get("segment"))
        # Host numbers 1 .. size - 2: neither the network nor the broadcast address.
        first, last = max(host_range[0], 1), min(host_range[1], subnet.num_addresses - 2)
        ranges = []
        if first <= last:
            ranges = _ranges(subnet.network_address + first, subnet.network_address + last, _taken(members))
        if not ranges:
            errors.append("%s: no address left to lease in %s (range %d-%d, less the plan's addresses)"
                          % (at, subnet, host_range[0], host_range[1]))
            continue
        wait_for = [str(address)]
        server_identifier = None
        if ifname == service.get("interface") and identifier is not None and identifier.ip != address.ip:
            server_identifier = str(identifier.ip)
            wait_for.append(str(identifier))
        scope = {
            "interface": ifname,
            "segment": entry.get("segment"),
            "subnet": str(subnet),
            "network": str(subnet.network_address),
            "netmask": str(subnet.netmask),
            "ranges": ranges,
            "routers": _routers(node_name, node, address, members),
            "dns_servers": servers,
            "domain": domain,
            "server_identifier": server_identifier,
            "wait_for": wait_for,
            "authoritative": True,
        }
        scope.update(times)
        result.append(scope)
    if errors:
        raise DhcpError(errors)
    return result
