# SPDX-License-Identifier: GPL-3.0-or-later
"""Wanted node containers, their hash and comparisons, the live-change model, and the manager on a
fake engine (containers, namespaces and /proc made of plain data)."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import threading

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _interfaces as I
from ansible_collections.vnet.lab.plugins.module_utils import _nodes as N
from ansible_collections.vnet.lab.plugins.module_utils._netplan import node_netplan

IMAGE = "vnet/node:latest"
IMAGE_ID = "sha256:" + "ab" * 32
OTHER_IMAGE_ID = "sha256:" + "cd" * 32
CAPS = ["NET_ADMIN", "NET_RAW"]
STATE_DIR = "/var/lib/vnet/labs"


def iface(segment, ipv4, ipv6=None, dhcp=False, mtu=None):
    return {"segment": segment, "ipv4": ipv4, "ipv6": ipv6, "dhcp": dhcp, "mtu": mtu}


PLAN = {
    "name": "lab1",
    "routing": "static",
    "nodes": {
        "r1": {"kind": "router", "loopback": {"ipv4": "10.0.0.1/32", "ipv6": None},
               "gateway": {"ipv4": None, "ipv6": None},
               "interfaces": {"eth1": iface("p2p", "10.1.0.1/30"),
                              "eth2": iface("lan1", "192.168.1.1/24", "fd00:1::1/64")},
               "routes": [{"dst": "10.0.0.2/32", "via": "10.1.0.2"}]},
        "r2": {"kind": "router", "loopback": {"ipv4": "10.0.0.2/32", "ipv6": None},
               "gateway": {"ipv4": None, "ipv6": None},
               "interfaces": {"eth1": iface("p2p", "10.1.0.2/30")},
               "routes": [{"dst": "10.0.0.1/32", "via": "10.1.0.1"}]},
        "h1": {"kind": "host", "loopback": None, "gateway": {"ipv4": "192.168.1.1", "ipv6": None},
               "interfaces": {"eth0": iface("lan1", "192.168.1.2/24", mtu=1400)},
               "routes": []},
    },
    "segments": {
        "lan1": {"type": "lan", "ipv4": "192.168.1.0/24", "ipv6": "fd00:1::/64",
                 "endpoints": ["h1:eth0", "r1:eth2"], "mtu": None, "link": {"type": "bridge"}},
        "p2p": {"type": "p2p", "ipv4": "10.1.0.0/30", "ipv6": None, "endpoints": ["r1:eth1", "r2:eth1"],
                "mtu": None, "link": {"type": "bridge"}},
    },
}

SEGMENTS = {
    "lan1": {"network": "lab1-lan1", "subnet": "100.64.1.0/24",
             "endpoints": {"h1:eth0": "100.64.1.2", "r1:eth2": "100.64.1.3"}},
    "p2p": {"network": "lab1-p2p", "subnet": "100.64.2.0/24",
            "endpoints": {"r1:eth1": "100.64.2.2", "r2:eth1": "100.64.2.3"}},
}


def wanted(node="r1", plan=None, caps=None, state_dir=STATE_DIR):
    return N.wanted_container("lab1", node, plan or PLAN, SEGMENTS, IMAGE, caps or CAPS, "unless-stopped",
                              state_dir)


# --- wanted containers --------------------------------------------------------------------------

def test_wanted_router():
    assert wanted("r1") == {
        "name": "lab1-r1",
        "node": "r1",
        "hostname": "r1",
        "image": IMAGE,
        "init": True,
        "cap_add": ["NET_ADMIN", "NET_RAW"],
        "cap_drop": ["ALL"],
        "sysctls": {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1",
                    "net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.default.disable_ipv6": "0",
                    "net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0",
                    # Docker's names of the two interfaces the container starts with.
                    "net.ipv6.conf.eth0.accept_dad": "0", "net.ipv6.conf.eth1.accept_dad": "0"},
        "network_mode": "segments",
        "networks": [{"name": "lab1-p2p", "ipv4_address": "100.64.2.2", "interface": "eth1"},
                     {"name": "lab1-lan1", "ipv4_address": "100.64.1.3", "interface": "eth2"}],
        "binds": ["/var/lib/vnet/labs/lab1/nodes/r1:/etc/vnet:ro"],
        "tmpfs": {"/run/vnet": ""},
        "labels": {"vnet.lab": "lab1", "vnet.node": "r1", "vnet.kind": "router"},
        "restart_policy": "unless-stopped",
    }


def test_wanted_host_and_node_without_interfaces():
    host = wanted("h1")
    assert host["sysctls"]["net.ipv4.ip_forward"] == "0"
    assert host["labels"]["vnet.kind"] == "host"
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["lone"] = {"kind": "host", "loopback": None, "gateway": {"ipv4": None, "ipv6": None},
                             "interfaces": {}, "routes": []}
    lone = wanted("lone", plan=plan)
    assert lone["networks"] == [] and lone["network_mode"] == "none"
    assert not [key for key in lone["sysctls"] if key.startswith("net.ipv6.conf.eth")]


@pytest.mark.parametrize("caps, expected", [
    (["NET_RAW", "NET_ADMIN"], ["NET_ADMIN", "NET_RAW"]),
    (["cap_net_admin", "NET_ADMIN"], ["NET_ADMIN"]),
    (["SYS_ADMIN", "NET_ADMIN", "NET_RAW"], ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]),
])
def test_capabilities_are_canonical(caps, expected):
    assert wanted(caps=caps)["cap_add"] == expected


# --- hash -----------------------------------------------------------------------------------------

def test_hash_is_stable_and_ignores_networks():
    base = wanted()
    moved = copy.deepcopy(base)
    moved["networks"] = [{"name": "lab1-other", "ipv4_address": "100.64.9.9", "interface": "eth9"}]
    assert N.config_hash(base) == N.config_hash(copy.deepcopy(base)) == N.config_hash(moved)
    assert len(N.config_hash(base)) == 64
    assert N.container_labels(base)["vnet.config"] == N.config_hash(base)


@pytest.mark.parametrize("change", [
    lambda w: w.update(image="vnet/node:other"),
    lambda w: w.update(cap_add=["NET_ADMIN"]),
    lambda w: w["sysctls"].update({"net.ipv4.ip_forward": "0"}),
    lambda w: w.update(restart_policy="always"),
    lambda w: w.update(binds=["/elsewhere:/etc/vnet:ro"]),
    lambda w: w["labels"].update({"vnet.kind": "host"}),
    lambda w: w.update(hostname="x"),
    lambda w: w.update(network_mode="none"),
    lambda w: w.update(tmpfs={}),
    lambda w: w.update(init=False),
], ids=["image", "caps", "sysctls", "restart", "binds", "labels", "hostname", "network_mode", "tmpfs", "init"])
def test_hash_covers_the_configuration(change):
    base = wanted()
    changed = copy.deepcopy(base)
    change(changed)
    assert N.config_hash(changed) != N.config_hash(base)


# --- comparisons ----------------------------------------------------------------------------------

def attrs_of(wanted_container, state="running", image_id=IMAGE_ID, networks=None, labels=None, pid=4242):
    """Inspect data of a container made from ``wanted_container``."""
    if networks is None:
        networks = {n["name"]: n["ipv4_address"] for n in wanted_container["networks"]}
    return {
        "Id": "id-" + wanted_container["name"],
        "Name": "/" + wanted_container["name"],
        "Image": image_id,
        "Config": {"Labels": N.container_labels(wanted_container) if labels is None else labels},
        "State": {"Status": state, "Running": state in ("running", "paused"), "Paused": state == "paused",
                  "Restarting": False, "Pid": pid if state in ("running", "paused") else 0, "ExitCode": 0},
        "NetworkSettings": {"Networks": {
            name: {"IPAMConfig": {"IPv4Address": address} if address else None,
                   "MacAddress": "02:42:%s" % ":".join("%02x" % int(b) for b in (address or "0.0.0.0").split("."))}
            for name, address in networks.items()}},
    }


@pytest.mark.parametrize("current, expected", [
    ({"lab1-p2p": "100.64.2.2", "lab1-lan1": "100.64.1.3"}, ([], [])),
    ({"lab1-p2p": "100.64.2.2"}, ([], ["lab1-lan1"])),
    ({"lab1-p2p": "100.64.2.2", "lab1-lan1": "100.64.1.3", "lab1-old": "100.64.7.2"}, (["lab1-old"], [])),
    ({"lab1-p2p": "100.64.2.2", "lab1-lan1": "100.64.1.4"}, (["lab1-lan1"], ["lab1-lan1"])),
    ({"lab1-p2p": None, "lab1-lan1": "100.64.1.3"}, (["lab1-p2p"], ["lab1-p2p"])),
    ({}, ([], ["lab1-lan1", "lab1-p2p"])),
])
def test_network_changes(current, expected):
    disconnect, connect = N.network_changes(current, wanted()["networks"])
    assert (disconnect, [n["name"] for n in connect]) == expected


def test_current_networks_reads_the_requested_addresses():
    attrs = attrs_of(wanted(), networks={"lab1-p2p": "100.64.2.2", "bridge": None})
    assert N.current_networks(attrs) == {"lab1-p2p": "100.64.2.2", "bridge": None}
    assert N.current_networks({}) == {}


@pytest.mark.parametrize("labels, expected", [
    ({"vnet.lab": "lab1", "vnet.node": "r1"}, None),
    ({"vnet.lab": "lab1-x", "vnet.node": "r1"},
     "container lab1-r1 exists but is not node r1 of lab lab1 (its labels: vnet.lab=lab1-x, vnet.node=r1);"
     " remove or rename it"),
    ({"vnet.lab": "lab1", "vnet.node": "r1", "vnet.service": "dns"},
     "container lab1-r1 exists but is not node r1 of lab lab1 (its labels: vnet.lab=lab1, vnet.node=r1,"
     " vnet.service=dns); remove or rename it"),
    ({}, "container lab1-r1 exists but is not node r1 of lab lab1 (its labels: none of vnet.lab, vnet.node);"
         " remove or rename it"),
])
def test_owner_error(labels, expected):
    assert N.owner_error({"Config": {"Labels": labels}}, "lab1", "r1") == expected


def test_recreate_reasons():
    w = wanted()
    assert N.recreate_reasons(attrs_of(w), w, IMAGE_ID) == []
    assert N.recreate_reasons(attrs_of(w, image_id=OTHER_IMAGE_ID), w, IMAGE_ID) == [
        "image vnet/node:latest is now abababababab, the container runs cdcdcdcdcdcd"]
    other = copy.deepcopy(w)
    other["restart_policy"] = "always"
    assert N.recreate_reasons(attrs_of(other), w, IMAGE_ID) == [
        "configuration hash %s, wanted %s" % (N.config_hash(other)[:12], N.config_hash(w)[:12])]
    assert N.recreate_reasons(attrs_of(w, labels={"vnet.lab": "lab1"}), w, IMAGE_ID) == [
        "configuration hash missing, wanted %s" % N.config_hash(w)[:12]]


@pytest.mark.parametrize("case, expected", [
    ("none", {"op": "create", "start": True, "unpause": False, "disconnect": [],
              "connect": ["lab1-p2p", "lab1-lan1"]}),
    ("running", {"op": "update", "start": False, "unpause": False, "disconnect": [], "connect": []}),
    ("exited", {"op": "update", "start": True, "unpause": False, "disconnect": [], "connect": []}),
    ("created", {"op": "update", "start": True, "unpause": False, "disconnect": [], "connect": []}),
    ("paused", {"op": "update", "start": False, "unpause": True, "disconnect": [], "connect": []}),
    ("moved", {"op": "update", "start": False, "unpause": False, "disconnect": ["lab1-lan1", "lab1-old"],
               "connect": ["lab1-lan1"]}),
    ("image", {"op": "recreate", "start": True, "unpause": False, "disconnect": [],
               "connect": ["lab1-p2p", "lab1-lan1"]}),
    ("config", {"op": "recreate", "start": True, "unpause": False, "disconnect": [],
                "connect": ["lab1-p2p", "lab1-lan1"]}),
])
def test_decide(case, expected):
    w = wanted()
    other = copy.deepcopy(w)
    other["cap_add"] = ["NET_ADMIN"]
    attrs = {
        "none": None,
        "running": attrs_of(w),
        "exited": attrs_of(w, state="exited"),
        "created": attrs_of(w, state="created"),
        "paused": attrs_of(w, state="paused"),
        "moved": attrs_of(w, networks={"lab1-p2p": "100.64.2.2", "lab1-lan1": "100.64.1.9",
                                       "lab1-old": "100.64.7.2"}),
        "image": attrs_of(w, image_id=OTHER_IMAGE_ID),
        "config": attrs_of(other),
    }[case]
    decision = N.decide(attrs, w, IMAGE_ID)
    decision["connect"] = [n["name"] for n in decision["connect"]]
    assert len(decision.pop("reasons")) == (1 if case in ("image", "config") else 0)
    assert decision == expected


@pytest.mark.parametrize("args, errors", [
    (("lab1", PLAN, IMAGE, CAPS, "no", 30), []),
    (("", {}, IMAGE, CAPS, "no", 30), ["lab '' is not a valid name (letters, digits, '_', '.', '-')"]),
    (("lab2", PLAN, IMAGE, CAPS, "no", 30), ["the plan is lab lab1's, not lab lab2's"]),
    (("lab1", {"nodes": {"a b": {}}}, "", ["ALL", "net admin"], "sometimes", 0), [
        "node 'a b': not a valid name (letters, digits, '_', '.', '-')",
        "no node image given",
        "capability 'ALL' is not the name of one capability",
        "capability 'net admin' is not the name of one capability",
        "restart_policy 'sometimes' is not one of no, on-failure, always, unless-stopped",
        "ready_timeout 0 must be a positive number of seconds"]),
])
def test_validate(args, errors):
    assert N.validate(*args) == errors


# --- files ----------------------------------------------------------------------------------------

def test_json_text_is_what_to_nice_json_writes():
    from ansible.plugins.filter.core import to_nice_json
    data = {"b": [1, {"z": None, "a": "é"}], "a": True}
    assert N.json_text(data) == to_nice_json(data) + "\n"


def test_write_atomically(tmp_path):
    path = str(tmp_path / "lab1" / "nodes" / "r1" / "netplan.json")
    N.write_atomically(path, "one\n")
    assert N.read_text(path) == "one\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    inode = os.stat(path).st_ino
    N.write_atomically(path, "two\n")
    assert N.read_text(path) == "two\n" and os.stat(path).st_ino != inode, "replaced, not rewritten"
    assert os.listdir(os.path.dirname(path)) == ["netplan.json"], "no temporary file left"
    assert N.read_text(str(tmp_path / "missing")) is None


# --- the live network change model ---------------------------------------------------------------

def addr(local, prefixlen, scope="global"):
    return {"family": "inet6" if ":" in local else "inet", "local": local, "prefixlen": prefixlen, "scope": scope}


def link(index, name, addresses, mtu=1500, up=True):
    flags = ["BROADCAST", "MULTICAST"] + (["UP", "LOWER_UP"] if up else [])
    return {"ifindex": index, "ifname": name, "flags": flags, "mtu": mtu, "addr_info": addresses,
            "linkinfo": {"info_kind": "veth"}}


def configured_outputs(netplan, indexes=None):
    """`ip -j` output and sysctls of a namespace where ``netplan`` is applied."""
    netplan = I.normalize_netplan(netplan)
    lo = [addr("127.0.0.1", 8, "host"), addr("::1", 128, "host")]
    for value in netplan["loopback"].values():
        if value:
            lo.append(addr(value.split("/")[0], int(value.split("/")[1])))
    addrs = [{"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536,
              "addr_info": lo, "linkinfo": {}}]
    routes = {4: [], 6: []}
    sysctls = {"net.ipv4.ip_forward": "1" if netplan["forwarding"] else "0",
               "net.ipv6.conf.all.forwarding": "1" if netplan["forwarding"] else "0",
               "net.ipv6.conf.lo.disable_ipv6": "0"}
    for position, (name, entry) in enumerate(sorted(netplan["interfaces"].items())):
        addresses = []
        for value in (entry["ipv4"], entry["ipv6"]):
            if value:
                network = ipaddress.ip_interface(value)
                addresses.append(addr(str(network.ip), network.network.prefixlen))
                routes[network.version].append({"dst": str(network.network), "dev": name, "protocol": "kernel",
                                                "scope": "link", "flags": []})
        index = (indexes or {}).get(name, 10 + 2 * position)
        addrs.append(link(index, name, addresses, mtu=entry["mtu"] or 1500))
        sysctls["net.ipv6.conf.%s.disable_ipv6" % name] = "0"
    for route in netplan["routes"]:
        version = ipaddress.ip_network(route["dst"]).version
        dst = "default" if ipaddress.ip_network(route["dst"]).prefixlen == 0 else route["dst"]
        dev = next(name for name, entry in netplan["interfaces"].items()
                   for value in (entry["ipv4"], entry["ipv6"])
                   if value and ipaddress.ip_address(route["via"]) in ipaddress.ip_interface(value).network)
        routes[version].append({"dst": dst, "gateway": route["via"], "dev": dev, "protocol": "static",
                                "flags": []})
    return addrs, routes[4], routes[6], sysctls


class FakeRunner(I.Runner):
    """A namespace made of canned `ip -j` output; records every other command."""

    def __init__(self, netns_path, outputs, macs=None):
        super().__init__(netns_path)
        self.addrs, self.routes4, self.routes6, self.sysctls = outputs
        self.macs = macs or {}
        self.commands = []

    def run(self, argv, data=None):
        answers = {
            ("ip", "-j", "-d", "addr", "show"): self.addrs,
            ("ip", "-j", "route", "show", "table", "main"): self.routes4,
            ("ip", "-6", "-j", "route", "show", "table", "main"): self.routes6,
            ("ip", "-j", "link", "show"): [{"ifindex": a["ifindex"], "ifname": a["ifname"],
                                            "address": self.macs.get(a["ifname"], "00:00:00:00:00:00")}
                                           for a in self.addrs],
        }
        if tuple(argv) in answers:
            return 0, json.dumps(answers[tuple(argv)]), ""
        self.commands.append(list(argv))
        return 0, "", ""

    def read_sysctls(self, names):
        return {name: self.sysctls.get(name) for name in names}

    def write_sysctl(self, name, value):
        self.commands.append(["sysctl", name, value])


def test_simulated_live_change_predicts_the_convergence():
    netplan = node_netplan(PLAN, "r1", SEGMENTS)
    state = I.read_state(FakeRunner(None, configured_outputs(netplan)))
    # r1's LAN placeholder moved: lab1-lan1 is disconnected, then connected with 100.64.1.4.
    moved = copy.deepcopy(netplan)
    moved["interfaces"]["eth2"]["placeholder"] = "100.64.1.4"
    macs = {"eth1": "02:42:00:00:02:02", "eth2": "02:42:00:00:01:03"}
    simulated = N.simulate_network_change(
        state, macs, {"02:42:00:00:01:03"},
        [{"name": "lab1-lan1", "ipv4_address": "100.64.1.4", "mtu": None}], {"lab1-lan1": "100.64.1.0/24"})
    assert [(link["name"], link["up"]) for link in simulated["links"]] == [
        ("lo", True), ("eth1", True), ("vnc0", False)]
    assert simulated["links"][2]["addresses"] == [{"address": "100.64.1.4/24", "family": 4, "scope": "global"}]
    texts, before, after = N.predict_interfaces(simulated, moved)
    assert texts == [
        "rename vnc0 to eth2 (placeholder 100.64.1.4)",
        "remove address 100.64.1.4/24 from eth2",
        "add address 192.168.1.1/24 to eth2",
        "add address fd00:1::1/64 to eth2",
        "add route 10.0.0.2/32 via 10.1.0.2",
    ]
    assert after["interfaces"][1] == {"name": "eth2", "mtu": 1500,
                                      "addresses": ["192.168.1.1/24", "fd00:1::1/64"]}


def test_simulated_disconnect_only_keeps_other_names():
    netplan = node_netplan(PLAN, "r1", SEGMENTS)
    state = I.read_state(FakeRunner(None, configured_outputs(netplan)))
    simulated = N.simulate_network_change(state, {"eth2": "m2", "eth1": "m1"}, {"m2"}, [], {})
    assert [link["name"] for link in simulated["links"]] == ["lo", "eth1"]
    assert [r["dst"] for r in simulated["routes"] if r["protocol"] != "kernel"] == []


# --- the manager on a fake engine -----------------------------------------------------------------

class FakeAPI:
    """Just enough of docker's APIClient: containers, networks of containers, images, volumes."""

    def __init__(self, proc, containers=(), images=None, volumes=()):
        self.proc = proc
        self.containers_ = {c["Name"].lstrip("/"): c for c in containers}
        self.images = {IMAGE: IMAGE_ID} if images is None else images
        self.volumes_ = list(volumes)
        self.calls = []
        self.next_pid = 5000
        self.fail_start = {}

    # reads
    def containers(self, all=False, filters=None):  # noqa: A002 (docker's name)
        assert all
        label = (filters or {}).get("label")
        key, dummy, value = (label or "").partition("=")
        return [{"Id": c["Id"], "Names": [c["Name"]], "Labels": c["Config"]["Labels"],
                 "State": c["State"].get("Status"),
                 "HostConfig": {"NetworkMode": (c.get("HostConfig") or {}).get("NetworkMode", "default")}}
                for c in copy.deepcopy(list(self.containers_.values()))
                if not label or c["Config"]["Labels"].get(key) == value]

    def inspect_container(self, name):
        if name not in self.containers_:
            raise N.NotFound("No such container: %s" % name)
        return copy.deepcopy(self.containers_[name])

    def inspect_image(self, image):
        if image not in self.images:
            raise N.NotFound("No such image: %s" % image)
        return {"Id": self.images[image]}

    def logs(self, name, tail=None):
        return b"vnet-node-init: interface eth1 (placeholder 100.64.2.2) not found\n"

    def volumes(self, filters=None):
        lab = filters["label"].split("=", 1)[1]
        return {"Volumes": [v for v in self.volumes_ if v["Labels"].get("vnet.lab") == lab]}

    # configs
    def create_host_config(self, **kwargs):
        return dict(kwargs)

    def create_networking_config(self, endpoints):
        return dict(endpoints)

    def create_endpoint_config(self, ipv4_address=None):
        return {"ipv4_address": ipv4_address}

    # writes
    def create_container(self, image, name, hostname, labels, host_config, networking_config):
        self.calls.append(("create", name))
        networks = {net: {"IPAMConfig": {"IPv4Address": ep["ipv4_address"]}, "MacAddress": "m-" + net}
                    for net, ep in (networking_config or {}).items()}
        self.containers_[name] = {
            "Id": "id-" + name, "Name": "/" + name, "Image": self.images[image], "Config": {"Labels": labels},
            "HostConfig": host_config, "Hostname": hostname,
            "State": {"Status": "created", "Running": False, "Restarting": False, "Pid": 0, "ExitCode": 0},
            "NetworkSettings": {"Networks": networks}}

    def connect_container_to_network(self, name, network, ipv4_address=None):
        self.calls.append(("connect", name, network, ipv4_address))
        self.containers_[name]["NetworkSettings"]["Networks"][network] = {
            "IPAMConfig": {"IPv4Address": ipv4_address}, "MacAddress": "m-" + network}

    def disconnect_container_from_network(self, name, network, force=False):
        self.calls.append(("disconnect", name, network))
        del self.containers_[name]["NetworkSettings"]["Networks"][network]

    def start(self, name):
        self.calls.append(("start", name))
        container = self.containers_[name]
        if name in self.fail_start:
            container["State"] = {"Status": "exited", "Running": False, "Restarting": False, "Pid": 0,
                                  "ExitCode": self.fail_start[name]}
            return
        self.next_pid += 1
        container["State"] = {"Status": "running", "Running": True, "Restarting": False, "Pid": self.next_pid,
                              "ExitCode": 0}
        ready = os.path.join(self.proc, str(self.next_pid), "root", "run", "vnet")
        os.makedirs(ready)
        open(os.path.join(ready, "ready"), "w").close()

    def unpause(self, name):
        self.calls.append(("unpause", name))
        self.containers_[name]["State"]["Status"] = "running"

    def remove_container(self, name, force=False):
        self.calls.append(("remove", name))
        assert force
        self.containers_.pop(name)

    def remove_volume(self, name, force=False):
        self.calls.append(("remove volume", name))


