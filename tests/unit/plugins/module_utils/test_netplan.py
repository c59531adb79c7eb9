# SPDX-License-Identifier: GPL-3.0-or-later
"""Node network plans built from a lab plan and a segments result."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.vnet.lab.plugins.filter.netplan import FilterModule
from ansible_collections.vnet.lab.plugins.module_utils._netplan import NetplanError, node_netplan

from ansible.errors import AnsibleFilterError

PLAN = {
    "name": "demo",
    "routing": "static",
    "nodes": {
        "r1": {
            "kind": "router",
            "loopback": {"ipv4": "10.0.0.1/32", "ipv6": "fd00::1/128"},
            "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": {
                "eth1": {"segment": "r1-eth1", "ipv4": "10.1.0.1/30", "ipv6": None, "dhcp": False, "mtu": None},
                "eth2": {"segment": "lan1", "ipv4": "192.168.1.1/24", "ipv6": "2001:db8:1::1/64",
                         "dhcp": False, "mtu": 1400},
            },
            "routes": [{"dst": "192.168.2.0/24", "via": "10.1.0.2"}],
        },
        "h1": {
            "kind": "host",
            "loopback": None,
            "gateway": {"ipv4": "192.168.1.1", "ipv6": "2001:db8:1::1"},
            "interfaces": {
                "eth1": {"segment": "lan1", "ipv4": "192.168.1.10/24", "ipv6": "2001:db8:1::10/64",
                         "dhcp": False, "mtu": None},
            },
            "routes": [],
        },
        "h2": {
            "kind": "host",
            "loopback": None,
            "gateway": {"ipv4": "192.168.1.1", "ipv6": None},
            "interfaces": {
                "eth1": {"segment": "lan1", "ipv4": None, "ipv6": None, "dhcp": True, "mtu": None},
            },
            "routes": [{"dst": "0.0.0.0/0", "via": "192.168.1.1"}, {"dst": "10.0.0.0/8", "via": "192.168.1.1"}],
        },
    },
    "segments": {
        "r1-eth1": {"type": "p2p", "ipv4": "10.1.0.0/30", "ipv6": None, "endpoints": ["r1:eth1", "r2:eth1"],
                    "mtu": 9000, "link": {"type": "bridge"}},
        "lan1": {"type": "lan", "ipv4": "192.168.1.0/24", "ipv6": "2001:db8:1::/64",
                 "endpoints": ["h1:eth1", "h2:eth1", "r1:eth2"], "mtu": None, "link": {"type": "bridge"}},
    },
}

SEGMENTS = {
    "r1-eth1": {"network": "demo-r1-eth1", "subnet": "100.64.0.0/24",
                "endpoints": {"r1:eth1": "100.64.0.2", "r2:eth1": "100.64.0.3"}},
    "lan1": {"network": "demo-lan1", "subnet": "100.64.1.0/24",
             "endpoints": {"h1:eth1": "100.64.1.2", "h2:eth1": "100.64.1.3", "r1:eth2": "100.64.1.4"}},
}


def test_router():
    assert node_netplan(PLAN, "r1", SEGMENTS) == {
        "interfaces": {
            "eth1": {"placeholder": "100.64.0.2", "ipv4": "10.1.0.1/30", "ipv6": None, "mtu": 9000, "dhcp": False, "secondary": []},
            "eth2": {"placeholder": "100.64.1.4", "ipv4": "192.168.1.1/24", "ipv6": "2001:db8:1::1/64",
                     "mtu": 1400, "dhcp": False, "secondary": []},
        },
        "loopback": {"ipv4": "10.0.0.1/32", "ipv6": "fd00::1/128"},
        "routes": [{"dst": "192.168.2.0/24", "via": "10.1.0.2"}],
        "forwarding": True,
    }


def test_host_gets_default_routes_from_its_gateway():
    assert node_netplan(PLAN, "h1", SEGMENTS) == {
        "interfaces": {
            "eth1": {"placeholder": "100.64.1.2", "ipv4": "192.168.1.10/24", "ipv6": "2001:db8:1::10/64",
                     "mtu": None, "dhcp": False, "secondary": []},
        },
        "loopback": {"ipv4": None, "ipv6": None},
        "routes": [{"dst": "0.0.0.0/0", "via": "192.168.1.1"}, {"dst": "::/0", "via": "2001:db8:1::1"}],
        "forwarding": False,
    }


def test_host_plan_default_route_not_repeated():
    netplan = node_netplan(PLAN, "h2", SEGMENTS)
    assert netplan["routes"] == [{"dst": "0.0.0.0/0", "via": "192.168.1.1"},
                                 {"dst": "10.0.0.0/8", "via": "192.168.1.1"}]
    assert netplan["interfaces"]["eth1"] == {"placeholder": "100.64.1.3", "ipv4": None, "ipv6": None,
                                             "mtu": None, "dhcp": True, "secondary": []}


def test_unknown_node():
    with pytest.raises(NetplanError) as err:
        node_netplan(PLAN, "r9", SEGMENTS)
    assert str(err.value) == "node r9 is not in the plan (nodes: h1, h2, r1)"


def test_errors_are_collected():
    segments = copy.deepcopy(SEGMENTS)
    del segments["r1-eth1"]
    del segments["lan1"]["endpoints"]["r1:eth2"]
    with pytest.raises(NetplanError) as err:
        node_netplan(PLAN, "r1", segments)
    assert err.value.errors == [
        "node r1 interface eth1: segment r1-eth1 is not in the segments result",
        "node r1 interface eth2: segment lan1 has no placeholder address for r1:eth2",
    ]


def test_bad_gateway_and_kind():
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["h1"]["gateway"]["ipv4"] = "192.168.1"
    plan["nodes"]["h1"]["kind"] = "switch"
    with pytest.raises(NetplanError) as err:
        node_netplan(plan, "h1", SEGMENTS)
    assert err.value.errors == ["node h1: kind 'switch' is neither router nor host"]
    plan["nodes"]["h1"]["kind"] = "host"
    with pytest.raises(NetplanError) as err:
        node_netplan(plan, "h1", SEGMENTS)
    assert err.value.errors == ["node h1: gateway ipv4 '192.168.1' is not an address"]


def test_filter():
    node_netplan_filter = FilterModule().filters()["node_netplan"]
    assert node_netplan_filter(PLAN, "r1", SEGMENTS)["forwarding"] is True
    with pytest.raises(AnsibleFilterError) as err:
        node_netplan_filter(PLAN, "r9", SEGMENTS)
    assert str(err.value) == "vnet.lab.node_netplan: node r9 is not in the plan (nodes: h1, h2, r1)"
    with pytest.raises(AnsibleFilterError) as err:
        node_netplan_filter({"nodes": {"r1": {"interfaces": {"eth1": "x"}}}}, "r1", {})
    assert str(err.value).startswith("vnet.lab.node_netplan: malformed plan or segments (AttributeError")


def test_service_addresses_pass_as_secondary():
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["r1"]["interfaces"]["eth2"]["secondary"] = ["192.168.1.2/24", "192.168.1.3/24"]
    netplan = node_netplan(plan, "r1", SEGMENTS)
    assert netplan["interfaces"]["eth2"]["secondary"] == ["192.168.1.2/24", "192.168.1.3/24"]
    assert netplan["interfaces"]["eth1"]["secondary"] == []


def test_a_real_board_needs_no_placeholders():
    netplan = node_netplan(PLAN, "r1")
    assert {name: entry["placeholder"] for name, entry in netplan["interfaces"].items()} == {
        "eth1": None, "eth2": None}
    assert netplan["interfaces"]["eth1"]["ipv4"] == "10.1.0.1/30"


def test_a_lab_with_a_dns_service_gives_every_node_its_resolver():
    plan = copy.deepcopy(PLAN)
    plan["domain"] = "demo.test"
    plan["nodes"]["r1"]["services"] = {"dns": {"interface": "eth2", "ipv4": "192.168.1.2/24"}}
    for node in ("r1", "h1"):
        assert node_netplan(plan, node, SEGMENTS)["dns"] == {"servers": ["192.168.1.2"], "search": ["demo.test"]}
    assert "dns" not in node_netplan(plan, "h2", SEGMENTS), "h2's DHCP client writes its resolver from its lease"
    del plan["domain"]
    assert node_netplan(plan, "h1", SEGMENTS)["dns"] == {"servers": ["192.168.1.2"], "search": []}
    assert "dns" not in node_netplan(PLAN, "h1", SEGMENTS), "no dns service: Docker's resolver is left alone"
