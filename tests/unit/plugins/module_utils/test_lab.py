# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _lab

PLAN = {
    "name": "demo",
    "routing": "none",
    "nodes": {
        "r1": {
            "kind": "router",
            "loopback": {"ipv4": "10.0.0.1/32", "ipv6": None},
            "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": {
                "eth2": {"segment": "r1-eth2", "ipv4": "192.168.1.1/24", "ipv6": None, "dhcp": False, "mtu": None},
                "eth1": {"segment": "r1-eth1", "ipv4": "10.1.0.1/30", "ipv6": None, "dhcp": False, "mtu": None},
            },
            "routes": [],
        },
        "r2": {
            "kind": "router",
            "loopback": {"ipv4": "10.0.0.2/32", "ipv6": None},
            "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": {
                "eth1": {"segment": "r1-eth1", "ipv4": "10.1.0.2/30", "ipv6": None, "dhcp": False, "mtu": None},
            },
            "routes": [],
        },
        "h1": {
            "kind": "host",
            "loopback": None,
            "gateway": {"ipv4": "192.168.1.1", "ipv6": None},
            "interfaces": {
                "eth0": {"segment": "r1-eth2", "ipv4": None, "ipv6": None, "dhcp": True, "mtu": None},
            },
            "routes": [],
        },
    },
    "segments": {
        "r1-eth1": {"type": "p2p", "ipv4": "10.1.0.0/30", "ipv6": None, "endpoints": ["r1:eth1", "r2:eth1"],
                    "mtu": None, "link": {"type": "bridge"}},
        "r1-eth2": {"type": "lan", "ipv4": "192.168.1.0/24", "ipv6": None, "endpoints": ["h1:eth0", "r1:eth2"],
                    "mtu": None, "link": {"type": "bridge"}},
    },
}

SEGMENTS = {
    "r1-eth1": {"network": "demo-r1-eth1", "subnet": "100.64.0.0/24",
                "endpoints": {"r1:eth1": "100.64.0.2", "r2:eth1": "100.64.0.3"}},
    "r1-eth2": {"network": "demo-r1-eth2", "subnet": "100.64.1.0/24",
                "endpoints": {"h1:eth0": "100.64.1.2", "r1:eth2": "100.64.1.3"}},
}


def test_node_networks_in_interface_name_order_with_placeholders():
    assert _lab.node_networks(PLAN, "r1", SEGMENTS) == [
        {"name": "demo-r1-eth1", "ipv4_address": "100.64.0.2"},
        {"name": "demo-r1-eth2", "ipv4_address": "100.64.1.3"},
    ]


@pytest.mark.parametrize("node, forwarding", [("r1", "1"), ("h1", "0")])
def test_node_sysctls_by_kind(node, forwarding):
    sysctls = _lab.node_sysctls(PLAN, node)
    assert sysctls["net.ipv4.ip_forward"] == forwarding
    assert sysctls["net.ipv6.conf.all.forwarding"] == forwarding
    assert sysctls["net.ipv6.conf.all.disable_ipv6"] == "0"


def test_node_sysctls_are_a_copy():
    _lab.node_sysctls(PLAN, "r1")["net.ipv4.ip_forward"] = "0"
    assert _lab.node_sysctls(PLAN, "r1")["net.ipv4.ip_forward"] == "1"


def test_inspect_table():
    table = _lab.format_table(_lab.inspect_rows(PLAN, {"r1": "running", "h1": "exited"}))
    assert table.splitlines() == [
        "node  kind    state    interface  segment  addresses",
        "----  ------  -------  ---------  -------  --------------",
        "h1    host    exited   eth0       r1-eth2  dhcp",
        "r1    router  running  eth1       r1-eth1  10.1.0.1/30",
        "                       eth2       r1-eth2  192.168.1.1/24",
        "                       lo         -        10.0.0.1/32",
        "r2    router  absent   eth1       r1-eth1  10.1.0.2/30",
        "                       lo         -        10.0.0.2/32",
    ]


def test_topology_dot_draws_p2p_as_edges_and_lans_as_hubs():
    dot = _lab.topology_dot(PLAN)
    assert dot.startswith('graph "demo" {')
    assert '"r1" -- "r2" [label="10.1.0.0/30", taillabel="eth1", headlabel="eth1"];' in dot
    assert '"segment r1-eth2" -- "h1" [label="eth0"];' in dot
    assert '"r1" [label="r1\\n10.0.0.1/32", shape=box];' in dot
    assert '"h1" [label="h1", shape=ellipse];' in dot
    assert dot.rstrip().endswith("}")


def test_topology_dot_escapes_quotes():
    plan = {"name": 'a"b', "nodes": {}, "segments": {}}
    assert _lab.topology_dot(plan).startswith('graph "a\\"b" {')


def test_node_states_keeps_node_containers_only():
    containers = [
        {"Labels": {"vnet.lab": "demo", "vnet.node": "r1"}, "State": "running"},
        {"Labels": {"vnet.lab": "demo", "vnet.node": "r1", "vnet.service": "dns"}, "State": "exited"},
        {"Labels": {}, "State": "running"},
        {"Labels": None, "State": "running"},
    ]
    assert _lab.node_states(containers) == {"r1": "running"}