class FakeClient:
    def __init__(self, api):
        self.api = api


class Namespaces:
    """runner_factory: every node's namespace is as its plan wants it (a fresh node's entrypoint did it)."""

    def __init__(self, api):
        self.api, self.plan, self.segments = api, PLAN, SEGMENTS
        self.runners = []

    def __call__(self, netns_path):
        pid = int(netns_path.split("/")[2])
        node = next(c["Config"]["Labels"]["vnet.node"] for c in self.api.containers_.values()
                    if c["State"]["Pid"] == pid)
        runner = FakeRunner(netns_path, configured_outputs(node_netplan(self.plan, node, self.segments)))
        self.runners.append(runner)
        return runner


@pytest.fixture
def engine(tmp_path):
    api = FakeAPI(str(tmp_path / "proc"))
    return api


def manager(api, check_mode=False, runner_factory=None):
    return N.Nodes(FakeClient(api), "lab1", check_mode=check_mode,
                   runner_factory=runner_factory or Namespaces(api), proc=api.proc,
                   sleep=lambda seconds: None)


def present(nodes, state_dir, plan=None):
    return nodes.present(plan or PLAN, SEGMENTS, IMAGE, CAPS, "unless-stopped", str(state_dir), 5)


def create_text(node, networks):
    return "create container lab1-%s (image %s abababababab, networks: %s)" % (node, IMAGE, networks)


