# SPDX-License-Identifier: GPL-3.0-or-later
"""Action computation of _interfaces from canned `ip -j` output, and _node_init's loop."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _interfaces as I
from ansible_collections.vnet.lab.plugins.module_utils import _node_init


# --- canned `ip -j` output, shaped as iproute2 6.1 prints it ---------------------------------

def addr(local, prefixlen, scope="global"):
    family = "inet6" if ":" in local else "inet"
    return {"family": family, "local": local, "prefixlen": prefixlen, "scope": scope}


def link(index, name, addresses, mtu=1500, up=True, kind="veth"):
    flags = ["BROADCAST", "MULTICAST"] + (["UP", "LOWER_UP"] if up else [])
    entry = {"ifindex": index, "ifname": name, "flags": flags, "mtu": mtu, "addr_info": addresses,
             "link_type": "ether", "address": "02:42:64:40:00:%02x" % index}
    if kind:
        entry["linkinfo"] = {"info_kind": kind}
    return entry


LO = {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536,
      "link_type": "loopback", "address": "00:00:00:00:00:00",
      "addr_info": [addr("127.0.0.1", 8, "host"), addr("::1", 128, "host")]}


def fresh_docker():
    """A container joined to two segments: eth0 and eth1 with placeholders, Docker's default."""
    addrs = [LO,
             link(20, "eth0", [addr("100.64.0.2", 24), addr("fe80::42:64ff:fe40:2", 64, "link")]),
             link(22, "eth1", [addr("100.64.1.3", 24), addr("fe80::42:64ff:fe40:103", 64, "link")])]
    routes4 = [{"dst": "default", "gateway": "100.64.0.1", "dev": "eth0", "flags": []},
               {"dst": "100.64.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link",
                "prefsrc": "100.64.0.2", "flags": []},
               {"dst": "100.64.1.0/24", "dev": "eth1", "protocol": "kernel", "scope": "link",
                "prefsrc": "100.64.1.3", "flags": []}]
    routes6 = [{"dst": "fe80::/64", "dev": "eth0", "protocol": "kernel", "metric": 256, "flags": []},
               {"dst": "fe80::/64", "dev": "eth1", "protocol": "kernel", "metric": 256, "flags": []}]
    sysctls = {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "0",
               "net.ipv6.conf.lo.disable_ipv6": "0", "net.ipv6.conf.eth0.disable_ipv6": "0",
               "net.ipv6.conf.eth1.disable_ipv6": "0"}
    return addrs, routes4, routes6, sysctls


def configured():
    """The same container once PLAN is applied."""
    addrs = [
        {**LO, "addr_info": LO["addr_info"] + [addr("10.0.0.1", 32)]},
        link(20, "eth1", [addr("192.168.1.1", 24), addr("2001:db8:1::1", 64),
                          addr("fe80::42:64ff:fe40:2", 64, "link")], mtu=1400),
        link(22, "eth2", [addr("192.168.1.1", 24), addr("fe80::42:64ff:fe40:103", 64, "link")]),
    ]
    routes4 = [{"dst": "default", "gateway": "192.168.1.254", "dev": "eth1", "protocol": "static",
                "flags": []},
               {"dst": "10.9.0.0/16", "gateway": "192.168.1.2", "dev": "eth1", "protocol": "static",
                "flags": []},
               {"dst": "192.168.1.0/24", "dev": "eth1", "protocol": "kernel", "scope": "link",
                "prefsrc": "192.168.1.1", "flags": []},
               {"dst": "192.168.1.0/24", "dev": "eth2", "protocol": "kernel", "scope": "link",
                "prefsrc": "192.168.1.1", "flags": []}]
    routes6 = [{"dst": "2001:db8:1::/64", "dev": "eth1", "protocol": "kernel", "metric": 256, "flags": []},
               {"dst": "default", "gateway": "2001:db8:1::fe", "dev": "eth1", "protocol": "static",
                "metric": 1024, "flags": [], "pref": "medium"}]
    sysctls = {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1",
               "net.ipv6.conf.lo.disable_ipv6": "0", "net.ipv6.conf.eth1.disable_ipv6": "0",
               "net.ipv6.conf.eth2.disable_ipv6": "0"}
    return addrs, routes4, routes6, sysctls


