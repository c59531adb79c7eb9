# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The address plan of a lab: pools -> prefixes -> addresses (docs/topology.md is the spec).

``make_plan(topology)`` is the one public entry point. It runs a pipeline of small steps and
raises ``TopologyError`` once, at the end, with every problem any step found:

1. ``parse`` (``_topology``) validates the input; ``split_segments`` (``_placement``) gives each
   link between engines (nodes placed on different inventory hosts) its VNI and MTU.
2. ``setup_pools`` lays the user's pools over the defaults below and validates them; a pool
   leaves the range of any smaller pool inside it to that pool.
3. ``segment_prefixes`` decides, per segment and family, where the prefix comes from: pinned on
   the link, implied by an endpoint's pinned ``address/len``, none (``ipv4: false``), or a pool
   (``pool:``, else ``p2p`` for a link between two routers and ``lan`` otherwise).
4. ``pinned_space`` marks everything pinned (link prefixes, implied prefixes, loopbacks) as
   taken, so that no pool hands out a prefix or a loopback that overlaps one of them.
5. ``allocate_loopbacks`` serves routers in node-name order, then ``allocate_prefixes``
   segments in segment-name order: the same input gives the same plan whatever the order of
   its keys or links.
6. ``place_services`` puts each service on its interface; a service's own address is pinned on
   that interface's segment.
7. ``number_segment`` numbers each segment: routers first, then hosts, each in name order,
   from the first usable address up, skipping pinned addresses; DHCP endpoints take none.
8. Hosts get their gateways; ``routing: static`` adds routes (``_routing``), and notes on the
   prefixes it leaves out (``routing_notes``).

When a pool runs out, every segment (or router) left without a prefix is named in one problem
per pool and family, e.g. ``ran out of ipv4 prefixes in pool p2p (...)``.

Addresses are integers in the hot paths; netaddr parses what the user typed.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_right
from contextlib import contextmanager

from ansible.module_utils.common.yaml import HAS_YAML, yaml_load

from ansible_collections.vnet.lab.plugins.module_utils._ipsec import IpsecError, tunnels
from ansible_collections.vnet.lab.plugins.module_utils._placement import split_segments
from ansible_collections.vnet.lab.plugins.module_utils._routing import static_routes
from ansible_collections.vnet.lab.plugins.module_utils._topology import (
    BITS,
    FAMILIES,
    Net,
    Problems,
    either,
    fmt,
    integer,
    mapping,
    name_key,
    parse,
    parse_prefix,
    shorten,
    with_len,
)

DEFAULTS_YAML = r"""
# Pools every lab has; a pool of the same name under `addressing:` replaces one whole.
pools:
  lan: {ipv4: 172.16.0.0/16, prefix: 24}
  p2p: {ipv4: 10.1.0.0/16, prefix: 30}
  loopback: {ipv4: 10.0.0.0/24, prefix: 32}
# Prefix lengths a pool hands out when it does not say; "*" is any other pool.
lengths:
  loopback: {prefix: 32, prefix6: 128}
  p2p: {prefix: 30, prefix6: 64}
  "*": {prefix: 24, prefix6: 64}
"""
DEFAULTS = yaml_load(DEFAULTS_YAML) if HAS_YAML else None

POOL_KEYS = frozenset(("ipv4", "prefix", "ipv6", "prefix6"))
LENGTH_KEYS = {"ipv4": "prefix", "ipv6": "prefix6"}
LOOPBACK_POOL = "loopback"
POOL_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
POOL_NAME_RULE = "a-z, 0-9, _ and -, starting with a letter"


def usable(version, network, plen):
    """First and last usable address of a prefix: IPv4 skips the network and broadcast
    addresses and IPv6 the subnet-router anycast (::), except in /31, /32, /127 and /128."""
    host_bits = BITS[version] - plen
    last = network + (1 << host_bits) - 1
    if host_bits <= 1:
        return network, last
    return network + 1, (last - 1 if version == 4 else last)


