# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import copy
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.vnet.lab.plugins.module_utils._topology import (
    KINDS,
    Net,
    Problems,
    TopologyError,
    either,
    fmt,
    name_key,
    parse,
    parse_ip,
    shorten,
)

BASE = {
    "name": "demo",
    "nodes": {"r1": {"kind": "router"}, "r2": {"kind": "router"}, "h1": {"kind": "host"}},
    "links": [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"]},
    ],
}


def parsed(data):
    problems = Problems()
    topology = parse(data, problems)
    return topology, problems.lines


def with_changes(**changes):
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def with_link(link):
    return with_changes(links=[link])


# --- what parses -------------------------------------------------------------------------------

def test_base_topology_parses():
    topology, lines = parsed(BASE)
    assert lines == []
    assert topology.name == "demo"
    assert topology.domain == "demo.test"
    assert topology.routing == "none"
    assert list(topology.nodes) == ["h1", "r1", "r2"]
    assert [s.name for s in topology.segments] == ["h1-eth0", "r1-eth1"]
    lan, p2p = topology.segments
    assert (lan.type, p2p.type) == ("lan", "p2p")
    assert [e.label for e in lan.endpoints] == ["h1:eth0", "r1:eth2"]
    assert p2p.link == {"type": "bridge"}
    assert str(p2p.where) == "link 1 (r1:eth1, r2:eth1)"
    assert topology.interfaces == {"r1": {"eth1", "eth2"}, "r2": {"eth1"}, "h1": {"eth0"}}


def test_kinds_are_a_table():
    assert KINDS["router"].loopback and KINDS["router"].forwards and not KINDS["router"].gateway
    assert not KINDS["host"].loopback and not KINDS["host"].forwards and KINDS["host"].gateway


def test_names_sort_naturally():
    data = {
        "name": "ring",
        "nodes": {"r10": {"kind": "router"}, "r2": {"kind": "router"}, "r1": {"kind": "router"}},
        "links": [{"endpoints": ["r10:eth10", "r2:eth2", "r10:eth9"]}],
    }
    topology, lines = parsed(data)
    assert lines == []
    assert list(topology.nodes) == ["r1", "r2", "r10"]
    assert [e.label for e in topology.segments[0].endpoints] == ["r2:eth2", "r10:eth9", "r10:eth10"]
    assert topology.segments[0].name == "r2-eth2"
    assert topology.segments[0].type == "lan"


def test_link_name_and_keys():
    link = {"endpoints": ["r1:eth1", {"node": "r2", "ifname": "eth1", "ipv4": "10.9.0.2/30"}],
            "name": "core", "pool": "p2p", "ipv6": False, "mtu": "1400",
            "type": "vxlan", "vni": 42, "remote": "192.0.2.7"}
    topology, lines = parsed(with_link(link))
    assert lines == []
    (segment,) = topology.segments
    assert segment.name == "core"
    assert segment.pool == "p2p"
    assert segment.mtu == 1400
    assert segment.pins == {"ipv4": None, "ipv6": False}
    assert segment.endpoints[1].pins["ipv4"] == Net(4, 0x0a090002, 30)
    assert segment.link == {"type": "vxlan", "vni": 42, "remote": "192.0.2.7", "local": None,
                            "port": 4789, "dev": None}


def test_a_link_with_one_endpoint_is_a_stub_lan():
    topology, lines = parsed(with_link({"endpoints": ["r1:wlan0"], "name": "rpi1-wlan0"}))
    assert lines == []
    (segment,) = topology.segments
    assert (segment.name, segment.type, [e.label for e in segment.endpoints]) == (
        "rpi1-wlan0", "lan", ["r1:wlan0"])


def test_macvlan_link():
    link = {"endpoints": ["r1:eth1", "h1:eth0"], "type": "macvlan", "parent": "enp0s3.100"}
    topology, lines = parsed(with_link(link))
    assert lines == []
    assert topology.segments[0].link == {"type": "macvlan", "parent": "enp0s3.100"}