PLAN = {
    "interfaces": {
        "eth1": {"placeholder": "100.64.0.2", "ipv4": "192.168.1.1/24", "ipv6": "2001:db8:1::1/64",
                 "mtu": 1400, "dhcp": False},
        "eth2": {"placeholder": "100.64.1.3", "ipv4": "192.168.1.1/24", "ipv6": None, "mtu": None,
                 "dhcp": False},
    },
    "loopback": {"ipv4": "10.0.0.1/32", "ipv6": None},
    "routes": [{"dst": "0.0.0.0/0", "via": "192.168.1.254"}, {"dst": "10.9.0.0/16", "via": "192.168.1.2"},
               {"dst": "::/0", "via": "2001:db8:1::fe"}],
    "forwarding": True,
}

FRESH_ACTIONS = [
    "rename eth1 to eth2 (placeholder 100.64.1.3)",
    "rename eth0 to eth1 (placeholder 100.64.0.2)",
    "set mtu of eth1 to 1400 (was 1500)",
    "remove address 100.64.0.2/24 from eth1",
    "add address 192.168.1.1/24 to eth1",
    "add address 2001:db8:1::1/64 to eth1",
    "remove address 100.64.1.3/24 from eth2",
    "add address 192.168.1.1/24 to eth2",
    "add address 10.0.0.1/32 to lo",
    "add route 0.0.0.0/0 via 192.168.1.254",
    "add route 10.9.0.0/16 via 192.168.1.2",
    "add route ::/0 via 2001:db8:1::fe",
    "set net.ipv6.conf.all.forwarding to 1 (was 0)",
]


class FakeRunner(I.Runner):
    """Answers the read commands from canned output; records every other command."""

    def __init__(self, addrs, routes4, routes6, sysctls):
        super().__init__("/proc/4242/ns/net")
        self.addrs, self.routes4, self.routes6, self.sysctls = addrs, routes4, routes6, sysctls
        self.commands = []
        self.written = []

    def run(self, argv, data=None):
        answers = {
            ("ip", "-j", "-d", "addr", "show"): self.addrs,
            ("ip", "-j", "route", "show", "table", "main"): self.routes4,
            ("ip", "-6", "-j", "route", "show", "table", "main"): self.routes6,
        }
        if tuple(argv) in answers:
            return 0, json.dumps(answers[tuple(argv)]), ""
        self.commands.append(list(argv))
        return 0, "", ""

    def read_sysctls(self, names):
        return {name: self.sysctls.get(name) for name in names}

    def write_sysctl(self, name, value):
        self.written.append((name, value))


def state_of(addrs, routes4, routes6, sysctls):
    return I.read_state(FakeRunner(addrs, routes4, routes6, sysctls))


def plan_all(state, netplan):
    """Every phase chained on predictions, as check mode does."""
    netplan = I.normalize_netplan(netplan)
    actions = []
    for phase in I.PHASES:
        done, state = phase(state, netplan)
        actions += done
    return actions, state


# --- parsing ----------------------------------------------------------------------------------

def test_parse_links_and_routes():
    state = state_of(*fresh_docker())
    eth0 = state["links"][1]
    assert eth0 == {"name": "eth0", "index": 20, "up": True, "mtu": 1500, "kind": "veth",
                    "mac": "02:42:64:40:00:14",
                    "addresses": [{"address": "100.64.0.2/24", "family": 4, "scope": "global"},
                                  {"address": "fe80::42:64ff:fe40:2/64", "family": 6, "scope": "link"}],
                    "ipv6_disabled": False}
    assert state["routes"][0] == {"family": 4, "dst": "0.0.0.0/0", "via": "100.64.0.1", "dev": "eth0",
                                  "protocol": "boot", "metric": None, "type": "unicast"}
    assert state["sysctls"] == {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "0"}


def test_parse_routes_host_route_without_prefix():
    routes = I.parse_routes([{"dst": "10.0.0.1", "gateway": "10.1.0.2", "dev": "eth1",
                              "protocol": "static", "flags": []}], 4)
    assert routes[0]["dst"] == "10.0.0.1/32"


