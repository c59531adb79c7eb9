# SPDX-License-Identifier: GPL-3.0-or-later
"""DHCP scopes of a node derived from a lab plan."""

from __future__ import annotations

import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.dhcp import FilterModule
from ansible_collections.vnet.lab.plugins.module_utils import _dhcp


def _iface(segment, ipv4=None, secondary=(), dhcp=False):
    return {"segment": segment, "ipv4": ipv4, "ipv6": None, "dhcp": dhcp, "mtu": None,
            "secondary": list(secondary)}


def _node(kind, interfaces, services=None):
    return {"kind": kind, "loopback": None, "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": interfaces, "routes": [], "services": services or {}}


def _segment(stype, ipv4, endpoints):
    return {"type": stype, "ipv4": ipv4, "ipv6": None, "endpoints": endpoints, "mtu": None,
            "link": {"type": "bridge"}}


# r1 serves lan1 (h1 pinned at .12, the dns service at .53) and lan2 (a /28); eth1 is a p2p
# link, eth9 a DHCP client interface. Site B reuses lan1's prefix (r2 at .1, h2 at .11): another
# broadcast domain, whose addresses lan1's range does not skip.
PLAN = {
    "name": "demo",
    "domain": "demo.test",
    "routing": "none",
    "nodes": {
        "r1": _node("router", {
            "eth1": _iface("p2p", "10.1.0.1/30"),
            "eth9": _iface("up", dhcp=True),
            "lan1": _iface("lan1", "192.168.1.1/24", secondary=["192.168.1.53/24"]),
            "lan2": _iface("lan2", "192.168.2.1/28"),
        }, services={
            "dhcp": {"interface": "eth1", "ipv4": "10.1.0.1/30", "ipv6": None, "names": ["dhcp"]},
            "dns": {"interface": "lan1", "ipv4": "192.168.1.53/24", "ipv6": None, "names": ["ns1"]},
        }),
        "r2": _node("router", {
            "eth1": _iface("p2p", "10.1.0.2/30"),
            "lan": _iface("lan-b", "192.168.1.1/24"),
        }, services={"dns": {"interface": "lan", "ipv4": "192.168.1.1/24", "ipv6": None, "names": ["ns2"]}}),
        "h1": _node("host", {"eth0": _iface("lan1", "192.168.1.12/24")}),
        "h2": _node("host", {"eth0": _iface("lan-b", "192.168.1.11/24")}),
        "h3": _node("host", {"eth0": _iface("lan2", "192.168.2.2/28")}, services={
            "dhcp": {"interface": "eth0", "ipv4": "192.168.2.3/28", "ipv6": None, "names": ["dhcp2"]}}),
    },
    "segments": {
        "p2p": _segment("p2p", "10.1.0.0/30", ["r1:eth1", "r2:eth1"]),
        "up": _segment("lan", "172.16.0.0/24", ["r1:eth9"]),
        "lan1": _segment("lan", "192.168.1.0/24", ["h1:eth0", "r1:lan1"]),
        "lan2": _segment("lan", "192.168.2.0/28", ["h3:eth0", "r1:lan2"]),
        "lan-b": _segment("lan", "192.168.1.0/24", ["h2:eth0", "r2:lan"]),
    },
}

LAN1 = {
    "interface": "lan1",
    "segment": "lan1",
    "subnet": "192.168.1.0/24",
    "network": "192.168.1.0",
    "netmask": "255.255.255.0",
    "ranges": [["192.168.1.10", "192.168.1.11"], ["192.168.1.13", "192.168.1.52"],
               ["192.168.1.54", "192.168.1.100"]],
    "routers": ["192.168.1.1"],
    "dns_servers": ["192.168.1.53", "192.168.1.1"],
    "domain": "demo.test",
    "server_identifier": None,
    "wait_for": ["192.168.1.1/24"],
    "authoritative": True,
    "default_lease_time": 120,
    "min_lease_time": 60,
    "max_lease_time": 3600,
}