def test_present_creates_then_keeps(engine, tmp_path):
    state_dir = tmp_path / "state"
    check = manager(engine, check_mode=True)
    changed, nodes, diff = present(check, state_dir)
    assert changed and engine.calls == [] and not state_dir.exists()
    expected = {
        "(lab)": ["write %s/lab1/plan.json" % state_dir],
        "h1": ["write %s/lab1/nodes/h1/netplan.json" % state_dir,
               create_text("h1", "lab1-lan1 (100.64.1.2)"), "start container lab1-h1"],
        "r1": ["write %s/lab1/nodes/r1/netplan.json" % state_dir,
               create_text("r1", "lab1-p2p (100.64.2.2), lab1-lan1 (100.64.1.3)"), "start container lab1-r1"],
        "r2": ["write %s/lab1/nodes/r2/netplan.json" % state_dir,
               create_text("r2", "lab1-p2p (100.64.2.3)"), "start container lab1-r2"],
    }
    assert check.actions == expected
    assert nodes == {n: {"container": "lab1-%s" % n, "pid": None, "state": "running"} for n in ("h1", "r1", "r2")}
    assert diff["before"] == {"nodes": {}}

    real = manager(engine)
    changed, nodes, real_diff = present(real, state_dir)
    assert changed and real.actions == expected and real_diff == diff
    assert [c for c in engine.calls if c[1] == "lab1-r1"] == [
        ("create", "lab1-r1"), ("connect", "lab1-r1", "lab1-lan1", "100.64.1.3"), ("start", "lab1-r1")]
    r1 = engine.containers_["lab1-r1"]
    assert r1["HostConfig"] == {
        "init": True, "cap_add": ["NET_ADMIN", "NET_RAW"], "cap_drop": ["ALL"],
        "sysctls": wanted("r1")["sysctls"], "binds": ["%s/lab1/nodes/r1:/etc/vnet:ro" % state_dir],
        "tmpfs": {"/run/vnet": ""}, "restart_policy": {"Name": "unless-stopped"}, "network_mode": "lab1-p2p"}
    assert r1["Config"]["Labels"] == N.container_labels(wanted("r1", state_dir=str(state_dir)))
    assert json.loads((state_dir / "lab1" / "nodes" / "r1" / "netplan.json").read_text()) == \
        node_netplan(PLAN, "r1", SEGMENTS)
    assert json.loads((state_dir / "lab1" / "plan.json").read_text()) == PLAN
    assert all(nodes[n]["pid"] and nodes[n]["state"] == "running" for n in nodes)

    engine.calls.clear()
    again = manager(engine)
    changed, nodes, diff = present(again, state_dir)
    assert not changed and again.actions == {} and engine.calls == []
    assert diff["before"] == diff["after"]
    assert set(diff["after"]["nodes"]["r1"]) == {"container", "state", "image", "config", "networks", "interfaces"}


