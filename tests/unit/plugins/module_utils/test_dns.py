# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS zones, serials and name-server settings derived from a lab plan."""

from __future__ import annotations

import copy
import ipaddress

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.dns import FilterModule
from ansible_collections.vnet.lab.plugins.module_utils import _dns


def _iface(segment, ipv4=None, ipv6=None, secondary=(), dhcp=False):
    return {"segment": segment, "ipv4": ipv4, "ipv6": ipv6, "dhcp": dhcp, "mtu": None,
            "secondary": list(secondary)}


def _node(kind, interfaces, loopback=None, services=None):
    return {"kind": kind, "loopback": loopback,
            "gateway": {"ipv4": None, "ipv6": None}, "interfaces": interfaces,
            "routes": [], "services": services or {}}


def _segment(stype, ipv4, ipv6, endpoints):
    return {"type": stype, "ipv4": ipv4, "ipv6": ipv6, "endpoints": endpoints, "mtu": None,
            "link": {"type": "bridge"}}


# r1 routes between a dual-stack LAN (dns and web on service addresses, dhcp on its own) and a
# p2p link to r2; h1 is a host on the LAN, h2 a DHCP client.
PLAN = {
    "name": "demo",
    "domain": "demo.test",
    "routing": "none",
    "nodes": {
        "r1": _node("router", {
            "eth1": _iface("r1-eth1", "10.1.0.1/30"),
            "lan0": _iface("lan", "192.168.10.1/24", "2001:db8:10::1/64",
                           secondary=["192.168.10.2/24", "192.168.10.5/24"]),
        }, loopback={"ipv4": "10.0.0.1/32", "ipv6": None}, services={
            "dns": {"interface": "lan0", "ipv4": "192.168.10.2/24", "ipv6": "2001:db8:10::1/64",
                    "names": ["ns1"]},
            "dhcp": {"interface": "lan0", "ipv4": "192.168.10.1/24", "ipv6": "2001:db8:10::1/64",
                     "names": ["dhcp"]},
            "ospf": {"interface": "eth1", "ipv4": "10.1.0.1/30", "ipv6": None, "names": []},
            "web": {"interface": "lan0", "ipv4": "192.168.10.5/24", "ipv6": "2001:db8:10::1/64",
                    "names": ["www", "web1", "web2"], "vhosts": ["www", "web1", "web2"]},
        }),
        "r2": _node("router", {"eth1": _iface("r1-eth1", "10.1.0.2/30")},
                    loopback={"ipv4": "10.0.0.2/32", "ipv6": None}),
        "h1": _node("host", {"eth0": _iface("lan", "192.168.10.11/24", "2001:db8:10::b/64")}),
        "h2": _node("host", {"eth0": _iface("lan", dhcp=True)}),
    },
    "segments": {
        "r1-eth1": _segment("p2p", "10.1.0.0/30", None, ["r1:eth1", "r2:eth1"]),
        "lan": _segment("lan", "192.168.10.0/24", "2001:db8:10::/64", ["h1:eth0", "h2:eth0", "r1:lan0"]),
    },
}

SOA = {"mname": "ns1.demo.test.", "rname": "hostmaster.demo.test.", "refresh": 3600, "retry": 600,
       "expire": 86400, "minimum": 60}


def _records(zone):
    return [(r["name"], r["type"], r["value"]) for r in zone["records"]]