def test_routing_and_domain():
    topology, lines = parsed(with_changes(routing="static", domain="lab.example"))
    assert lines == []
    assert (topology.routing, topology.domain) == ("static", "lab.example")
    topology, lines = parsed(with_changes(routing=None))
    assert topology.routing == "none"


def test_loopback_pins():
    data = with_changes(nodes={"r1": {"kind": "router", "loopback": {"ipv4": "10.9.9.9", "ipv6": "fd00::9/128"}},
                               "r2": {"kind": "router", "loopback": {"ipv4": False}},
                               "h1": {"kind": "host"}})
    topology, lines = parsed(data)
    assert lines == []
    assert topology.nodes["r1"].loopback == {"ipv4": Net(4, 0x0a090909, 32), "ipv6": Net(6, 9 | 0xfd00 << 112, 128)}
    assert topology.nodes["r2"].loopback == {"ipv4": False, "ipv6": None}


def test_endpoint_dict_pins():
    link = {"endpoints": ["r1:eth2", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.1.7",
                                      "ipv6": "fd00::7/64"}]}
    topology, lines = parsed(with_link(link))
    assert lines == []
    pins = topology.segments[0].endpoints[0].pins
    assert pins["ipv4"] == Net(4, 0xc0a80107, None)
    assert pins["ipv6"].plen == 64


def test_services():
    data = with_changes(nodes={
        "r1": {"kind": "router", "services": {
            "web": {"interface": "eth2", "address": "192.168.1.5/24", "vhosts": ["www", "web1"]},
            "dns": None,
            "ftp": {"names": "files"},
        }},
        "r2": {"kind": "router"}, "h1": {"kind": "host"}})
    topology, lines = parsed(data)
    assert lines == []
    services = topology.nodes["r1"].services
    assert list(services) == ["dns", "ftp", "web"]
    assert services["web"].names == ["www", "web1"]
    assert services["web"].options == {"vhosts": ["www", "web1"]}
    assert services["web"].interface == "eth2"
    assert services["dns"].names == ["ns1"] and services["dns"].interface is None
    assert services["ftp"].names == ["files"]


def test_service_names_are_claimed_once_in_the_lab():
    data = with_changes(nodes={
        "r1": {"kind": "router", "services": {"dhcp": {}, "web": {"vhosts": ["web1"]}}},
        "r2": {"kind": "router", "services": {"dhcp": {}, "ftp": {"names": ["web1"]}}},
        "h1": {"kind": "host"}})
    lines = parsed(data)[1]
    assert lines == [
        "node r2 service dhcp: name 'dhcp' is already taken by node r1 service dhcp;"
        " give one of them other names (names: [...], or [] for none)",
        "node r2 service ftp: name 'web1' is already taken by node r1 service web;"
        " give one of them other names (names: [...], or [] for none)"]
    data["nodes"]["r2"]["services"] = {"dhcp": {"names": []}, "ftp": {}}
    assert parsed(data)[1] == []
    data["nodes"]["r2"]["services"] = {"dhcp": {"names": []}, "ftp": {"names": ["h1"]}}
    assert parsed(data)[1] == [
        "node r2 service ftp: name 'h1' is already taken by node h1 itself;"
        " give one of them other names (names: [...], or [] for none)"]


# --- what does not, with the exact words -------------------------------------------------------

