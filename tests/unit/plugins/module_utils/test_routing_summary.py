# SPDX-License-Identifier: GPL-3.0-or-later
"""Summarised static routes reach what one route per destination reaches, hop for hop.

The oracle is written here from the rules alone (docs/topology.md, Static routing, without the
summaries): breadth-first search from every router, then one route per destination and node
that needs one. For every node of a lab and every address around every destination (its first,
second and last address, the ones just outside it), a packet is forwarded hop by hop with
longest-prefix match, once over the oracle's tables and once over the plan's: it must end at the
same place (the same node, or the same segment for an address no interface has; or dropped),
after as many hops, and never loop.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import ipaddress
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.module_utils._topology import name_key

ROOT = Path(__file__).resolve().parents[4]
FAMILIES = (("ipv4", 4), ("ipv6", 6))
DEFAULTS = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}
FAR = float("inf")


def bench_topology(nodes):
    loader = importlib.machinery.SourceFileLoader("plan_scale", str(ROOT / "bench" / "plan_scale"))
    spec = importlib.util.spec_from_loader("plan_scale", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.topology(nodes, "static")


# --- the oracle: one route per destination ----------------------------------------------------

def _graph(plan, family):
    nodes, segments = plan["nodes"], plan["segments"]
    routers = sorted((n for n, e in nodes.items() if e["kind"] == "router"), key=name_key)
    via = {r: {} for r in routers}           # router -> {neighbour: its address, first segment}
    sites = {}                               # prefix -> {domain: {router}}
    connected = {n: set() for n in nodes}    # node -> prefixes of its segments and loopback
    routed = {}                              # host -> {ifname: [(router, address)]}
    for seg_name in sorted(segments, key=name_key):
        segment = segments[seg_name]
        ends = []
        for label in segment["endpoints"]:
            node, ifname = label.split(":")
            ends.append((node, ifname, nodes[node]["interfaces"][ifname][family]))
        attached = [(n, address.split("/")[0]) for n, _i, address in ends if n in via and address]
        for a, _address in attached:
            for b, address in attached:
                if b != a:
                    via[a].setdefault(b, address)
        link = segment.get("link") or {}
        domain = ("vxlan", link.get("vni")) if link.get("type") == "vxlan" else seg_name
        if segment[family]:
            sites.setdefault(segment[family], {}).setdefault(domain, set()).update(a for a, _address in attached)
            for n, _i, _address in ends:
                connected[n].add(segment[family])
        if attached:
            for n, ifname, _address in ends:
                if n not in via:
                    routed.setdefault(n, {})[ifname] = attached
    for r in routers:
        loopback = (nodes[r]["loopback"] or {}).get(family)
        if loopback:
            sites.setdefault(loopback, {})[("loopback", r)] = {r}
            connected[r].add(loopback)
    return routers, via, sites, connected, routed


def _distances(via, source):
    dist, frontier = {source: 0}, [source]
    while frontier:
        following = []
        for u in frontier:
            for v in via[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    following.append(v)
        frontier = following
    return dist


def oracle(plan, family):
    """{node: [(dst, via)]} and the prefixes left out somewhere, from the rules alone."""
    routers, via, sites, connected, routed = _graph(plan, family)
    dist = {r: _distances(via, r) for r in routers}

    def reached(router, prefix):
        """{domain: hops} of the sites of ``prefix`` that ``router`` reaches."""
        found = {}
        for domain, members in sites[prefix].items():
            hops = min((dist[router].get(m, FAR) for m in members), default=FAR)
            if hops < FAR:
                found[domain] = hops
        return found

    tables = {n: [] for n in plan["nodes"]}
    left_out = set()
    for r in routers:
        neighbours = sorted(via[r], key=name_key)
        if not neighbours:
            continue
        if len(neighbours) == 1 and len(via[neighbours[0]]) > 1:
            tables[r].append((DEFAULTS[family], via[r][neighbours[0]]))
            wanted = [p for p in sites if p not in connected[r] and any(
                ipaddress.ip_network(p).subnet_of(ipaddress.ip_network(c)) for c in connected[r])]
        else:
            wanted = [p for p in sites if p not in connected[r]]
        for prefix in wanted:
            found = reached(r, prefix)
            if len(found) > 1:
                left_out.add(prefix)
            if len(found) != 1:
                continue
            domain, hops = next(iter(found.items()))
            members = sites[prefix][domain]
            first = next(n for n in neighbours if min(dist[n].get(m, FAR) for m in members) == hops - 1)
            tables[r].append((prefix, via[r][first]))
    for host, interfaces in routed.items():
        if len(interfaces) < 2:
            continue
        gateway = plan["nodes"][host]["gateway"][family]
        candidates = {}
        for ifname in sorted(interfaces, key=name_key):
            for router, address in interfaces[ifname]:
                candidates.setdefault(router, address)
        base = next((r for r, address in candidates.items() if address == gateway), None)
        for prefix in sites:
            if prefix in connected[host]:
                continue
            status = {}
            for r in candidates:
                if prefix in connected[r]:
                    status[r] = (0, next((d for d, m in sites[prefix].items() if r in m), None))
                    continue
                found = reached(r, prefix)
                if len(found) > 1:
                    status = None
                    break
                domain, hops = next(iter(found.items()), (None, FAR))
                status[r] = (hops, domain)
            if status is None:
                continue
            if len({d for hops, d in status.values() if hops < FAR} - {None}) > 1:
                left_out.add(prefix)
                continue
            best = status[base][0] if base is not None else FAR
            choice = None
            for r in sorted(candidates, key=name_key):
                if r != base and status[r][0] < best:
                    best, choice = status[r][0], r
            if choice is not None:
                tables[host].append((prefix, candidates[choice]))
    return tables, left_out


# --- forwarding -----------------------------------------------------------------------------

class Network:
    """Longest-prefix-match forwarding of one family over given routes per node."""

    def __init__(self, plan, family, routes):
        self.plan, self.family = plan, family
        self.bits = 32 if family == "ipv4" else 128
        self.owner = {}                          # (segment, address) -> node
        self.tables = {}                         # node -> [(length, {network: action})], longest first
        for name, node in plan["nodes"].items():
            entries = []
            for interface in node["interfaces"].values():
                if interface[family]:
                    address = ipaddress.ip_interface(interface[family])
                    self.owner[interface["segment"], int(address.ip)] = name
                    entries.append((address.network, ("on", interface["segment"])))
            loopback = (node["loopback"] or {}).get(family)
            if loopback:
                entries.append((ipaddress.ip_network(loopback), ("local", name)))
            if node["gateway"][family]:
                entries.append((ipaddress.ip_network(DEFAULTS[family]), ("via", node["gateway"][family])))
            for dst, via in routes[name]:
                entries.append((ipaddress.ip_network(dst), ("via", via)))
            by_length = {}
            for network, action in entries:
                # A connected route wins over a static one of the same prefix, as in the kernel.
                by_length.setdefault(network.prefixlen, {}).setdefault(int(network.network_address), action)
            self.tables[name] = sorted(by_length.items(), reverse=True)
        # The next hop of a route: another node with its address on a segment this one is on.
        for name, table in self.tables.items():
            segments = {i["segment"] for i in plan["nodes"][name]["interfaces"].values() if i[family]}
            for _length, networks in table:
                for network, (kind, where) in networks.items():
                    if kind == "via":
                        gateway = int(ipaddress.ip_address(where))
                        nexts = {self.owner.get((segment, gateway)) for segment in segments} - {None, name}
                        assert len(nexts) == 1, (name, where)
                        networks[network] = ("via", nexts.pop())
        self.memo = {}

    def lookup(self, node, address):
        for length, networks in self.tables[node]:
            action = networks.get(address >> (self.bits - length) << (self.bits - length))
            if action:
                return action
        return None

    def forward(self, node, address, seen=()):
        """(where the packet ends, hops): ("node", name), ("segment", name), ("dropped",) or
        ("looped",)."""
        key = (node, address)
        if key in self.memo:
            return self.memo[key]
        if node in seen:
            return ("looped",), 0
        action = self.lookup(node, address)
        if action is None:
            result = ("dropped",), 0
        elif action[0] == "local":
            result = ("node", action[1]), 0
        elif action[0] == "on":
            owner = self.owner.get((action[1], address))
            result = (("node", owner) if owner else ("segment", action[1])), 0
        else:
            end, hops = self.forward(action[1], address, seen + (node,))
            result = end, hops + 1
        self.memo[key] = result
        return result


def probes(plan, family):
    """Addresses around every destination: first, second, last, and just outside."""
    prefixes = {s[family] for s in plan["segments"].values() if s[family]}
    prefixes |= {(n["loopback"] or {}).get(family) for n in plan["nodes"].values()} - {None}
    top = (1 << (32 if family == "ipv4" else 128)) - 1
    found = set()
    for prefix in prefixes:
        network = ipaddress.ip_network(prefix)
        first, last = int(network.network_address), int(network.broadcast_address)
        found.update(a for a in (first - 1, first, first + 1, last, last + 1) if 0 <= a <= top)
    return sorted(found)


def check_same_reachability(plan):
    left_out_everywhere = set()
    for family, _version in FAMILIES:
        reference, left_out = oracle(plan, family)
        left_out_everywhere |= left_out
        ours = {name: [(r["dst"], r["via"]) for r in node["routes"]
                       if ipaddress.ip_network(r["dst"]).version == (4 if family == "ipv4" else 6)]
                for name, node in plan["nodes"].items()}
        for name, routes in ours.items():
            keys = [(ipaddress.ip_network(dst).network_address, ipaddress.ip_network(dst).prefixlen)
                    for dst, _via in routes]
            assert keys == sorted(set(keys)), name            # sorted, one route per prefix
            # Never more routes than one per destination.
            assert len(routes) <= len(reference[name]), (name, routes, reference[name])
        old, new = Network(plan, family, reference), Network(plan, family, ours)
        for address in probes(plan, family):
            for name in plan["nodes"]:
                expected, got = old.forward(name, address), new.forward(name, address)
                # As many hops to get there (a packet for no one may be dropped sooner or later).
                assert got[0] == expected[0] and (got[0] == ("dropped",) or got[1] == expected[1]), (
                    family, name, str(ipaddress.ip_address(address)), got, expected)
    noted = {re.match(r"routing: prefix (\S+) ", note).group(1) for note in plan["routing_notes"]}
    assert noted == left_out_everywhere


def total_routes(plan):
    return sum(len(node["routes"]) for node in plan["nodes"].values())


# --- labs -------------------------------------------------------------------------------------

def lab(nodes, links, **extra):
    data = {"name": "t", "routing": "static", "nodes": {}, "links": links}
    for name in nodes.split():
        data["nodes"][name] = {"kind": "router" if name.startswith("r") else "host"}
    data.update(extra)
    return data


DUAL = {"p2p": {"ipv4": "10.1.0.0/16", "prefix": 31, "ipv6": "fd00:1::/48"},
        "lan": {"ipv4": "172.16.0.0/16", "prefix": 28, "ipv6": "fd00:2::/48"},
        "loopback": {"ipv4": "10.0.0.0/24", "ipv6": "fd00:ff::/64"}}

# A binary tree of routers, two hosts on each leaf, hosts dual-homed across siblings and
# across the two halves of the tree (routers not neighbours of each other).
TREE = lab("r1 r2 r3 r4 r5 r6 r7 h1 h2 h3 h4 h5 h6 h7 h8 hx hy", [
    {"endpoints": ["r1:eth1", "r2:eth1"]},
    {"endpoints": ["r1:eth2", "r3:eth1"]},
    {"endpoints": ["r2:eth2", "r4:eth1"]},
    {"endpoints": ["r2:eth3", "r5:eth1"]},
    {"endpoints": ["r3:eth2", "r6:eth1"]},
    {"endpoints": ["r3:eth3", "r7:eth1"]},
] + [{"endpoints": ["r%d:lan%d" % (4 + i // 2, i % 2), "h%d:eth0" % (i + 1)]} for i in range(8)] + [
    {"endpoints": ["r5:lan9", "h1:eth1"]},
    {"endpoints": ["r4:lan9", "hx:eth0"]},
    {"endpoints": ["r7:lan9", "hx:eth1"]},
    {"endpoints": ["r6:lan8", "hy:eth0", "r7:lan8"]},
    {"endpoints": ["r1:lan1", "hy:eth1"]},
], addressing=DUAL)

# Pinned prefixes: one on two separate segments (ambiguous), one nested in another, a vxlan
# domain over two segments, a router endpoint without IPv4 on a segment that has it, and an
# IPv6 graph unlike the IPv4 one (r3-r4 has no IPv6).
OVERLAPS = lab("r1 r2 r3 r4 r5 h1 h2 h3 h4 h5", [
    {"endpoints": ["r1:eth1", "r2:eth1"]},
    {"endpoints": ["r2:eth2", "r3:eth1"]},
    {"endpoints": ["r3:eth2", "r4:eth1"], "ipv6": False},
    {"endpoints": ["r4:eth2", "r5:eth1"]},
    {"endpoints": ["r5:eth2", "r1:eth2"]},
    {"endpoints": ["r2:eth3", "r4:eth3"]},
    {"endpoints": ["r1:lan", "h1:eth0"], "ipv4": "192.168.0.0/16"},
    {"endpoints": ["r3:lan", "h3:eth0"], "ipv4": "192.168.1.0/24"},
    {"endpoints": ["r4:lan", "h4:eth0"], "ipv4": "192.168.9.0/24"},
    {"endpoints": ["r5:lan", "h5:eth0"], "ipv4": "192.168.9.0/24"},
    {"endpoints": [{"node": "r2", "ifname": "lan", "ipv4": "10.50.0.1"},
                   {"node": "h2", "ifname": "eth0", "ipv4": "10.50.0.10"}],
     "type": "vxlan", "vni": 5, "remote": "192.0.2.1", "ipv4": "10.50.0.0/24"},
    {"endpoints": [{"node": "r4", "ifname": "vx", "ipv4": "10.50.0.2"},
                   {"node": "h4", "ifname": "eth1", "ipv4": "10.50.0.11"}],
     "type": "vxlan", "vni": 5, "remote": "192.0.2.2", "ipv4": "10.50.0.0/24"},
    {"endpoints": [{"node": "r1", "ifname": "odd", "ipv4": False}, "r2:odd", "h1:eth1"]},
    {"endpoints": ["r3:lan2", "h3:eth1", "r5:lan2"]},
], addressing=DUAL)


def examples():
    for path in sorted((ROOT / "examples").glob("*.yml")):
        topology = yaml.safe_load(path.read_text())
        if topology.get("routing") == "static":
            yield pytest.param(topology, id=path.stem)


@pytest.mark.parametrize("topology", [
    pytest.param(bench_topology(40), id="bench-ring-20-routers"),
    pytest.param(bench_topology(100), id="bench-ring-9-hosts-each"),
    pytest.param(TREE, id="tree"),
    pytest.param(OVERLAPS, id="overlapping-prefixes"),
    *examples(),
])
def test_summaries_reach_what_one_route_per_destination_reaches(topology):
    check_same_reachability(make_plan(topology))


def test_the_bench_ring_needs_far_fewer_routes():
    # 100 routers, 900 hosts: one route per destination and node that needs one is 1,360,400
    # routes (measured before summaries); 68,970 now.
    assert total_routes(make_plan(bench_topology(1000))) < 1360400 // 15


def test_a_summary_covers_only_what_it_must():
    # r2 reaches r1's two LANs through r1: one route for both, none for its own loopback.
    plan = make_plan(lab("r1 r2 r3 h1 h2 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.0.0/24"},
        {"endpoints": ["r1:eth3", "h2:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.2.0/24"},
    ]))
    assert [(r["dst"], r["via"]) for r in plan["nodes"]["r2"]["routes"]] == [
        ("10.0.0.1/32", "10.1.0.1"), ("10.0.0.3/32", "10.1.0.6"),
        ("192.168.0.0/23", "10.1.0.1"), ("192.168.2.0/24", "10.1.0.6")]
    check_same_reachability(plan)


def test_no_summary_over_an_address_outside_the_lab():
    # 192.168.1.0/24 is not in the lab: r2 keeps 192.168.0.0/24 and 192.168.2.0/24 apart.
    plan = make_plan(lab("r1 r2 r3 h1 h2", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.0.0/24"},
        {"endpoints": ["r1:eth3", "h2:eth0"], "ipv4": "192.168.2.0/24"},
    ]))
    assert [r["dst"] for r in plan["nodes"]["r2"]["routes"]] == [
        "10.0.0.1/32", "10.0.0.3/32", "192.168.0.0/24", "192.168.2.0/24"]
    check_same_reachability(plan)


# --- random labs, pinned prefixes included ------------------------------------------------------

PINNED = ["192.168.0.0/16", "192.168.1.0/24", "192.168.1.0/24", "192.168.1.128/25", "192.168.2.0/24",
          "192.168.3.0/24"]


@st.composite
def random_labs(draw):
    routers = ["r%d" % i for i in range(1, draw(st.integers(1, 9)) + 1)]
    hosts = ["h%d" % i for i in range(1, draw(st.integers(0, 4)) + 1)]
    groups = draw(st.lists(st.lists(st.sampled_from(routers + hosts), min_size=1, max_size=3, unique=True),
                           min_size=1, max_size=16))
    used = {}
    links = []
    pinned = list(PINNED)
    for group in groups:
        ends = []
        for node in group:
            used[node] = used.get(node, 0) + 1
            ends.append("%s:eth%d" % (node, used[node]))
        link = {"endpoints": ends}
        if pinned and draw(st.booleans()):
            link["ipv4"] = pinned.pop(draw(st.integers(0, len(pinned) - 1)))
        if draw(st.integers(0, 5)) == 0:
            link["ipv6"] = False                 # the IPv6 graph differs from the IPv4 one
        links.append(link)
    return lab(" ".join(routers + hosts), links, addressing=DUAL)


def on_one_prefix_twice(plan):
    """Whether a node is on two segments with the same prefix (which one a next hop is on is
    then the kernel's guess)."""
    for node in plan["nodes"].values():
        for family, _version in FAMILIES:
            prefixes = [plan["segments"][i["segment"]][family] for i in node["interfaces"].values()]
            prefixes = [p for p in prefixes if p]
            if len(prefixes) != len(set(prefixes)):
                return True
    return False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_labs())
def test_random_labs_reach_what_one_route_per_destination_reaches(topology):
    plan = make_plan(topology)
    assume(not on_one_prefix_twice(plan))
    check_same_reachability(plan)
