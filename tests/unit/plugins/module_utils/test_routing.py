# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.module_utils._routing import static_routes


def lab(nodes, links, **extra):
    data = {"name": "t", "routing": "static", "nodes": {}, "links": links}
    for name in nodes.split():
        data["nodes"][name] = {"kind": "router" if name.startswith("r") else "host"}
    data.update(extra)
    return data


def routes(plan, node):
    return [(r["dst"], r["via"]) for r in plan["nodes"][node]["routes"]]


def address(plan, node, ifname, family="ipv4"):
    text = plan["nodes"][node]["interfaces"][ifname][family]
    return text.split("/")[0]


def test_a_chain_routes_through_the_middle():
    plan = make_plan(lab("r1 r2 r3 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.3.0/24"},
    ]))
    # r1 and r3 have r2 alone as neighbour: a default route does what the table would.
    assert routes(plan, "r1") == [("0.0.0.0/0", "10.1.0.2")]
    assert routes(plan, "r3") == [("0.0.0.0/0", "10.1.0.5")]
    assert routes(plan, "r2") == [
        ("10.0.0.1/32", "10.1.0.1"),
        ("10.0.0.3/32", "10.1.0.6"),
        ("192.168.1.0/24", "10.1.0.1"),
        ("192.168.3.0/24", "10.1.0.6"),
    ]
    # Hosts with one routed interface use their gateway only.
    assert routes(plan, "h1") == [] and plan["nodes"]["h1"]["gateway"]["ipv4"] == "192.168.1.1"


def test_routing_none_gives_no_routes():
    data = lab("r1 r2 h1", [{"endpoints": ["r1:eth1", "r2:eth1"]}, {"endpoints": ["r2:eth2", "h1:eth0"]}],
               routing="none")
    plan = make_plan(data)
    assert all(node["routes"] == [] for node in plan["nodes"].values())


@pytest.mark.parametrize("left, right", [("r2", "r3"), ("r9", "r10")])
def test_equal_paths_go_to_the_neighbour_first_in_name_order(left, right):
    # r1 - left - r4 and r1 - right - r4: two paths of two hops to r4's LAN.
    plan = make_plan(lab("r1 r4 h4 %s %s" % (left, right), [
        {"endpoints": ["r1:eth1", "%s:eth1" % right]},
        {"endpoints": ["r1:eth2", "%s:eth1" % left]},
        {"endpoints": ["%s:eth2" % left, "r4:eth1"]},
        {"endpoints": ["%s:eth2" % right, "r4:eth2"]},
        {"endpoints": ["r4:eth3", "h4:eth0"], "ipv4": "192.168.4.0/24"},
    ]))
    via = dict(routes(plan, "r1"))["192.168.4.0/24"]
    assert via == address(plan, left, "eth1")


def test_first_hop_is_the_smallest_neighbour_on_any_shortest_path():
    # r1's neighbours r2 and r3; only r3 leads to r5 in two hops... and r2 in three.
    plan = make_plan(lab("r1 r2 r3 r4 r5 h5", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r1:eth2", "r3:eth1"]},
        {"endpoints": ["r2:eth2", "r4:eth1"]},
        {"endpoints": ["r4:eth2", "r5:eth1"]},
        {"endpoints": ["r3:eth2", "r5:eth2"]},
        {"endpoints": ["r5:eth3", "h5:eth0"], "ipv4": "192.168.5.0/24"},
    ]))
    assert dict(routes(plan, "r1"))["192.168.5.0/24"] == address(plan, "r3", "eth1")
    assert dict(routes(plan, "r1"))["10.0.0.4/32"] == address(plan, "r2", "eth1")


def test_parallel_links_use_the_first_segment_in_name_order():
    plan = make_plan(lab("r1 r2 h2", [
        {"endpoints": ["r1:eth2", "r2:eth2"], "name": "b-link"},
        {"endpoints": ["r1:eth1", "r2:eth1"], "name": "a-link"},
        {"endpoints": ["r2:eth3", "h2:eth0"]},
    ]))
    assert dict(routes(plan, "r1"))["10.0.0.2/32"] == address(plan, "r2", "eth1")


def test_a_lan_of_routers_is_one_hop_between_any_two():
    plan = make_plan(lab("r1 r2 r3 h1", [
        {"endpoints": ["r1:eth1", "r2:eth1", "r3:eth1", "h1:eth0"]},
        {"endpoints": ["r3:eth2", "r3:eth3"]},      # two routers' ends (the same one): p2p
    ]))
    assert routes(plan, "r1") == [
        ("10.0.0.2/32", "172.16.0.2"),
        ("10.0.0.3/32", "172.16.0.3"),
        ("10.1.0.0/30", "172.16.0.3"),
    ]


