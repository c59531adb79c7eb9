# SPDX-License-Identifier: GPL-3.0-or-later
"""FRRouting OSPF configurations derived from a lab plan."""

from __future__ import annotations

import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.ospf import FilterModule
from ansible_collections.vnet.lab.plugins.module_utils._ospf import OspfError, daemons_file, dotted_area, frr_config


def interface(segment, ipv4=None, ipv6=None, dhcp=False):
    return {"segment": segment, "ipv4": ipv4, "ipv6": ipv6, "dhcp": dhcp, "mtu": None}


def router(interfaces, ipv4=None, ipv6=None, services=None):
    entry = {"kind": "router",
             "loopback": {"ipv4": ipv4, "ipv6": ipv6} if ipv4 or ipv6 else None,
             "gateway": {"ipv4": None, "ipv6": None},
             "interfaces": interfaces, "routes": []}
    if services is not None:
        entry["services"] = services
    return entry


def host(interfaces):
    return {"kind": "host", "loopback": None, "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": interfaces, "routes": []}


def segment(type_, endpoints, ipv4=None, ipv6=None):
    return {"type": type_, "ipv4": ipv4, "ipv6": ipv6, "endpoints": endpoints, "mtu": None,
            "link": {"type": "bridge"}}


# Three routers in a line with a client LAN at each end (the planner's numbering), and static
# routes that must not show up in the OSPF configuration.
LINE = {
    "name": "line",
    "routing": "static",
    "nodes": {
        "h1": host({"eth0": interface("h1-eth0", "172.16.0.2/24")}),
        "h3": host({"eth0": interface("h3-eth0", "172.16.1.2/24")}),
        "r1": router({"eth0": interface("h1-eth0", "172.16.0.1/24"),
                      "eth1": interface("r1-eth1", "10.1.0.1/30")}, "10.0.0.1/32"),
        "r2": router({"eth1": interface("r1-eth1", "10.1.0.2/30"),
                      "eth2": interface("r2-eth2", "10.1.0.5/30")}, "10.0.0.2/32"),
        "r3": router({"eth0": interface("h3-eth0", "172.16.1.1/24"),
                      "eth1": interface("r2-eth2", "10.1.0.6/30")}, "10.0.0.3/32"),
    },
    "segments": {
        "h1-eth0": segment("lan", ["h1:eth0", "r1:eth0"], "172.16.0.0/24"),
        "h3-eth0": segment("lan", ["h3:eth0", "r3:eth0"], "172.16.1.0/24"),
        "r1-eth1": segment("p2p", ["r1:eth1", "r2:eth1"], "10.1.0.0/30"),
        "r2-eth2": segment("p2p", ["r2:eth2", "r3:eth1"], "10.1.0.4/30"),
    },
}
LINE["nodes"]["r1"]["routes"] = [{"dst": "172.16.1.0/24", "via": "10.1.0.2"}]

R1_LAB = """\
frr defaults traditional
hostname r1
service integrated-vtysh-config
!
interface eth0
 ip ospf area 0.0.0.0
 ip ospf passive
exit
!
interface eth1
 ip ospf area 0.0.0.0
 ip ospf dead-interval 3
 ip ospf hello-interval 1
 ip ospf network point-to-point
exit
!
interface lo
 ip ospf area 0.0.0.0
 ip ospf passive
exit
!
router ospf
 ospf router-id 10.0.0.1
 log-adjacency-changes
 timers throttle lsa all 0
 timers lsa min-arrival 0
exit
!
"""

R2_DEFAULT_AREA_1 = """\
frr defaults traditional
hostname r2
service integrated-vtysh-config
!
interface eth1
 ip ospf area 0.0.0.1
 ip ospf network point-to-point
exit
!
interface eth2
 ip ospf area 0.0.0.1
 ip ospf network point-to-point
exit
!
interface lo
 ip ospf area 0.0.0.1
 ip ospf passive
exit
!
router ospf
 ospf router-id 10.0.0.2
 log-adjacency-changes
exit
!
"""

