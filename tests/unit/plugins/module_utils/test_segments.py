# SPDX-License-Identifier: GPL-3.0-or-later
"""Placeholder subnets, wanted networks and their differences, and the manager on a fake engine."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _segments as S

BRIDGE_OPTIONS = {S.OPT_INHIBIT_IPV4: "true", S.OPT_MASQUERADE: "false"}


# --- placeholder subnets ----------------------------------------------------------------------

@pytest.mark.parametrize("used, expected", [
    ([], "100.64.0.0/24"),
    (["172.17.0.0/16", "100.64.0.0/24"], "100.64.1.0/24"),
    (["100.64.0.0/24", "100.64.2.0/24"], "100.64.1.0/24"),
    (["100.64.0.0/22"], "100.64.4.0/24"),                    # someone's bigger network
    (["100.64.0.128/25"], "100.64.1.0/24"),                  # a smaller one inside the first /24
    (["100.0.0.0/8"], None),                                 # covers the whole pool
    (["10.0.0.0/8", "192.168.0.0/16", "fd00::/64"], "100.64.0.0/24"),
])
def test_choose_subnet(used, expected):
    if expected is None:
        with pytest.raises(S.SegmentsError) as err:
            S.choose_subnet("100.64.0.0/10", 24, used)
        assert str(err.value) == "ran out of placeholder /24 subnets in pool 100.64.0.0/10 (1 networks use it)"
    else:
        assert S.choose_subnet("100.64.0.0/10", 24, used) == expected


def test_choose_subnet_other_prefix_and_exhaustion():
    assert S.choose_subnet("10.200.0.0/24", 26, ["10.200.0.0/26", "10.200.0.64/27"]) == "10.200.0.128/26"
    with pytest.raises(S.SegmentsError) as err:
        S.choose_subnet("10.200.0.0/25", 26, ["10.200.0.0/26", "10.200.0.64/26"])
    assert str(err.value) == "ran out of placeholder /26 subnets in pool 10.200.0.0/25 (2 networks use it)"


def test_endpoint_addresses_in_node_then_interface_order():
    endpoints = ["r2:eth1", "r10:eth1", "r1:eth2", "r1:eth10"]
    assert S.endpoint_addresses("100.64.3.0/24", endpoints) == {
        "r1:eth10": "100.64.3.2", "r1:eth2": "100.64.3.3", "r10:eth1": "100.64.3.4", "r2:eth1": "100.64.3.5"}


def test_endpoint_addresses_do_not_fit():
    with pytest.raises(S.SegmentsError) as err:
        S.endpoint_addresses("100.64.3.0/30", ["a:e", "b:e"])
    assert str(err.value) == "2 endpoints do not fit the placeholder 100.64.3.0/30"


# --- wanted networks and differences ----------------------------------------------------------

def test_wanted_bridge():
    wanted = S.wanted_network("lab1", "lan1", {"mtu": 1400, "link": {"type": "bridge"}})
    assert wanted == {"name": "lab1-lan1", "driver": "bridge", "vxlan": None,
                      "options": dict(BRIDGE_OPTIONS, **{S.OPT_MTU: "1400"}),
                      "labels": {"vnet.lab": "lab1", "vnet.segment": "lan1"}}


def test_wanted_macvlan():
    wanted = S.wanted_network("lab1", "up", {"link": {"type": "macvlan", "parent": "eth0"}})
    assert (wanted["driver"], wanted["options"]) == ("macvlan", {"parent": "eth0"})


def test_wanted_vxlan():
    wanted = S.wanted_network("lab1", "wan", {"link": {"type": "vxlan", "vni": 42, "remote": "192.0.2.2",
                                                       "local": "192.0.2.1", "dev": "eth0"}})
    ident = S.short_id("lab1", "wan")
    assert len(ident) == 10
    assert wanted["options"][S.OPT_BRIDGE_NAME] == "vx" + ident
    assert wanted["labels"][S.LABEL_VXLAN] == "vxt" + ident
    assert wanted["vxlan"] == {"device": "vxt" + ident, "bridge": "vx" + ident, "vni": 42,
                               "remote": "192.0.2.2", "flood": [], "local": "192.0.2.1", "port": 4789,
                               "dev": "eth0", "mtu": None}
    assert S.vxlan_add_command(wanted["vxlan"]) == [
        "ip", "link", "add", "vxt" + ident, "type", "vxlan", "id", "42", "remote", "192.0.2.2",
        "local", "192.0.2.1", "dstport", "4789", "dev", "eth0"]


def test_wanted_vxlan_to_several_remotes_floods_to_each():
    wanted = S.wanted_network("lab1", "wan", {"link": {"type": "vxlan", "vni": 42, "local": "192.0.2.1",
                                                       "remote": ["192.0.2.10", "192.0.2.3"]}})
    ident = S.short_id("lab1", "wan")
    assert wanted["vxlan"]["remote"] is None
    assert wanted["vxlan"]["flood"] == ["192.0.2.3", "192.0.2.10"]
    assert S.vxlan_add_command(wanted["vxlan"]) == [
        "ip", "link", "add", "vxt" + ident, "type", "vxlan", "id", "42", "local", "192.0.2.1", "dstport", "4789"]
    assert S.flood_commands("vxt1", ["192.0.2.3", "192.0.2.9"], ["192.0.2.3", "192.0.2.10"]) == [
        ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxt1", "dst", "192.0.2.10"],
        ["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "vxt1", "dst", "192.0.2.9"]]
    assert S.flood_entries([{"mac": "00:00:00:00:00:00", "dst": "192.0.2.9"},
                            {"mac": "02:42:0a:00:00:01", "dst": "192.0.2.3"},
                            {"mac": "00:00:00:00:00:00", "dst": "192.0.2.3"}]) == ["192.0.2.3", "192.0.2.9"]
    assert S.validate("lab1", {"v": {"link": {"type": "vxlan", "vni": 4, "remote": ["192.0.2.3", "x"]}}},
                      "100.64.0.0/10", 24) == ["segment v: vxlan remote 'x' is not an address"]


def attrs(name, subnet, driver="bridge", options=None, labels=None, internal=False, nid=None):
    return {"Name": name, "Id": nid or "id-" + name, "Driver": driver, "Internal": internal,
            "Options": dict(BRIDGE_OPTIONS) if options is None else options,
            "Labels": labels if labels is not None else {},
            "IPAM": {"Driver": "default", "Config": [{"Subnet": subnet, "Gateway": subnet.rsplit(".", 1)[0] + ".1"}]
                     if subnet else []}}


def lab_labels(lab, segment, **extra):
    return dict({"vnet.lab": lab, "vnet.segment": segment}, **extra)


def test_no_difference():
    wanted = S.wanted_network("lab1", "lan1", {})
    assert S.network_differences(attrs("lab1-lan1", "100.64.0.0/24", labels=lab_labels("lab1", "lan1")),
                                 wanted) == []


def test_unmanaged_options_are_ignored():
    wanted = S.wanted_network("lab1", "lan1", {})
    existing = attrs("lab1-lan1", "100.64.0.0/24", options=dict(BRIDGE_OPTIONS, other="x"),
                     labels=lab_labels("lab1", "lan1", extra="y"))
    assert S.network_differences(existing, wanted) == []


def test_differences():
    wanted = S.wanted_network("lab1", "lan1", {"mtu": 9000})
    existing = attrs("lab1-lan1", None, driver="macvlan", internal=True,
                     options={S.OPT_INHIBIT_IPV4: "true", "parent": "eth0"}, labels=lab_labels("lab1", "lan1"))
    assert S.network_differences(existing, wanted) == [
        "driver is macvlan, wanted bridge",
        "it is internal",
        "option com.docker.network.bridge.enable_ip_masquerade is unset, wanted false",
        "option com.docker.network.driver.mtu is unset, wanted 9000",
        "option parent is eth0, wanted unset",
        "it has no IPv4 subnet",
    ]


def test_vxlan_differences():
    spec = S.wanted_network("l", "s", {"link": {"type": "vxlan", "vni": 5, "remote": "10.0.0.2"}})["vxlan"]
    link = {"linkinfo": {"info_kind": "vxlan", "info_data": {"id": 5, "remote": "10.0.0.3", "port": 4789}}}
    assert S.vxlan_differences(link, spec) == ["remote is 10.0.0.3, wanted 10.0.0.2"]
    assert S.vxlan_differences({"linkinfo": {"info_kind": "bridge"}}, spec) == [
        "%s is a bridge device, not vxlan" % spec["device"]]


def test_validate_collects_errors():
    segments = {
        "a b": {},
        "m": {"link": {"type": "macvlan"}},
        "v": {"link": {"type": "vxlan", "vni": 0, "remote": "nowhere", "port": 70000}},
        "g": {"link": {"type": "gre"}},
        "t": {"mtu": 10, "endpoints": ["n%d:e" % i for i in range(254)]},
    }
    assert S.validate("lab 1", segments, "100.64.0.0/10", 24) == [
        "lab 'lab 1' is not a valid name (letters, digits, '_', '.', '-')",
        "segment 'a b': not a valid name (letters, digits, '_', '.', '-')",
        "segment g: link type 'gre' is not one of bridge, macvlan, vxlan",
        "segment m: a macvlan link needs a parent interface",
        "segment t: mtu 10 is not a number of at least 68",
        "segment t: 254 endpoints do not fit a placeholder /24 (at most 253)",
        "segment v: vxlan vni 0 is not a number from 1 to 16777215",
        "segment v: vxlan remote 'nowhere' is not an address",
        "segment v: vxlan port 70000 is not a UDP port",
    ]
    errors = S.validate("lab1", {}, "100.64.0.0/33", 30)
    assert errors[0].startswith("placeholder_pool '100.64.0.0/33' is not an IPv4 prefix: ")
    assert errors[1:] == ["placeholder_prefix 30 must be from the pool's length (?) to 29"]
    assert S.validate("lab1", {}, "100.64.0.0/10", 8) == [
        "placeholder_prefix 8 must be from the pool's length (10) to 29"]


# --- the manager on a fake engine -------------------------------------------------------------

class FakeAPI:
    def __init__(self, networks, containers=None, others=None):
        self.nets = {n["Id"]: n for n in networks}
        self.attached = containers or {}
        self.others = others or []   # every container of the engine, as API summaries
        self.calls = []

    def containers(self, all=False):  # pylint: disable=redefined-builtin  # the SDK's name
        return copy.deepcopy(self.others)

    def networks(self):
        return copy.deepcopy(list(self.nets.values()))

    def inspect_network(self, nid):
        return dict(self.nets[nid], Containers={"c%d" % i: {"Name": name}
                                                for i, name in enumerate(self.attached.get(nid, []))})

    def create_network(self, name, driver, options, ipam, internal, labels):
        self.calls.append(("create", name, ipam["Config"][0]["Subnet"]))
        subnet = ipam["Config"][0]["Subnet"]
        for net in self.nets.values():
            if S.network_subnet(net) == subnet:
                raise S.APIError("Pool overlaps with other one on this address space")
        self.nets["id-" + name] = attrs(name, subnet, driver=driver, options=dict(options), labels=dict(labels))

    def remove_network(self, nid):
        self.calls.append(("remove", self.nets[nid]["Name"]))
        del self.nets[nid]


class FakeClient:
    def __init__(self, api):
        self.api = api


class NoHost:
    def run(self, argv, data=None):
        raise AssertionError("no host command expected: %s" % argv)


def manager(api, lab="lab1", check_mode=False):
    return S.Segments(FakeClient(api), NoHost(), lab, check_mode=check_mode)


SEGMENTS = {
    "lan1": {"endpoints": ["r1:eth2", "h1:eth1"], "mtu": None, "link": {"type": "bridge"}, "ipv4": "x"},
    "p2p": {"endpoints": ["r1:eth1", "r2:eth1"], "mtu": 1400},
}


def test_present_creates_avoiding_other_networks_then_keeps():
    api = FakeAPI([attrs("bridge", "172.17.0.0/16"), attrs("other-lab-x", "100.64.0.0/24")])
    changed, result, diff = manager(api).present(SEGMENTS, "100.64.0.0/10", 24)
    assert changed
    assert result == {
        "lan1": {"network": "lab1-lan1", "subnet": "100.64.1.0/24",
                 "endpoints": {"h1:eth1": "100.64.1.2", "r1:eth2": "100.64.1.3"}},
        "p2p": {"network": "lab1-p2p", "subnet": "100.64.2.0/24",
                "endpoints": {"r1:eth1": "100.64.2.2", "r2:eth1": "100.64.2.3"}},
    }
    assert diff["before"] == {"networks": []}
    assert [n["name"] for n in diff["after"]["networks"]] == ["lab1-lan1", "lab1-p2p"]
    assert api.nets["id-lab1-p2p"]["Options"][S.OPT_MTU] == "1400"
    # Again: nothing to do, same result.
    again = manager(api)
    assert again.present(SEGMENTS, "100.64.0.0/10", 24)[:2] == (False, result)
    assert again.actions == []


def test_check_mode_predicts_and_does_nothing():
    api = FakeAPI([attrs("bridge", "172.17.0.0/16")])
    checked = manager(api, check_mode=True)
    changed, predicted, diff = checked.present(SEGMENTS, "100.64.0.0/10", 24)
    assert changed and api.calls == []
    assert checked.actions == ["create network lab1-lan1 (bridge, placeholder 100.64.0.0/24)",
                               "create network lab1-p2p (bridge, placeholder 100.64.1.0/24)"]
    real = manager(api)
    assert real.present(SEGMENTS, "100.64.0.0/10", 24)[1:] == (predicted, diff)
    assert real.actions == checked.actions


def test_subnet_taken_meanwhile_is_retried():
    api = FakeAPI([])
    real_networks = api.networks
    calls = []

    def racing():
        calls.append(1)
        listed = real_networks()
        if len(calls) == 1:
            # Another lab creates a network with our first choice between list and create.
            api.nets["id-race"] = attrs("race", "100.64.0.0/24")
        return listed

    api.networks = racing
    result = manager(api).present({"lan1": {}}, "100.64.0.0/10", 24)[1]
    assert result["lan1"]["subnet"] == "100.64.1.0/24"


def test_subnet_the_engine_refuses_without_listing_it_is_not_tried_again():
    """A network being created by another lab is not listed yet, but its pool is taken."""
    api = FakeAPI([])
    real_create = api.create_network

    def refusing(name, driver, options, ipam, internal, labels):
        if ipam["Config"][0]["Subnet"] == "100.64.0.0/24":
            api.calls.append(("create", name, "100.64.0.0/24"))
            raise S.APIError("Pool overlaps with other one on this address space")
        return real_create(name, driver, options, ipam, internal, labels)

    api.create_network = refusing
    result = manager(api).present({"lan1": {}}, "100.64.0.0/10", 24)[1]
    assert result["lan1"]["subnet"] == "100.64.1.0/24"
    assert [c[2] for c in api.calls if c[0] == "create"] == ["100.64.0.0/24", "100.64.1.0/24"]


def test_differing_network_recreated_with_its_subnet():
    api = FakeAPI([attrs("lab1-lan1", "100.64.7.0/24", options={S.OPT_INHIBIT_IPV4: "true"},
                         labels=lab_labels("lab1", "lan1"))])
    m = manager(api)
    changed, result = m.present({"lan1": {}}, "100.64.0.0/10", 24)[:2]
    assert changed and result["lan1"]["subnet"] == "100.64.7.0/24"
    assert m.actions == ["re-create network lab1-lan1 (option com.docker.network.bridge.enable_ip_masquerade"
                         " is unset, wanted false)"]
    assert api.calls == [("remove", "lab1-lan1"), ("create", "lab1-lan1", "100.64.7.0/24")]


def test_differing_network_with_containers_fails_naming_them():
    api = FakeAPI([attrs("lab1-lan1", "100.64.7.0/24", options={}, labels=lab_labels("lab1", "lan1"))],
                  containers={"id-lab1-lan1": ["lab1-r1", "lab1-h1"]})
    with pytest.raises(S.SegmentsError) as err:
        manager(api).present({"lan1": {}, "lan2": {}}, "100.64.0.0/10", 24)
    assert str(err.value) == (
        "network lab1-lan1 differs from segment lan1 (option com.docker.network.bridge.inhibit_ipv4 is unset,"
        " wanted true; option com.docker.network.bridge.enable_ip_masquerade is unset, wanted false) but"
        " containers are attached to it (lab1-h1, lab1-r1): remove them first")
    assert api.calls == []


def test_network_of_another_owner_is_not_touched():
    api = FakeAPI([attrs("lab1-lan1", "172.30.0.0/16", labels={"vnet.lab": "lab1-lan"})])
    with pytest.raises(S.SegmentsError) as err:
        manager(api).present({"lan1": {}}, "100.64.0.0/10", 24)
    assert str(err.value) == ("network lab1-lan1 exists but is not segment lan1 of lab lab1 (its labels:"
                              " vnet.lab=lab1-lan, vnet.segment=None); remove or rename it")


def test_macvlan_parent_must_exist(tmp_path):
    (tmp_path / "eth0").mkdir()
    m = S.Segments(FakeClient(FakeAPI([])), NoHost(), "lab1", check_mode=True, sys_class_net=str(tmp_path))
    m.present({"up": {"link": {"type": "macvlan", "parent": "eth0"}}}, "100.64.0.0/10", 24)
    with pytest.raises(S.SegmentsError) as err:
        m.present({"up": {"link": {"type": "macvlan", "parent": "eth9"}}}, "100.64.0.0/10", 24)
    assert str(err.value) == "segment up: macvlan parent interface eth9 does not exist on the Docker host"


def test_absent_all_or_named():
    nets = [attrs("lab1-a", "100.64.0.0/24", labels=lab_labels("lab1", "a")),
            attrs("lab1-b", "100.64.1.0/24", labels=lab_labels("lab1", "b")),
            attrs("lab10-a", "100.64.2.0/24", labels=lab_labels("lab10", "a"))]
    api = FakeAPI(nets)
    changed, result, diff = manager(api).absent({"b": {}})
    assert (changed, result) == (True, {})
    assert [n["name"] for n in diff["after"]["networks"]] == ["lab1-a"]
    assert manager(api).absent()[0] is True
    assert sorted(n["Name"] for n in api.nets.values()) == ["lab10-a"]
    assert manager(api).absent()[0] is False


def test_absent_with_containers_fails():
    api = FakeAPI([attrs("lab1-a", "100.64.0.0/24", labels=lab_labels("lab1", "a"))],
                  containers={"id-lab1-a": ["lab1-r1"]})
    with pytest.raises(S.SegmentsError) as err:
        manager(api).absent()
    assert str(err.value) == "network lab1-a still has containers attached (lab1-r1): remove them first"


def test_absent_counts_the_containers_leaving_in_the_same_run_as_gone():
    # vnet.lab.nodes removes the containers first; in check mode they are still attached.
    api = FakeAPI([attrs("lab1-a", "100.64.0.0/24", labels=lab_labels("lab1", "a"))],
                  containers={"id-lab1-a": ["lab1-r1", "lab1-h1"]})
    check = manager(api, check_mode=True)
    assert check.absent(leaving={"lab1-r1", "lab1-h1"})[0] is True
    assert check.actions == ["remove network lab1-a"] and api.calls == []
    with pytest.raises(S.SegmentsError) as err:
        manager(api).absent(leaving={"lab1-r1"})
    assert str(err.value) == "network lab1-a still has containers attached (lab1-h1): remove them first"


class FakeHost:
    """The host's links for vxlan: answers `ip -j -d link show`, records the rest."""

    def __init__(self, links=None):
        self.links = links or {}
        self.commands = []

    def run(self, argv, data=None):
        import json
        if argv[:5] == ["ip", "-j", "-d", "link", "show"]:
            name = argv[-1]
            if name in self.links:
                return 0, json.dumps([self.links[name]]), ""
            return 1, "", 'Device "%s" does not exist.' % name
        self.commands.append(argv)
        return 0, "", ""