def test_routes_are_sorted_numerically():
    # A hub r1 with ten stubs: its table holds their loopbacks, 10.0.0.2 before 10.0.0.10.
    links = [{"endpoints": ["r1:eth%d" % i, "r%d:eth1" % i]} for i in range(2, 12)]
    plan = make_plan(lab(" ".join("r%d" % i for i in range(1, 12)), links))
    assert [dst for dst, _via in routes(plan, "r1")] == ["10.0.0.%d/32" % i for i in range(2, 12)]


def test_segments_without_a_router_get_no_route():
    plan = make_plan(lab("r1 r2 h1 h2", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["h1:eth0", "h2:eth0"]},
    ]))
    # Two routers that are each other's only neighbour keep their tables (no defaults that
    # would bounce unknown destinations back and forth).
    assert routes(plan, "r1") == [("10.0.0.2/32", "10.1.0.2")]


def test_ipv6_routes_follow_ipv6_neighbours_only():
    addressing = {"p2p": {"ipv6": "fd00:1::/48"}, "lan": {"ipv4": "172.16.0.0/16", "ipv6": "fd00:2::/48"},
                  "loopback": {"ipv6": "fd00:ff::/64"}}
    plan = make_plan(lab("r1 r2 h2", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "h2:eth0"]},
    ], addressing=addressing))
    # The p2p link has no IPv4: the IPv4 LAN behind r2 is not reachable for r1.
    assert routes(plan, "r1") == [("fd00:2::/64", "fd00:1::2"), ("fd00:ff::2/128", "fd00:1::2")]


def test_a_multi_homed_host_gets_routes_where_another_router_is_closer():
    plan = make_plan(lab("r1 r2 r3 h", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["h:eth0", "r1:eth2"]},
        {"endpoints": ["h:eth1", "r3:eth2"]},
    ]))
    gateway = plan["nodes"]["h"]["gateway"]["ipv4"]
    assert gateway == address(plan, "r1", "eth2")
    other = address(plan, "r3", "eth2")
    # r3's loopback and r2-r3 link are closer through r3; r2's loopback is a tie: the gateway.
    assert routes(plan, "h") == [("10.0.0.3/32", other), ("10.1.0.4/30", other)]


def test_an_ambiguous_prefix_is_left_out_and_noted_not_an_error():
    data = lab("r1 r2 r3 r4 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r2:eth3", "r4:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.1.0/24"},
    ])
    plan = make_plan(data)
    # r4, a stub, has a default via r2 and leaves the choice to it; r1 and r3 are connected.
    assert plan["routing_notes"] == [
        "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h3-eth0) from r2: "
        "left out of its static routes; pin distinct prefixes or route it yourself",
    ]
    assert "192.168.1.0/24" not in dict(routes(plan, "r2"))
    assert dict(routes(plan, "r2"))["10.0.0.1/32"] == address(plan, "r1", "eth1")
    assert routes(plan, "r4") == [("0.0.0.0/0", address(plan, "r2", "eth3"))]


def test_an_ambiguous_prefix_names_every_router_that_needs_it():
    # A ring r2-r4-r5: every router of the ring has two neighbours, none is connected.
    data = lab("r1 r2 r3 r4 r5 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r2:eth3", "r4:eth1"]},
        {"endpoints": ["r4:eth2", "r5:eth1"]},
        {"endpoints": ["r5:eth2", "r2:eth4"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.1.0/24"},
    ])
    plan = make_plan(data)
    assert plan["routing_notes"] == [
        "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h3-eth0) from r2, r4 "
        "and r5: left out of their static routes; pin distinct prefixes or route it yourself",
    ]
    assert all("192.168.1.0/24" not in dict(routes(plan, name)) for name in ("r2", "r4", "r5"))