# Dual stack: r1 and r2 on a p2p link, r1's LAN with a host; r2's LAN has IPv6 only, with r3
# as its other router, and r3 speaks no IPv4 there (so r2 is passive for ospfd on it).
DUAL = {
    "name": "dual",
    "routing": "none",
    "nodes": {
        "h1": host({"eth0": interface("lan1", "192.168.1.10/24", "2001:db8:1::10/64")}),
        "r1": router({"eth1": interface("r1-eth1", "10.1.0.1/30", "2001:db8:ff::1/64"),
                      "eth2": interface("lan1", "192.168.1.1/24", "2001:db8:1::1/64")},
                     "10.0.0.1/32", "2001:db8::1/128"),
        "r2": router({"eth1": interface("r1-eth1", "10.1.0.2/30", "2001:db8:ff::2/64"),
                      "eth10": interface("core", "10.2.0.1/24", "2001:db8:2::1/64"),
                      "eth9": interface("uplink", dhcp=True)},
                     "10.0.0.2/32", "2001:db8::2/128"),
        "r3": router({"eth1": interface("core", None, "2001:db8:2::3/64")}, "10.0.0.3/32"),
        "r4": router({"eth1": interface("core", None, None, dhcp=True)}),
    },
    "segments": {
        "core": segment("lan", ["r2:eth10", "r3:eth1", "r4:eth1"], "10.2.0.0/24", "2001:db8:2::/64"),
        "lan1": segment("lan", ["h1:eth0", "r1:eth2"], "192.168.1.0/24", "2001:db8:1::/64"),
        "r1-eth1": segment("p2p", ["r1:eth1", "r2:eth1"], "10.1.0.0/30", "2001:db8:ff::/64"),
        "uplink": segment("lan", ["r2:eth9", "r4:eth9"], None),
    },
}

R2_DUAL = """\
frr defaults traditional
hostname r2
service integrated-vtysh-config
!
interface eth1
 ip ospf area 0.0.0.0
 ip ospf dead-interval 3
 ip ospf hello-interval 1
 ip ospf network point-to-point
 ipv6 ospf6 area 0.0.0.0
 ipv6 ospf6 dead-interval 3
 ipv6 ospf6 hello-interval 1
 ipv6 ospf6 network point-to-point
exit
!
interface eth10
 ip ospf area 0.0.0.0
 ip ospf passive
 ipv6 ospf6 area 0.0.0.0
 ipv6 ospf6 dead-interval 3
 ipv6 ospf6 hello-interval 1
exit
!
interface lo
 ip ospf area 0.0.0.0
 ip ospf passive
 ipv6 ospf6 area 0.0.0.0
 ipv6 ospf6 passive
exit
!
router ospf
 ospf router-id 10.0.0.2
 log-adjacency-changes
 timers throttle lsa all 0
 timers lsa min-arrival 0
exit
!
router ospf6
 ospf6 router-id 10.0.0.2
 log-adjacency-changes
 timers lsa min-arrival 0
exit
!
"""

# r3 has an IPv6 interface only and no IPv6 loopback: ospf6d with the IPv4 loopback's ID.
R3_DUAL = """\
frr defaults traditional
hostname r3
service integrated-vtysh-config
!
interface eth1
 ipv6 ospf6 area 0.0.0.0
 ipv6 ospf6 dead-interval 3
 ipv6 ospf6 hello-interval 1
exit
!
interface lo
 ip ospf area 0.0.0.0
 ip ospf passive
exit
!
router ospf
 ospf router-id 10.0.0.3
 log-adjacency-changes
 timers throttle lsa all 0
 timers lsa min-arrival 0
exit
!
router ospf6
 ospf6 router-id 10.0.0.3
 log-adjacency-changes
 timers lsa min-arrival 0
exit
!
"""

# A LAN of three routers and a host, a pinned link of two routers typed "lan", no loopbacks;
# only r1 and r2 declare the ospf service, so r3 is no neighbour.
SERVICES = {
    "name": "svc",
    "routing": "none",
    "nodes": {
        "h1": host({"eth0": interface("shared", "10.5.0.9/24")}),
        "r1": router({"eth1": interface("shared", "10.5.0.1/24"),
                      "eth2": interface("pair", "10.6.0.1/24"),
                      "eth3": interface("to-r3", "10.7.0.1/30")}, services={"ospf": {}}),
        "r2": router({"eth1": interface("shared", "10.5.0.2/24"),
                      "eth2": interface("pair", "10.6.0.2/24")}, services={"ospf": {}, "dns": {}}),
        "r3": router({"eth1": interface("to-r3", "10.7.0.2/30")}, services={"dns": {}}),
    },
    "segments": {
        "pair": segment("lan", ["r1:eth2", "r2:eth2"], "10.6.0.0/24"),
        "shared": segment("lan", ["h1:eth0", "r1:eth1", "r2:eth1"], "10.5.0.0/24"),
        "to-r3": segment("p2p", ["r1:eth3", "r3:eth1"], "10.7.0.0/30"),
    },
}