class Block:
    """One family of a pool: the range it hands prefixes (or loopbacks) out of, in order."""

    __slots__ = ("pool", "family", "version", "net", "length", "size", "cursor", "last", "inner")

    def __init__(self, pool, family, net, length, loopback):
        self.pool = pool
        self.family = family
        self.version = net.version
        self.net = net
        self.length = length
        self.size = 1 << (BITS[net.version] - length)
        if loopback:
            self.cursor, self.last = usable(net.version, net.value, net.plen)
        else:
            self.cursor, self.last = net.value, net.last
        self.inner = Taken()    # ranges of smaller pools inside this one: left to them

    def take(self, taken):
        """The next free prefix (as an integer) or None when the pool is dry."""
        size = self.size
        start = self.cursor
        inner = self.inner
        while start + size - 1 <= self.last:
            clash = taken.clash(start, start + size - 1)
            if clash is None and inner.starts:
                clash = inner.clash(start, start + size - 1)
            if clash is None:
                taken.add(start, start + size - 1)
                self.cursor = start + size
                return start
            start = -(-(clash + 1) // size) * size
        self.cursor = start
        return None

    def describe(self):
        if self.pool == LOOPBACK_POOL:
            return str(self.net)
        return "%s in /%d prefixes" % (self.net, self.length)


class Taken:
    """Address ranges of one family that are in use: sorted, merged, disjoint intervals."""

    __slots__ = ("starts", "ends")

    def __init__(self):
        self.starts = []
        self.ends = []

    def clash(self, first, last):
        """End of a taken interval overlapping [first, last], or None."""
        index = bisect_right(self.starts, last) - 1
        if index >= 0 and self.ends[index] >= first:
            return self.ends[index]
        return None

    def add(self, first, last):
        starts, ends = self.starts, self.ends
        index = bisect_right(starts, last + 1)
        low = index
        while low > 0 and ends[low - 1] >= first - 1:
            low -= 1
        if low == index:
            starts.insert(index, first)
            ends.insert(index, last)
            return
        # Intervals low..index-1 touch [first, last]: merge them into the first one.
        if starts[low] < first:
            first = starts[low]
        if ends[index - 1] > last:
            last = ends[index - 1]
        starts[low] = first
        ends[low] = last
        if index - low > 1:
            del starts[low + 1:index]
            del ends[low + 1:index]


def setup_pools(addressing, problems):
    """The lab's pools: {name: {"ipv4": Block | None, "ipv6": Block | None}}."""
    specs = dict(DEFAULTS["pools"])
    for name in sorted(addressing, key=str):
        if not (isinstance(name, str) and POOL_NAME.match(name)):
            problems.add("addressing: pool name %r is not valid (%s)" % (name, POOL_NAME_RULE))
            continue
        specs[name] = addressing[name]
    pools = {}
    for name in sorted(specs):
        pool = _setup_pool(name, specs[name], problems)
        if pool is not None:
            pools[name] = pool
    blocks = [block for pool in pools.values() for block in pool.values() if block is not None]
    for outer in blocks:
        for block in blocks:
            net = block.net
            if (block.version == outer.version and net.plen > outer.net.plen
                    and outer.net.value <= net.value <= outer.net.last):
                outer.inner.add(net.value, net.last)
    return pools


def _setup_pool(name, data, problems):
    where = "pool %s" % name
    before = len(problems.lines)
    spec = mapping(where, data, problems, POOL_KEYS)
    if spec is None:
        return None
    lengths = DEFAULTS["lengths"].get(name, DEFAULTS["lengths"]["*"])
    loopback = name == LOOPBACK_POOL
    pool = {}
    for family, version in FAMILIES:
        length_key = LENGTH_KEYS[family]
        value = spec.get(family)
        pool[family] = None
        if value is None or value is False:
            if spec.get(length_key) is not None:
                problems.add("%s: %s given without %s" % (where, length_key, family))
            continue
        net = parse_prefix(where, family, value, problems)
        length = spec.get(length_key)
        if length is None:
            length = lengths[length_key]
        if loopback and length != BITS[version]:
            problems.add("%s: %s must be %d (a loopback is one address)" % (
                where, length_key, BITS[version]))
            continue
        low = net.plen if net is not None else 0
        length = integer(where, length_key, length, low, BITS[version], problems)
        if net is not None and length is not None:
            pool[family] = Block(name, family, net, length, loopback)
    if not any(pool.values()) and len(problems.lines) == before:
        problems.add("%s: has neither ipv4 nor ipv6" % where)
    return pool if len(problems.lines) == before else None


class Seg:
    """Working state of one segment while it is numbered."""

    __slots__ = ("segment", "prefixes", "wants", "extras")

    def __init__(self, segment):
        self.segment = segment
        self.prefixes = {"ipv4": None, "ipv6": None}   # Net, once known
        self.wants = {"ipv4": None, "ipv6": None}      # Block to allocate from
        self.extras = []                               # service addresses: [(label, family, Net)]


def segment_prefixes(topology, pools, problems):
    """A ``Seg`` per segment, with pinned prefixes set and pool blocks to allocate from.

    A family with a problem gets no prefix, so later steps do not report it again."""
    known = set(DEFAULTS["pools"]) | {name for name in topology.addressing if isinstance(name, str)}
    segs = []
    for segment in topology.segments:
        where = segment.where
        pool_name = segment.pool or ("p2p" if segment.type == "p2p" else "lan")
        if pool_name == LOOPBACK_POOL:
            problems.add("%s: pool %s hands out loopbacks, not segment prefixes" % (where, pool_name))
            continue
        if pool_name not in known:
            problems.add("%s: unknown pool %r (expected %s)" % (
                where, pool_name, either(sorted(known - {LOOPBACK_POOL}))))
            continue
        seg = Seg(segment)
        segs.append(seg)
        for family, _version in FAMILIES:
            pin = segment.pins[family]
            if pin is False:
                for endpoint in segment.endpoints:
                    if endpoint.pins[family]:
                        problems.add("%s: address %s of %s, but the link says %s: false" % (
                            where, endpoint.pins[family], endpoint.label, family))
                continue
            if pin is None:
                pin = _implied_prefix(segment, family, problems)
                if pin is False:
                    continue
            if pin is not None:
                seg.prefixes[family] = pin
                continue
            bare = [e for e in segment.endpoints if e.pins[family]]
            for endpoint in bare:
                problems.add("%s: address %s of %s needs a prefix length "
                             "(the link pins no %s prefix)" % (
                                 where, endpoint.pins[family], endpoint.label, family))
            pool = pools.get(pool_name)     # None: the user's pool has a problem, reported
            if pool is not None and not bare:
                seg.wants[family] = pool[family]
    return segs


def _implied_prefix(segment, family, problems):
    """The prefix that endpoints' pinned ``address/len`` imply; None when no endpoint pins
    one, False when they disagree (a problem)."""
    first = None
    for endpoint in segment.endpoints:
        pin = endpoint.pins[family]
        if not pin or pin.plen is None:
            continue
        if first is None:
            first = endpoint
        elif (pin.network, pin.plen) != (first.pins[family].network, first.pins[family].plen):
            problems.add("%s: addresses %s of %s and %s of %s are in different prefixes" % (
                segment.where, first.pins[family], first.label, pin, endpoint.label))
            return False
    if first is None:
        return None
    pin = first.pins[family]
    return Net(pin.version, pin.network, pin.plen)


def pinned_space(topology, segs):
    """Taken ranges per IP version, seeded with everything the topology pins."""
    taken = {4: Taken(), 6: Taken()}
    for seg in segs:
        for net in seg.prefixes.values():
            if net is not None:
                taken[net.version].add(net.value, net.last)
    for node in topology.nodes.values():
        for net in node.loopback.values():
            if net:
                taken[net.version].add(net.value, net.value)
    return taken


def allocate_loopbacks(topology, pools, taken, problems):
    """{router: {"ipv4": text | None, "ipv6": ...}} for every kind that has a loopback."""
    loopbacks = {}
    owners = {}
    dry = {}
    pool = pools.get(LOOPBACK_POOL, {"ipv4": None, "ipv6": None})
    for name, node in topology.nodes.items():
        if not node.kind.loopback:
            continue
        entry = loopbacks[name] = {"ipv4": None, "ipv6": None}
        for family, _version in FAMILIES:
            pin = node.loopback[family]
            if pin:
                text = str(pin)
                if text in owners:
                    problems.add("node %s: loopback %s is also the loopback of %s" % (
                        name, text, owners[text]))
                owners[text] = name
                entry[family] = text
            elif pin is None and pool[family] is not None:
                block = pool[family]
                value = block.take(taken[block.version])
                if value is None:
                    dry.setdefault(family, []).append(name)
                else:
                    entry[family] = with_len(block.version, value, block.length)
    for family, names in sorted(dry.items()):
        problems.add("ran out of %s addresses in pool %s (%s): no loopback for routers %s" % (
            family, LOOPBACK_POOL, pool[family].describe(), shorten(names)))
    return loopbacks


def allocate_prefixes(segs, taken, problems):
    """Pool prefixes for every segment that wants one, in segment-name order."""
    dry = {}
    for seg in segs:
        for family, block in seg.wants.items():
            if block is None:
                continue
            value = block.take(taken[block.version])
            if value is None:
                dry.setdefault((block.pool, family), (block, []))[1].append(seg.segment.name)
            else:
                seg.prefixes[family] = Net(block.version, value, block.length)
    for (pool, family), (block, names) in sorted(dry.items()):
        problems.add("ran out of %s prefixes in pool %s (%s): no prefix for segments %s" % (
            family, pool, block.describe(), shorten(names)))


def number_segment(seg, forwards, problems):
    """Addresses of a segment's endpoints, in endpoint order: [[ipv4, ipv6]] (texts or None),
    and the texts of the service addresses on it: {label: text}.

    ``forwards`` tells, per node name, whether the node is a router: routers come first.
    """
    segment = seg.segment
    endpoints = segment.endpoints
    result = [[None, None] for _endpoint in endpoints]
    extras = {}
    order = None
    for slot, (family, _version) in enumerate(FAMILIES):
        net = seg.prefixes[family]
        if net is None:
            continue
        if order is None:
            indexes = range(len(endpoints))
            order = ([i for i in indexes if forwards[endpoints[i].node]]
                     + [i for i in indexes if not forwards[endpoints[i].node]])
        version, plen = net.version, net.plen
        first, last = usable(version, net.value, plen)
        pinned = {}
        if segment.pinned or seg.extras:
            pinned = _check_pins(seg, family, net, first, last, problems)
        dhcp = family == "ipv4"
        auto = [i for i in order
                if endpoints[i].pins[family] is None and not (dhcp and endpoints[i].dhcp)]
        free = last - first + 1 - len(pinned)
        if len(auto) > free:
            problems.add("%s: ran out of %s addresses in %s on segment %s "
                         "(%d endpoints need one, %d %s free)" % (
                             segment.where, family, net, segment.name, len(auto), max(free, 0),
                             "is" if free == 1 else "are"))
            continue
        suffix = "/%d" % plen
        for index, endpoint in enumerate(endpoints):
            pin = endpoint.pins[family]
            if pin and pinned.get(pin.value) == endpoint.label:
                result[index][slot] = fmt(version, pin.value) + suffix
        for label, pin_family, pin in seg.extras:
            if pin_family == family and pinned.get(pin.value) == label:
                extras[label] = fmt(version, pin.value) + suffix
        value = first
        for index in auto:
            while value in pinned:
                value += 1
            result[index][slot] = fmt(version, value) + suffix
            value += 1
    return result, extras


def _check_pins(seg, family, net, first, last, problems):
    """Pinned addresses of one family on a segment, as integers; a problem for each that
    does not fit the segment's prefix."""
    where = seg.segment.where
    pinned = {}
    pins = [(endpoint.label, endpoint.pins[family]) for endpoint in seg.segment.endpoints]
    pins += [(label, pin) for label, pin_family, pin in seg.extras if pin_family == family]
    for label, pin in pins:
        if not pin:
            continue
        if pin.plen is not None and pin.plen != net.plen:
            if net.network <= pin.value <= net.last:
                problems.add("%s: address %s of %s does not match the length of the prefix %s"
                             % (where, pin, label, net))
            else:
                problems.add("%s: address %s of %s is outside the prefix %s" % (
                    where, pin, label, net))
            continue
        if not net.value <= pin.value <= net.last:
            problems.add("%s: address %s of %s is outside the prefix %s" % (
                where, pin, label, net))
            continue
        if pin.value < first:
            special = "network" if net.version == 4 else "subnet-router anycast"
        elif pin.value > last:
            special = "broadcast"
        else:
            special = None
        if special:
            problems.add("%s: address %s of %s is the %s address of %s" % (
                where, pin, label, special, net))
            continue
        if pin.value in pinned:
            problems.add("%s: address %s is given to both %s and %s" % (
                where, with_len(net.version, pin.value, net.plen), pinned[pin.value], label))
            continue
        pinned[pin.value] = label
    return pinned


def place_services(topology, segs, problems):
    """The interface each service listens on, {node: {service: ifname}}; a service's own
    address joins the pinned addresses of that interface's segment."""
    by_interface = {e.label: seg for seg in segs for e in seg.segment.endpoints}
    placed = {}
    for name, node in topology.nodes.items():
        if not node.services:
            continue
        ifnames = sorted(topology.interfaces.get(name, ()), key=name_key)
        for service in node.services.values():
            where = "node %s service %s" % (name, service.name)
            ifname = service.interface or (ifnames[0] if ifnames else None)
            if ifname is None:
                problems.add("%s: the node has no interface" % where)
                continue
            if ifname not in ifnames:
                problems.add("%s: interface %s is on no link" % (where, ifname))
                continue
            placed.setdefault(name, {})[service.name] = ifname
            seg = by_interface.get("%s:%s" % (name, ifname))
            if service.address is None or seg is None:
                continue
            family = "ipv4" if service.address.version == 4 else "ipv6"
            if seg.prefixes[family] is None and seg.wants[family] is None:
                problems.add("%s: address %s, but segment %s has no %s prefix" % (
                    where, service.address, seg.segment.name, family))
                continue
            seg.extras.append((_service_label(name, ifname, service.name), family, service.address))
    return placed


def _service_label(node, ifname, service):
    return "%s:%s (service %s)" % (node, ifname, service)


def services_plan(node, placed, interfaces, addresses):
    """``services`` of a node in the plan; service addresses go to their interface's
    ``secondary`` list too."""
    services = {}
    for service in node.services.values():
        ifname = placed.get(service.name)
        interface = interfaces.get(ifname) or {"ipv4": None, "ipv6": None, "secondary": []}
        entry = services[service.name] = {
            "interface": ifname,
            "ipv4": interface["ipv4"],
            "ipv6": interface["ipv6"],
            "names": service.names,
        }
        if service.address is not None:
            text = addresses.get(_service_label(node.name, ifname, service.name))
            entry["ipv4" if service.address.version == 4 else "ipv6"] = text
            interface["secondary"].append(text)
        entry.update(service.options)
    return services


def gateways(node, interfaces, segments_members):
    """Bare address per family of the first router (name order) on the host's first
    interface (name order) that has an address of that family and a router with one too.
    An interface without an address of the family (a DHCP client's IPv4) gives no gateway:
    its DHCP server does."""
    gateway = {"ipv4": None, "ipv6": None}
    for family, _version in FAMILIES:
        for ifname in interfaces:
            if not interfaces[ifname][family]:
                continue
            for member_node, forwards, addresses in segments_members[interfaces[ifname]["segment"]]:
                if forwards and member_node != node and addresses[family]:
                    gateway[family] = addresses[family].partition("/")[0]
                    break
            if gateway[family]:
                break
    return gateway


def _first(item):
    return item[0]


@contextmanager
def _no_cyclic_gc():
    """The plan is a large tree of small dicts without cycles: the cyclic collector's passes
    over it cost some 40% of the planning time of a 10,000-node lab and free nothing.

    On the way out, what was allocated meanwhile goes straight to the oldest generation
    (freeze, then unfreeze): else the first young collection after ``enable`` would scan it
    all at once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def make_plan(topology):
    """The address plan (docs/contract.md) of ``topology``; raises ``TopologyError``."""
    with _no_cyclic_gc():
        return _make_plan(topology)


def _make_plan(topology):
    problems = Problems()
    topo = parse(topology, problems)
    split_segments(topo, problems)
    pools = setup_pools(topo.addressing, problems)
    segs = segment_prefixes(topo, pools, problems)
    taken = pinned_space(topo, segs)
    loopbacks = allocate_loopbacks(topo, pools, taken, problems)
    allocate_prefixes(segs, taken, problems)
    placed = place_services(topo, segs, problems)

    nodes = topo.nodes
    forwards = {name: node.kind.forwards for name, node in nodes.items()}
    node_interfaces = {name: [] for name in nodes}
    plan_segments = {}
    members = {}
    service_addresses = {}
    for seg in segs:
        segment = seg.segment
        name, mtu = segment.name, segment.mtu
        prefixes = seg.prefixes
        plan_segments[name] = {
            "type": segment.type,
            "ipv4": str(prefixes["ipv4"]) if prefixes["ipv4"] else None,
            "ipv6": str(prefixes["ipv6"]) if prefixes["ipv6"] else None,
            "endpoints": [e.label for e in segment.endpoints],
            "mtu": mtu,
            "link": segment.link,
        }
        seg_members = members[name] = []
        addresses, extras = number_segment(seg, forwards, problems)
        service_addresses.update(extras)
        for endpoint, (ipv4, ipv6) in zip(segment.endpoints, addresses):
            interface = {"segment": name, "ipv4": ipv4, "ipv6": ipv6, "dhcp": endpoint.dhcp,
                         "mtu": mtu, "secondary": []}
            node_interfaces[endpoint.node].append((name_key(endpoint.ifname), endpoint.ifname, interface))
            seg_members.append((endpoint.node, forwards[endpoint.node], interface))

    plan_nodes = {}
    for name, node in nodes.items():
        items = node_interfaces[name]
        items.sort(key=_first)
        interfaces = {ifname: interface for _key, ifname, interface in items}
        plan_nodes[name] = {
            "kind": node.kind.name,
            "loopback": loopbacks.get(name),
            "gateway": gateways(name, interfaces, members) if node.kind.gateway
            else {"ipv4": None, "ipv6": None},
            "interfaces": interfaces,
            "routes": [],
            "services": services_plan(node, placed.get(name, {}), interfaces, service_addresses)
            if node.services else {},
            "placement": node.placement,
        }

    plan = {
        "name": topo.name,
        "domain": topo.domain,
        "routing": topo.routing,
        "routing_notes": [],
        "nodes": plan_nodes,
        "segments": plan_segments,
        "vpn": topo.vpn,
    }
    if topo.routing == "static":
        plan["routing_notes"] = static_routes(plan)
    if topo.vpn:
        try:
            tunnels(plan, topo.vpn)
        except IpsecError as exc:
            for error in exc.errors:
                problems.add(error)
    problems.check()
    return plan