def test_an_ambiguous_destination_for_a_multi_homed_host():
    data = lab("r1 r2 h1 h2 h", [
        {"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r2:eth1", "h2:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["h:eth0", "r1:eth2"]},
        {"endpoints": ["h:eth1", "r2:eth2"]},
    ])
    plan = make_plan(data)
    assert plan["routing_notes"] == [
        "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h2-eth0) from h: "
        "left out of its static routes; pin distinct prefixes or route it yourself",
    ]
    # What only r2 reaches still goes to r2.
    assert routes(plan, "h") == [("10.0.0.2/32", address(plan, "r2", "eth2"))]


def test_notes_cover_both_families():
    addressing = {"p2p": {"ipv4": "10.1.0.0/16", "ipv6": "fd00:1::/48"},
                  "loopback": {"ipv4": "10.0.0.0/24", "ipv6": "fd00:ff::/64"}}
    same = {"ipv4": "192.168.1.0/24", "ipv6": "fd00:9::/64"}
    data = lab("r1 r2 r3 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        dict(same, endpoints=["r1:eth2", "h1:eth0"]),
        dict(same, endpoints=["r3:eth2", "h3:eth0"]),
    ], addressing=addressing)
    assert [note.split(" is ")[0] for note in make_plan(data)["routing_notes"]] == [
        "routing: prefix 192.168.1.0/24", "routing: prefix fd00:9::/64"]


def test_vxlan_segments_with_the_same_vni_are_one_site():
    vxlan = {"type": "vxlan", "vni": 7, "remote": "192.0.2.1", "ipv4": "192.168.1.0/24"}
    data = lab("r1 r2 r3 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        dict(vxlan, endpoints=["r1:eth2", "h1:eth0"]),
        dict(vxlan, endpoints=["r3:eth2", "h3:eth0"]),
    ])
    plan = make_plan(data)
    assert dict(routes(plan, "r2"))["192.168.1.0/24"] == address(plan, "r1", "eth1")


def test_static_routes_take_a_plan_alone():
    def interface(segment, ipv4):
        return {"segment": segment, "ipv4": ipv4, "ipv6": None, "dhcp": False, "mtu": None}

    plan = {
        "name": "hand", "routing": "static",
        "nodes": {
            "a": {"kind": "router", "loopback": None, "gateway": {"ipv4": None, "ipv6": None}, "routes": [],
                  "interfaces": {"x": interface("ab", "10.0.0.1/30")}},
            "b": {"kind": "router", "loopback": None, "gateway": {"ipv4": None, "ipv6": None}, "routes": [],
                  "interfaces": {"x": interface("ab", "10.0.0.2/30"), "y": interface("lan", "10.9.0.1/24")}},
        },
        "segments": {
            "ab": {"type": "p2p", "ipv4": "10.0.0.0/30", "ipv6": None, "endpoints": ["a:x", "b:x"]},
            "lan": {"type": "lan", "ipv4": "10.9.0.0/24", "ipv6": None, "endpoints": ["b:y"]},
        },
    }
    assert static_routes(plan) == []
    assert plan["nodes"]["a"]["routes"] == [{"dst": "10.9.0.0/24", "via": "10.0.0.2"}]
    assert plan["nodes"]["b"]["routes"] == []


# --- who gets what -----------------------------------------------------------------------------

# r1 - r2 - r3 a chain, r4 - r5 a pair apart; h1 on r1, h2 on r1 and r3.
ROLES = lab("r1 r2 r3 r4 r5 h1 h2", [
    {"endpoints": ["r1:eth1", "r2:eth1"]},
    {"endpoints": ["r2:eth2", "r3:eth1"]},
    {"endpoints": ["r4:eth1", "r5:eth1"]},
    {"endpoints": ["r1:eth2", "h1:eth0"]},
    {"endpoints": ["r1:eth3", "h2:eth0"]},
    {"endpoints": ["r3:eth2", "h2:eth1"]},
])


@pytest.mark.parametrize("node, expected", [
    pytest.param("r1", [("0.0.0.0/0", "10.1.0.2")], id="stub-default-only"),
    pytest.param("r3", [("0.0.0.0/0", "10.1.0.5")], id="stub-with-a-host-lan"),
    # r1's two LANs, both behind r1, in one summary.
    pytest.param("r2", [("10.0.0.1/32", "10.1.0.1"), ("10.0.0.3/32", "10.1.0.6"),
                        ("172.16.0.0/23", "10.1.0.1"), ("172.16.2.0/24", "10.1.0.6")],
                 id="transit-every-prefix-summarised"),
    pytest.param("r4", [("10.0.0.5/32", "10.1.0.10")], id="pair-keeps-its-table"),
    pytest.param("r5", [("10.0.0.4/32", "10.1.0.9")], id="pair-other-end"),
    pytest.param("h1", [], id="host-one-gateway"),
    # Gateway r1 (eth0); r3 is closer to its own loopback and to r2-r3 (ties stay with r1).
    pytest.param("h2", [("10.0.0.3/32", "172.16.2.1"), ("10.1.0.4/30", "172.16.2.1")], id="dual-homed-host"),
])
def test_each_kind_of_node_gets_its_routes(node, expected):
    plan = make_plan(ROLES)
    assert routes(plan, node) == expected
    assert plan["routing_notes"] == []