R1_SERVICES = """\
frr defaults traditional
hostname r1
service integrated-vtysh-config
!
interface eth1
 ip ospf area 0.0.0.0
 ip ospf passive
exit
!
interface eth2
 ip ospf area 0.0.0.0
 ip ospf dead-interval 3
 ip ospf hello-interval 1
 ip ospf network point-to-point
exit
!
interface eth3
 ip ospf area 0.0.0.0
 ip ospf passive
exit
!
router ospf
 ospf router-id 10.5.0.1
 log-adjacency-changes
 timers throttle lsa all 0
 timers lsa min-arrival 0
exit
!
"""


@pytest.mark.parametrize("plan, node, kwargs, expected", [
    (LINE, "r1", {}, R1_LAB),
    (LINE, "r2", {"area": 1, "profile": "default"}, R2_DEFAULT_AREA_1),
    (DUAL, "r2", {}, R2_DUAL),
    (DUAL, "r3", {}, R3_DUAL),
    (SERVICES, "r1", {}, R1_SERVICES),
], ids=["client-lan-and-p2p", "default-profile-area-1", "dual-stack-per-family-passive",
        "ipv6-interface-only", "services-pick-the-neighbours"])
def test_config(plan, node, kwargs, expected):
    assert frr_config(plan, node, **kwargs) == expected


def test_plan_is_not_modified():
    plan = copy.deepcopy(DUAL)
    frr_config(plan, "r2")
    assert plan == DUAL


def test_routing_and_routes_are_ignored():
    plan = copy.deepcopy(LINE)
    plan["routing"] = "none"
    plan["nodes"]["r1"]["routes"] = []
    assert frr_config(plan, "r1") == frr_config(LINE, "r1")


def test_every_router_speaks_when_no_service_is_declared():
    plan = copy.deepcopy(SERVICES)
    for entry in plan["nodes"].values():
        entry.pop("services", None)
    config = frr_config(plan, "r1")
    assert "interface eth3\n ip ospf area 0.0.0.0\n ip ospf dead-interval 3\n" in config


@pytest.mark.parametrize("router_id, expected", [
    (None, " ospf router-id 10.0.0.1\n"),
    ("192.0.2.7", " ospf router-id 192.0.2.7\n"),
])
def test_router_id(router_id, expected):
    assert expected in frr_config(LINE, "r1", router_id=router_id)


def test_router_id_from_the_lowest_address():
    plan = copy.deepcopy(LINE)
    plan["nodes"]["r1"]["loopback"] = None
    assert " ospf router-id 10.1.0.1\n" in frr_config(plan, "r1")
    assert "interface lo" not in frr_config(plan, "r1")


@pytest.mark.parametrize("area, expected", [
    (0, "0.0.0.0"),
    ("0", "0.0.0.0"),
    ("0.0.0.0", "0.0.0.0"),
    (4294967295, "255.255.255.255"),
    (" 10 ", "0.0.0.10"),
    ("0.0.1.2", "0.0.1.2"),
])
def test_dotted_area(area, expected):
    assert dotted_area(area) == expected


@pytest.mark.parametrize("plan, node, kwargs, message", [
    (LINE, "r9", {}, "no node r9 in lab line (nodes: h1, h3, r1, r2, r3)"),
    (LINE, "h1", {}, "node h1 is a host; OSPF runs on routers"),
    (LINE, "r1", {"profile": "fast"}, "profile 'fast' is not one of default, lab"),
    (LINE, "r1", {"area": 4294967296},
     "area 4294967296 is neither a number from 0 to 4294967295 nor a dotted quad"),
    (LINE, "r1", {"area": "backbone"},
     "area 'backbone' is neither a number from 0 to 4294967295 nor a dotted quad"),
    (LINE, "r1", {"area": True}, "area True is neither a number from 0 to 4294967295 nor a dotted quad"),
    (LINE, "r1", {"router_id": "2001:db8::1"}, "router_id '2001:db8::1' of r1 is not an IPv4 address"),
    (DUAL, "r4", {}, "node r4 has no IPv4 address to take a router ID from; "
                     "give it an IPv4 loopback or pass router_id"),
], ids=["unknown-node", "host", "profile", "area-too-big", "area-word", "area-bool",
        "router-id-ipv6", "no-router-id"])