# --- computing actions ------------------------------------------------------------------------

def test_fresh_container_actions():
    actions = plan_all(state_of(*fresh_docker()), PLAN)[0]
    assert [a["text"] for a in actions] == FRESH_ACTIONS


def test_fresh_container_commands():
    actions = plan_all(state_of(*fresh_docker()), PLAN)[0]
    by_text = {a["text"]: a for a in actions}
    assert by_text["rename eth0 to eth1 (placeholder 100.64.0.2)"]["commands"] == [
        ["ip", "link", "set", "dev", "eth0", "down"],
        ["ip", "link", "set", "dev", "eth0", "name", "eth1"],
        ["ip", "link", "set", "dev", "eth1", "up"]]
    # The last address added to a link carries the announcement of all the link's new addresses.
    assert by_text["add address 192.168.1.1/24 to eth1"]["commands"] == [
        ["ip", "addr", "replace", "192.168.1.1/24", "dev", "eth1"]]
    assert by_text["add address 2001:db8:1::1/64 to eth1"]["commands"] == [
        ["ip", "addr", "replace", "2001:db8:1::1/64", "dev", "eth1", "nodad"],
        [sys.executable, "-c", I.ANNOUNCE, "eth1", "02:42:64:40:00:14", "1", "192.168.1.1", "2001:db8:1::1"]]
    assert by_text["add address 192.168.1.1/24 to eth2"]["commands"][1][3:] == [
        "eth2", "02:42:64:40:00:16", "1", "192.168.1.1"]
    # Nothing to tell about lo.
    assert by_text["add address 10.0.0.1/32 to lo"]["commands"] == [
        ["ip", "addr", "replace", "10.0.0.1/32", "dev", "lo"]]
    assert by_text["add route ::/0 via 2001:db8:1::fe"]["commands"] == [
        ["ip", "-6", "route", "replace", "::/0", "via", "2001:db8:1::fe", "proto", "static"]]
    assert by_text["set net.ipv6.conf.all.forwarding to 1 (was 0)"]["sysctl"] == (
        "net.ipv6.conf.all.forwarding", "1")


def test_prediction_matches_configured_state():
    predicted = plan_all(state_of(*fresh_docker()), PLAN)[1]
    names = sorted(PLAN["interfaces"])
    assert I.describe(predicted, names) == I.describe(state_of(*configured()), names)


def test_idempotent_no_actions_when_state_matches():
    actions = plan_all(state_of(*configured()), PLAN)[0]
    assert actions == []


def test_swap_goes_through_a_temporary_name():
    plan = copy.deepcopy(PLAN)
    plan["interfaces"]["eth0"] = plan["interfaces"].pop("eth2")
    actions, predicted = I.link_phase(state_of(*fresh_docker()), I.normalize_netplan(plan))
    texts = [a["text"] for a in actions]
    assert texts[:3] == ["rename eth0 to vntmp20 (frees its name)",
                         "rename eth1 to eth0 (placeholder 100.64.1.3)",
                         "rename vntmp20 to eth1 (placeholder 100.64.0.2)"]
    assert actions[0]["commands"] == [["ip", "link", "set", "dev", "eth0", "down"],
                                      ["ip", "link", "set", "dev", "eth0", "name", "vntmp20"]]
    assert actions[2]["commands"] == [["ip", "link", "set", "dev", "vntmp20", "name", "eth1"],
                                      ["ip", "link", "set", "dev", "eth1", "up"]]
    assert {l["name"]: l["index"] for l in predicted["links"]} == {"lo": 1, "eth1": 20, "eth0": 22}


def test_interface_found_by_name_once_placeholder_is_gone():
    mapping = I.match_links(state_of(*configured()), I.normalize_netplan(PLAN))
    assert mapping == {"eth1": "eth1", "eth2": "eth2"}


def test_missing_interface_is_named_with_its_placeholder():
    plan = copy.deepcopy(PLAN)
    plan["interfaces"]["eth3"] = {"placeholder": "100.64.9.2", "ipv4": "10.3.0.1/24"}
    with pytest.raises(I.InterfacesError) as err:
        I.match_links(state_of(*fresh_docker()), I.normalize_netplan(plan))
    assert str(err.value) == ("interface eth3 (placeholder 100.64.9.2) not found: no link carries"
                              " the placeholder or is named eth3")