BAD = [
    pytest.param([], ["topology: must be a mapping, got a list"], id="not-a-mapping"),
    pytest.param({}, ["topology: missing key 'name'", "topology: missing key 'nodes'"], id="empty"),
    pytest.param(
        with_changes(extra=1, name="Demo"),
        ["topology: unknown key 'extra' (expected one of: addressing, domain, links, name, nodes, routing, vpn)",
         "name: 'Demo' is not a valid lab name (a-z, 0-9 and -, starting with a letter, 1-24 characters)"],
        id="unknown-top-key-and-bad-name"),
    pytest.param(with_changes(name="a" * 25),
                 ["name: '%s' is not a valid lab name (a-z, 0-9 and -, starting with a letter, 1-24 characters)"
                  % ("a" * 25)], id="long-name"),
    pytest.param(with_changes(name="1lab"),
                 ["name: '1lab' is not a valid lab name (a-z, 0-9 and -, starting with a letter, 1-24 characters)"],
                 id="name-starts-with-digit"),
    pytest.param(with_changes(routing="rip"), ["routing: unknown value 'rip' (expected none, static or ospf)"],
                 id="routing"),
    pytest.param(with_changes(domain="Lab..test"),
                 ["domain: 'Lab..test' is not a valid DNS domain (lower-case labels of a-z, 0-9 and -, joined by "
                  "dots)"], id="domain"),
    pytest.param(with_changes(addressing=["lan"]), ["addressing: must be a mapping of pools, got a list"],
                 id="addressing-list"),
    pytest.param(with_changes(nodes=[]), ["nodes: must be a mapping of node names to nodes, got a list"],
                 id="nodes-list"),
    pytest.param(with_changes(nodes={}, links=[]), ["nodes: a lab needs at least one node"], id="no-nodes"),
    pytest.param(with_changes(nodes={"R1": {"kind": "router"}}, links=[]),
                 ["node 'R1': not a valid node name (a-z, 0-9 and -, starting with a letter, at most 63 "
                  "characters)"], id="node-name"),
    pytest.param(with_changes(nodes={"r1": None}, links=[]), ["node r1: missing key 'kind'"], id="node-null"),
    pytest.param(with_changes(nodes={"r1": "router"}, links=[]), ["node r1: must be a mapping, got a string"],
                 id="node-string"),
    pytest.param(with_changes(nodes={"r1": {"kind": "switch", "color": "red"}}, links=[]),
                 ["node r1: unknown key 'color' (expected one of: kind, loopback, placement, services)",
                  "node r1: unknown kind 'switch' (expected host or router)"], id="node-kind-and-key"),
    pytest.param(with_changes(nodes={"h1": {"kind": "host", "loopback": {"ipv4": "10.0.0.9"}}}, links=[]),
                 ["node h1: kind host takes no loopback"], id="host-loopback"),
    pytest.param(with_changes(nodes={"r1": {"kind": "router", "loopback": {"ipv4": "10.0.0.9/24",
                                                                           "ipv6": "10.0.0.1", "x": 1}}},
                              links=[]),
                 ["node r1 loopback: unknown key 'x' (expected one of: ipv4, ipv6)",
                  "node r1: loopback ipv4 '10.0.0.9/24' is not a valid IPv4 address (a bare address or /32)",
                  "node r1: loopback ipv6 '10.0.0.1' is not a valid IPv6 address (a bare address or /128)"],
                 id="loopback-pins"),
    pytest.param(with_changes(links={"endpoints": []}), ["links: must be a list of links, got a mapping"],
                 id="links-mapping"),
    pytest.param(with_changes(links=["r1:eth1 r2:eth1"]), ["link 1: must be a mapping, got a string"],
                 id="link-string"),
    pytest.param(with_link({"name": "x"}), ["link 1: missing key 'endpoints'"], id="link-no-endpoints"),
    pytest.param(with_link({"endpoints": "r1:eth1"}), ["link 1: endpoints must be a list, got a string"],
                 id="endpoints-string"),
    pytest.param(with_link({"endpoints": []}), ["link 1: needs at least one endpoint"], id="no-endpoint"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "r9:eth1"]}),
                 ["link 1 (r1:eth1, r9:eth1): unknown node r9"], id="unknown-node"),
    pytest.param(with_link({"endpoints": ["r1", "r2:eth1:x", ":eth1", "r2:"]}),
                 ["link 1 (r1, r2:eth1:x, :eth1, r2:): endpoint 'r1' is not of the form node:ifname",
                  "link 1 (r1, r2:eth1:x, :eth1, r2:): endpoint 'r2:eth1:x' is not of the form node:ifname",
                  "link 1 (r1, r2:eth1:x, :eth1, r2:): endpoint ':eth1' is not of the form node:ifname",
                  "link 1 (r1, r2:eth1:x, :eth1, r2:): endpoint 'r2:' is not of the form node:ifname"],
                 id="endpoint-form"),
    pytest.param(with_link({"endpoints": ["r1:Eth1", "r2:lo", "h1:an-interface-name"]}),
                 ["link 1 (r1:Eth1, r2:lo, h1:an-interface-name): interface name 'Eth1' of r1 is not valid "
                  "(a-z, 0-9, _, . and -, starting with a letter, at most 15 characters, not lo)",
                  "link 1 (r1:Eth1, r2:lo, h1:an-interface-name): interface name 'lo' of r2 is not valid "
                  "(a-z, 0-9, _, . and -, starting with a letter, at most 15 characters, not lo)",
                  "link 1 (r1:Eth1, r2:lo, h1:an-interface-name): interface name 'an-interface-name' of h1 is "
                  "not valid (a-z, 0-9, _, . and -, starting with a letter, at most 15 characters, not lo)"],
                 id="ifnames"),
    pytest.param(with_link({"endpoints": [{"node": "r1"}, {"ifname": "eth1"},
                                          {"node": "h1", "ifname": "eth0", "vlan": 3}, 7]}),
                 ["link 1 (r1:?, ?:eth1, h1:eth0, ?): missing key 'ifname' in endpoint r1:?",
                  "link 1 (r1:?, ?:eth1, h1:eth0, ?): missing key 'node' in endpoint ?:eth1",
                  "link 1 (r1:?, ?:eth1, h1:eth0, ?): unknown key 'vlan' in endpoint h1:eth0 (expected one of: "
                  "dhcp, ifname, ipv4, ipv6, node)",
                  "link 1 (r1:?, ?:eth1, h1:eth0, ?): endpoint 7 is neither node:ifname nor a mapping"],
                 id="endpoint-dicts"),
    pytest.param(with_link({"endpoints": [{"node": 1, "ifname": "eth0"}, "r1:eth1"]}),
                 ["link 1 (1:eth0, r1:eth1): node and ifname of endpoint 1:eth0 must be strings"],
                 id="endpoint-types"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "r1:eth1"]}),
                 ["link 1 (r1:eth1, r1:eth1): interface r1:eth1 is used twice in this link"], id="twice-in-link"),
    pytest.param(with_changes(links=[{"endpoints": ["r1:eth1", "r2:eth1"]}, {"endpoints": ["r2:eth2", "r1:eth1"]}]),
                 ["link 2 (r2:eth2, r1:eth1): interface r1:eth1 is already used by link 1 (r1:eth1, r2:eth1)"],
                 id="twice-in-links"),
    pytest.param(with_link({"endpoints": ["r1:eth1", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.1.300/24",
                                                      "ipv6": "192.168.1.3", "dhcp": "yes"}]}),
                 ["link 1 (r1:eth1, h1:eth0): ipv4 '192.168.1.300/24' of h1:eth0 is not a valid IPv4 address",
                  "link 1 (r1:eth1, h1:eth0): ipv6 '192.168.1.3' of h1:eth0 is not a valid IPv6 address",
                  "link 1 (r1:eth1, h1:eth0): dhcp of h1:eth0 must be true or false, got 'yes'"],
                 id="endpoint-values"),
    pytest.param(with_link({"endpoints": ["r1:eth1", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.1.3/24",
                                                      "dhcp": True}]}),
                 ["link 1 (r1:eth1, h1:eth0): h1:eth0 has both dhcp and ipv4; dhcp gives the ipv4 address"],
                 id="dhcp-and-ipv4"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": "192.168.1.0/33",
                            "ipv6": "fd00::1/64"}),
                 ["link 1 (r1:eth1, h1:eth0): ipv4 '192.168.1.0/33' is not a valid IPv4 prefix",
                  "link 1 (r1:eth1, h1:eth0): ipv6 fd00::1/64 has host bits set (did you mean fd00::/64?)"],
                 id="bad-cidr"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": "192.168.1.0"}),
                 ["link 1 (r1:eth1, h1:eth0): ipv4 '192.168.1.0' is not a valid IPv4 prefix"], id="prefix-no-len"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": True}),
                 ["link 1 (r1:eth1, h1:eth0): ipv4 True is not a valid IPv4 prefix"], id="prefix-true"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "name": "Core Link", "pool": ["lan"],
                            "mtu": 20, "bandwidth": 10}),
                 ["link 1 (r1:eth1, h1:eth0): unknown key 'bandwidth' (expected one of: dev, endpoints, ipv4, "
                  "ipv6, local, mtu, name, parent, pool, port, remote, type, vni)",
                  "link 1 (r1:eth1, h1:eth0): segment name 'Core Link' is not valid (a-z, 0-9, _, . and -, "
                  "starting with a letter or digit, at most 63 characters)",
                  "link 1 (r1:eth1, h1:eth0): pool must be a pool name, got a list",
                  "link 1 (r1:eth1, h1:eth0): mtu 20 must be between 68 and 65535"],
                 id="link-keys"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "mtu": "big"}),
                 ["link 1 (r1:eth1, h1:eth0): mtu must be an integer, got 'big'"], id="mtu-type"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "type": "gre"}),
                 ["link 1 (r1:eth1, h1:eth0): unknown type 'gre' (expected bridge, macvlan or vxlan)"],
                 id="link-type"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "type": "macvlan", "vni": 5}),
                 ["link 1 (r1:eth1, h1:eth0): key 'vni' applies only to type vxlan",
                  "link 1 (r1:eth1, h1:eth0): type macvlan needs key 'parent'"], id="macvlan-keys"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "parent": "eth0"}),
                 ["link 1 (r1:eth1, h1:eth0): key 'parent' applies only to type macvlan"], id="bridge-keys"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "type": "vxlan", "vni": 0, "port": 70000,
                            "local": "nowhere", "dev": "a b"}),
                 ["link 1 (r1:eth1, h1:eth0): type vxlan needs key 'remote'",
                  "link 1 (r1:eth1, h1:eth0): vni 0 must be between 1 and 16777215",
                  "link 1 (r1:eth1, h1:eth0): local 'nowhere' is not a valid IP address",
                  "link 1 (r1:eth1, h1:eth0): port 70000 must be between 1 and 65535",
                  "link 1 (r1:eth1, h1:eth0): dev 'a b' is not a valid interface name"], id="vxlan-values"),
    pytest.param(with_link({"endpoints": ["r1:eth1", "h1:eth0"], "type": "vxlan", "remote": "192.0.2.1/24"}),
                 ["link 1 (r1:eth1, h1:eth0): type vxlan needs key 'vni'",
                  "link 1 (r1:eth1, h1:eth0): remote '192.0.2.1/24' is not a valid IP address"], id="vxlan-remote"),
    pytest.param(with_changes(links=[{"endpoints": ["r1:eth1", "r2:eth1"], "name": "core"},
                                     {"endpoints": ["r1:eth2", "h1:eth0"], "name": "core"},
                                     {"endpoints": ["r2:eth2", "h1:eth1"], "name": "r1-eth3"},
                                     {"endpoints": ["r1:eth3", "r2:eth3"]}]),
                 ["link 2 (r1:eth2, h1:eth0): segment name core is already used by link 1 (r1:eth1, r2:eth1)",
                  "link 4 (r1:eth3, r2:eth3): segment name r1-eth3 is already used by link 3 (r2:eth2, h1:eth1)"],
                 id="duplicate-segment-names"),
    pytest.param(with_changes(nodes={"r1": {"kind": "router", "services": {"ntp": {}, "dns": [],
                                                                           "web": {"ipv4": "1.2.3.4/24",
                                                                                   "interface": "Eth0",
                                                                                   "address": "1.2.3",
                                                                                   "names": ["ok", "Not_OK"]}}}},
                              links=[]),
                 ["node r1 service dns: must be a mapping, got a list",
                  "node r1: unknown service 'ntp' (expected dhcp, dns, ftp, ipsec, monitor, ospf, voip or web)",
                  "node r1 service web: key 'ipv4' is computed by the planner; give an address instead",
                  "node r1 service web: interface 'Eth0' is not a valid interface name",
                  "node r1 service web: address '1.2.3' is not a valid IP address",
                  "node r1 service web: name 'Not_OK' is not a valid DNS name"],
                 id="services"),
]