def test_errors(plan, node, kwargs, message):
    with pytest.raises(OspfError) as info:
        frr_config(plan, node, **kwargs)
    assert str(info.value) == message


def test_router_without_interfaces_needs_a_router_id():
    assert frr_config(DUAL, "r4", router_id="10.0.0.4") == (
        "frr defaults traditional\nhostname r4\nservice integrated-vtysh-config\n!\n")


FILTER = FilterModule().filters()["ospf_config"]


def test_filter_positional_arguments():
    assert FILTER(LINE, "r2", 1, "default") == R2_DEFAULT_AREA_1


@pytest.mark.parametrize("plan, node, message", [
    (LINE, "h1", "vnet.lab.ospf_config: node h1 is a host; OSPF runs on routers"),
    ({"name": "x", "nodes": {"r1": {"kind": "router"}}}, "r1",
     "vnet.lab.ospf_config: malformed plan (KeyError: 'segments')"),
    (None, "r1", "vnet.lab.ospf_config: malformed plan (TypeError: 'NoneType' object is not subscriptable)"),
])
def test_filter_errors(plan, node, message):
    with pytest.raises(AnsibleFilterError) as info:
        FILTER(plan, node)
    assert str(info.value) == message


# The daemons file as the role's former template (daemons.j2, rendered by Ansible's
# template lookup) wrote it for an IPv4-only router: the filter must keep it byte for byte, or every
# router of a lab brought up before would restart on the next lab_up.
TEMPLATE_DAEMONS_V4 = """# Ansible managed
# FRR daemons of r7 (scale-ring-50), read by the image's entrypoint: zebra always,
# the others as frr.conf needs them. -P 0: no TCP vty, vtysh talks to the daemons over UNIX sockets.
zebra=yes
ospfd=yes
ospf6d=no
zebra_options="-P 0"
ospfd_options="-P 0"
ospf6d_options="-P 0"
"""


@pytest.mark.parametrize("config, enabled", [
    ("frr defaults traditional\nrouter ospf\n ospf router-id 1.1.1.1\nexit\n", ("yes", "yes", "no")),
    ("router ospf\nexit\n!\nrouter ospf6\nexit\n", ("yes", "yes", "yes")),
    ("router ospf6\nexit\n", ("yes", "no", "yes")),
    ("hostname r7\n! router ospf\n router ospf\nrouter ospf 2\n", ("yes", "no", "no")),
], ids=["ipv4", "dual-stack", "ipv6", "no-router-line"])
def test_daemons_follow_the_router_lines(config, enabled):
    text = daemons_file(config, "r7", "scale-ring-50")
    lines = text.splitlines()
    assert lines[3:6] == ["zebra=%s" % enabled[0], "ospfd=%s" % enabled[1], "ospf6d=%s" % enabled[2]]
    assert text.endswith('zebra_options="-P 0"\nospfd_options="-P 0"\nospf6d_options="-P 0"\n')


def test_daemons_file_is_the_template_s_text():
    assert daemons_file(frr_config(LINE, "r2"), "r7", "scale-ring-50") == TEMPLATE_DAEMONS_V4


def test_daemons_of_a_dual_stack_router():
    assert "\nospf6d=yes\n" in daemons_file(frr_config(DUAL, "r1"), "r1", "dual")


DAEMONS_FILTER = FilterModule().filters()["ospf_daemons"]


def test_daemons_filter():
    assert DAEMONS_FILTER(frr_config(LINE, "r2"), "r7", "scale-ring-50") == TEMPLATE_DAEMONS_V4
    with pytest.raises(AnsibleFilterError) as info:
        DAEMONS_FILTER(LINE, "r7", "lab")
    assert str(info.value) == "vnet.lab.ospf_daemons: the input must be the text of frr.conf, got dict"