def test_rename_onto_an_unplanned_interface_fails():
    plan = {"interfaces": {"eth1": {"placeholder": "100.64.0.2", "ipv4": "10.1.0.1/24"}}}
    with pytest.raises(I.InterfacesError) as err:
        I.link_phase(state_of(*fresh_docker()), I.normalize_netplan(plan))
    assert str(err.value) == ("cannot rename eth0 to eth1: eth1 is taken by an interface that is not"
                              " in the plan")


def test_link_down_is_set_up():
    addrs, r4, r6, sysctls = configured()
    addrs[2] = link(22, "eth2", addrs[2]["addr_info"], up=False)
    actions = plan_all(state_of(addrs, r4, r6, sysctls), PLAN)[0]
    assert [a["text"] for a in actions] == ["set eth2 up"]


def test_unplanned_addresses_removed_link_local_kept():
    addrs, r4, r6, sysctls = configured()
    addrs[2]["addr_info"].append(addr("10.7.7.7", 8))
    addrs[2]["addr_info"].append(addr("2001:db8:7::7", 64))
    addrs[0]["addr_info"].append(addr("10.0.0.99", 32))
    actions = plan_all(state_of(addrs, r4, r6, sysctls), PLAN)[0]
    assert [a["text"] for a in actions] == [
        "remove address 10.7.7.7/8 from eth2",
        "remove address 2001:db8:7::7/64 from eth2",
        "remove address 10.0.0.99/32 from lo",
    ]


def test_removing_a_primary_adds_planned_secondaries_again():
    addrs, r4, r6, sysctls = configured()
    addrs[2]["addr_info"].insert(0, addr("192.168.1.9", 24))
    actions = plan_all(state_of(addrs, r4, r6, sysctls), PLAN)[0]
    assert [a["text"] for a in actions] == [
        "remove address 192.168.1.9/24 from eth2",
        "add address 192.168.1.1/24 to eth2",
    ]


def test_ipv6_enabled_where_planned():
    addrs, r4, r6, sysctls = configured()
    addrs[1]["addr_info"] = [a for a in addrs[1]["addr_info"] if a["family"] == "inet"]
    sysctls["net.ipv6.conf.eth1.disable_ipv6"] = "1"
    r6 = [r for r in r6 if r["dev"] != "eth1"]
    actions = plan_all(state_of(addrs, r4, r6, sysctls), PLAN)[0]
    assert [a["text"] for a in actions] == [
        "enable IPv6 on eth1",
        "add address 2001:db8:1::1/64 to eth1",
        "add route ::/0 via 2001:db8:1::fe",
    ]
    assert actions[0]["sysctl"] == ("net.ipv6.conf.eth1.disable_ipv6", "0")


def test_routes_replaced_removed_and_kept():
    addrs, r4, r6, sysctls = configured()
    r4[1] = dict(r4[1], gateway="192.168.1.3")                      # planned dst, other gateway
    r4.append({"dst": "172.16.0.0/12", "gateway": "192.168.1.5", "dev": "eth2",
               "protocol": "static", "flags": []})                 # static, not planned
    r4.append({"dst": "10.50.0.0/16", "gateway": "192.168.1.6", "dev": "eth2",
               "protocol": "ospf", "metric": 20, "flags": []})     # a routing daemon's
    r4.append({"dst": "default", "gateway": "192.168.1.7", "dev": "eth2", "protocol": "ospf",
               "metric": 20, "flags": []})                         # a routing daemon's default
    actions, predicted = plan_all(state_of(addrs, r4, r6, sysctls), PLAN)
    assert [a["text"] for a in actions] == [
        "remove route 10.9.0.0/16 via 192.168.1.3 dev eth1 (proto static, not planned)",
        "remove route 172.16.0.0/12 via 192.168.1.5 dev eth2 (proto static, not planned)",
        "add route 10.9.0.0/16 via 192.168.1.2",
    ]
    assert actions[0]["commands"] == [["ip", "-4", "route", "del", "10.9.0.0/16", "via", "192.168.1.3",
                                       "dev", "eth1"]]
    assert actions[0]["tolerate"] == list(I.GONE)
    assert {(r["dst"], r["via"]) for r in predicted["routes"] if r["protocol"] != "kernel"} == {
        ("0.0.0.0/0", "192.168.1.254"), ("10.9.0.0/16", "192.168.1.2"), ("::/0", "2001:db8:1::fe"),
        ("10.50.0.0/16", "192.168.1.6"), ("0.0.0.0/0", "192.168.1.7")}


