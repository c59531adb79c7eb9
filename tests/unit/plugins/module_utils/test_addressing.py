# SPDX-License-Identifier: GPL-3.0-or-later
"""The planner: pools, prefixes, addresses, gateways; golden files; properties.

Golden files live in tests/golden: ``plans/*.yml`` hold a topology and its plan,
``errors/*.yml`` a bad topology and its error lines. After a deliberate change, regenerate
them with ``VNET_UPDATE_GOLDEN=1 pytest tests/unit/plugins/module_utils/test_addressing.py``
and review the diff.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.vnet.lab.plugins.module_utils._addressing import (
    DEFAULTS,
    Taken,
    make_plan,
    setup_pools,
    usable,
)
from ansible_collections.vnet.lab.plugins.module_utils._topology import Problems, TopologyError

GOLDEN = Path(__file__).resolve().parents[3] / "golden"
UPDATE = os.environ.get("VNET_UPDATE_GOLDEN") == "1"


def plan_of(topology):
    return make_plan(topology)


def errors_of(topology):
    with pytest.raises(TopologyError) as info:
        make_plan(topology)
    return info.value.errors


def iface(plan, node, ifname):
    return plan["nodes"][node]["interfaces"][ifname]


def lab(nodes, links, **extra):
    data = {"name": "t", "nodes": {}, "links": links}
    for name in nodes.split():
        data["nodes"][name] = {"kind": "router" if name.startswith("r") else "host"}
    data.update(extra)
    return data


# --- golden files ------------------------------------------------------------------------------

def _dump(data):
    """YAML of a golden file: compact leaves, but error lines one per line, unwrapped."""
    parts = []
    for key, value in data.items():
        flow = None if isinstance(value, dict) else False
        parts.append(yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=flow,
                                    width=110 if flow is None else 10000, allow_unicode=True))
    return "".join(parts)


def check_golden(path, key, actual):
    """Compare ``actual`` with ``key`` of the golden file; with VNET_UPDATE_GOLDEN=1, write it."""
    data = yaml.safe_load(path.read_text())
    if UPDATE:
        data[key] = actual
        path.write_text(_dump(data))
        return
    assert key in data, "%s has no %r yet: run with VNET_UPDATE_GOLDEN=1" % (path, key)
    assert actual == data[key]


def _golden(kind):
    return sorted((GOLDEN / kind).glob("*.yml"))


@pytest.mark.parametrize("path", _golden("plans"), ids=lambda p: p.stem)
def test_golden_plan(path):
    topology = yaml.safe_load(path.read_text())["topology"]
    check_golden(path, "plan", make_plan(topology))


def _planner_errors():
    """Golden error files of the planner; the others (``stage: check`` or ``engine``) are lab runs'
    (tests/unit/plugins/filter/test_lab_check.py, tests/integration/test_bad_input.py)."""
    return [p for p in _golden("errors") if yaml.safe_load(p.read_text()).get("stage", "plan") == "plan"]


@pytest.mark.parametrize("path", _planner_errors(), ids=lambda p: p.stem)
def test_golden_errors(path):
    topology = yaml.safe_load(path.read_text())["topology"]
    check_golden(path, "errors", errors_of(topology))


def test_there_are_goldens():
    assert len(_golden("plans")) >= 5 and len(_golden("errors")) >= 4


@pytest.mark.parametrize("path", _golden("plans"), ids=lambda p: p.stem)
def test_golden_plan_is_plain_json(path):
    plan = make_plan(yaml.safe_load(path.read_text())["topology"])
    assert json.loads(json.dumps(plan)) == plan


# --- pools -------------------------------------------------------------------------------------

def test_default_pools_read_as_yaml():
    assert DEFAULTS["pools"] == {
        "lan": {"ipv4": "172.16.0.0/16", "prefix": 24},
        "p2p": {"ipv4": "10.1.0.0/16", "prefix": 30},
        "loopback": {"ipv4": "10.0.0.0/24", "prefix": 32},
    }


def test_user_pool_replaces_the_default_whole():
    problems = Problems()
    pools = setup_pools({"lan": {"ipv6": "fd00::/48"}, "extra": {"ipv4": "192.168.0.0/16"}}, problems)
    assert problems.lines == []
    assert pools["lan"]["ipv4"] is None
    assert (str(pools["lan"]["ipv6"].net), pools["lan"]["ipv6"].length) == ("fd00::/48", 64)
    assert pools["extra"]["ipv4"].length == 24
    assert pools["p2p"]["ipv4"].length == 30
    assert sorted(pools) == ["extra", "lan", "loopback", "p2p"]


@pytest.mark.parametrize("addressing, expected", [
    ({"lan": {"ipv4": "172.16.0.0/16", "prefix": 8}}, ["pool lan: prefix 8 must be between 16 and 32"]),
    ({"lan": {"ipv4": "172.16.0.0/16", "prefix": "x"}}, ["pool lan: prefix must be an integer, got 'x'"]),
    ({"lan": {"ipv4": "fd00::/48"}}, ["pool lan: ipv4 'fd00::/48' is not a valid IPv4 prefix"]),
    ({"lan": {"ipv6": "fd00::1/48"}}, ["pool lan: ipv6 fd00::1/48 has host bits set (did you mean fd00::/48?)"]),
    ({"lan": {"prefix": 24}}, ["pool lan: prefix given without ipv4"]),
    ({"lan": {}}, ["pool lan: has neither ipv4 nor ipv6"]),
    ({"lan": None}, ["pool lan: has neither ipv4 nor ipv6"]),
    ({"lan": "172.16.0.0/16"}, ["pool lan: must be a mapping, got a string"]),
    ({"lan": {"ipv4": "172.16.0.0/16", "size": 3}},
     ["pool lan: unknown key 'size' (expected one of: ipv4, ipv6, prefix, prefix6)"]),
    ({"loopback": {"ipv4": "10.0.0.0/24", "prefix": 30}},
     ["pool loopback: prefix must be 32 (a loopback is one address)"]),
    ({"loopback": {"ipv6": "fd00::/64", "prefix6": 64}},
     ["pool loopback: prefix6 must be 128 (a loopback is one address)"]),
    ({"Lan": {"ipv4": "172.16.0.0/16"}}, ["addressing: pool name 'Lan' is not valid (a-z, 0-9, _ and -, "
                                          "starting with a letter)"]),
])
def test_bad_pools(addressing, expected):
    problems = Problems()
    setup_pools(addressing, problems)
    assert problems.lines == expected


# --- the rules of numbering --------------------------------------------------------------------

def test_lone_router_on_a_lan_gets_dot_one_and_hosts_follow_in_name_order():
    plan = plan_of(lab("r1 h10 h2 a", [{"endpoints": ["h10:eth0", "a:eth0", "h2:eth0", "r1:eth1"]}]))
    assert [iface(plan, n, i)["ipv4"] for n, i in
            [("r1", "eth1"), ("a", "eth0"), ("h2", "eth0"), ("h10", "eth0")]] == \
        ["172.16.0.1/24", "172.16.0.2/24", "172.16.0.3/24", "172.16.0.4/24"]
    assert plan["segments"]["a-eth0"]["endpoints"] == ["a:eth0", "h2:eth0", "h10:eth0", "r1:eth1"]


def test_routers_take_the_lowest_addresses_in_name_order():
    plan = plan_of(lab("r2 r1 h1", [{"endpoints": ["h1:eth0", "r2:eth1", "r1:eth1"]}]))
    assert iface(plan, "r1", "eth1")["ipv4"] == "172.16.0.1/24"
    assert iface(plan, "r2", "eth1")["ipv4"] == "172.16.0.2/24"
    assert iface(plan, "h1", "eth0")["ipv4"] == "172.16.0.3/24"
    assert plan["segments"]["h1-eth0"]["type"] == "lan"


def test_p2p_between_two_routers_comes_from_the_p2p_pool():
    plan = plan_of(lab("r2 r1", [{"endpoints": ["r2:eth1", "r1:eth1"]}, {"endpoints": ["r2:eth2", "r1:eth2"]}]))
    assert plan["segments"]["r1-eth1"]["type"] == "p2p"
    assert plan["segments"]["r1-eth1"]["ipv4"] == "10.1.0.0/30"
    assert plan["segments"]["r1-eth2"]["ipv4"] == "10.1.0.4/30"
    assert iface(plan, "r1", "eth1")["ipv4"] == "10.1.0.1/30"
    assert iface(plan, "r2", "eth1")["ipv4"] == "10.1.0.2/30"


@pytest.mark.parametrize("prefix, prefix6, expected", [
    (30, 64, ("10.1.0.1/30", "10.1.0.2/30", "fd00:1::1/64", "fd00:1::2/64")),
    (31, 127, ("10.1.0.0/31", "10.1.0.1/31", "fd00:1::/127", "fd00:1::1/127")),
    (29, 126, ("10.1.0.1/29", "10.1.0.2/29", "fd00:1::1/126", "fd00:1::2/126")),
])
def test_p2p_prefix_lengths(prefix, prefix6, expected):
    addressing = {"p2p": {"ipv4": "10.1.0.0/16", "prefix": prefix, "ipv6": "fd00:1::/48", "prefix6": prefix6}}
    plan = plan_of(lab("r1 r2", [{"endpoints": ["r1:eth1", "r2:eth1"]}], addressing=addressing))
    a, b = iface(plan, "r1", "eth1"), iface(plan, "r2", "eth1")
    assert (a["ipv4"], b["ipv4"], a["ipv6"], b["ipv6"]) == expected


def test_dhcp_endpoints_take_no_ipv4_address_but_keep_ipv6():
    addressing = {"lan": {"ipv4": "172.16.0.0/16", "ipv6": "fd00::/48"}}
    plan = plan_of(lab("r1 h1 h2", [{"endpoints": ["r1:eth1", {"node": "h1", "ifname": "eth0", "dhcp": True},
                                                   "h2:eth0"]}], addressing=addressing))
    assert iface(plan, "h1", "eth0") == {"segment": "h1-eth0", "ipv4": None, "ipv6": "fd00::2/64", "dhcp": True,
                                         "mtu": None, "secondary": []}
    assert iface(plan, "h2", "eth0")["ipv4"] == "172.16.0.2/24"
    # The DHCP server gives h1 its IPv4 router; its IPv6 (planned) still routes via r1.
    assert plan["nodes"]["h1"]["gateway"] == {"ipv4": None, "ipv6": "fd00::1"}
    assert plan["nodes"]["h2"]["gateway"] == {"ipv4": "172.16.0.1", "ipv6": "fd00::1"}


def test_pinned_dot_one_is_honoured_and_skipped():
    plan = plan_of(lab("r1 h1 h2", [{"endpoints": ["r1:eth1", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.1.1"},
                                                   "h2:eth0"], "ipv4": "192.168.1.0/24"}]))
    assert iface(plan, "h1", "eth0")["ipv4"] == "192.168.1.1/24"
    assert iface(plan, "r1", "eth1")["ipv4"] == "192.168.1.2/24"
    assert iface(plan, "h2", "eth0")["ipv4"] == "192.168.1.3/24"
    assert plan["nodes"]["h2"]["gateway"]["ipv4"] == "192.168.1.2"


def test_the_same_pinned_prefix_on_two_segments():
    plan = plan_of(lab("r1 r2 h1 h2", [{"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": "192.168.1.0/24"},
                                       {"endpoints": ["r2:eth1", "h2:eth0"], "ipv4": "192.168.1.0/24"}]))
    assert iface(plan, "r1", "eth1")["ipv4"] == iface(plan, "r2", "eth1")["ipv4"] == "192.168.1.1/24"


def test_pool_prefixes_skip_pinned_prefixes_anywhere():
    plan = plan_of(lab("r1 r2 h1 h2", [{"endpoints": ["r1:eth1", "h1:eth0"], "ipv4": "172.16.0.0/23"},
                                       {"endpoints": ["r2:eth1", "h2:eth0"]},
                                       {"endpoints": ["r1:eth2", "r2:eth2"], "pool": "lan"}]))
    assert plan["segments"]["h2-eth0"]["ipv4"] == "172.16.2.0/24"
    assert plan["segments"]["r1-eth2"]["ipv4"] == "172.16.3.0/24"
    assert plan["segments"]["r1-eth2"]["type"] == "p2p"


def test_pools_that_overlap_do_not_hand_out_the_same_prefix():
    addressing = {"lan": {"ipv4": "10.0.0.0/8", "prefix": 16}}
    plan = plan_of(lab("r1 r2 h1", [{"endpoints": ["r1:eth1", "r2:eth1"]}, {"endpoints": ["r1:eth2", "h1:eth0"]}],
                       addressing=addressing))
    assert plan["nodes"]["r1"]["loopback"]["ipv4"] == "10.0.0.1/32"
    assert plan["segments"]["r1-eth1"]["ipv4"] == "10.1.0.0/30"
    # 10.0.0.0/16 holds the loopbacks and 10.1.0.0/16 the p2p prefix: the lan pool skips both.
    assert plan["segments"]["h1-eth0"]["ipv4"] == "10.2.0.0/16"


def test_loopbacks_in_node_name_order_skip_pinned_ones():
    data = lab("r3 r1 r2 h1", [])
    data["nodes"]["r2"]["loopback"] = {"ipv4": "10.0.0.1"}
    data["nodes"]["r3"]["loopback"] = {"ipv4": False}
    plan = plan_of(data)
    loopbacks = {n: plan["nodes"][n]["loopback"] for n in ("r1", "r2", "r3", "h1")}
    assert loopbacks == {"r1": {"ipv4": "10.0.0.2/32", "ipv6": None}, "r2": {"ipv4": "10.0.0.1/32", "ipv6": None},
                         "r3": {"ipv4": None, "ipv6": None}, "h1": None}


def test_gateway_is_the_first_router_on_the_first_routed_interface_per_family():
    addressing = {"lan": {"ipv4": "172.16.0.0/16", "ipv6": "fd00::/48"}}
    data = lab("r1 r2 r3 h1", [
        {"endpoints": ["h1:eth0", "r3:eth1"], "ipv6": False},
        {"endpoints": ["h1:eth1", "r2:eth1", "r1:eth1"]},
        {"endpoints": ["h1:eth2"] + ["r3:eth2"]},
    ], addressing=addressing)
    plan = plan_of(data)
    assert plan["nodes"]["h1"]["gateway"] == {"ipv4": "172.16.0.1", "ipv6": "fd00::1"}
    assert plan["nodes"]["r1"]["gateway"] == {"ipv4": None, "ipv6": None}


def test_host_without_router_has_no_gateway():
    plan = plan_of(lab("h1 h2", [{"endpoints": ["h1:eth0", "h2:eth0"]}]))
    assert plan["nodes"]["h1"]["gateway"] == {"ipv4": None, "ipv6": None}
    assert iface(plan, "h1", "eth0")["ipv4"] == "172.16.0.1/24"


def test_every_key_is_present_and_shapes_match_the_contract():
    plan = plan_of(lab("r1 h1", [{"endpoints": ["r1:eth1", "h1:eth0"], "mtu": 1400}]))
    assert list(plan) == ["name", "domain", "routing", "routing_notes", "nodes", "segments", "vpn"]
    assert list(plan["nodes"]["r1"]) == ["kind", "loopback", "gateway", "interfaces", "routes", "services", "placement"]
    assert list(iface(plan, "r1", "eth1")) == ["segment", "ipv4", "ipv6", "dhcp", "mtu", "secondary"]
    assert plan["segments"]["h1-eth0"] == {"type": "lan", "ipv4": "172.16.0.0/24", "ipv6": None,
                                           "endpoints": ["h1:eth0", "r1:eth1"], "mtu": 1400,
                                           "link": {"type": "bridge"}}
    assert iface(plan, "h1", "eth0")["mtu"] == 1400


def test_interfaces_are_in_name_order():
    plan = plan_of(lab("r1 r2", [{"endpoints": ["r1:eth10", "r2:eth10"]}, {"endpoints": ["r1:eth2", "r2:eth2"]},
                                 {"endpoints": ["r1:eth1", "r2:eth1"]}]))
    assert list(plan["nodes"]["r1"]["interfaces"]) == ["eth1", "eth2", "eth10"]


def test_a_node_without_links():
    plan = plan_of(lab("r1 h1", []))
    assert plan["nodes"]["h1"]["interfaces"] == {}
    assert plan["segments"] == {}


def test_services_pin_their_addresses_on_the_segment():
    data = lab("r1 h1 h2", [{"endpoints": ["r1:eth1", "h1:eth0", "h2:eth0"], "ipv4": "192.168.0.0/24"}])
    data["nodes"]["r1"]["services"] = {"dns": {"interface": "eth1", "address": "192.168.0.2"},
                                       "ospf": {}}
    plan = plan_of(data)
    assert iface(plan, "h1", "eth0")["ipv4"] == "192.168.0.3/24"
    assert iface(plan, "r1", "eth1")["secondary"] == ["192.168.0.2/24"]
    assert plan["nodes"]["r1"]["services"] == {
        "dns": {"interface": "eth1", "ipv4": "192.168.0.2/24", "ipv6": None, "names": ["ns1"]},
        "ospf": {"interface": "eth1", "ipv4": "192.168.0.1/24", "ipv6": None, "names": []},
    }
    assert plan["domain"] == "t.test"


# --- what goes wrong, in words -----------------------------------------------------------------

BAD = [
    pytest.param(lab("r1 h1 h2 h3", [{"endpoints": ["r1:eth1", "h1:eth0", "h2:eth0", "h3:eth0"],
                                      "ipv4": "192.168.1.0/30"}]),
                 ["link 1 (r1:eth1, h1:eth0, h2:eth0, h3:eth0): ran out of ipv4 addresses in 192.168.1.0/30 on "
                  "segment h1-eth0 (4 endpoints need one, 2 are free)"], id="prefix-too-small"),
    pytest.param(lab("r1 h1 h2", [{"endpoints": ["r1:eth1", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.1.1"},
                                                 "h2:eth0"],
                                   "ipv4": "192.168.1.0/31"}]),
                 ["link 1 (r1:eth1, h1:eth0, h2:eth0): ran out of ipv4 addresses in 192.168.1.0/31 on segment "
                  "h1-eth0 (2 endpoints need one, 1 is free)"], id="pinned-takes-a-place"),
    pytest.param(lab("r1 r2 r3", [{"endpoints": ["r1:eth1", "r2:eth1"]}, {"endpoints": ["r2:eth2", "r3:eth2"]},
                                  {"endpoints": ["r3:eth3", "r1:eth3"]}],
                     addressing={"p2p": {"ipv4": "10.1.0.0/30"}}),
                 ["ran out of ipv4 prefixes in pool p2p (10.1.0.0/30 in /30 prefixes): no prefix for segments "
                  "r1-eth3 and r2-eth2"], id="p2p-dry"),
    pytest.param(lab("r1 r2 r3", [], addressing={"loopback": {"ipv4": "10.0.0.0/31"}}),
                 ["ran out of ipv4 addresses in pool loopback (10.0.0.0/31): no loopback for routers r3"],
                 id="loopback-dry"),
    pytest.param(lab("r1 h1", [{"endpoints": ["r1:eth1", "h1:eth0"], "pool": "loopback"}]),
                 ["link 1 (r1:eth1, h1:eth0): pool loopback hands out loopbacks, not segment prefixes"],
                 id="loopback-pool-on-link"),
    pytest.param(lab("r1 h1", [{"endpoints": ["r1:eth1", "h1:eth0"], "pool": "mgmt"}]),
                 ["link 1 (r1:eth1, h1:eth0): unknown pool 'mgmt' (expected lan or p2p)"], id="unknown-pool"),
    pytest.param(lab("r1 h1", [{"endpoints": ["r1:eth1", "h1:eth0"], "pool": "mgmt"}],
                     addressing={"mgmt": {"ipv4": "10.9.0.0/33"}}),
                 ["pool mgmt: ipv4 '10.9.0.0/33' is not a valid IPv4 prefix"], id="broken-pool-once"),
]


@pytest.mark.parametrize("topology, expected", BAD)
def test_problems_in_words(topology, expected):
    assert errors_of(topology) == expected


def test_a_pinned_address_fills_a_31():
    plan = plan_of(lab("r1 h1", [{"endpoints": ["r1:eth1", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.1.0"}],
                                  "ipv4": "192.168.1.0/31"}]))
    assert iface(plan, "r1", "eth1")["ipv4"] == "192.168.1.1/31"


def test_problems_of_every_stage_come_together():
    data = lab("r1 h1 h2", [{"endpoints": ["r1:eth1", "h9:eth0"]},
                            {"endpoints": ["r1:eth2", {"node": "h1", "ifname": "eth0", "ipv4": "10.9.9.9/24"}],
                             "ipv4": "192.168.1.0/24"}],
               addressing={"lan": {"ipv4": "172.16.0.0/16", "prefix": 40}})
    assert errors_of(data) == [
        "link 1 (r1:eth1, h9:eth0): unknown node h9",
        "pool lan: prefix 40 must be between 16 and 32",
        "link 2 (r1:eth2, h1:eth0): address 10.9.9.9/24 of h1:eth0 is outside the prefix 192.168.1.0/24",
    ]


# --- integer helpers ---------------------------------------------------------------------------

@pytest.mark.parametrize("version, network, plen, expected", [
    (4, 0x0a000000, 24, (0x0a000001, 0x0a0000fe)),
    (4, 0x0a000000, 30, (0x0a000001, 0x0a000002)),
    (4, 0x0a000000, 31, (0x0a000000, 0x0a000001)),
    (4, 0x0a000000, 32, (0x0a000000, 0x0a000000)),
    (6, 0, 64, (1, 2 ** 64 - 1)),
    (6, 0, 127, (0, 1)),
    (6, 0, 128, (0, 0)),
])
def test_usable(version, network, plen, expected):
    assert usable(version, network, plen) == expected


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=30), st.integers(0, 230),
       st.integers(0, 20))
def test_taken_matches_a_set(blocks, start, length):
    taken, used = Taken(), set()
    for first, size in blocks:
        taken.add(first, first + size)
        used.update(range(first, first + size + 1))
    assert all(a < b for a, b in zip(taken.starts, taken.starts[1:]))
    assert all(end + 1 < start_ for end, start_ in zip(taken.ends, taken.starts[1:])), "merged"
    clash = taken.clash(start, start + length)
    overlapping = used & set(range(start, start + length + 1))
    assert (clash is not None) == bool(overlapping)
    if clash is not None:
        assert clash >= max(overlapping) and clash in used and clash + 1 not in used


# --- properties --------------------------------------------------------------------------------

@st.composite
def topologies(draw):
    """Random labs: routers and hosts, links of 2-5 endpoints, some pinned prefixes, pinned
    addresses and DHCP endpoints, small pools so that prefixes sit close together."""
    routers = ["r%d" % i for i in range(1, draw(st.integers(1, 6)) + 1)]
    hosts = ["h%d" % i for i in range(1, draw(st.integers(0, 6)) + 1)]
    nodes = routers + hosts
    counters = {name: 0 for name in nodes}
    links = []
    for index in range(draw(st.integers(0, 10))):
        members = draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=5))
        endpoints = []
        pinned = draw(st.sampled_from([None, None, "192.168.%d.0/24" % draw(st.integers(0, 2)), "10.1.0.0/29"]))
        for position, node in enumerate(members):
            counters[node] += 1
            endpoint = {"node": node, "ifname": "eth%d" % counters[node]}
            if node in hosts and draw(st.integers(0, 5)) == 0:
                endpoint["dhcp"] = True
            elif pinned and pinned.endswith("/24") and draw(st.integers(0, 3)) == 0:
                endpoint["ipv4"] = "192.168.%s.%d" % (pinned.split(".")[2], 1 + position * 7)
            endpoints.append(endpoint)
        link = {"endpoints": endpoints}
        if pinned:
            link["ipv4"] = pinned
        links.append(link)
    return {
        "name": "prop",
        "addressing": {
            "lan": {"ipv4": "10.1.0.0/22", "prefix": 28, "ipv6": "fd00:1::/56", "prefix6": 64},
            "p2p": {"ipv4": "10.1.0.0/24", "prefix": 31, "ipv6": "fd00:2::/64", "prefix6": 127},
            "loopback": {"ipv4": "10.1.0.0/27", "ipv6": "fd00:3::/120"},
        },
        "nodes": {name: {"kind": "router" if name in routers else "host"} for name in nodes},
        "links": links,
    }


def _shuffled(topology, rnd):
    data = copy.deepcopy(topology)
    names = list(data["nodes"])
    rnd.shuffle(names)
    data["nodes"] = {name: data["nodes"][name] for name in names}
    rnd.shuffle(data["links"])
    for link in data["links"]:
        rnd.shuffle(link["endpoints"])
    keys = list(data)
    rnd.shuffle(keys)
    return {key: data[key] for key in keys}


def _plan_or_errors(topology):
    try:
        return make_plan(topology)
    except TopologyError as exc:
        return exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies())
def test_no_duplicate_address_on_a_segment_and_every_address_inside_its_prefix(topology):
    plan = _plan_or_errors(topology)
    if isinstance(plan, TopologyError):
        # The only problems these labs can have: pinned addresses that clash, or not enough room.
        assert all("ran out of" in line or "given to both" in line for line in plan.errors), plan.errors
        return
    loopbacks = []
    for name, segment in plan["segments"].items():
        for family in ("ipv4", "ipv6"):
            prefix = segment[family] and ipaddress.ip_network(segment[family])
            seen = set()
            for label in segment["endpoints"]:
                node, ifname = label.split(":")
                text = plan["nodes"][node]["interfaces"][ifname][family]
                if text is None:
                    continue
                address = ipaddress.ip_interface(text)
                assert prefix and address.network == prefix, (name, text)
                assert address.ip not in seen, (name, text)
                seen.add(address.ip)
    for node in plan["nodes"].values():
        if node["loopback"] and node["loopback"]["ipv4"]:
            loopbacks.append(node["loopback"]["ipv4"])
    assert len(loopbacks) == len(set(loopbacks))
    # The pools overlap each other and the pinned 10.1.0.0/29: what they hand out may not.
    prefixes = [ipaddress.ip_network(s["ipv4"]) for s in plan["segments"].values()
                if s["ipv4"] and not s["ipv4"].startswith("192.168.")]
    for a in prefixes:
        for b in prefixes:
            assert a == b or not a.overlaps(b)
        for loopback in loopbacks:
            assert ipaddress.ip_interface(loopback).ip not in a


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies(), st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_the_order_of_keys_links_or_endpoints(topology, rnd):
    first = _plan_or_errors(topology)
    second = _plan_or_errors(_shuffled(topology, rnd))
    if isinstance(first, TopologyError):
        # Problems name links by their number, which moves with the links: only the count holds.
        assert isinstance(second, TopologyError)
        assert len(first.errors) == len(second.errors)
    else:
        assert json.dumps(first) == json.dumps(second)


def test_the_same_topology_twice_gives_equal_plans():
    data = yaml.safe_load((GOLDEN / "plans" / "demo.yml").read_text())["topology"]
    assert make_plan(data) == make_plan(copy.deepcopy(data))


def test_make_plan_does_not_change_its_input_and_restores_the_collector():
    import gc
    data = yaml.safe_load((GOLDEN / "plans" / "static.yml").read_text())["topology"]
    before = copy.deepcopy(data)
    make_plan(data)
    assert data == before
    assert gc.isenabled()


def test_bench_generator_holds_its_counts():
    import importlib.machinery
    import importlib.util
    path = str(Path(__file__).resolve().parents[4] / "bench" / "plan_scale")
    loader = importlib.machinery.SourceFileLoader("plan_scale", path)
    spec = importlib.util.spec_from_loader("plan_scale", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    for nodes in (10, 100, 1000):
        topology = module.topology(nodes)
        assert (len(topology["nodes"]), len(topology["links"])) == (nodes, 2 * nodes)
        plan = make_plan(topology)
        assert len(plan["segments"]) == 2 * nodes
    topology = module.topology(100, "static")
    assert make_plan(topology)["nodes"]["r1"]["routes"]


VPN_LAB = {
    "name": "vpn",
    "nodes": {"gw1": {"kind": "router"}, "gw2": {"kind": "router"}},
    "links": [{"endpoints": ["gw1:wan", "gw2:wan"], "ipv4": "198.51.100.0/30"}],
}


def test_vpn_section_passes_through_when_valid():
    vpn = {"t1": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}}
    plan = make_plan(dict(VPN_LAB, vpn=vpn))
    assert plan["vpn"] == vpn


def test_vpn_problems_are_reported_with_the_topology_s():
    topology = dict(VPN_LAB, vpn={"t1": {"mode": "host-to-host", "peers": ["gw1", "nowhere"]}},
                    links=VPN_LAB["links"] + [{"endpoints": ["gw1:eth9"], "ipv4": "10.0.0.0/33"}])
    with pytest.raises(TopologyError) as caught:
        make_plan(topology)
    text = "\n".join(caught.value.errors)
    assert "10.0.0.0/33" in text
    assert "t1" in text and "nowhere" in text


def test_vpn_must_be_a_mapping():
    with pytest.raises(TopologyError) as caught:
        make_plan(dict(VPN_LAB, vpn=["t1"]))
    assert caught.value.errors == ["vpn: must be a mapping of tunnel names to tunnels, got a list"]