LAN2 = dict(LAN1, interface="lan2", segment="lan2", subnet="192.168.2.0/28", network="192.168.2.0",
            netmask="255.255.255.240", ranges=[["192.168.2.10", "192.168.2.14"]], routers=["192.168.2.1"],
            wait_for=["192.168.2.1/28"])


def _with(path, value, plan=None):
    plan = copy.deepcopy(PLAN if plan is None else plan)
    target = plan
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return plan


def test_default_serves_the_lan_interfaces_with_an_address():
    assert _dhcp.scopes(PLAN, "r1") == [LAN1, LAN2]


@pytest.mark.parametrize("options, ranges", [
    ({"range": [10, 100]}, LAN1["ranges"]),
    ({"range": [50, 60]}, [["192.168.1.50", "192.168.1.52"], ["192.168.1.54", "192.168.1.60"]]),
    ({"range": [0, 3]}, [["192.168.1.2", "192.168.1.3"]]),
    ({"range": [200, 400]}, [["192.168.1.200", "192.168.1.254"]]),
    ({"range": [12, 12]}, None),
    ({"range": [53, 53]}, None),
    ({"range": [255, 300]}, None),
])
def test_ranges_are_clipped_and_skip_the_plan_addresses(options, ranges):
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["r1"]["services"]["dhcp"].update(options, serve=["lan1"])
    if ranges is None:
        with pytest.raises(_dhcp.DhcpError) as caught:
            _dhcp.scopes(plan, "r1")
        assert caught.value.errors == [
            "node r1 service dhcp interface lan1: no address left to lease in 192.168.1.0/24 (range %d-%d, "
            "less the plan's addresses)" % tuple(options["range"])]
    else:
        assert _dhcp.scopes(plan, "r1")[0]["ranges"] == ranges


def test_serve_order_lease_times_and_server_identifier():
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["r1"]["services"]["dhcp"] = {
        "interface": "lan1", "ipv4": "192.168.1.54/24", "ipv6": None, "names": ["dhcp"],
        "serve": ["lan2", "lan1", "lan2"], "default_lease_time": 600, "min_lease_time": 600,
        "max_lease_time": 7200}
    plan["nodes"]["r1"]["interfaces"]["lan1"]["secondary"].append("192.168.1.54/24")
    times = {"default_lease_time": 600, "min_lease_time": 600, "max_lease_time": 7200}
    assert _dhcp.scopes(plan, "r1") == [
        dict(LAN2, **times),
        dict(LAN1, ranges=[["192.168.1.10", "192.168.1.11"], ["192.168.1.13", "192.168.1.52"],
                           ["192.168.1.55", "192.168.1.100"]],
             server_identifier="192.168.1.54", wait_for=["192.168.1.1/24", "192.168.1.54/24"], **times),
    ]


def test_serve_a_p2p_link_by_name():
    plan = _with(["segments", "p2p", "ipv4"], "10.1.0.0/27",
                 _with(["nodes", "r1", "services", "dhcp", "serve"], "eth1"))
    plan["nodes"]["r1"]["interfaces"]["eth1"]["ipv4"] = "10.1.0.1/27"
    plan["nodes"]["r2"]["interfaces"]["eth1"]["ipv4"] = "10.1.0.11/27"
    scope = _dhcp.scopes(plan, "r1")[0]
    assert (scope["interface"], scope["subnet"], scope["ranges"], scope["routers"]) == (
        "eth1", "10.1.0.0/27", [["10.1.0.10", "10.1.0.10"], ["10.1.0.12", "10.1.0.30"]], ["10.1.0.1"])


def test_a_range_outside_a_small_prefix_is_an_error():
    with pytest.raises(_dhcp.DhcpError) as caught:
        _dhcp.scopes(_with(["nodes", "r1", "services", "dhcp", "serve"], ["eth1"]), "r1")
    assert caught.value.errors == ["node r1 service dhcp interface eth1: no address left to lease in "
                                   "10.1.0.0/30 (range 10-100, less the plan's addresses)"]


