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


def test_node_sysctls_turn_duplicate_address_detection_off_on_each_interface():
    sysctls = _lab.node_sysctls(PLAN, "r1", 2)
    assert {key: value for key, value in sysctls.items() if "accept_dad" in key} == {
        "net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0",
        "net.ipv6.conf.eth0.accept_dad": "0", "net.ipv6.conf.eth1.accept_dad": "0"}


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


def _service_plan(routing="none", **services):
    nodes = {
        "r1": {"kind": "router", "services": services.get("r1", {})},
        "r2": {"kind": "router", "services": services.get("r2", {})},
        "h10": {"kind": "host", "services": {}},
        "h2": {"kind": "host", "services": {}},
    }
    return {"name": "t", "routing": routing, "nodes": nodes}


def test_lab_services_in_bring_up_order_with_clients_last():
    plan = _service_plan(r1={"web": {}, "dns": {}, "dhcp": {}, "ospf": {}}, r2={"dhcp": {}, "ospf": {}})
    assert _lab.lab_services(plan) == [
        {"node": "r1", "role": "ospf"}, {"node": "r2", "role": "ospf"},
        {"node": "r1", "role": "dns"}, {"node": "r1", "role": "dhcp"}, {"node": "r2", "role": "dhcp"},
        {"node": "r1", "role": "web"},
        {"node": "h10", "role": "client"}, {"node": "h2", "role": "client"},
    ]


def test_lab_services_ospf_routing_without_declared_ospf_runs_it_on_every_router():
    assert _lab.lab_services(_service_plan("ospf")) == [
        {"node": "r1", "role": "ospf"}, {"node": "r2", "role": "ospf"}]


def test_lab_services_declared_ospf_limits_it_to_those_routers():
    assert _lab.lab_services(_service_plan("ospf", r2={"ospf": {}})) == [{"node": "r2", "role": "ospf"}]


@pytest.mark.parametrize("routing", ["none", "static"])
def test_lab_services_without_services_is_empty(routing):
    assert _lab.lab_services(_service_plan(routing)) == []


def test_lab_services_ipsec_and_monitor_run_no_role_and_give_no_clients():
    assert _lab.lab_services(_service_plan(r1={"ipsec": {}, "monitor": {}})) == []


def test_lab_images_from_a_written_topology():
    topology = {"name": "t", "routing": "ospf", "vpn": {"t": {"peers": ["r1", "r2"]}},
                "nodes": {"r1": {"kind": "router", "services": {"web": None, "dns": {}}},
                          "r2": {"kind": "router"}, "h1": {"kind": "host"}}}
    assert _lab.lab_images(topology) == ["node", "strongswan", "ospf", "dns", "web", "client"]


def test_lab_images_of_a_bare_lab_is_the_node_image():
    assert _lab.lab_images({"name": "t", "nodes": {"h1": {"kind": "host"}}}) == ["node"]


def test_service_addresses_with_their_names_and_reverse():
    plan = {"name": "t", "domain": "lab.test", "nodes": {
        "r1": {"kind": "router", "services": {
            "web": {"ipv4": "192.168.0.5/24", "names": ["www", "web1"]},
            "dns": {"ipv4": "192.168.0.2/24", "names": ["ns1"]},
            "ospf": {"ipv4": None, "names": []},
            "ipsec": {"ipv4": "192.168.0.9/24", "names": []}}}}}
    assert _lab.service_addresses(plan) == [
        {"node": "r1", "service": "dns", "address": "192.168.0.2", "names": ["ns1.lab.test"], "ptr": "ns1.lab.test."},
        {"node": "r1", "service": "ipsec", "address": "192.168.0.9", "names": [], "ptr": None},
        {"node": "r1", "service": "web", "address": "192.168.0.5", "names": ["www.lab.test", "web1.lab.test"],
         "ptr": "www.lab.test."},
    ]


def test_ospf_expectations_of_two_boards():
    plan = {"nodes": {
        "r1": {"kind": "router", "loopback": {"ipv4": "10.0.0.1/32"}, "interfaces": {
            "eth1": {"segment": "lan1", "ipv4": "192.168.1.1/24"},
            "eth3": {"segment": "core", "ipv4": "10.0.1.1/30"}}},
        "r2": {"kind": "router", "loopback": {"ipv4": "10.0.0.2/32"}, "interfaces": {
            "eth1": {"segment": "lan2", "ipv4": "192.168.5.1/24"},
            "eth3": {"segment": "core", "ipv4": "10.0.1.2/30"}}},
        "h1": {"kind": "host", "interfaces": {"eth0": {"segment": "lan2", "ipv4": None, "dhcp": True}}}},
        "segments": {"lan1": {"ipv4": "192.168.1.0/24", "endpoints": ["r1:eth1"]},
                     "lan2": {"ipv4": "192.168.5.0/24", "endpoints": ["r2:eth1", "h1:eth0"]},
                     "core": {"ipv4": "10.0.1.0/30", "endpoints": ["r1:eth3", "r2:eth3"]}}}
    assert _lab.ospf_expectations(plan, ["r1", "r2"]) == {
        "r1": {"neighbours": 1, "prefixes": ["192.168.5.0/24", "10.0.0.2/32"]},
        "r2": {"neighbours": 1, "prefixes": ["192.168.1.0/24", "10.0.0.1/32"]},
    }


def test_name_lookups_one_per_name():
    plan = {"name": "t", "nodes": {"r1": {"kind": "router", "services": {
        "web": {"ipv4": "192.168.0.5/24", "names": ["www", "web1"]}}}}}
    assert _lab.name_lookups(plan) == [
        {"fqdn": "www.t.test", "address": "192.168.0.5", "ptr": "www.t.test."},
        {"fqdn": "web1.t.test", "address": "192.168.0.5", "ptr": "www.t.test."}]
