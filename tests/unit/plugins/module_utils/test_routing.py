# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.module_utils._routing import static_routes
from ansible_collections.vnet.lab.plugins.module_utils._topology import Problems, TopologyError


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


def errors_of(topology):
    with pytest.raises(TopologyError) as info:
        make_plan(topology)
    return info.value.errors


def test_a_chain_routes_through_the_middle():
    plan = make_plan(lab("r1 r2 r3 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.3.0/24"},
    ]))
    assert routes(plan, "r1") == [
        ("10.0.0.2/32", "10.1.0.2"),
        ("10.0.0.3/32", "10.1.0.2"),
        ("10.1.0.4/30", "10.1.0.2"),
        ("192.168.3.0/24", "10.1.0.2"),
    ]
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
    links = [{"endpoints": ["r1:eth1", "r2:eth1"]}]
    links += [{"endpoints": ["r2:eth%d" % i, "r%d:eth1" % i]} for i in range(3, 12)]
    plan = make_plan(lab(" ".join("r%d" % i for i in range(1, 12)), links))
    dsts = [dst for dst, _via in routes(plan, "r1")]
    assert dsts[:11] == ["10.0.0.%d/32" % i for i in range(2, 12)] + ["10.1.0.4/30"]


def test_segments_without_a_router_get_no_route():
    plan = make_plan(lab("r1 r2 h1 h2", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["h1:eth0", "h2:eth0"]},
    ]))
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


def test_ambiguous_destinations_are_errors_naming_prefix_segments_and_nodes():
    data = lab("r1 r2 r3 r4 h1 h3", [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r2:eth2", "r3:eth1"]},
        {"endpoints": ["r2:eth3", "r4:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.1.0/24"},
    ])
    assert errors_of(data) == [
        "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h3-eth0) from r2 and r4; "
        "pin distinct prefixes or give up routing: static",
    ]


def test_an_ambiguous_destination_for_a_multi_homed_host():
    data = lab("r1 r2 h1 h2 h", [
        {"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["r2:eth1", "h2:eth0"], "ipv4": "192.168.1.0/24"},
        {"endpoints": ["h:eth0", "r1:eth2"]},
        {"endpoints": ["h:eth1", "r2:eth2"]},
    ])
    assert errors_of(data) == [
        "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h2-eth0) from h; "
        "pin distinct prefixes or give up routing: static",
    ]


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
    problems = Problems()
    static_routes(plan, problems)
    assert problems.lines == []
    assert plan["nodes"]["a"]["routes"] == [{"dst": "10.9.0.0/24", "via": "10.0.0.2"}]
    assert plan["nodes"]["b"]["routes"] == []
