# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Parse and validate a lab topology (the input format is documented in docs/topology.md).

``parse`` walks the whole input once and records every problem in a ``Problems`` collector
instead of stopping at the first, so a user fixes a topology in one round; the planner
(``_addressing.make_plan``) raises ``TopologyError`` once, at the very end, with all of them.
What parses cleanly comes back as small objects (``Topology``, ``Node``, ``Segment``,
``Endpoint``); a link with a problem is left out of them, so later stages never trip over
input that was already reported.

Names are ordered naturally everywhere ("name order"): r2 sorts before r10.
"""

from __future__ import annotations

import re
import socket
import traceback

from ansible_collections.vnet.lab.plugins.module_utils._registry import SERVICE_ROLES

try:
    import netaddr
except ImportError:
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None


class Kind:
    """What a node kind implies for addressing and routing."""

    __slots__ = ("name", "loopback", "forwards", "gateway")

    def __init__(self, name, loopback, forwards, gateway):
        self.name = name
        self.loopback = loopback    # gets an address from the loopback pool
        self.forwards = forwards    # routes between its segments (and is a p2p link's end)
        self.gateway = gateway      # gets a default gateway from a router on its segments


# Node kinds are a table, containerlab-style: a new kind is one line here.
KINDS = {kind.name: kind for kind in (
    Kind("router", loopback=True, forwards=True, gateway=False),
    Kind("host", loopback=False, forwards=False, gateway=True),
)}

# Link types and the keys each takes, required and optional (with defaults).
LINK_TYPES = {
    "bridge": {"required": (), "optional": {}},
    "macvlan": {"required": ("parent",), "optional": {}},
    "vxlan": {"required": ("vni", "remote"), "optional": {"local": None, "port": 4789, "dev": None}},
}

# Network services a node may run, each with the DNS names its address gets by default (web adds
# its vhosts), and each service's own options (passed through to the plan for its role): from the
# one table of service roles (_registry.SERVICE_ROLES).
SERVICES = {name: list(entry["names"]) for name, entry in sorted(SERVICE_ROLES.items())
            if entry["names"] is not None}
# Keys of a service that the planner computes: never given.
SERVICE_RESERVED = frozenset(("ipv4", "ipv6"))
# Keys every service takes (the planner reads them), then each service's own options. Any other key
# is an error: a misspelt option would otherwise be ignored without a word.
SERVICE_KEYS = ("address", "interface", "names")
SERVICE_OPTIONS = {name: tuple(entry["options"]) for name, entry in SERVICE_ROLES.items()
                   if entry["names"] is not None and entry["options"]}

TOPOLOGY_KEYS = frozenset(("name", "domain", "routing", "addressing", "nodes", "links", "vpn"))
NODE_KEYS = frozenset(("kind", "loopback", "services", "placement"))
LOOPBACK_KEYS = frozenset(("ipv4", "ipv6"))
LINK_KEYS = frozenset(("endpoints", "name", "pool", "ipv4", "ipv6", "mtu", "type",
                       "parent", "vni", "remote", "local", "port", "dev"))
ENDPOINT_KEYS = frozenset(("node", "ifname", "ipv4", "ipv6", "dhcp"))
TYPE_KEYS = frozenset(key for rules in LINK_TYPES.values()
                      for key in rules["required"] + tuple(rules["optional"]))
ROUTING = ("none", "static", "ospf")
FAMILIES = (("ipv4", 4), ("ipv6", 6))
BITS = {4: 32, 6: 128}

LAB_NAME = re.compile(r"[a-z][a-z0-9-]{0,23}\Z")
DNS_NAME = re.compile(r"(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                      r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\Z")
NODE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}\Z")
IFNAME = re.compile(r"[a-z][a-z0-9_.-]{0,14}\Z")
SEGMENT_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}\Z")
HOST_IFNAME = re.compile(r"[^\s/:]{1,15}\Z")
# An inventory host name (an engine of the lab): a name, an FQDN or an address, as Ansible takes them.
PLACEMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,254}\Z")

LAB_NAME_RULE = "a-z, 0-9 and -, starting with a letter, 1-24 characters"
NODE_NAME_RULE = "a-z, 0-9 and -, starting with a letter, at most 63 characters"
IFNAME_RULE = "a-z, 0-9, _, . and -, starting with a letter, at most 15 characters, not lo"
SEGMENT_NAME_RULE = "a-z, 0-9, _, . and -, starting with a letter or digit, at most 63 characters"
PLACEMENT_RULE = "an inventory host name: letters, digits, _, ., : and -"

MTU_RANGE = (68, 65535)
VNI_RANGE = (1, 16777215)
PORT_RANGE = (1, 65535)


class TopologyError(Exception):
    """A topology that cannot be planned; ``errors`` holds every problem, one line each."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class Problems:
    """Collects problems through a pass; ``check`` raises them all at once."""

    def __init__(self):
        self.lines = []

    def add(self, line):
        self.lines.append(line)

    def check(self):
        if self.lines:
            raise TopologyError(self.lines)