@pytest.mark.parametrize("data, expected", BAD)
def test_problems_are_all_reported_in_words(data, expected):
    _topology, lines = parsed(data)
    assert lines == expected


def test_a_node_with_a_problem_does_not_drag_its_links_in():
    data = with_changes(nodes={"r1": {"kind": "switch"}, "r2": {"kind": "router"}, "h1": {"kind": "host"}})
    topology, lines = parsed(data)
    assert lines == ["node r1: unknown kind 'switch' (expected host or router)"]
    assert topology.segments == []


def test_problems_raise_once_with_every_line():
    problems = Problems()
    problems.check()
    problems.add("one")
    problems.add("two")
    with pytest.raises(TopologyError) as info:
        problems.check()
    assert info.value.errors == ["one", "two"]
    assert str(info.value) == "one\ntwo"


# --- helpers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("names, expected", [
    (["r10", "r2", "r1", "h1"], ["h1", "r1", "r2", "r10"]),
    (["eth10", "eth2", "eth1.100", "eth1"], ["eth1", "eth1.100", "eth2", "eth10"]),
    (["r01", "r1"], ["r01", "r1"]),
    (["a2b10", "a2b9", "a10b1"], ["a2b9", "a2b10", "a10b1"]),
])
def test_name_key(names, expected):
    assert sorted(names, key=name_key) == expected