@pytest.mark.parametrize("links", [
    pytest.param([{"endpoints": ["r1:eth1", "h1:eth0"]}], id="lone-router"),
    pytest.param([{"endpoints": ["r1:eth1", "r2:eth1"]}, {"endpoints": ["r2:eth2", "r3:eth1"]},
                  {"endpoints": ["r2:eth3", "h1:eth0"]}], id="behind-a-transit-router"),
    pytest.param([{"endpoints": ["r1:eth1", "r2:eth1", "h1:eth0"]}, {"endpoints": ["r2:eth2", "r3:eth1"]}],
                 id="on-a-lan-of-routers"),
    pytest.param([{"endpoints": ["r1:eth1", "r2:eth1"]}, {"endpoints": ["r1:eth2", "h1:eth0"]},
                  {"endpoints": ["h1:eth1", "h2:eth0"]}], id="with-a-host-only-segment-too"),
])
def test_a_host_with_one_routed_interface_has_only_its_gateway(links):
    names = sorted({e.split(":")[0] for link in links for e in link["endpoints"]})
    plan = make_plan(lab(" ".join(names), links))
    assert routes(plan, "h1") == []
    assert plan["nodes"]["h1"]["gateway"]["ipv4"] is not None


def test_a_stub_keeps_a_route_inside_its_own_connected_prefix():
    # 192.168.1.0/24 behind r3 lies inside r1's LAN 192.168.0.0/16: the connected route would
    # catch it before the default does.
    plan = make_plan(lab("r1 r2 r3 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.0.0/16"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.1.0/24"},
    ]))
    assert routes(plan, "r1") == [("0.0.0.0/0", "10.1.0.2"), ("192.168.1.0/24", "10.1.0.2")]
    assert routes(plan, "r3") == [("0.0.0.0/0", "10.1.0.5")]
    assert dict(routes(plan, "r2"))["192.168.0.0/16"] == "10.1.0.1"


def test_an_ipv6_stub_gets_an_ipv6_default():
    addressing = {"p2p": {"ipv6": "fd00:1::/48"}, "lan": {"ipv6": "fd00:2::/48"},
                  "loopback": {"ipv6": "fd00:ff::/64"}}
    plan = make_plan(lab("r1 r2 r3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
    ], addressing=addressing))
    assert routes(plan, "r1") == [("::/0", address(plan, "r2", "eth1", "ipv6"))]


# --- reachability, hop by hop ------------------------------------------------------------------

ADDRESSING_46 = {"p2p": {"ipv4": "10.1.0.0/16", "ipv6": "fd00:1::/48"},
                 "lan": {"ipv4": "172.16.0.0/16", "ipv6": "fd00:2::/48"},
                 "loopback": {"ipv4": "10.0.0.0/24", "ipv6": "fd00:ff::/64"}}


@st.composite
def random_labs(draw):
    routers = ["r%d" % i for i in range(1, draw(st.integers(1, 7)) + 1)]
    hosts = ["h%d" % i for i in range(1, draw(st.integers(0, 4)) + 1)]
    groups = draw(st.lists(st.lists(st.sampled_from(routers + hosts), min_size=1, max_size=3, unique=True),
                           min_size=1, max_size=12))
    used = {}
    links = []
    for group in groups:
        ends = []
        for node in group:
            used[node] = used.get(node, 0) + 1
            ends.append("%s:eth%d" % (node, used[node]))
        links.append({"endpoints": ends})
    return lab(" ".join(routers + hosts), links, addressing=ADDRESSING_46)