_CHUNKS = re.compile(r"(\d+)")
_KEYS = {}          # name -> its key: a lab sorts the same names many times
_KEYS_MAX = 200000  # bounds the cache in a long-lived controller process


def name_key(name):
    """Sort key of the natural name order (r2 before r10; ties broken by the plain text)."""
    key = _KEYS.get(name)
    if key is None:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        parts = _CHUNKS.split(name)
        parts[1::2] = [int(part) for part in parts[1::2]]
        key = _KEYS[name] = (tuple(parts), name)
    return key


def either(names):
    """'a, b or c'."""
    names = list(names)
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def shorten(names, limit=5):
    """'a, b and c', or 'a, b, c, d, e and 7 more' for a long list."""
    names = list(names)
    if len(names) > limit:
        return "%s and %d more" % (", ".join(names[:limit]), len(names) - limit)
    if len(names) > 1:
        return "%s and %s" % (", ".join(names[:-1]), names[-1])
    return "".join(names)


def what(value):
    """The type of a YAML value, as a user would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a %s" % type(value).__name__


class Net:
    """An IP prefix or an address with its prefix length, as integers."""

    __slots__ = ("version", "value", "plen")

    def __init__(self, version, value, plen):
        self.version = version
        self.value = value
        self.plen = plen

    @property
    def size(self):
        return 1 << (BITS[self.version] - self.plen)

    @property
    def network(self):
        return self.value & ~(self.size - 1)

    @property
    def last(self):
        return self.network + self.size - 1

    def __eq__(self, other):
        return isinstance(other, Net) and (self.version, self.value, self.plen) == (
            other.version, other.value, other.plen)

    def __hash__(self):
        return hash((self.version, self.value, self.plen))

    def __repr__(self):
        return "Net(%s)" % self

    def __str__(self):
        if self.plen is None:
            return fmt(self.version, self.value)
        return with_len(self.version, self.value, self.plen)


def fmt(version, value):
    """Text of an address given as an integer (RFC 5952 for IPv6, as netaddr prints it)."""
    if version == 4:
        return "%d.%d.%d.%d" % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255)
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


def with_len(version, value, plen):
    return "%s/%d" % (fmt(version, value), plen)


def parse_ip(text, version, want_len):
    """An address or a prefix in ``text`` as a ``Net``, or None when it is not one of that
    family. ``want_len``: True needs a /length, False forbids one, None takes either (a bare
    address then has plen None)."""
    if not isinstance(text, str) or not text or text != text.strip():
        return None
    has_len = "/" in text
    if (want_len is True and not has_len) or (want_len is False and has_len):
        return None
    try:
        net = netaddr.IPNetwork(text) if has_len else netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if net.version != version:
        return None
    if has_len:
        return Net(version, int(net.ip), net.prefixlen)
    return Net(version, int(net), None)


def parse_prefix(where, family, text, problems):
    """A prefix (host bits clear) as a ``Net``; None (and a problem) when it is not one."""
    version = 4 if family == "ipv4" else 6
    net = parse_ip(text, version, want_len=True)
    if net is None:
        problems.add("%s: %s %r is not a valid IPv%d prefix" % (where, family, text, version))
        return None
    if net.value != net.network:
        problems.add("%s: %s %s has host bits set (did you mean %s?)" % (
            where, family, text, with_len(version, net.network, net.plen)))
        return None
    return net


def integer(where, key, value, low, high, problems):
    """An integer within [low, high] (a string of digits counts), else None and a problem."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add("%s: %s must be an integer, got %r" % (where, key, value))
        return None
    if not low <= value <= high:
        problems.add("%s: %s %d must be between %d and %d" % (where, key, value, low, high))
        return None
    return value


