# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""DNS zones and name-server settings derived from a lab's plan (docs/contract.md, "Services").

``zones(plan)`` returns every zone the lab's name servers are primary for: one forward zone for
``plan.domain`` and the reverse zones of the lab's prefixes, each a plain dict (below). Names are
relative to the domain; ``_`` in an interface name becomes ``-`` (not allowed in host names).

Forward zone, records in this order (nodes and interfaces in name order, services by name):

* ``<ifname>.<node>``  A / AAAA of each interface address (``lo.<node>`` for loopback addresses);
* ``<node>``           A / AAAA of the node's first address of each family (first interface in
  name order that has one, else the loopback);
* every name of every service (``plan.nodes.X.services.S.names``): A / AAAA of the service's
  address; a web service's ``vhosts`` other than its first name are CNAMEs to its first name;
* at the apex: SOA (primary = the first name of the first dns service, contact
  ``hostmaster.<domain>``) and one NS per dns service (its first name).

A name that two different things claim (``www`` on two nodes, a service named like a node) is an
error, as is a CNAME beside other data: the lab's names are meant to be unambiguous.

Reverse zones (``in-addr.arpa`` / ``ip6.arpa``), one per distinct network, made from every
segment prefix, loopback and service address:

* IPv4: a prefix longer than /24 gives its /24; a shorter one its network rounded down to an
  octet boundary (/16, /8), e.g. ``10.1.0.0/30`` -> ``0.1.10.in-addr.arpa``;
* IPv6: the prefix rounded down to a nibble boundary, at most /64 (a /127 or /128 gives its /64);
* a PTR goes to the most specific zone that holds its address; every address has exactly one
  PTR: interface and loopback addresses (nodes and interfaces in name order) first, then service
  addresses. So the same prefix on two segments (two sites) is one zone, and an address that two
  nodes hold gets the PTR of the first.

A zone::

    name: lab.test                        # origin, without the final dot
    file: db.lab.test
    type: forward                         # forward | reverse
    network: null                         # reverse: the network it covers, e.g. 192.168.1.0/24
    ttl: 60
    soa: {mname: ns1.lab.test., rname: hostmaster.lab.test., refresh: 3600, retry: 600,
          expire: 86400, minimum: 60}
    ns: [ns1.lab.test.]
    records: [{name: eth1.r1, type: A, value: 10.1.0.1}, ...]   # owners relative to the origin
    hash: 3f2a...                         # sha256 of everything above: the zone's content

Serials are not the filter's business: the dns role's zone template carries ``@SERIAL@``, which
``vnet.lab.service`` keeps while the zone's file is unchanged and increases when it changes.

``server(plan, node)`` returns what ``named.conf`` needs on one node: the service's listen
addresses and the lab's prefixes, the only clients allowed recursion.

Errors are collected, then raised together as one ``DnsError``, one problem per line.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re

from ansible_collections.vnet.lab.plugins.module_utils._topology import name_key

DEFAULT_TTL = 60
DEFAULT_SOA = {"refresh": 3600, "retry": 600, "expire": 86400, "minimum": 60}
HOSTMASTER = "hostmaster"
FAMILIES = (("ipv4", "A"), ("ipv6", "AAAA"))
TYPE_ORDER = {"A": 0, "AAAA": 1, "CNAME": 2, "PTR": 3}
LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