def test_present_recreates_starts_and_removes(engine, tmp_path):
    state_dir = tmp_path / "state"
    present(manager(engine), state_dir)
    # r2 stopped; h1 from an older image; an old node and a service container in the lab; another lab.
    engine.containers_["lab1-r2"]["State"] = {"Status": "exited", "Running": False, "Restarting": False,
                                              "Pid": 0, "ExitCode": 137}
    engine.containers_["lab1-h1"]["Image"] = OTHER_IMAGE_ID
    for name, labels in (("lab1-old", {"vnet.lab": "lab1", "vnet.node": "old"}),
                         ("lab1-r1-dns", {"vnet.lab": "lab1", "vnet.node": "r1", "vnet.service": "dns"}),
                         ("lab1-x-old", {"vnet.lab": "lab1-x", "vnet.node": "old"})):
        engine.containers_[name] = {"Id": "id-" + name, "Name": "/" + name, "Image": IMAGE_ID,
                                    "Config": {"Labels": labels},
                                    "State": {"Status": "running", "Running": True, "Pid": 1}}
    (state_dir / "lab1" / "nodes" / "old").mkdir()
    engine.calls.clear()

    check = manager(engine, check_mode=True)
    present(check, state_dir)
    assert engine.calls == []
    real = manager(engine)
    changed, nodes, diff = present(real, state_dir)
    assert changed and real.actions == check.actions == {
        "h1": ["remove container lab1-h1 (image vnet/node:latest is now abababababab, the container runs"
               " cdcdcdcdcdcd)", create_text("h1", "lab1-lan1 (100.64.1.2)"), "start container lab1-h1"],
        "old": ["remove container lab1-old (node not in the plan)", "remove %s/lab1/nodes/old" % state_dir],
        "r2": ["start container lab1-r2"],
    }
    assert sorted(engine.containers_) == ["lab1-h1", "lab1-r1", "lab1-r1-dns", "lab1-r2", "lab1-x-old"]
    assert not (state_dir / "lab1" / "nodes" / "old").exists()
    assert diff["before"]["nodes"]["old"] == {"container": "lab1-old"} and "old" not in diff["after"]["nodes"]