def mapping(where, value, problems, allowed=None, required=(), context=""):
    """``value`` as a dict (null counts as empty), with unknown and missing keys reported.

    ``context`` is appended to those reports (" in endpoint r1:eth1"). Returns None when
    ``value`` is not a mapping at all.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.add("%s: must be a mapping%s, got %s" % (where, context, what(value)))
        return None
    if allowed is not None and not value.keys() <= allowed:
        for key in sorted((k for k in value if k not in allowed), key=str):
            problems.add("%s: unknown key %r%s (expected one of: %s)" % (
                where, key, context, ", ".join(sorted(allowed))))
    for key in required:
        if key not in value:
            problems.add("%s: missing key %r%s" % (where, key, context))
    return value


class Node:
    __slots__ = ("name", "kind", "loopback", "services", "placement")

    def __init__(self, name, kind, loopback, services=None, placement=None):
        self.name = name
        self.kind = kind            # a Kind
        self.loopback = loopback    # {"ipv4": pin, "ipv6": pin}; pin: None (auto), False, Net
        self.services = services or {}    # {name: Service}, in name order
        self.placement = placement  # the engine (inventory host) it runs on; None: every engine


class Service:
    """A network service on a node: the interface it listens on, its own address (if any),
    its DNS names and its options (passed through to the plan)."""

    __slots__ = ("name", "interface", "address", "names", "options")

    def __init__(self, name, interface, address, names, options):
        self.name = name
        self.interface = interface  # ifname, or None for the node's first interface
        self.address = address      # Net (plen None when bare), or None
        self.names = names          # [DNS name]
        self.options = options      # {key: value} as given, without interface and address


NO_PINS = {"ipv4": None, "ipv6": None}    # shared by every endpoint that pins nothing: read only


class Endpoint:
    __slots__ = ("node", "ifname", "label", "pins", "dhcp")

    def __init__(self, node, ifname, pins, dhcp):
        self.node = node
        self.ifname = ifname
        self.label = "%s:%s" % (node, ifname)
        self.pins = pins            # {"ipv4": pin, "ipv6": pin}; Net.plen None when bare
        self.dhcp = dhcp


class Segment:
    """One link of the topology: an L2 segment with its endpoints and what was pinned."""

    __slots__ = ("name", "type", "where", "endpoints", "pins", "pool", "mtu", "link", "pinned", "hosts")

    def __init__(self, name, type_, where, endpoints, pins, pool, mtu, link, hosts=()):
        self.name = name
        self.type = type_           # "p2p" | "lan"
        self.where = where          # a LinkWhere, to name the link in problems
        self.endpoints = endpoints  # sorted by (node, ifname) in name order
        self.pins = pins            # {"ipv4": None | False | Net prefix, "ipv6": ...}
        self.pool = pool            # pool name given by the link, or None
        self.mtu = mtu
        self.link = link            # {"type": ..., type-specific keys}
        self.pinned = any(e.pins is not NO_PINS for e in endpoints)   # an endpoint pins some
        self.hosts = hosts          # the engines its endpoints are placed on, when more than one


class Topology:
    __slots__ = ("name", "domain", "routing", "addressing", "nodes", "segments", "interfaces", "vpn")

    def __init__(self, name, routing, addressing, nodes, segments, domain=None, interfaces=None,
                 vpn=None):
        self.name = name
        self.vpn = vpn or {}            # tunnels, as given (validated against the plan by _ipsec)
        self.domain = domain
        self.interfaces = interfaces or {}  # {node: {ifname}} on any link, even one with a problem
        self.routing = routing
        self.addressing = addressing    # the user's pools, as given (validated by _addressing)
        self.nodes = nodes              # {name: Node}, in name order
        self.segments = segments        # [Segment], in name order


def parse(data, problems):
    """The topology in ``data`` as a ``Topology``; every problem goes to ``problems``."""
    top = mapping("topology", data, problems, TOPOLOGY_KEYS, ("name", "nodes"))
    if top is None:
        return Topology(None, "none", {}, {}, [])

    name = top.get("name")
    if "name" in top and not (isinstance(name, str) and LAB_NAME.match(name)):
        problems.add("name: %r is not a valid lab name (%s)" % (name, LAB_NAME_RULE))
        name = None

    domain = top.get("domain")
    if domain is None:
        domain = "%s.test" % name if name else None
    elif not (isinstance(domain, str) and DNS_NAME.match(domain)):
        problems.add("domain: %r is not a valid DNS domain (lower-case labels of a-z, 0-9 and -, "
                     "joined by dots)" % (domain,))
        domain = None

    routing = top.get("routing")
    if routing is None:
        routing = "none"
    elif routing not in ROUTING:
        problems.add("routing: unknown value %r (expected none, static or ospf)" % (routing,))
        routing = "none"

    addressing = top.get("addressing")
    if addressing is None:
        addressing = {}
    elif not isinstance(addressing, dict):
        problems.add("addressing: must be a mapping of pools, got %s" % what(addressing))
        addressing = {}

    nodes, bad_nodes = _parse_nodes(top.get("nodes"), "nodes" in top, problems)
    used = {}
    segments = _parse_links(top.get("links"), nodes, bad_nodes, used, problems)
    interfaces = {}
    for label in used:
        node, _sep, ifname = label.partition(":")
        interfaces.setdefault(node, set()).add(ifname)
    vpn = top.get("vpn")
    if vpn is not None and not isinstance(vpn, dict):
        problems.add("vpn: must be a mapping of tunnel names to tunnels, got %s" % what(vpn))
        vpn = None
    return Topology(name, routing, addressing, nodes, segments, domain, interfaces, vpn)


class _Everything:
    """The bad nodes when there are no nodes to speak of: links then report no unknown node."""

    def __contains__(self, item):
        return True


def _parse_nodes(data, present, problems):
    """Valid nodes in name order, and the names of nodes with problems (their links are
    skipped quietly: the node's problem is reported once)."""
    nodes, bad = {}, set()
    if not isinstance(data, dict):
        if present:
            problems.add("nodes: must be a mapping of node names to nodes, got %s" % what(data))
        return nodes, _Everything()
    if not data:
        problems.add("nodes: a lab needs at least one node")
    for name in sorted(data, key=lambda n: name_key(str(n))):
        if not (isinstance(name, str) and NODE_NAME.match(name)):
            problems.add("node %r: not a valid node name (%s)" % (name, NODE_NAME_RULE))
            bad.add(str(name))
            continue
        where = "node %s" % name
        spec = mapping(where, data[name], problems, NODE_KEYS, ("kind",))
        if spec is None or "kind" not in spec:
            bad.add(name)
            continue
        kind = KINDS.get(spec["kind"]) if isinstance(spec["kind"], str) else None
        if kind is None:
            problems.add("%s: unknown kind %r (expected %s)" % (
                where, spec["kind"], either(sorted(KINDS))))
            bad.add(name)
            continue
        loopback = {"ipv4": None, "ipv6": None}
        if spec.get("loopback") is not None:
            if not kind.loopback:
                problems.add("%s: kind %s takes no loopback" % (where, kind.name))
                bad.add(name)
                continue
            loopback = _parse_loopback(where, spec["loopback"], problems)
            if loopback is None:
                bad.add(name)
                continue
        services = _parse_services(where, spec.get("services"), problems)
        if services is None:
            bad.add(name)
            continue
        placement = spec.get("placement")
        if placement is not None and not (isinstance(placement, str) and PLACEMENT.match(placement)):
            problems.add("%s: placement %r is not valid (%s)" % (where, placement, PLACEMENT_RULE))
            bad.add(name)
            continue
        nodes[name] = Node(name, kind, loopback, services, placement)
    _check_service_names(nodes, problems)
    _check_placements(nodes, problems)
    return nodes, bad


def _check_placements(nodes, problems):
    """A lab is placed whole or not at all: a node left out would land on no engine or on all."""
    placed = [name for name, node in nodes.items() if node.placement is not None]
    if placed and len(placed) < len(nodes):
        missing = [name for name in nodes if nodes[name].placement is None]
        problems.add("%s %s: no placement, while %s %s one: a lab over several engines places every node"
                     " (placement: <inventory host>)"
                     % ("node" if len(missing) == 1 else "nodes", shorten(missing),
                        shorten(placed), "has" if len(placed) == 1 else "have"))


def _check_service_names(nodes, problems):
    """A DNS name belongs to one node or one service of the lab (default names included)."""
    owners = {name: (name, None) for name in nodes}
    for node in nodes.values():
        for service in node.services.values():
            for item in service.names:
                if not isinstance(item, str):
                    continue
                owner = owners.setdefault(item, (node.name, service.name))
                if owner != (node.name, service.name):
                    taker = "node %s service %s" % owner if owner[1] else "node %s itself" % owner[0]
                    problems.add("node %s service %s: name %r is already taken by %s;"
                                 " give one of them other names (names: [...], or [] for none)"
                                 % (node.name, service.name, item, taker))


def _parse_services(where, data, problems):
    """{service: Service} in name order, or None after a problem."""
    before = len(problems.lines)
    spec = mapping(where + " services", data, problems)
    if spec is None:
        return None
    services = {}
    for service in sorted(spec, key=lambda n: name_key(str(n))):
        if service not in SERVICES:
            problems.add("%s: unknown service %r (expected %s)" % (
                where, service, either(sorted(SERVICES))))
            continue
        at = "%s service %s" % (where, service)
        options = mapping(at, spec[service], problems)
        if options is None:
            continue
        for key in sorted(SERVICE_RESERVED & set(options)):
            problems.add("%s: key %r is computed by the planner; give an address instead" % (
                at, key))
        known = SERVICE_KEYS + SERVICE_OPTIONS.get(service, ())
        for key in sorted((k for k in options if k not in known and k not in SERVICE_RESERVED), key=str):
            problems.add("%s: unknown option %r (expected one of: %s)" % (
                at, key, ", ".join(sorted(known))))
        interface = options.get("interface")
        if interface is not None and not (isinstance(interface, str) and IFNAME.match(interface)):
            problems.add("%s: interface %r is not a valid interface name" % (at, interface))
        address = options.get("address")
        if address is not None:
            address = parse_ip(address, 4, None) or parse_ip(address, 6, None)
            if address is None:
                problems.add("%s: address %r is not a valid IP address" % (at, options["address"]))
        names = options.get("names")
        if names is None:
            names = list(SERVICES[service])
            if service == "web":
                vhosts = options.get("vhosts") or []
                for vhost in vhosts if isinstance(vhosts, list) else [vhosts]:
                    if vhost not in names:
                        names.append(vhost)
        elif not isinstance(names, list):
            names = [names]
        for item in names:
            if not (isinstance(item, str) and DNS_NAME.match(item)):
                problems.add("%s: name %r is not a valid DNS name" % (at, item))
        rest = {k: v for k, v in options.items() if k not in ("interface", "address", "names")}
        services[service] = Service(service, interface, address, names, rest)
    return services if len(problems.lines) == before else None


def _parse_loopback(where, data, problems):
    spec = mapping(where + " loopback", data, problems, LOOPBACK_KEYS)
    if spec is None:
        return None
    pins, ok = {}, len(problems.lines)
    for family, version in FAMILIES:
        value = spec.get(family)
        if value is None or value is False:
            pins[family] = value
            continue
        net = parse_ip(value, version, want_len=None)
        if net is None or net.plen not in (None, BITS[version]):
            problems.add("%s: loopback %s %r is not a valid IPv%d address (a bare address or /%d)"
                         % (where, family, value, version, BITS[version]))
            continue
        pins[family] = Net(version, net.value, BITS[version])
    return pins if len(problems.lines) == ok else None


def _endpoint_label(item):
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return "%s:%s" % (item.get("node", "?"), item.get("ifname", "?"))
    return "?"


def _parse_links(data, nodes, bad_nodes, used, problems):
    """Valid links as segments in name order; ``used`` gets "node:ifname" -> where first used."""
    if data is None:
        return []
    if not isinstance(data, list):
        problems.add("links: must be a list of links, got %s" % what(data))
        return []
    segments = []
    names = {}       # segment name -> where
    for index, item in enumerate(data, 1):
        segment = _parse_link(index, item, nodes, bad_nodes, used, problems)
        if segment is None:
            continue
        other = names.get(segment.name)
        if other is not None:
            problems.add("%s: segment name %s is already used by %s" % (
                segment.where, segment.name, other))
            continue
        names[segment.name] = segment.where
        segments.append(segment)
    segments.sort(key=lambda s: name_key(s.name))
    return segments


class LinkWhere:
    """``link 3 (r1:eth2, h1:eth0)``: how problems name a link, made only when one is told."""

    __slots__ = ("index", "raw", "text")

    def __init__(self, index, raw):
        self.index = index
        self.raw = raw
        self.text = None

    def __str__(self):
        if self.text is None:
            if isinstance(self.raw, list) and self.raw:
                self.text = "link %d (%s)" % (
                    self.index, ", ".join(_endpoint_label(e) for e in self.raw))
            else:
                self.text = "link %d" % self.index
        return self.text


def _parse_link(index, item, nodes, bad_nodes, used, problems):
    """One link as a ``Segment``, or None when it has a problem (reported)."""
    before = len(problems.lines)
    raw_endpoints = item.get("endpoints") if isinstance(item, dict) else None
    where = LinkWhere(index, raw_endpoints)
    spec = mapping(where, item, problems, LINK_KEYS, ("endpoints",))
    if spec is None or "endpoints" not in spec:
        return None

    endpoints = []
    skip = False     # an endpoint on a node that has a problem of its own
    if not isinstance(raw_endpoints, list):
        problems.add("%s: endpoints must be a list, got %s" % (where, what(raw_endpoints)))
    else:
        if not raw_endpoints:
            problems.add("%s: needs at least one endpoint" % where)
        seen = set()
        for raw in raw_endpoints:
            endpoint = _parse_endpoint(where, raw, problems)
            if endpoint is None:
                continue
            if endpoint.node in bad_nodes:
                skip = True
            elif endpoint.node not in nodes:
                problems.add("%s: unknown node %s" % (where, endpoint.node))
            if endpoint.label in seen:
                problems.add("%s: interface %s is used twice in this link" % (where, endpoint.label))
            elif endpoint.label in used:
                problems.add("%s: interface %s is already used by %s" % (
                    where, endpoint.label, used[endpoint.label]))
            else:
                used[endpoint.label] = where
            seen.add(endpoint.label)
            endpoints.append(endpoint)

    pins = NO_PINS
    if "ipv4" in spec or "ipv6" in spec:
        pins = {}
        for family, _version in FAMILIES:
            value = spec.get(family)
            if value is None or value is False:
                pins[family] = value
            else:
                pins[family] = parse_prefix(where, family, value, problems)

    name = spec.get("name")
    if name is not None and not (isinstance(name, str) and SEGMENT_NAME.match(name)):
        problems.add("%s: segment name %r is not valid (%s)" % (where, name, SEGMENT_NAME_RULE))
    pool = spec.get("pool")
    if pool is not None and not isinstance(pool, str):
        problems.add("%s: pool must be a pool name, got %s" % (where, what(pool)))
    mtu = spec.get("mtu")
    if mtu is not None:
        mtu = integer(where, "mtu", mtu, MTU_RANGE[0], MTU_RANGE[1], problems)
    hosts = sorted({nodes[e.node].placement for e in endpoints if e.node in nodes} - {None}, key=name_key)
    hosts = tuple(hosts) if len(hosts) > 1 else ()
    link = _parse_link_type(where, spec, problems, hosts)

    if len(problems.lines) != before or skip:
        return None
    endpoints.sort(key=_endpoint_key)
    if name is None:
        name = "%s-%s" % (endpoints[0].node, endpoints[0].ifname)
    p2p = len(endpoints) == 2 and all(nodes[e.node].kind.forwards for e in endpoints)
    return Segment(name, "p2p" if p2p else "lan", where, endpoints, pins, pool, mtu, link, hosts)


def _endpoint_key(endpoint):
    return _KEYS.get(endpoint.node) or name_key(endpoint.node), \
        _KEYS.get(endpoint.ifname) or name_key(endpoint.ifname)


def _parse_endpoint(where, raw, problems):
    if isinstance(raw, str):
        node, sep, ifname = raw.partition(":")
        if not sep or not node or not ifname or ":" in ifname:
            problems.add("%s: endpoint %r is not of the form node:ifname" % (where, raw))
            return None
        spec = {}
    elif not isinstance(raw, dict):
        problems.add("%s: endpoint %r is neither node:ifname nor a mapping" % (where, raw))
        return None
    else:
        label = _endpoint_label(raw)
        spec = mapping(where, raw, problems, ENDPOINT_KEYS, ("node", "ifname"),
                       context=" in endpoint %s" % label)
        if spec is None or "node" not in spec or "ifname" not in spec:
            return None
        node, ifname = spec["node"], spec["ifname"]
        if not isinstance(node, str) or not isinstance(ifname, str):
            problems.add("%s: node and ifname of endpoint %s must be strings" % (where, label))
            return None
    if not IFNAME.match(ifname) or ifname == "lo":
        problems.add("%s: interface name %r of %s is not valid (%s)" % (
            where, ifname, node, IFNAME_RULE))
        return None

    if not spec:
        return Endpoint(node, ifname, NO_PINS, False)
    label = "%s:%s" % (node, ifname)
    pins = {"ipv4": None, "ipv6": None}
    for family, version in FAMILIES:
        value = spec.get(family)
        if value is None or value is False:
            pins[family] = value
            continue
        net = parse_ip(value, version, want_len=None)
        if net is None:
            problems.add("%s: %s %r of %s is not a valid IPv%d address" % (
                where, family, value, label, version))
        else:
            pins[family] = net
    dhcp = spec.get("dhcp", False)
    if not isinstance(dhcp, bool):
        problems.add("%s: dhcp of %s must be true or false, got %r" % (where, label, dhcp))
        dhcp = False
    if dhcp and spec.get("ipv4") is not None:
        problems.add("%s: %s has both dhcp and ipv4; dhcp gives the ipv4 address" % (where, label))
    return Endpoint(node, ifname, pins, dhcp)


# What a link between engines may set: the rest (remote, local, dev) is each engine's own, derived.
SPLIT_KEYS = ("vni", "port")


def _parse_link_type(where, spec, problems, hosts=()):
    if hosts:
        return _parse_split_link(where, spec, problems, hosts)
    if "type" not in spec and not spec.keys() & TYPE_KEYS:
        return {"type": "bridge"}
    type_ = spec.get("type", "bridge")
    rules = LINK_TYPES.get(type_) if isinstance(type_, str) else None
    if rules is None:
        problems.add("%s: unknown type %r (expected %s)" % (
            where, type_, either(sorted(LINK_TYPES))))
        return None
    for other, other_rules in sorted(LINK_TYPES.items()):
        if other == type_:
            continue
        for key in other_rules["required"] + tuple(other_rules["optional"]):
            if key in spec and key not in rules["required"] and key not in rules["optional"]:
                problems.add("%s: key %r applies only to type %s" % (where, key, other))
    link = {"type": type_}
    for key in rules["required"]:
        if spec.get(key) is None:
            problems.add("%s: type %s needs key %r" % (where, type_, key))
        link[key] = spec.get(key)
    for key, default in rules["optional"].items():
        link[key] = spec.get(key, default)
    checks = {
        "vni": lambda v: integer(where, "vni", v, VNI_RANGE[0], VNI_RANGE[1], problems),
        "port": lambda v: integer(where, "port", v, PORT_RANGE[0], PORT_RANGE[1], problems),
        "remote": lambda v: _ip_address(where, "remote", v, problems),
        "local": lambda v: _ip_address(where, "local", v, problems),
        "parent": lambda v: _host_ifname(where, "parent", v, problems),
        "dev": lambda v: _host_ifname(where, "dev", v, problems),
    }
    for key in list(link):
        if key != "type" and link[key] is not None:
            link[key] = checks[key](link[key])
    return link


def _parse_split_link(where, spec, problems, hosts):
    """A link whose endpoints are on several engines: a vxlan segment, its VNI pinned or derived
    later (``_placement.split_segments``), its underlay (remote, local) derived for each engine."""
    on = "its endpoints are on engines %s" % shorten(hosts)
    type_ = spec.get("type", "vxlan")
    if type_ != "vxlan":
        problems.add("%s: type %s cannot span engines (%s): leave the type out, the planner makes it a"
                     " vxlan segment" % (where, type_, on))
        return None
    for key in sorted(TYPE_KEYS - set(SPLIT_KEYS)):
        if key in spec:
            problems.add("%s: key %r is derived for each engine (%s): leave it out" % (where, key, on))
    link = {"type": "vxlan", "vni": None, "remote": None, "local": None, "port": LINK_TYPES["vxlan"]["optional"]["port"],
            "dev": None}
    if spec.get("vni") is not None:
        link["vni"] = integer(where, "vni", spec["vni"], VNI_RANGE[0], VNI_RANGE[1], problems)
    if spec.get("port") is not None:
        link["port"] = integer(where, "port", spec["port"], PORT_RANGE[0], PORT_RANGE[1], problems)
    return link


def _ip_address(where, key, value, problems):
    net = parse_ip(value, 4, want_len=False) or parse_ip(value, 6, want_len=False)
    if net is None:
        problems.add("%s: %s %r is not a valid IP address" % (where, key, value))
        return None
    return fmt(net.version, net.value)


def _host_ifname(where, key, value, problems):
    if not (isinstance(value, str) and HOST_IFNAME.match(value)):
        problems.add("%s: %s %r is not a valid interface name" % (where, key, value))
        return None
    return value
