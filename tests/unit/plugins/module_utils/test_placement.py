# SPDX-License-Identifier: GPL-3.0-or-later
"""One lab over several engines: placements, the VXLAN segments between engines, each engine's view."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _lab
from ansible_collections.vnet.lab.plugins.module_utils import _placement as P
from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.module_utils._preflight import check
from ansible_collections.vnet.lab.plugins.module_utils._topology import TopologyError

UNDERLAY = {"rpi1": "192.0.2.11", "rpi2": "192.0.2.12", "rpi3": "192.0.2.13"}


def split_lab(**links):
    """Two routers and their hosts, one pair per engine, the routers joined across engines."""
    return {
        "name": "split",
        "routing": "static",
        "nodes": {"r1": {"kind": "router", "placement": "rpi1"}, "h1": {"kind": "host", "placement": "rpi1"},
                  "r2": {"kind": "router", "placement": "rpi2"}, "h2": {"kind": "host", "placement": "rpi2"}},
        "links": [dict({"name": "wan", "endpoints": ["r1:eth1", "r2:eth1"]}, **links),
                  {"endpoints": ["r1:eth2", "h1:eth0"]},
                  {"endpoints": ["r2:eth2", "h2:eth0"]}],
    }


def three_engines():
    """A LAN over three engines (a router on each), and a local LAN on rpi3."""
    return {
        "name": "tri",
        "nodes": {"r1": {"kind": "router", "placement": "rpi1"}, "r2": {"kind": "router", "placement": "rpi2"},
                  "r3": {"kind": "router", "placement": "rpi3"}, "h3": {"kind": "host", "placement": "rpi3"}},
        "links": [{"name": "core", "endpoints": ["r1:eth1", "r2:eth1", "r3:eth1"]},
                  {"endpoints": ["r3:eth2", "h3:eth0"]}],
    }


def errors_of(topology):
    with pytest.raises(TopologyError) as info:
        make_plan(topology)
    return info.value.errors


# --- planning --------------------------------------------------------------------------------------

def test_a_link_between_engines_is_a_vxlan_segment_with_a_derived_vni_and_room_for_vxlan():
    plan = make_plan(split_lab())
    vni = P.derived_vni("split", "wan")
    assert plan["segments"]["wan"]["link"] == {"type": "vxlan", "vni": vni, "remote": None, "local": None,
                                               "port": 4789, "dev": None}
    assert plan["segments"]["wan"]["mtu"] == 1450
    assert plan["nodes"]["r1"]["interfaces"]["eth1"]["mtu"] == 1450
    assert plan["segments"]["h1-eth0"]["link"] == {"type": "bridge"} and plan["segments"]["h1-eth0"]["mtu"] is None
    assert {name: node["placement"] for name, node in plan["nodes"].items()} == {
        "h1": "rpi1", "h2": "rpi2", "r1": "rpi1", "r2": "rpi2"}


def test_the_derived_vni_is_stable_and_depends_on_the_lab_and_the_segment_only():
    first = make_plan(split_lab())["segments"]["wan"]["link"]["vni"]
    shuffled = split_lab()
    shuffled["links"].reverse()
    shuffled["nodes"] = dict(reversed(list(shuffled["nodes"].items())))
    assert make_plan(shuffled)["segments"]["wan"]["link"]["vni"] == first
    assert P.derived_vni("split", "wan") == first == P.derived_vni("split", "wan")
    assert P.derived_vni("other", "wan") != first and P.derived_vni("split", "lan") != first
    assert all(1 <= P.derived_vni("lab%d" % i, "s") <= 16777215 for i in range(200))


def test_a_taken_vni_moves_the_derived_one_to_the_next_free_and_vnis_stay_unique():
    topology = split_lab()
    taken = P.derived_vni("split", "wan")
    # Another link between the same engines pins the VNI that "wan" would derive.
    topology["nodes"]["r1"]["placement"] = "rpi1"
    topology["links"].append({"name": "backup", "endpoints": ["r1:eth3", "r2:eth3"], "vni": taken})
    plan = make_plan(topology)
    assert plan["segments"]["backup"]["link"]["vni"] == taken
    assert plan["segments"]["wan"]["link"]["vni"] == taken % 16777215 + 1


def test_many_segments_between_engines_get_distinct_vnis():
    topology = {"name": "many", "nodes": {}, "links": []}
    for index in range(1, 41):
        topology["nodes"]["a%d" % index] = {"kind": "router", "placement": "rpi1"}
        topology["nodes"]["b%d" % index] = {"kind": "router", "placement": "rpi2"}
        topology["links"].append({"endpoints": ["a%d:eth1" % index, "b%d:eth1" % index]})
    vnis = [segment["link"]["vni"] for segment in make_plan(topology)["segments"].values()]
    assert len(vnis) == 40 and len(set(vnis)) == 40


def test_a_link_between_engines_may_pin_its_vni_port_and_mtu():
    plan = make_plan(split_lab(vni=4242, port=8472, mtu=1400))
    assert plan["segments"]["wan"]["link"] == {"type": "vxlan", "vni": 4242, "remote": None, "local": None,
                                               "port": 8472, "dev": None}
    assert plan["segments"]["wan"]["mtu"] == 1400
    assert make_plan(split_lab(type="vxlan", vni=7))["segments"]["wan"]["link"]["vni"] == 7


@pytest.mark.parametrize("links, expected", [
    ({"type": "bridge"}, "link 1 (r1:eth1, r2:eth1): type bridge cannot span engines (its endpoints are on engines"
                         " rpi1 and rpi2): leave the type out, the planner makes it a vxlan segment"),
    ({"type": "macvlan", "parent": "eth0"},
     "link 1 (r1:eth1, r2:eth1): type macvlan cannot span engines (its endpoints are on engines rpi1 and rpi2):"
     " leave the type out, the planner makes it a vxlan segment"),
    ({"remote": "192.0.2.1"}, "link 1 (r1:eth1, r2:eth1): key 'remote' is derived for each engine (its endpoints"
                              " are on engines rpi1 and rpi2): leave it out"),
    ({"vni": 0}, "link 1 (r1:eth1, r2:eth1): vni 0 must be between 1 and 16777215"),
])
def test_what_a_link_between_engines_cannot_be(links, expected):
    assert errors_of(split_lab(**links)) == [expected]


def test_two_segments_between_engines_cannot_share_a_pinned_vni():
    topology = split_lab(vni=10)
    topology["links"].append({"endpoints": ["r1:eth3", "r2:eth3"], "vni": 10})
    # Segments in name order: r1-eth3 (link 4) takes VNI 10 first.
    assert errors_of(topology) == [
        "link 1 (r1:eth1, r2:eth1): vni 10 is already link 4 (r1:eth3, r2:eth3)'s; a segment between engines"
        " needs a VNI of its own"]


def test_a_lab_places_every_node_or_none_and_placements_are_host_names():
    topology = split_lab()
    del topology["nodes"]["h1"]["placement"]
    del topology["nodes"]["h2"]["placement"]
    topology["nodes"]["r2"]["placement"] = "rpi 2"
    assert errors_of(topology) == [
        "node r2: placement 'rpi 2' is not valid (an inventory host name: letters, digits, _, ., : and -)",
        "nodes h1 and h2: no placement, while r1 has one: a lab over several engines places every node"
        " (placement: <inventory host>)"]


def test_a_lab_on_one_engine_has_no_vxlan_and_is_the_same_on_every_engine():
    topology = split_lab()
    for node in topology["nodes"].values():
        node["placement"] = "rpi1"
    plan = make_plan(topology)
    assert plan["segments"]["wan"]["link"] == {"type": "bridge"} and plan["segments"]["wan"]["mtu"] is None
    unplaced = make_plan({"name": "one", "nodes": {"r1": {"kind": "router"}}})
    assert P.engine_plan(unplaced, "rpi1", {}) is unplaced
    assert P.engine_nodes(unplaced) == ["r1"]


# --- the engines -----------------------------------------------------------------------------------

def test_placements_must_name_the_labs_engines():
    plan = make_plan(split_lab())
    assert P.engine_problems(plan, ["rpi1", "rpi2"]) == []
    assert P.engine_problems(plan, ["rpi1", "pi2"]) == [
        "node h2: placement rpi2 is not one of the lab's engines (pi2, rpi1)",
        "node r2: placement rpi2 is not one of the lab's engines (pi2, rpi1)"]
    result = check(split_lab(), {"engines": ["rpi1"]}, {}, {})
    assert result["plan"] is None and result["problems"] == [
        "node h2: placement rpi2 is not one of the lab's engines (rpi1)",
        "node r2: placement rpi2 is not one of the lab's engines (rpi1)"]
    assert check(split_lab(), {"engines": ["rpi1", "rpi2"]}, {}, {})["problems"] == []


# --- an engine's view ------------------------------------------------------------------------------

def test_each_engine_sees_the_whole_lab_and_makes_its_own_part_with_the_other_as_remote():
    plan = make_plan(split_lab())
    before = copy.deepcopy(plan)
    one, two = P.engine_plan(plan, "rpi1", UNDERLAY), P.engine_plan(plan, "rpi2", UNDERLAY)
    assert plan == before
    assert one["engine"] == "rpi1" and two["engine"] == "rpi2"
    assert one["nodes"] == plan["nodes"] and set(one["segments"]) == set(plan["segments"])
    assert one["segments"]["wan"]["link"] == dict(plan["segments"]["wan"]["link"], local="192.0.2.11",
                                                  remote="192.0.2.12")
    assert two["segments"]["wan"]["link"] == dict(plan["segments"]["wan"]["link"], local="192.0.2.12",
                                                  remote="192.0.2.11")
    assert P.engine_nodes(one) == ["h1", "r1"] and P.engine_nodes(two) == ["h2", "r2"]
    assert sorted(P.engine_segments(one)) == ["h1-eth0", "wan"]
    assert sorted(P.engine_segments(two)) == ["h2-eth0", "wan"]
    assert P.engine_segments(one)["wan"] is one["segments"]["wan"]


def test_a_segment_over_three_engines_floods_to_both_others():
    plan = make_plan(three_engines())
    assert plan["segments"]["core"]["type"] == "lan" and plan["segments"]["core"]["mtu"] == 1450
    assert P.split(plan) == {"core": ["rpi1", "rpi2", "rpi3"]}
    views = {engine: P.engine_plan(plan, engine, UNDERLAY) for engine in ("rpi1", "rpi2", "rpi3")}
    assert views["rpi1"]["segments"]["core"]["link"]["remote"] == ["192.0.2.12", "192.0.2.13"]
    assert views["rpi2"]["segments"]["core"]["link"]["remote"] == ["192.0.2.11", "192.0.2.13"]
    assert views["rpi3"]["segments"]["core"]["link"]["local"] == "192.0.2.13"
    assert sorted(P.engine_segments(views["rpi3"])) == ["core", "h3-eth0"]
    assert sorted(P.engine_segments(views["rpi1"])) == ["core"]
    assert views["rpi1"]["segments"]["h3-eth0"]["link"] == {"type": "bridge"}


def test_an_engine_with_no_node_of_the_lab_runs_nothing_of_it():
    view = P.engine_plan(make_plan(split_lab()), "rpi3", UNDERLAY)
    assert P.engine_nodes(view) == [] and P.engine_segments(view) == {}
    assert _lab.lab_services(view) == [] and _lab.lab_images(view) == ["node"]


@pytest.mark.parametrize("underlay, expected", [
    ({"rpi1": "192.0.2.11"},
     ["engine rpi2: no underlay address, and segment wan joins it to rpi1: set vnet_lab_underlay_address in its"
      " inventory (or let the run gather its default route's address)"]),
    ({"rpi1": "192.0.2.11", "rpi2": "rpi2.local"}, ["engine rpi2: underlay address 'rpi2.local' is not an IP address"]),
    ({"rpi1": "192.0.2.11", "rpi2": "192.0.2.11"},
     ["segment wan: engines rpi1 and rpi2 have the same underlay address 192.0.2.11"]),
    ({"rpi1": "192.0.2.11", "rpi2": "2001:db8::12"},
     ["segment wan: the underlay addresses of its engines are of two families (rpi1 192.0.2.11, rpi2 2001:db8::12)"]),
    ({"rpi1": "2001:db8::11", "rpi2": "2001:db8::12"},
     ["segment wan: mtu 1450 leaves no room for VXLAN over IPv6 (70 bytes) in a 1500-byte underlay: give the"
      " link mtu: 1430"]),
])
def test_an_engine_view_needs_the_underlay_of_its_segments(underlay, expected):
    plan = make_plan(split_lab())
    with pytest.raises(P.PlacementError) as info:
        P.engine_plan(plan, "rpi1", underlay)
    assert info.value.errors == expected
    # An engine with no segment between engines needs no underlay.
    assert P.engine_nodes(P.engine_plan(plan, "rpi3", {})) == []


def test_an_ipv6_underlay_with_room_for_vxlan():
    view = P.engine_plan(make_plan(split_lab(mtu=1430)), "rpi2", {"rpi1": "2001:db8::11", "rpi2": "2001:db8::12"})
    assert view["segments"]["wan"]["link"]["remote"] == "2001:db8::11"


# --- what each engine runs -------------------------------------------------------------------------

def with_services():
    topology = split_lab()
    topology["nodes"]["r1"]["services"] = {"dhcp": {"interface": "eth2", "serve": ["eth2"], "names": []},
                                           "dns": {"interface": "eth2"}}
    topology["links"][1]["endpoints"][1] = {"node": "h1", "ifname": "eth0", "dhcp": True}
    topology["vpn"] = {"t": {"mode": "host-to-host", "peers": ["r2", "r1"]}}
    return make_plan(topology)


def test_services_images_and_vpn_peers_of_each_engine():
    plan = with_services()
    one, two = P.engine_plan(plan, "rpi1", UNDERLAY), P.engine_plan(plan, "rpi2", UNDERLAY)
    assert _lab.lab_services(one) == [{"node": "r1", "role": "dns"}, {"node": "r1", "role": "dhcp"},
                                      {"node": "h1", "role": "client"}]
    # The lab runs services with users: the hosts of the other engine get their client too.
    assert _lab.lab_services(two) == [{"node": "h2", "role": "client"}]
    assert _lab.lab_services(two, everywhere=True) == _lab.lab_services(plan)
    assert _lab.lab_images(one) == ["node", "strongswan", "dns", "dhcp", "client"]
    assert _lab.lab_images(two) == ["node", "strongswan", "client"]
    assert P.vpn_peers(one) == ["r1"] and P.vpn_peers(one, initiators=True) == []
    assert P.vpn_peers(two) == ["r2"] and P.vpn_peers(two, initiators=True) == ["r2"]
    assert P.vpn_peers(plan) == ["r1", "r2"] and P.vpn_peers(plan, initiators=True) == ["r2"]


def test_the_inspect_table_shows_where_the_other_nodes_run():
    view = P.engine_plan(make_plan(split_lab()), "rpi1", UNDERLAY)
    rows = _lab.inspect_rows(view, {"r1": "running"})
    assert [row[:3] for row in rows if row[0]] == [
        ["node", "kind", "state"], ["h1", "host", "absent"], ["h2", "host", "on rpi2"],
        ["r1", "router", "running"], ["r2", "router", "on rpi2"]]