def test_a_host_hands_out_its_segments_router():
    scopes = _dhcp.scopes(PLAN, "h3")
    assert [(s["interface"], s["routers"], s["ranges"], s["server_identifier"], s["wait_for"]) for s in scopes] == [
        ("eth0", ["192.168.2.1"], [["192.168.2.10", "192.168.2.14"]], "192.168.2.3",
         ["192.168.2.2/28", "192.168.2.3/28"])]


def test_no_router_and_no_dns_server():
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["r1"]["kind"] = "host"
    for node in ("r1", "r2"):
        plan["nodes"][node]["services"].pop("dns")
    scope = _dhcp.scopes(plan, "h3")[0]
    assert (scope["routers"], scope["dns_servers"]) == ([], [])


@pytest.mark.parametrize("node, options, errors", [
    ("r9", None, ["node r9 is not in the plan (nodes: h1, h2, h3, r1, r2)"]),
    ("h1", None, ["node h1 runs no dhcp service (plan.nodes.h1.services.dhcp)"]),
    ("r1", {"serve": []}, ["node r1 service dhcp: no interface to serve (serve is empty and the node has no "
                           "lan interface with an IPv4 address)"]),
    ("r1", {"serve": ["lan3"]}, ["node r1 service dhcp interface lan3: the node has no such interface "
                                 "(it has eth1, eth9, lan1, lan2)"]),
    ("r1", {"serve": ["eth9"]}, ["node r1 service dhcp interface eth9: the interface has no IPv4 address of "
                                 "its own to serve from"]),
    ("r1", {"range": [100, 10]}, ["node r1 service dhcp: range [100, 10] is not [first, last] host numbers "
                                  "(first <= last)"]),
    ("r1", {"range": "10-100"}, ["node r1 service dhcp: range '10-100' is not [first, last] host numbers "
                                 "(first <= last)"]),
    ("r1", {"max_lease_time": 0, "min_lease_time": "60"},
     ["node r1 service dhcp: min_lease_time '60' is not a positive number of seconds",
      "node r1 service dhcp: max_lease_time 0 is not a positive number of seconds"]),
    ("r1", {"default_lease_time": 30}, ["node r1 service dhcp: lease times must be min_lease_time <= "
                                        "default_lease_time <= max_lease_time (got 60, 30, 3600)"]),
    ("r1", {"serve": ["lan3", "eth9"], "range": [5, 1]},
     ["node r1 service dhcp: range [5, 1] is not [first, last] host numbers (first <= last)",
      "node r1 service dhcp interface lan3: the node has no such interface (it has eth1, eth9, lan1, lan2)",
      "node r1 service dhcp interface eth9: the interface has no IPv4 address of its own to serve from"]),
])
def test_errors(node, options, errors):
    plan = copy.deepcopy(PLAN)
    if options:
        plan["nodes"]["r1"]["services"]["dhcp"].update(options)
    with pytest.raises(_dhcp.DhcpError) as caught:
        _dhcp.scopes(plan, node)
    assert caught.value.errors == errors


def test_filter():
    assert FilterModule().filters()["dhcp_scopes"](PLAN, "r1") == [LAN1, LAN2]


@pytest.mark.parametrize("args, message", [
    ((PLAN, "r9"), "vnet.lab.dhcp_scopes: node r9 is not in the plan (nodes: h1, h2, h3, r1, r2)"),
    (({"nodes": {"r1": {"services": {"dhcp": {"serve": ["lan"]}}, "interfaces": {"lan": {"ipv4": "bad"}}}}}, "r1"),
     "vnet.lab.dhcp_scopes: malformed plan (ValueError: 'bad' does not appear to be an IPv4 or IPv6 interface)"),
])
def test_filter_errors(args, message):
    with pytest.raises(AnsibleFilterError) as caught:
        FilterModule().filters()["dhcp_scopes"](*args)
    assert str(caught.value).startswith(message)