def test_present_reconnects_a_stopped_node_without_entering_it(engine, tmp_path):
    state_dir = tmp_path / "state"
    present(manager(engine), state_dir)
    r1 = engine.containers_["lab1-r1"]
    r1["State"] = {"Status": "exited", "Running": False, "Restarting": False, "Pid": 0, "ExitCode": 0}
    r1["NetworkSettings"]["Networks"]["lab1-lan1"]["IPAMConfig"]["IPv4Address"] = "100.64.1.9"
    engine.calls.clear()
    namespaces = Namespaces(engine)
    real = manager(engine, runner_factory=namespaces)
    present(real, state_dir)
    assert real.actions == {"r1": ["disconnect container lab1-r1 from network lab1-lan1",
                                   "connect container lab1-r1 to network lab1-lan1 (placeholder 100.64.1.3)",
                                   "start container lab1-r1"]}
    assert engine.calls == [("disconnect", "lab1-r1", "lab1-lan1"),
                            ("connect", "lab1-r1", "lab1-lan1", "100.64.1.3"), ("start", "lab1-r1")]
    assert all(r.commands == [] for r in namespaces.runners), "a converged node needs no command"


def test_present_converges_a_changed_plan_live(engine, tmp_path):
    state_dir = tmp_path / "state"
    present(manager(engine), state_dir)
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["h1"]["interfaces"]["eth0"]["ipv4"] = "192.168.1.77/24"
    check = manager(engine, check_mode=True)
    present(check, state_dir, plan=plan)
    namespaces = Namespaces(engine)  # the namespaces still hold the old plan
    real = manager(engine, runner_factory=namespaces)
    changed, nodes, diff = present(real, state_dir, plan=plan)
    assert check.actions == {
        "(lab)": ["write %s/lab1/plan.json" % state_dir],
        "h1": ["write %s/lab1/nodes/h1/netplan.json" % state_dir,
               "remove address 192.168.1.2/24 from eth0", "add address 192.168.1.77/24 to eth0",
               "add route 0.0.0.0/0 via 192.168.1.1"],
    }
    # A fake namespace does not change: the real run does not see the kernel drop the default route.
    assert real.actions == dict(check.actions, h1=check.actions["h1"][:3])
    h1 = next(r for r in namespaces.runners if r.addrs[1]["addr_info"][0]["local"] == "192.168.1.2")
    assert ["ip", "addr", "replace", "192.168.1.77/24", "dev", "eth0"] in h1.commands
    assert diff["before"]["nodes"]["h1"]["interfaces"]["interfaces"][0]["addresses"] == ["192.168.1.2/24"]