def test_docker_default_route_removed_when_planned_address_already_there():
    addrs, r4, r6, sysctls = configured()
    addrs[1]["addr_info"].insert(0, addr("100.64.0.2", 24))
    r4.insert(0, {"dst": "default", "gateway": "100.64.0.1", "dev": "eth1", "flags": []})
    actions = plan_all(state_of(addrs, r4, r6, sysctls), PLAN)[0]
    assert [a["text"] for a in actions] == [
        "remove address 100.64.0.2/24 from eth1",
        "remove route 0.0.0.0/0 via 100.64.0.1 dev eth1 (gateway not planned)",
    ]


def test_dhcp_interface_renamed_and_placeholder_removed_only():
    plan = {"interfaces": {"eth1": {"placeholder": "100.64.0.2", "ipv4": None, "dhcp": True}},
            "routes": []}
    addrs, r4, r6, sysctls = fresh_docker()
    addrs = addrs[:2]
    actions, predicted = plan_all(state_of(addrs, r4[:2], r6[:1], sysctls), plan)
    assert [a["text"] for a in actions] == [
        "rename eth0 to eth1 (placeholder 100.64.0.2)",
        "remove address 100.64.0.2/24 from eth1",
    ]
    # Later, the DHCP client's lease and default route are left alone.
    leased = [LO, link(20, "eth1", [addr("192.168.9.50", 24)])]
    routes = [{"dst": "default", "gateway": "192.168.9.1", "dev": "eth1", "flags": []}]
    actions = plan_all(state_of(leased, routes, [], sysctls), plan)[0]
    assert actions == []


def test_forwarding_null_leaves_sysctls():
    plan = dict(PLAN, forwarding=None)
    addrs, r4, r6, sysctls = configured()
    sysctls["net.ipv4.ip_forward"] = "0"
    assert plan_all(state_of(addrs, r4, r6, sysctls), plan)[0] == []
    assert [a["text"] for a in plan_all(state_of(addrs, r4, r6, sysctls), PLAN)[0]] == [
        "set net.ipv4.ip_forward to 1 (was 0)"]


@pytest.mark.parametrize("netplan, error", [
    ({"interfaces": {"eth1": {"ipv4": "10.0.0.1"}}},
     "interface eth1: '10.0.0.1' is not an IPv4 address with a prefix length (no prefix length)"),
    ({"interfaces": {"eth1": {"ipv4": "2001:db8::1/64"}}},
     "interface eth1: 2001:db8::1/64 is not an IPv4 address"),
    ({"interfaces": {"an-interface-name-too-long": {}}},
     "interface an-interface-name-too-long: not a valid interface name (at most 15 characters,"
     " no '/', no spaces, not lo)"),
    ({"interfaces": {"eth1": {"placeholder": "100.64.0"}}},
     "interface eth1: placeholder '100.64.0' is not an IPv4 address"),
    ({"interfaces": {"eth1": {"mtu": 20}}}, "interface eth1: mtu 20 is not a number of at least 68"),
    ({"routes": [{"dst": "10.0.0.0/8", "via": "2001:db8::1"}]},
     "route 10.0.0.0/8 via 2001:db8::1: dst and via are of different address families"),
    ({"forwarding": "yes"}, "forwarding: 'yes' is neither true, false nor null"),
])
def test_invalid_plans(netplan, error):
    with pytest.raises(I.InterfacesError) as err:
        I.normalize_netplan(netplan)
    assert str(err.value) == "invalid network plan:\n" + error


def test_invalid_plan_errors_are_collected():
    with pytest.raises(I.InterfacesError) as err:
        I.normalize_netplan({"interfaces": {"eth1": {"ipv4": "x"}}, "loopback": {"ipv6": "10.0.0.1/32"}})
    assert len(str(err.value).splitlines()) == 3