class DnsError(ValueError):
    """One or more reasons why the zones cannot be built, one per line."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _interface(text):
    return ipaddress.ip_interface(text) if text else None


def _loopback(node):
    loopback = node.get("loopback") or {}
    return {family: loopback.get(family) for family, _type in FAMILIES}


def _nodes(plan):
    nodes = plan.get("nodes") or {}
    return [(name, nodes[name]) for name in sorted(nodes, key=name_key)]


def _services(node):
    services = node.get("services") or {}
    return [(name, services[name]) for name in sorted(services, key=name_key)]


def _relative(name, domain, where, errors):
    """A service name relative to the domain ('@' for the domain itself), or None."""
    text = str(name).lower()
    absolute = text.endswith(".")
    text = text.rstrip(".")
    if text == domain:
        return "@"
    if text.endswith("." + domain):
        text = text[:-len(domain) - 1]
    elif absolute:
        errors.append("%s: name %s is outside the domain %s" % (where, name, domain))
        return None
    if not all(LABEL.match(label) for label in text.split(".")):
        errors.append("%s: name %s is not a valid host name" % (where, name))
        return None
    return text


def _fqdn(relative, domain):
    return domain + "." if relative == "@" else "%s.%s." % (relative, domain)


def dns_services(plan):
    """[(node, service entry)] of every dns service, nodes in name order."""
    return [(name, node["services"]["dns"]) for name, node in _nodes(plan)
            if "dns" in (node.get("services") or {})]


class _Records:
    """Forward records with the thing that claimed each name, for conflict messages."""

    def __init__(self, errors):
        self.errors = errors
        self.owners = {}      # name -> (source, {(type, value)})
        self.records = []
        self.reported = set()

    def _error(self, name, source, text):
        if (name, source) not in self.reported:
            self.reported.add((name, source))
            self.errors.append(text)

    def add(self, name, rtype, value, source):
        if name is None:
            return
        entry = self.owners.get(name)
        if entry is None:
            self.owners[name] = (source, {(rtype, value)})
        else:
            first, data = entry
            if (rtype, value) in data:
                return
            if first != source:
                self._error(name, source, "name %s: %s and %s both claim it; give one of them other names"
                            % (name, first, source))
                return
            if rtype == "CNAME" or any(t == "CNAME" for t, _v in data):
                self._error(name, source, "name %s: a CNAME cannot stand beside other records (%s)"
                            % (name, source))
                return
            data.add((rtype, value))
        self.records.append({"name": name, "type": rtype, "value": value})


def _host_label(text, where, errors):
    label = text.replace("_", "-").lower()
    if not all(LABEL.match(part) for part in label.split(".")):
        errors.append("%s: %s does not make a valid host name" % (where, text))
        return None
    return label


def _forward_records(plan, domain, errors):
    records = _Records(errors)
    for node_name, node in _nodes(plan):
        node_label = _host_label(node_name, "node %s" % node_name, errors)
        if node_label is None:
            continue
        firsts = {}
        interfaces = node.get("interfaces") or {}
        for ifname in sorted(interfaces, key=name_key):
            entry = interfaces[ifname]
            label = _host_label(ifname, "node %s interface %s" % (node_name, ifname), errors)
            for family, rtype in FAMILIES:
                address = _interface(entry.get(family))
                if address is None or label is None:
                    continue
                firsts.setdefault(rtype, str(address.ip))
                records.add("%s.%s" % (label, node_label), rtype, str(address.ip), "node " + node_name)
        for family, rtype in FAMILIES:
            address = _interface(_loopback(node)[family])
            if address is not None:
                firsts.setdefault(rtype, str(address.ip))
                records.add("lo.%s" % node_label, rtype, str(address.ip), "node " + node_name)
        for rtype in ("A", "AAAA"):
            if rtype in firsts:
                records.add(node_label, rtype, firsts[rtype], "node " + node_name)

    for node_name, node in _nodes(plan):
        for service_name, service in _services(node):
            where = "node %s service %s" % (node_name, service_name)
            source = "service %s on %s" % (service_name, node_name)
            names = [_relative(name, domain, where, errors) for name in service.get("names") or []]
            names = [name for name in names if name is not None]
            if not names:
                continue
            vhosts = set()
            if service_name == "web":
                vhosts = {_relative(name, domain, where, errors) for name in service.get("vhosts") or []}
            addresses = [(rtype, _interface(service.get(family))) for family, rtype in FAMILIES]
            addresses = [(rtype, str(address.ip)) for rtype, address in addresses if address is not None]
            if not addresses:
                errors.append("%s: it has names (%s) but no address" % (where, ", ".join(names)))
                continue
            for position, name in enumerate(names):
                if position > 0 and name in vhosts:
                    records.add(name, "CNAME", _fqdn(names[0], domain), source)
                    continue
                for rtype, value in addresses:
                    records.add(name, rtype, value, source)
    return records.records


def _sorted_records(records):
    def key(record):
        name = record["name"]
        return (name != "@", [name_key(part) for part in reversed(name.split("."))],
                TYPE_ORDER[record["type"]], record["value"])
    return sorted(records, key=key)


def _zone_network(address):
    """The reverse zone's network for an address with its prefix length (ipaddress interface)."""
    plen = address.network.prefixlen
    if address.version == 4:
        plen = 24 if plen >= 24 else max(8, plen // 8 * 8)
    else:
        plen = 64 if plen >= 64 else max(4, plen // 4 * 4)
    return ipaddress.ip_network((address.ip, plen), strict=False)


def reverse_name(network):
    """The ``in-addr.arpa`` / ``ip6.arpa`` origin of a network on an octet / nibble boundary."""
    if network.version == 4:
        octets = str(network.network_address).split(".")[:network.prefixlen // 8]
        return ".".join(reversed(octets)) + ".in-addr.arpa"
    nibbles = network.network_address.exploded.replace(":", "")[:network.prefixlen // 4]
    return ".".join(reversed(nibbles)) + ".ip6.arpa"


def _ptr_owner(address, network):
    """Owner of an address's PTR, relative to its zone's origin."""
    full = address.reverse_pointer
    origin = reverse_name(network)
    return full[:-len(origin) - 1]


def _address_owners(plan, domain, errors):
    """[(ip address, PTR target)], interface and loopback addresses first, then services."""
    owners = []
    for node_name, node in _nodes(plan):
        node_label = _host_label(node_name, "node %s" % node_name, [])
        if node_label is None:
            continue
        interfaces = node.get("interfaces") or {}
        for ifname in sorted(interfaces, key=name_key):
            label = _host_label(ifname, "node %s interface %s" % (node_name, ifname), [])
            for family, _rtype in FAMILIES:
                address = _interface(interfaces[ifname].get(family))
                if address is not None and label is not None:
                    owners.append((address, "%s.%s.%s." % (label, node_label, domain)))
        for family, _rtype in FAMILIES:
            address = _interface(_loopback(node)[family])
            if address is not None:
                owners.append((address, "lo.%s.%s." % (node_label, domain)))
    for node_name, node in _nodes(plan):
        for service_name, service in _services(node):
            names = [_relative(name, domain, "", []) for name in service.get("names") or []]
            names = [name for name in names if name is not None]
            for family, _rtype in FAMILIES:
                address = _interface(service.get(family))
                if address is not None and names:
                    owners.append((address, _fqdn(names[0], domain)))
    return owners


def _reverse_networks(plan, owners):
    networks = set()
    for segment in (plan.get("segments") or {}).values():
        for family, _rtype in FAMILIES:
            if segment.get(family):
                networks.add(_zone_network(ipaddress.ip_interface(segment[family])))
    for address, _target in owners:
        networks.add(_zone_network(address))
    return sorted(networks, key=lambda n: (n.version, n.network_address, n.prefixlen))


def _soa(domain, nameservers, soa):
    values = dict(DEFAULT_SOA)
    values.update(soa or {})
    return {"mname": nameservers[0], "rname": "%s.%s." % (HOSTMASTER, domain),
            "refresh": values["refresh"], "retry": values["retry"],
            "expire": values["expire"], "minimum": values["minimum"]}


def _zone(name, ztype, network, ttl, soa, nameservers, records):
    zone = {
        "name": name,
        "file": "db." + name,
        "type": ztype,
        "network": str(network) if network is not None else None,
        "ttl": ttl,
        "soa": soa,
        "ns": list(nameservers),
        "records": records,
    }
    zone["hash"] = content_hash(zone)
    return zone


def content_hash(zone):
    """sha256 of a zone's content (everything but its serial and hash)."""
    content = {key: value for key, value in zone.items() if key not in ("serial", "hash")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def zones(plan, ttl=DEFAULT_TTL, soa=None):
    """Every zone of the lab (see the module docstring): the forward zone, then reverse zones."""
    errors = []
    domain = str(plan.get("domain") or "").lower().rstrip(".")
    if not domain:
        raise DnsError(["the plan has no domain"])
    nameservers = []
    for node_name, service in dns_services(plan):
        names = [_relative(name, domain, "node %s service dns" % node_name, errors)
                 for name in service.get("names") or []]
        names = [name for name in names if name is not None]
        if not names:
            errors.append("node %s service dns: it has no name, so no NS record" % node_name)
        elif _fqdn(names[0], domain) not in nameservers:
            nameservers.append(_fqdn(names[0], domain))
    if not dns_services(plan):
        errors.append("the plan has no dns service (plan.nodes.<node>.services.dns)")

    forward = _forward_records(plan, domain, errors)
    owners = _address_owners(plan, domain, errors)
    if errors:
        raise DnsError(errors)

    soa_record = _soa(domain, nameservers, soa)
    result = [_zone(domain, "forward", None, ttl, soa_record, nameservers, _sorted_records(forward))]

    networks = _reverse_networks(plan, owners)
    ptrs = {network: [] for network in networks}
    seen = set()
    for address, target in owners:
        if address.ip in seen:
            continue
        seen.add(address.ip)
        holders = [n for n in networks if n.version == address.version and address.ip in n]
        network = max(holders, key=lambda n: n.prefixlen)
        ptrs[network].append((address.ip, target))
    for network in networks:
        records = [{"name": _ptr_owner(ip, network), "type": "PTR", "value": target}
                   for ip, target in sorted(ptrs[network])]
        result.append(_zone(reverse_name(network), "reverse", network, ttl, soa_record, nameservers, records))
    return result


def lab_prefixes(plan):
    """The lab's prefixes: every segment prefix and loopback address, IPv4 then IPv6, sorted."""
    networks = set()
    for segment in (plan.get("segments") or {}).values():
        for family, _rtype in FAMILIES:
            if segment.get(family):
                networks.add(ipaddress.ip_network(segment[family], strict=False))
    for _name, node in _nodes(plan):
        for family, _rtype in FAMILIES:
            address = _interface(_loopback(node)[family])
            if address is not None:
                networks.add(address.network)
    networks = sorted(networks, key=lambda n: (n.version, n.network_address, n.prefixlen))
    return [str(network) for network in networks]


def server(plan, node):
    """What named.conf needs on ``node``: listen addresses and recursion clients.

    ``listen_ipv4`` / ``listen_ipv6``: the dns service's address of each family (bare), or [].
    ``recursion_clients``: the lab's prefixes (``lab_prefixes``).
    """
    nodes = plan.get("nodes") or {}
    if node not in nodes:
        raise DnsError(["node %s is not in the plan (nodes: %s)"
                        % (node, ", ".join(sorted(nodes, key=name_key)) or "none")])
    service = (nodes[node].get("services") or {}).get("dns")
    if service is None:
        raise DnsError(["node %s runs no dns service (plan.nodes.%s.services.dns)" % (node, node)])
    listen = {}
    for family, _rtype in FAMILIES:
        address = _interface(service.get(family))
        listen[family] = [str(address.ip)] if address is not None else []
    if not listen["ipv4"] and not listen["ipv6"]:
        raise DnsError(["node %s service dns: it has no address to listen on" % node])
    return {
        "listen_ipv4": listen["ipv4"],
        "listen_ipv6": listen["ipv6"],
        "recursion_clients": lab_prefixes(plan),
    }