def test_vxlan_segment_device_made_then_kept(tmp_path):
    (tmp_path / "br0").mkdir()
    link = {"type": "vxlan", "vni": 42, "remote": "192.0.2.2", "local": "192.0.2.1", "port": 4790, "dev": "br0"}
    segments = {"wan": {"link": link, "endpoints": ["r1:eth3"]}}
    spec = S.wanted_network("lab1", "wan", segments["wan"])["vxlan"]
    api, host = FakeAPI([]), FakeHost()
    m = S.Segments(FakeClient(api), host, "lab1", sys_class_net=str(tmp_path))
    m.present(segments, "100.64.0.0/10", 24)
    assert host.commands == [S.vxlan_add_command(spec),
                             ["ip", "link", "set", "dev", spec["device"], "master", spec["bridge"]],
                             ["ip", "link", "set", "dev", spec["device"], "up"]]
    assert api.nets["id-lab1-wan"]["Labels"][S.LABEL_VXLAN] == spec["device"]
    host = FakeHost({spec["device"]: {
        "ifname": spec["device"], "flags": ["UP"], "master": spec["bridge"], "mtu": 1450,
        "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 42, "remote": "192.0.2.2", "local": "192.0.2.1",
                                                         "port": 4790, "link": "br0"}}}})
    m = S.Segments(FakeClient(api), host, "lab1", sys_class_net=str(tmp_path))
    assert m.present(segments, "100.64.0.0/10", 24)[0] is False
    assert host.commands == []
    m = S.Segments(FakeClient(api), host, "lab1")
    assert m.absent()[0] is True
    assert host.commands == [["ip", "link", "del", "dev", spec["device"]]]
    assert m.actions == ["remove vxlan device %s" % spec["device"], "remove network lab1-wan"]