# --- running ----------------------------------------------------------------------------------

def test_check_mode_runs_no_mutating_command():
    runner = FakeRunner(*fresh_docker())
    result = I.apply(runner, PLAN, check_mode=True)
    assert result["changed"] is True
    assert result["actions"] == FRESH_ACTIONS
    assert runner.commands == [] and runner.written == []
    assert result["before"]["interfaces"][0] == {"name": "eth0", "mtu": 1500, "addresses": ["100.64.0.2/24"]}
    assert result["after"]["interfaces"][0] == {"name": "eth1", "mtu": 1400,
                                                "addresses": ["192.168.1.1/24", "2001:db8:1::1/64"]}


def test_real_run_executes_in_order():
    runner = FakeRunner(*fresh_docker())
    # The canned state does not change, so the later phases see the fresh state: only the link
    # phase's commands are checked here.
    with pytest.raises(I.InterfacesError):
        I.apply(runner, PLAN)
    assert runner.commands[:3] == [["ip", "link", "set", "dev", "eth1", "down"],
                                   ["ip", "link", "set", "dev", "eth1", "name", "eth2"],
                                   ["ip", "link", "set", "dev", "eth2", "up"]]


def test_execute_tolerates_what_is_already_gone():
    class Failing(FakeRunner):
        def run(self, argv, data=None):
            self.commands.append(argv)
            return 2, "", "RTNETLINK answers: No such process\n"

    runner = Failing(*fresh_docker())
    I.execute(runner, [I._action("remove route x", [["ip", "route", "del", "x"]], tolerate=I.GONE)])
    with pytest.raises(I.InterfacesError) as err:
        I.execute(runner, [I._action("add route x", [["ip", "route", "replace", "x"]])])
    assert str(err.value) == ("add route x: `ip route replace x` failed: RTNETLINK answers:"
                              " No such process")


def test_runner_wraps_with_nsenter():
    assert I.Runner("/proc/7/ns/net").command(["ip", "link"]) == ["nsenter", "--net=/proc/7/ns/net", "ip", "link"]
    assert I.Runner().command(["ip", "link"]) == ["ip", "link"]


@pytest.mark.parametrize("kwargs, path", [
    ({"container_pid": 42}, "/proc/42/ns/net"),
    ({"pid": 7}, "/proc/7/ns/net"),
    ({"netns": "t2lab"}, "/run/netns/t2lab"),
    ({"netns": "/var/run/netns/x"}, "/var/run/netns/x"),
    ({"netns": "host"}, None),
])
def test_netns_path(kwargs, path):
    assert I.netns_path(**kwargs) == path


@pytest.mark.parametrize("name, path", [
    ("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"),
    ("net.ipv6.conf.all.forwarding", "/proc/sys/net/ipv6/conf/all/forwarding"),
    ("net.ipv6.conf.eth0.10.disable_ipv6", "/proc/sys/net/ipv6/conf/eth0.10/disable_ipv6"),
])
def test_sysctl_path(name, path):
    assert I.sysctl_path(name) == path