def test_present_refuses_before_changing_anything(engine, tmp_path):
    engine.containers_["lab1-r1"] = {"Id": "x", "Name": "/lab1-r1", "Image": IMAGE_ID,
                                     "Config": {"Labels": {"vnet.lab": "lab1-r1"}},
                                     "State": {"Status": "running", "Running": True, "Pid": 1}}
    engine.images = {}
    nodes = manager(engine)
    with pytest.raises(N.NodesError) as err:
        present(nodes, tmp_path / "state")
    assert str(err.value) == "image vnet/node:latest is not on the engine: build it first (role vnet.lab.images)"
    engine.images = {IMAGE: IMAGE_ID}
    with pytest.raises(N.NodesError) as err:
        present(nodes, tmp_path / "state")
    assert str(err.value) == ("container lab1-r1 exists but is not node r1 of lab lab1 (its labels:"
                              " vnet.lab=lab1-r1); remove or rename it")
    assert engine.calls == [] and not (tmp_path / "state").exists()


def test_present_reports_a_node_that_stops(engine, tmp_path):
    engine.fail_start["lab1-r2"] = 1
    with pytest.raises(N.NodesError) as err:
        present(manager(engine), tmp_path / "state")
    assert str(err.value) == (
        "node r2: container lab1-r2 stopped before it was ready (status exited, exit code 1):"
        " vnet-node-init: interface eth1 (placeholder 100.64.2.2) not found")
    assert engine.containers_["lab1-r1"]["State"]["Running"], "the other nodes were made"