def _expected(plan, family):
    """Per node, the destinations it reaches when every node that needs a route has one: its
    own prefixes, and those at a site whose routers share a component with one of its routers
    (itself, or for a host the routers on its routed interfaces)."""
    nodes, segments = plan["nodes"], plan["segments"]
    neighbours = {name: set() for name, node in nodes.items() if node["kind"] == "router"}
    sites = {}                                 # destination -> routers at its site
    touching = {name: set() for name in nodes}  # node -> routers on its segments
    mine = {name: set() for name in nodes}      # node -> destinations it is connected to
    for segment in segments.values():
        ends = [label.split(":") for label in segment["endpoints"]]
        with_address = [n for n, i in ends if nodes[n]["interfaces"][i][family]]
        attached = [n for n in with_address if n in neighbours]
        for a in attached:
            neighbours[a].update(b for b in attached if b != a)
        for n in with_address:
            touching[n].update(attached)
        if segment[family]:
            sites[segment[family]] = set(attached)
            for n, _i in ends:
                mine[n].add(segment[family])
    for name in neighbours:
        loopback = (nodes[name]["loopback"] or {}).get(family)
        if loopback:
            sites[loopback] = {name}
            mine[name].add(loopback)
    component = {}
    for start in neighbours:
        if start not in component:
            component[start], stack = start, [start]
            while stack:
                for v in neighbours[stack.pop()]:
                    if v not in component:
                        component[v] = start
                        stack.append(v)
    expected = {}
    for name in nodes:
        starts = {name} if name in neighbours else touching[name]
        mine_components = {component[r] for r in starts}
        expected[name] = mine[name] | {dst for dst, routers in sites.items()
                                       if any(component[r] in mine_components for r in routers)}
    return expected, sites, neighbours


def _forwarding(plan, family):
    """Per node: [(network, ("on", segment) or ("via", address))] and address -> node."""
    owner, tables = {}, {}
    for name, node in plan["nodes"].items():
        table = tables[name] = []
        for interface in node["interfaces"].values():
            if interface[family]:
                address = ipaddress.ip_interface(interface[family])
                owner[str(address.ip)] = name
                table.append((address.network, ("on", interface["segment"])))
        loopback = (node["loopback"] or {}).get(family)
        if loopback:
            owner[loopback.split("/")[0]] = name
            table.append((ipaddress.ip_network(loopback), ("local", name)))
        gateway = node["gateway"][family]
        if gateway:
            table.append((ipaddress.ip_network("0.0.0.0/0" if family == "ipv4" else "::/0"), ("via", gateway)))
        for route in node["routes"]:
            network = ipaddress.ip_network(route["dst"])
            if network.version == (4 if family == "ipv4" else 6):
                table.append((network, ("via", route["via"])))
    return owner, tables


def _walk(plan, family, owner, tables, start, dst):
    """Forward a packet for ``dst`` from ``start``: (where it ended, routers it crossed)."""
    target = ipaddress.ip_network(dst)
    segments = plan["segments"]
    node, crossed = start, 0
    for _hop in range(len(plan["nodes"]) + 1):
        matches = [(network.prefixlen, what) for network, what in tables[node]
                   if target.subnet_of(network) and network.version == target.version]
        if not matches:
            return "dropped", crossed
        _length, (kind, where) = max(matches, key=lambda m: m[0])
        if kind == "local" or (kind == "on" and segments[where][family] == dst):
            return "arrived", crossed
        if kind == "on":
            return "misdelivered", crossed
        shared = {i["segment"] for i in plan["nodes"][node]["interfaces"].values() if i[family]}
        nxt = owner[where]
        assert any(i["segment"] in shared for i in plan["nodes"][nxt]["interfaces"].values()
                   if i[family] and i[family].split("/")[0] == where), (node, where)
        if plan["nodes"][node]["kind"] == "router":
            crossed += 1
        node = nxt
    return "looped", crossed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_labs())
def test_every_node_reaches_what_it_should_hop_by_hop(topology):
    plan = make_plan(topology)
    assert plan["routing_notes"] == []
    for family in ("ipv4", "ipv6"):
        expected, sites, neighbours = _expected(plan, family)
        owner, tables = _forwarding(plan, family)
        for start in plan["nodes"]:
            for dst in sites:
                end, crossed = _walk(plan, family, owner, tables, start, dst)
                assert end == ("arrived" if dst in expected[start] else "dropped"), (start, dst, end)
                if end == "arrived" and start in neighbours:
                    # Routers take a shortest path, stubs through their default included.
                    assert crossed == _hops(neighbours, start, sites[dst]), (start, dst)


def _hops(neighbours, start, targets):
    """Routers crossed on a shortest path from router ``start`` to the nearest of ``targets``,
    the last one included when it is not ``start``."""
    seen, frontier, depth = {start}, [start], 0
    while frontier:
        if targets & set(frontier):
            return depth
        depth += 1
        frontier = [v for u in frontier for v in neighbours[u] if v not in seen and not seen.add(v)]
    return None