def test_plain_runner_write_hint_on_read_only(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("builtins.open", read_only)
    with pytest.raises(I.InterfacesError) as err:
        I.Runner().write_sysctl("net.ipv4.ip_forward", "1")
    assert str(err.value) == (
        "cannot set net.ipv4.ip_forward to 1: Read-only file system (/proc/sys is read-only inside"
        " a container: create the container with the sysctl net.ipv4.ip_forward=1)")


# --- node init --------------------------------------------------------------------------------

def test_node_init_args():
    args = _node_init.parse_args(["--timeout", "5", "/x.json", "--", "sleep", "infinity"])
    assert (args.timeout, args.plan, args.command) == (5.0, "/x.json", ["sleep", "infinity"])
    args = _node_init.parse_args([])
    assert (args.plan, args.command) == ("/etc/vnet/netplan.json", [])


def test_node_init_waits_then_reports_missing():
    now = [0.0]
    runner = FakeRunner(*fresh_docker())
    plan = {"interfaces": {"eth9": {"placeholder": "100.64.9.2", "ipv4": "10.9.0.1/24"}}}
    missing = _node_init.wait_for_interfaces(runner, plan, 2, interval=0.5, clock=lambda: now[0],
                                             sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert missing == ("interface eth9 (placeholder 100.64.9.2) not found: no link carries the"
                       " placeholder or is named eth9")
    assert now[0] == 2.0


def test_node_init_applies_and_prints(tmp_path):
    path = tmp_path / "netplan.json"
    path.write_text(json.dumps(PLAN))
    runner = FakeRunner(*configured())
    out, err = io.StringIO(), io.StringIO()
    assert _node_init.run([str(path)], runner=runner, out=out, err=err) == 0
    assert "network plan applied" in out.getvalue() and err.getvalue() == ""


def test_node_init_unreadable_plan(tmp_path):
    err = io.StringIO()
    assert _node_init.run([str(tmp_path / "none.json")], runner=FakeRunner(*configured()),
                          out=io.StringIO(), err=err) == 1
    assert err.getvalue().startswith("vnet-node-init: cannot read the network plan ")


def test_service_addresses_added_after_the_interface_address():
    netplan = copy.deepcopy(PLAN)
    netplan["interfaces"]["eth2"]["secondary"] = ["192.168.1.2/24", "192.168.1.3/24"]
    texts = [a["text"] for a in plan_all(state_of(*fresh_docker()), netplan)[0]]
    own = texts.index("add address 192.168.1.1/24 to eth2")
    assert texts[own + 1:own + 3] == ["add address 192.168.1.2/24 to eth2",
                                      "add address 192.168.1.3/24 to eth2"]


def test_service_addresses_idempotent_and_removed_when_unplanned():
    netplan = copy.deepcopy(PLAN)
    netplan["interfaces"]["eth2"]["secondary"] = ["192.168.1.2/24"]
    actions, predicted = plan_all(state_of(*fresh_docker()), netplan)
    assert actions
    assert plan_all(predicted, netplan)[0] == []
    texts = [a["text"] for a in plan_all(predicted, PLAN)[0]]
    assert texts == ["remove address 192.168.1.2/24 from eth2"]


def test_service_address_on_a_dhcp_interface():
    netplan = copy.deepcopy(PLAN)
    netplan["interfaces"]["eth1"].update(ipv4=None, ipv6=None, dhcp=True, secondary=["192.168.1.9/24"])
    texts = [a["text"] for a in plan_all(state_of(*fresh_docker()), netplan)[0]]
    assert "add address 192.168.1.9/24 to eth1" in texts
    assert "remove address 100.64.0.2/24 from eth1" in texts


@pytest.mark.parametrize("secondary, error", [
    ("192.168.1.2/24", "secondary must be a list"),
    (["192.168.1.2"], "is not an IPv4 address with a prefix length"),
    (["not-an-address"], "is not an IPv4 address with a prefix length"),
])
def test_invalid_service_addresses(secondary, error):
    netplan = copy.deepcopy(PLAN)
    netplan["interfaces"]["eth2"]["secondary"] = secondary
    with pytest.raises(I.InterfacesError, match=error):
        I.normalize_netplan(netplan)


def test_routes_of_interfaces_outside_the_plan_are_left_alone():
    """On a real board (netns host) the management port is not in the plan: its routes stay."""
    addrs, routes4, routes6, sysctls = configured()
    routes4 = routes4 + [
        {"dst": "default", "gateway": "10.9.9.1", "dev": "mgmt0", "protocol": "boot", "flags": []},
        {"dst": "10.8.0.0/16", "gateway": "10.9.9.2", "dev": "mgmt0", "protocol": "static", "flags": []},
    ]
    actions = plan_all(state_of(addrs, routes4, routes6, sysctls), PLAN)[0]
    assert [a["text"] for a in actions] == []


def test_announce_script_is_best_effort():
    """Without the right to send raw packets (or on a vanished link) it says why and exits 0."""
    result = subprocess.run([sys.executable, "-c", I.ANNOUNCE, "vnet-no-such0", "02:00:00:00:00:01", "0",
                             "192.0.2.1", "2001:db8::1"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "cannot announce on vnet-no-such0" in result.stderr