def test_absent_removes_the_lab_only(engine, tmp_path):
    state_dir = tmp_path / "state"
    present(manager(engine), state_dir)
    engine.containers_["lab1-r1-dns"] = {"Id": "s", "Name": "/lab1-r1-dns", "Image": "x", "State": {},
                                         "Config": {"Labels": {"vnet.lab": "lab1", "vnet.node": "r1",
                                                               "vnet.service": "dns"}}}
    engine.containers_["lab1-x-r1"] = {"Id": "o", "Name": "/lab1-x-r1", "Image": "x", "State": {},
                                       "Config": {"Labels": {"vnet.lab": "lab1-x", "vnet.node": "r1"}}}
    engine.volumes_ = [{"Name": "lab1-r1-dns-data", "Labels": {"vnet.lab": "lab1"}},
                       {"Name": "lab1-x-r1-dns-data", "Labels": {"vnet.lab": "lab1-x"}}]
    engine.calls.clear()
    check = manager(engine, check_mode=True)
    check.absent(str(state_dir), keep_volumes=False)
    assert engine.calls == []
    real = manager(engine)
    changed, diff = real.absent(str(state_dir), keep_volumes=False)
    assert changed and real.actions == check.actions == {
        "(lab)": ["remove volume lab1-r1-dns-data", "remove %s/lab1" % state_dir],
        "h1": ["remove container lab1-h1"],
        "r1": ["remove container lab1-r1", "remove container lab1-r1-dns"],
        "r2": ["remove container lab1-r2"],
    }
    assert sorted(engine.containers_) == ["lab1-x-r1"] and not (state_dir / "lab1").exists()
    assert diff["before"]["containers"]["r1"] == ["lab1-r1", "lab1-r1-dns"]
    again = manager(engine)
    assert again.absent(str(state_dir), keep_volumes=True) == (False, {
        "before": {"containers": {}, "volumes": []}, "after": {"containers": {}, "volumes": []}})


class FakeSegments:
    """A lab's segments manager as vnet.lab.nodes gives it with remove_segments."""

    def __init__(self, engine, attached, check_mode):
        self.engine, self.attached, self.check_mode, self.actions, self.leaving = engine, attached, check_mode, [], None

    def absent(self, leaving=()):
        # A real run finds the containers gone; check mode, only predicted to go.
        self.leaving = set(leaving)
        still = sorted(name for name in self.attached if name in self.engine.containers_
                       and not (self.check_mode and name in leaving))
        if still:
            raise AssertionError("containers still attached: %s" % still)
        self.actions.append("remove network lab1-p2p")
        return True, {}, {"before": {"networks": [{"name": "lab1-p2p"}]}, "after": {"networks": []}}