def test_forward_zone():
    forward = _dns.zones(PLAN)[0]
    assert {k: v for k, v in forward.items() if k not in ("records", "hash")} == {
        "name": "demo.test", "file": "db.demo.test", "type": "forward", "network": None, "ttl": 60,
        "soa": SOA, "ns": ["ns1.demo.test."]}
    assert _records(forward) == [
        ("dhcp", "A", "192.168.10.1"),
        ("dhcp", "AAAA", "2001:db8:10::1"),
        ("h1", "A", "192.168.10.11"),
        ("h1", "AAAA", "2001:db8:10::b"),
        ("eth0.h1", "A", "192.168.10.11"),
        ("eth0.h1", "AAAA", "2001:db8:10::b"),
        ("ns1", "A", "192.168.10.2"),
        ("ns1", "AAAA", "2001:db8:10::1"),
        ("r1", "A", "10.1.0.1"),
        ("r1", "AAAA", "2001:db8:10::1"),
        ("eth1.r1", "A", "10.1.0.1"),
        ("lan0.r1", "A", "192.168.10.1"),
        ("lan0.r1", "AAAA", "2001:db8:10::1"),
        ("lo.r1", "A", "10.0.0.1"),
        ("r2", "A", "10.1.0.2"),
        ("eth1.r2", "A", "10.1.0.2"),
        ("lo.r2", "A", "10.0.0.2"),
        ("web1", "CNAME", "www.demo.test."),
        ("web2", "CNAME", "www.demo.test."),
        ("www", "A", "192.168.10.5"),
        ("www", "AAAA", "2001:db8:10::1"),
    ]


def test_reverse_zones():
    reverse = _dns.zones(PLAN)[1:]
    assert [(z["name"], z["file"], z["network"]) for z in reverse] == [
        ("0.0.10.in-addr.arpa", "db.0.0.10.in-addr.arpa", "10.0.0.0/24"),
        ("0.1.10.in-addr.arpa", "db.0.1.10.in-addr.arpa", "10.1.0.0/24"),
        ("10.168.192.in-addr.arpa", "db.10.168.192.in-addr.arpa", "192.168.10.0/24"),
        ("0.0.0.0.0.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "db.0.0.0.0.0.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
         "2001:db8:10::/64"),
    ]
    assert all(z["type"] == "reverse" and z["soa"] == SOA and z["ns"] == ["ns1.demo.test."] for z in reverse)
    assert [_records(z) for z in reverse] == [
        [("1", "PTR", "lo.r1.demo.test."), ("2", "PTR", "lo.r2.demo.test.")],
        [("1", "PTR", "eth1.r1.demo.test."), ("2", "PTR", "eth1.r2.demo.test.")],
        [("1", "PTR", "lan0.r1.demo.test."), ("2", "PTR", "ns1.demo.test."),
         ("5", "PTR", "www.demo.test."), ("11", "PTR", "eth0.h1.demo.test.")],
        [("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0", "PTR", "lan0.r1.demo.test."),
         ("b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0", "PTR", "eth0.h1.demo.test.")],
    ]


def test_zones_are_deterministic_and_hash_their_content():
    first = _dns.zones(PLAN)
    shuffled = copy.deepcopy(PLAN)
    shuffled["nodes"] = dict(reversed(list(shuffled["nodes"].items())))
    shuffled["segments"] = dict(reversed(list(shuffled["segments"].items())))
    assert _dns.zones(shuffled) == first
    assert all(z["hash"] == _dns.content_hash(z) for z in first)
    assert len({z["hash"] for z in first}) == len(first)
    assert _dns.zones(PLAN, ttl=300)[0]["hash"] != first[0]["hash"]


def test_ttl_and_soa_options():
    zone = _dns.zones(PLAN, ttl=300, soa={"minimum": 30, "retry": 120})[0]
    assert zone["ttl"] == 300
    assert zone["soa"] == dict(SOA, minimum=30, retry=120)


# Two sites with the same LAN prefix: one reverse zone, one PTR per address, the first holder
# (name order) for an address that both sites use.
TWO_SITES = {
    "name": "sites", "domain": "sites.test", "routing": "none",
    "nodes": {
        "ra": _node("router", {"lan": _iface("lan-a", "192.168.1.1/24")},
                    services={"dns": {"interface": "lan", "ipv4": "192.168.1.1/24", "ipv6": None,
                                      "names": ["ns1"]}}),
        "rb": _node("router", {"lan": _iface("lan-b", "192.168.1.1/24")},
                    services={"dns": {"interface": "lan", "ipv4": "192.168.1.1/24", "ipv6": None,
                                      "names": ["ns2"]}}),
        "hb": _node("host", {"eth0": _iface("lan-b", "192.168.1.2/24")}),
    },
    "segments": {
        "lan-a": _segment("lan", "192.168.1.0/24", None, ["ra:lan"]),
        "lan-b": _segment("lan", "192.168.1.0/24", None, ["hb:eth0", "rb:lan"]),
    },
}