@pytest.mark.parametrize("names, short, alternatives", [
    ([], "", ""),
    (["a"], "a", "a"),
    (["a", "b"], "a and b", "a or b"),
    (["a", "b", "c"], "a, b and c", "a, b or c"),
    (list("abcdefg"), "a, b, c, d, e and 2 more", "a, b, c, d, e, f or g"),
])
def test_shorten_and_either(names, short, alternatives):
    assert shorten(names) == short
    assert either(names) == alternatives


@pytest.mark.parametrize("text, version, want_len, expected", [
    ("10.1.2.3", 4, None, Net(4, 0x0a010203, None)),
    ("10.1.2.3/24", 4, None, Net(4, 0x0a010203, 24)),
    ("10.1.2.3/24", 4, False, None),
    ("10.1.2.3", 4, True, None),
    ("10.1.2.3", 6, None, None),
    ("FD00::1/64", 6, True, Net(6, 0xfd00 << 112 | 1, 64)),
    (" 10.1.2.3", 4, None, None),
    ("10.1", 4, None, None),
    ("", 4, None, None),
    (None, 4, None, None),
    (17, 4, None, None),
])
def test_parse_ip(text, version, want_len, expected):
    assert parse_ip(text, version, want_len) == expected


@given(st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_fmt_ipv4_matches_the_standard_library(value):
    assert fmt(4, value) == str(ipaddress.IPv4Address(value))


@given(st.lists(st.sampled_from([0, 0, 0, 1, 0xfd00, 0xffff, 0xabc]), min_size=8, max_size=8))
def test_fmt_ipv6_matches_netaddr(groups):
    import netaddr
    value = 0
    for group in groups:
        value = value << 16 | group
    assert fmt(6, value) == str(netaddr.IPAddress(value, 6))


def test_net_text_and_arithmetic():
    net = Net(4, 0xc0a80105, 24)
    assert str(net) == "192.168.1.5/24"
    assert net.network == 0xc0a80100 and net.last == 0xc0a801ff and net.size == 256
    assert str(Net(6, 1, None)) == "::1"
    assert repr(Net(4, 0, 0)) == "Net(0.0.0.0/0)"