@pytest.mark.parametrize("check_mode", [True, False])
def test_absent_removes_the_segments_once_the_containers_are_gone(engine, tmp_path, check_mode):
    state_dir = tmp_path / "state"
    present(manager(engine), state_dir)
    segments = FakeSegments(engine, ["lab1-r1", "lab1-r2"], check_mode)
    nodes = manager(engine, check_mode=check_mode)
    changed, diff = nodes.absent(str(state_dir), keep_volumes=True, segments=segments)
    assert changed and segments.leaving == {"lab1-h1", "lab1-r1", "lab1-r2"}
    assert nodes.actions["(lab)"] == ["remove network lab1-p2p", "remove %s/lab1" % state_dir]
    assert diff["before"]["networks"] == [{"name": "lab1-p2p"}] and diff["after"]["networks"] == []
    assert sorted(engine.containers_) == (["lab1-h1", "lab1-r1", "lab1-r2"] if check_mode else [])


def test_absent_removes_the_segments_while_the_services_go(engine, tmp_path):
    """The segments go as soon as the nodes (which hold them) are gone, not after the services: a
    service's removal here waits until the segments' removal began, and would wait in vain."""
    state_dir = tmp_path / "state"
    present(manager(engine), state_dir)
    engine.containers_["lab1-r1-dns"] = {"Id": "s", "Name": "/lab1-r1-dns", "Image": "x", "State": {},
                                         "HostConfig": {"NetworkMode": "container:lab1-r1"},
                                         "Config": {"Labels": {"vnet.lab": "lab1", "vnet.node": "r1",
                                                               "vnet.service": "dns"}}}
    engine.volumes_ = [{"Name": "lab1-r1-dns-data", "Labels": {"vnet.lab": "lab1"}}]
    began, removed = threading.Event(), []
    remove = engine.remove_container

    def remove_container(name, force=False):
        if name == "lab1-r1-dns":
            assert began.wait(10), "the segments waited for the services"
        remove(name, force=force)
        removed.append(name)

    engine.remove_container = remove_container

    class Segments(FakeSegments):
        def absent(self, leaving=()):
            began.set()
            self.nodes_left = sorted(n for n in ("lab1-h1", "lab1-r1", "lab1-r2") if n in self.engine.containers_)
            return super().absent(leaving)

    segments = Segments(engine, ["lab1-r1", "lab1-r2"], False)
    nodes = manager(engine)
    changed, diff = nodes.absent(str(state_dir), keep_volumes=False, segments=segments)
    assert changed and segments.nodes_left == [] and removed[-1] == "lab1-r1-dns"
    assert ("remove volume", "lab1-r1-dns-data") in engine.calls
    assert engine.calls.index(("remove volume", "lab1-r1-dns-data")) > engine.calls.index(("remove", "lab1-r1-dns"))
    assert nodes.actions["(lab)"] == ["remove network lab1-p2p", "remove volume lab1-r1-dns-data",
                                      "remove %s/lab1" % state_dir]
    assert sorted(engine.containers_) == []


def test_a_running_nodes_resolver_follows_its_plan_in_place(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 127.0.0.11\n")
    work = {"node": "h1", "netplan": {"dns": {"servers": ["10.0.0.2"], "search": ["lab1.test"]}},
            "attrs": {"ResolvConfPath": str(path)}}
    predicted = N.Nodes(None, "lab1", check_mode=True)
    predicted._resolver(work)
    assert predicted.actions == {"h1": ["write %s (the lab's DNS servers)" % path]}
    assert path.read_text() == "nameserver 127.0.0.11\n"
    real = N.Nodes(None, "lab1")
    real._resolver(work)
    assert real.actions == predicted.actions
    assert path.read_text().splitlines()[1:] == ["search lab1.test", "nameserver 10.0.0.2"]
    again = N.Nodes(None, "lab1")
    again._resolver(work)
    again._resolver(dict(work, netplan={}))
    assert again.actions == {}


def test_an_engine_view_runs_the_nodes_placed_on_its_engine_only(engine, tmp_path):
    state_dir = tmp_path / "state"
    placed = {"r1": "rpi1", "h1": "rpi1", "r2": "rpi2"}
    plan = dict(PLAN, engine="rpi1",
                nodes={name: dict(node, placement=placed[name]) for name, node in PLAN["nodes"].items()})
    # r2 ran here before it was placed on the other engine: it goes.
    engine.containers_["lab1-r2"] = {"Id": "id-lab1-r2", "Name": "/lab1-r2", "Image": IMAGE_ID,
                                     "Config": {"Labels": {"vnet.lab": "lab1", "vnet.node": "r2"}},
                                     "State": {"Status": "running", "Running": True, "Pid": 1}}
    real = manager(engine)
    changed, nodes, diff = present(real, state_dir, plan)
    assert changed and sorted(nodes) == ["h1", "r1"]
    assert real.actions["r2"] == ["remove container lab1-r2 (node placed on rpi2)"]
    assert sorted(engine.containers_) == ["lab1-h1", "lab1-r1"]
    assert json.loads((state_dir / "lab1" / "plan.json").read_text())["engine"] == "rpi1"