class FakeFdbHost(FakeHost):
    """FakeHost that also answers `bridge -j fdb show dev`."""

    def __init__(self, links=None, fdb=None):
        super().__init__(links)
        self.fdb = fdb or {}

    def run(self, argv, data=None):
        import json
        if argv[:4] == ["bridge", "-j", "fdb", "show"]:
            return 0, json.dumps(self.fdb.get(argv[-1], [])), ""
        return super().run(argv, data)


def test_vxlan_segment_to_several_remotes_keeps_one_flooding_entry_per_remote():
    link = {"type": "vxlan", "vni": 42, "remote": ["192.0.2.2", "192.0.2.3"], "local": "192.0.2.1"}
    segments = {"wan": {"link": link, "endpoints": ["r1:eth3"]}}
    spec = S.wanted_network("lab1", "wan", segments["wan"])["vxlan"]
    api, host = FakeAPI([]), FakeFdbHost()
    m = S.Segments(FakeClient(api), host, "lab1")
    m.present(segments, "100.64.0.0/10", 24)
    device = spec["device"]
    assert host.commands == [S.vxlan_add_command(spec),
                             ["ip", "link", "set", "dev", device, "master", spec["bridge"]],
                             ["ip", "link", "set", "dev", device, "up"],
                             ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", device, "dst", "192.0.2.2"],
                             ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", device, "dst", "192.0.2.3"]]
    # Kept as it is; then one remote less: its entry goes, nothing else changes.
    existing = {device: {"ifname": device, "flags": ["UP"], "master": spec["bridge"],
                         "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 42, "local": "192.0.2.1",
                                                                          "port": 4789}}}}
    entries = {device: [{"mac": "00:00:00:00:00:00", "dst": "192.0.2.2"},
                        {"mac": "00:00:00:00:00:00", "dst": "192.0.2.3"}]}
    host = FakeFdbHost(existing, entries)
    m = S.Segments(FakeClient(api), host, "lab1")
    assert m.present(segments, "100.64.0.0/10", 24)[0] is False and host.commands == []
    fewer = {"wan": {"link": dict(link, remote=["192.0.2.2", "192.0.2.4"]), "endpoints": ["r1:eth3"]}}
    m = S.Segments(FakeClient(api), host, "lab1", check_mode=True)
    assert m.present(fewer, "100.64.0.0/10", 24)[0] is True and host.commands == []
    assert m.actions == ["add flooding entry of vxlan device %s to 192.0.2.4" % device,
                         "delete flooding entry of vxlan device %s to 192.0.2.3" % device]
    m = S.Segments(FakeClient(api), host, "lab1")
    m.present(fewer, "100.64.0.0/10", 24)
    assert host.commands == [
        ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", device, "dst", "192.0.2.4"],
        ["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", device, "dst", "192.0.2.3"]]