def test_same_prefix_at_two_sites():
    zones = _dns.zones(TWO_SITES)
    assert zones[0]["ns"] == ["ns1.sites.test.", "ns2.sites.test."]
    assert [z["name"] for z in zones] == ["sites.test", "1.168.192.in-addr.arpa"]
    assert _records(zones[1]) == [("1", "PTR", "lan.ra.sites.test."), ("2", "PTR", "eth0.hb.sites.test.")]


@pytest.mark.parametrize("address, zone, owner", [
    ("10.1.0.1/30", "0.1.10.in-addr.arpa", "1"),
    ("10.0.0.7/32", "0.0.10.in-addr.arpa", "7"),
    ("10.1.2.3/24", "2.1.10.in-addr.arpa", "3"),
    ("10.1.2.3/20", "1.10.in-addr.arpa", "3.2"),
    ("10.1.2.3/16", "1.10.in-addr.arpa", "3.2"),
    ("10.1.2.3/12", "10.in-addr.arpa", "3.2.1"),
    ("10.1.2.3/8", "10.in-addr.arpa", "3.2.1"),
    ("2001:db8::1/64", "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"),
    ("2001:db8::1/127", "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"),
    ("2001:db8::1/128", "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"),
    ("2001:db8:1::1/48", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"),
    ("2001:db8:1::1/50", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"),
])
def test_reverse_zone_of_an_address(address, zone, owner):
    interface = ipaddress.ip_interface(address)
    network = _dns._zone_network(interface)
    assert _dns.reverse_name(network) == zone
    assert _dns._ptr_owner(interface.ip, network) == owner


def test_nested_reverse_zones_take_the_most_specific():
    plan = copy.deepcopy(PLAN)
    plan["segments"]["wide"] = _segment("lan", "192.168.0.0/16", None, ["h1:eth9"])
    plan["nodes"]["h1"]["interfaces"]["eth9"] = _iface("wide", "192.168.20.9/16")
    zones = {z["name"]: _records(z) for z in _dns.zones(plan)}
    assert zones["168.192.in-addr.arpa"] == [("9.20", "PTR", "eth9.h1.demo.test.")]
    assert ("11", "PTR", "eth0.h1.demo.test.") in zones["10.168.192.in-addr.arpa"]


def test_names_are_made_relative_and_underscores_become_hyphens():
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["h1"]["interfaces"] = {"eth_0": _iface("lan", "192.168.10.11/24")}
    plan["nodes"]["r1"]["services"]["web"]["names"] = ["www.demo.test.", "web1.demo.test", "demo.test"]
    plan["nodes"]["r1"]["services"]["web"]["vhosts"] = ["web1"]
    forward = _records(_dns.zones(plan)[0])
    assert ("eth-0.h1", "A", "192.168.10.11") in forward
    assert ("@", "A", "192.168.10.5") == forward[0]
    assert ("web1", "CNAME", "www.demo.test.") in forward
    assert ("www", "A", "192.168.10.5") in forward


def _with(path, value, plan=None):
    plan = copy.deepcopy(PLAN if plan is None else plan)
    target = plan
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return plan


_DELETE = object()


@pytest.mark.parametrize("plan, errors", [
    (_with(["domain"], None), ["the plan has no domain"]),
    (_with(["nodes", "r1", "services"], {}), ["the plan has no dns service (plan.nodes.<node>.services.dns)"]),
    (_with(["nodes", "r1", "services", "dns", "names"], []),
     ["node r1 service dns: it has no name, so no NS record"]),
    (_with(["nodes", "r1", "services", "web", "names"], ["h1"]),
     ["name h1: node h1 and service web on r1 both claim it; give one of them other names"]),
    (_with(["nodes", "r1", "services", "dhcp", "names"], ["web1"]),
     ["name web1: service dhcp on r1 and service web on r1 both claim it; give one of them other names"]),
    (_with(["nodes", "r1", "services", "web", "names"], ["web1", "www", "web1"]),
     ["name web1: a CNAME cannot stand beside other records (service web on r1)"]),
    (_with(["nodes", "r1", "services", "web", "names"], ["www", "example.org."]),
     ["node r1 service web: name example.org. is outside the domain demo.test"]),
    (_with(["nodes", "r1", "services", "web", "names"], ["www", "bad_name"]),
     ["node r1 service web: name bad_name is not a valid host name"]),
    (_with(["nodes", "r1", "services", "web"], {"interface": None, "ipv4": None, "ipv6": None, "names": ["www"]}),
     ["node r1 service web: it has names (www) but no address"]),
    (_with(["nodes", "h1", "interfaces"], {"eth-": _iface("lan", "192.168.10.11/24")}),
     ["node h1 interface eth-: eth- does not make a valid host name"]),
])
def test_errors(plan, errors):
    with pytest.raises(_dns.DnsError) as caught:
        _dns.zones(plan)
    assert caught.value.errors == errors


def test_errors_are_collected():
    plan = _with(["nodes", "r1", "services", "web", "names"], ["h1", "example.org."])
    with pytest.raises(_dns.DnsError) as caught:
        _dns.zones(plan)
    assert caught.value.errors == [
        "node r1 service web: name example.org. is outside the domain demo.test",
        "name h1: node h1 and service web on r1 both claim it; give one of them other names",
    ]


def test_server():
    assert _dns.server(PLAN, "r1") == {
        "listen_ipv4": ["192.168.10.2"],
        "listen_ipv6": ["2001:db8:10::1"],
        "recursion_clients": ["10.0.0.1/32", "10.0.0.2/32", "10.1.0.0/30", "192.168.10.0/24", "2001:db8:10::/64"],
    }


@pytest.mark.parametrize("plan, node, error", [
    (PLAN, "r9", "node r9 is not in the plan (nodes: h1, h2, r1, r2)"),
    (PLAN, "h1", "node h1 runs no dns service (plan.nodes.h1.services.dns)"),
    (_with(["nodes", "r1", "services", "dns", "ipv4"], None,
           _with(["nodes", "r1", "services", "dns", "ipv6"], None)), "r1",
     "node r1 service dns: it has no address to listen on"),
])
def test_server_errors(plan, node, error):
    with pytest.raises(_dns.DnsError) as caught:
        _dns.server(plan, node)
    assert caught.value.errors == [error]


def test_filters():
    filters = FilterModule().filters()
    zones = filters["dns_zones"](PLAN)
    assert [z["name"] for z in zones][0] == "demo.test" and len(zones) == 5
    assert all(z["hash"] == _dns.content_hash(z) for z in zones)
    assert filters["dns_server"](PLAN, "r1")["listen_ipv4"] == ["192.168.10.2"]


@pytest.mark.parametrize("name, args, message", [
    ("dns_zones", (_with(["domain"], None),), "vnet.lab.dns_zones: the plan has no domain"),
    ("dns_server", (PLAN, "r9"), "vnet.lab.dns_server: node r9 is not in the plan (nodes: h1, h2, r1, r2)"),
    ("dns_zones", ({"domain": "x.test", "nodes": {"r1": {"services": {"dns": {"names": ["ns1"], "ipv4": "bad"}}}}},),
     "vnet.lab.dns_zones: malformed input (ValueError: 'bad' does not appear to be an IPv4 or IPv6 interface)"),
])
def test_filter_errors(name, args, message):
    with pytest.raises(AnsibleFilterError) as caught:
        FilterModule().filters()[name](*args)
    assert str(caught.value).startswith(message)