# --- what would break a lab silently, refused before anything is made -------------------------

def test_a_prefix_in_the_placeholder_pool_is_refused():
    segments = {"lan": {"ipv4": "100.64.9.0/24"}, "wan": {"ipv4": "10.0.0.0/8"}, "big": {"ipv4": "100.0.0.0/8"},
                "v6": {"ipv6": "fd00::/64"}}
    assert S.validate("lab1", segments, "100.64.0.0/10", 24) == [
        "segment big: prefix 100.0.0.0/8 overlaps the placeholder pool 100.64.0.0/10, from which every lab"
        " segment's Docker network takes its placeholder subnet: give the segment another prefix, or the lab"
        " another pool (topology_placeholder_pool)",
        "segment lan: prefix 100.64.9.0/24 overlaps the placeholder pool 100.64.0.0/10, from which every lab"
        " segment's Docker network takes its placeholder subnet: give the segment another prefix, or the lab"
        " another pool (topology_placeholder_pool)"]
    assert S.validate("lab1", segments, "198.18.0.0/15", 24) == []


IP_ADDRESS_SHOW = [
    {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
    {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.0.2.2", "prefixlen": 24, "scope": "global"},
                                     {"family": "inet6", "local": "fd00::2", "prefixlen": 64, "scope": "global"},
                                     {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]},
    {"ifname": "docker0", "addr_info": [{"family": "inet", "local": "172.17.0.1", "prefixlen": 16, "scope": "global"}]},
    {"ifname": "br-1", "addr_info": []},
]


def test_host_addresses_leave_link_local_out():
    assert [(name, str(a)) for name, a in S.host_addresses(IP_ADDRESS_SHOW)] == [
        ("lo", "127.0.0.1"), ("eth0", "192.0.2.2"), ("eth0", "fd00::2"), ("docker0", "172.17.0.1")]


def test_a_prefix_that_holds_a_host_address_is_refused_unless_macvlan():
    segments = {"lan": {"ipv4": "192.0.2.0/25", "ipv6": "fd00::/64"},
                "ok": {"ipv4": "192.0.2.128/25", "ipv6": "fd00:1::/64"},
                "wire": {"ipv4": "192.0.2.0/24", "link": {"type": "macvlan", "parent": "eth0"}},
                "bad": {"ipv4": "not a prefix"}}
    assert S.host_address_clashes(segments, S.host_addresses(IP_ADDRESS_SHOW)) == [
        "segment lan: prefix 192.0.2.0/25 holds 192.0.2.2, an address of the Docker host (on eth0), which the host"
        " answers for on every lab bridge: give the segment another prefix",
        "segment lan: prefix fd00::/64 holds fd00::2, an address of the Docker host (on eth0), which the host"
        " answers for on every lab bridge: give the segment another prefix"]


def test_containers_named_like_the_labs_but_not_its_own_are_refused():
    containers = [{"Names": ["/lab1-r1"], "Labels": {"vnet.lab": "lab1"}},
                  {"Names": ["/lab1-r1-dns"], "Labels": {"vnet.lab": "lab1"}},
                  {"Names": ["/lab1-h1-dns"], "Labels": {"vnet.lab": "lab1-h1"}},
                  {"Names": ["/lab1-h1"], "Labels": {}},
                  {"Names": ["/lab1-h10"], "Labels": {"vnet.lab": "other"}},
                  {"Names": ["/lab1-r2-web"], "Labels": {"vnet.lab": "lab1-r2"}}]
    assert S.name_clashes("lab1", ["h1", "r1"], containers) == [
        "lab lab1: container lab1-h1 is of no lab, but the name is one of this lab's (lab1-<node>...): give the lab"
        " another name, or remove that container",
        "lab lab1: container lab1-h1-dns is lab lab1-h1's, but the name is one of this lab's (lab1-<node>...): give"
        " the lab another name, or remove that container"]
    assert S.segment_nodes({"a": {"endpoints": ["r1:eth1", "h1:eth0"]}, "b": {"endpoints": ["r1:eth2"]}, "c": {}}) == [
        "h1", "r1"]


class HostAddresses:
    """A Docker host whose `ip -j address show` answers IP_ADDRESS_SHOW; nothing else is expected."""

    def __init__(self):
        self.commands = []

    def run(self, argv, data=None):
        import json
        self.commands.append(argv)
        assert argv == ["ip", "-j", "address", "show"], argv
        return 0, json.dumps(IP_ADDRESS_SHOW), ""


def test_present_refuses_all_of_it_before_making_anything(tmp_path):
    api = FakeAPI([attrs("bridge", "172.17.0.0/16")],
                  others=[{"Names": ["/lab1-r1-dns"], "Labels": {"vnet.lab": "lab0"}}])
    host = HostAddresses()
    segments = {"lan": {"ipv4": "172.17.0.0/24", "endpoints": ["r1:eth1", "h1:eth0"]},
                "tun": {"ipv4": "10.9.0.0/24", "endpoints": ["r1:eth2"],
                        "link": {"type": "vxlan", "vni": 5, "remote": "10.255.0.1", "dev": "nowhere0"}},
                "ok": {"ipv4": "10.8.0.0/24", "endpoints": ["r1:eth3"]}}
    m = S.Segments(FakeClient(api), host, "lab1", sys_class_net=str(tmp_path))
    with pytest.raises(S.SegmentsError) as err:
        m.present(segments, "100.64.0.0/10", 24)
    assert err.value.errors == [
        "segment tun: vxlan dev nowhere0 does not exist on the Docker host",
        "segment lan: prefix 172.17.0.0/24 holds 172.17.0.1, an address of the Docker host (on docker0), which the"
        " host answers for on every lab bridge: give the segment another prefix",
        "lab lab1: container lab1-r1-dns is lab lab0's, but the name is one of this lab's (lab1-<node>...): give the"
        " lab another name, or remove that container"]
    assert api.calls == [] and m.actions == []
    assert host.commands == [["ip", "-j", "address", "show"]]


def test_a_remote_engine_reads_no_host_address():
    api = FakeAPI([])
    m = S.Segments(FakeClient(api), NoHost(), "lab1", local_engine=False)
    assert m.present({"lan": {"ipv4": "192.0.2.0/24", "endpoints": ["r1:eth1"]}}, "100.64.0.0/10", 24)[0] is True


def test_the_labs_bridges_are_made_quiet_once(tmp_path):
    """No ARP answer and no IPv6 of the host's own on a lab bridge; set when different, then kept."""
    api = FakeAPI([attrs("lab1-lan1", "100.64.1.0/24", labels=lab_labels("lab1", "lan1"), nid="0123456789abcdef"),
                   attrs("lab1-mv", "100.64.3.0/24", driver="macvlan", options={"parent": "eth1"},
                         labels=lab_labels("lab1", "mv"), nid="fedcba9876543210")])
    files = {}
    for family, key, value in (("ipv4", "arp_ignore", "0"), ("ipv4", "arp_announce", "0"), ("ipv6", "disable_ipv6", "0")):
        path = tmp_path / family / "conf" / "br-0123456789ab" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
        files[key] = path

    def segments(check_mode=False):
        return S.Segments(FakeClient(api), NoHost(), "lab1", check_mode=check_mode, proc_sys_net=str(tmp_path))

    lan = {"lan1": {"endpoints": ["h1:eth1"], "mtu": None}}
    checked = segments(check_mode=True)
    assert checked.present(lan, "100.64.0.0/10", 24)[0] is True
    assert checked.actions == ["quiet bridge br-0123456789ab (arp_ignore=1, arp_announce=2, disable_ipv6=1)"]
    assert files["arp_ignore"].read_text() == "0\n"
    done = segments()
    assert done.present(lan, "100.64.0.0/10", 24)[0] is True
    assert {key: path.read_text() for key, path in files.items()} == {
        "arp_ignore": "1", "arp_announce": "2", "disable_ipv6": "1"}
    again = segments()
    assert again.present(lan, "100.64.0.0/10", 24)[0] is False and again.actions == []
