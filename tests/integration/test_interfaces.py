# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.interfaces against real containers of this machine's Docker Engine.

One lab, made as the roles make it: segments from vnet.lab.segments, containers joined to them
with their placeholder addresses, each node's plan from the vnet.lab.node_netplan filter, applied
by vnet.lab.interfaces (check mode, real, again: not changed). Then pings over the planned
addresses: across a router (IPv4 and IPv6, to its loopback too), and between two pairs of
containers that use the SAME prefix and addresses on two segments. A node restarted by Docker
(placeholders back, ethN order Docker's) is brought back by a second run. Finally a plain
network namespace (`netns`), with a veth pair made inside namespaces of the test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BASE_IMAGE = "vnet/base:bookworm"
TEST_IMAGE = "vnet/test-node"
DOCKERFILE = """\
FROM %s
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      iproute2 iputils-ping python3-minimal >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
""" % BASE_IMAGE


def iface(segment, ipv4, ipv6=None, mtu=None):
    return {"segment": segment, "ipv4": ipv4, "ipv6": ipv6, "dhcp": False, "mtu": mtu}


def host(gw4, gw6, **interfaces):
    return {"kind": "host", "loopback": None, "gateway": {"ipv4": gw4, "ipv6": gw6},
            "interfaces": interfaces, "routes": []}


def segment(*endpoints, mtu=None):
    return {"type": "lan", "ipv4": None, "ipv6": None, "endpoints": sorted(endpoints), "mtu": mtu,
            "link": {"type": "bridge"}}


# The plan as vnet.lab.address_plan gives it (only what the modules read is filled in).
PLAN = {
    "name": None,
    "routing": "static",
    "nodes": {
        "r1": {"kind": "router", "loopback": {"ipv4": "10.255.0.1/32", "ipv6": "fd00:255::1/128"},
               "gateway": {"ipv4": None, "ipv6": None},
               "interfaces": {"eth1": iface("net1", "10.0.1.1/24", "2001:db8:1::1/64"),
                              "eth2": iface("net2", "10.0.2.1/24", "2001:db8:2::1/64")},
               "routes": []},
        "h1": host("10.0.1.1", "2001:db8:1::1", eth1=iface("net1", "10.0.1.10/24", "2001:db8:1::10/64")),
        "h2": host("10.0.2.1", "2001:db8:2::1", eth1=iface("net2", "10.0.2.10/24", "2001:db8:2::10/64")),
        # Same prefix, same addresses, on two segments: .1 is a container.
        "a1": host(None, None, eth1=iface("same1", "192.168.1.1/24")),
        "a2": host(None, None, eth1=iface("same1", "192.168.1.2/24")),
        "b1": host(None, None, eth1=iface("same2", "192.168.1.1/24")),
        "b2": host(None, None, eth1=iface("same2", "192.168.1.2/24")),
    },
    "segments": {
        "net1": segment("h1:eth1", "r1:eth1"),
        "net2": segment("h2:eth1", "r1:eth2", mtu=1400),
        "same1": segment("a1:eth1", "a2:eth1"),
        "same2": segment("b1:eth1", "b2:eth1"),
    },
}
# h2 is created without the sysctl, as Docker 20.10 leaves it: IPv6 disabled; the module enables it.
NO_IPV6_SYSCTL = {"h2"}


# --- running ansible (as in test_segments.py) -----------------------------------------------------

def ensure_collection_link():
    link = ROOT / ".collections" / "ansible_collections" / "vnet" / "lab"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../..")


def run_tasks(tmp_path, name, tasks, variables=None):
    """Run ``tasks`` on localhost; return {task name: result}. Fails with Ansible's output."""
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "vars": variables or {},
             "tasks": tasks}]
    path = tmp_path / ("%s.yml" % name)
    path.write_text(json.dumps(play, indent=1))  # JSON is YAML
    env = dict(os.environ, ANSIBLE_CONFIG=str(HERE / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(path)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON (rc %d):\n%s\n%s"
                    % (proc.returncode, proc.stdout, proc.stderr))
    results = {}
    for task in output["plays"][0]["tasks"]:
        results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    if proc.returncode != 0:
        failed = {k: v for k, v in results.items() if v.get("failed") and not v.get("ignore_errors")}
        pytest.fail("ansible-playbook failed (rc %d): %s\n%s"
                    % (proc.returncode, json.dumps(failed, indent=1)[:20000], proc.stderr[-5000:]))
    return results


def interfaces_task(name, nodes, check=False, diff=False, **extra):
    task = {
        "name": name,
        "vnet.lab.interfaces": {
            "container": "{{ plan.name }}-{{ item }}",
            "interfaces": "{{ netplan.interfaces }}",
            "loopback": "{{ netplan.loopback }}",
            "routes": "{{ netplan.routes }}",
            "forwarding": "{{ netplan.forwarding }}",
        },
        "vars": {"netplan": "{{ plan | vnet.lab.node_netplan(item, segments) }}"},
        "loop": list(nodes),
        "check_mode": check,
        "diff": diff,
    }
    task.update(extra)
    return task


def by_node(result):
    return {entry["item"]: entry for entry in result["results"]}


# --- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    ensure_collection_link()
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        try:
            client.images.get(BASE_IMAGE)
        except docker.errors.ImageNotFound:
            pytest.skip("neither %s nor its base %s is on this engine" % (TEST_IMAGE, BASE_IMAGE))
        client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=TEST_IMAGE, rm=True)
    return client


@pytest.fixture(scope="module")
def lab(engine, tmp_path_factory):
    """The lab up: segments, containers, node plans applied. Yields (name, results, segments)."""
    name = "t2i%s" % uuid.uuid4().hex[:6]
    plan = dict(PLAN, name=name)
    tmp_path = tmp_path_factory.mktemp("interfaces")
    try:
        made = run_tasks(tmp_path, "segments", [
            {"name": "segments", "vnet.lab.segments": {"lab": name, "segments": plan["segments"]},
             "register": "r"}])
        segments = made["segments"]["segments"]
        containers = []
        for node, entry in sorted(plan["nodes"].items()):
            networks = [{"name": segments[i["segment"]]["network"],
                         "ipv4_address": segments[i["segment"]]["endpoints"]["%s:%s" % (node, ifname)]}
                        for ifname, i in sorted(entry["interfaces"].items())]
            # Without duplicate address detection, as vnet.lab.nodes makes its nodes
            # (_lab.node_sysctls): a restarted node resolves its IPv6 neighbours at once.
            sysctls = {} if node in NO_IPV6_SYSCTL else dict(
                {"net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.all.accept_dad": "0",
                 "net.ipv6.conf.default.accept_dad": "0"},
                **{"net.ipv6.conf.eth%d.accept_dad" % index: "0" for index in range(len(networks))})
            containers.append({"name": "%s-%s" % (name, node), "networks": networks, "sysctls": sysctls,
                               "node": node})
        nodes = sorted(plan["nodes"])
        results = run_tasks(tmp_path, "nodes", [
            {"name": "containers", "community.docker.docker_container": {
                "name": "{{ item.name }}", "image": TEST_IMAGE, "pull": "never", "init": True,
                "command": ["sleep", "infinity"], "capabilities": ["NET_ADMIN"],
                "sysctls": "{{ item.sysctls }}", "networks": "{{ item.networks }}",
                "labels": {"vnet.lab": name, "vnet.node": "{{ item.node }}"}},
             "loop": containers},
            interfaces_task("check", nodes, check=True, diff=True),
            interfaces_task("apply", nodes, diff=True),
            interfaces_task("again", nodes),
            interfaces_task("check again", nodes, check=True),
            {"name": "a2 info", "community.docker.docker_container_info": {"name": "{{ plan.name }}-a2"},
             "register": "a2"},
            {"name": "by pid", "vnet.lab.interfaces": {
                "pid": "{{ a2.container.State.Pid }}",
                "interfaces": "{{ netplan.interfaces }}", "routes": "{{ netplan.routes }}"},
             "vars": {"netplan": "{{ plan | vnet.lab.node_netplan('a2', segments) }}"}},
            {"name": "missing interface", "ignore_errors": True, "vnet.lab.interfaces": {
                "container": "{{ plan.name }}-a1",
                "interfaces": {"eth9": {"placeholder": "100.127.255.254", "ipv4": "10.9.9.9/24"}}}},
        ], variables={"plan": plan, "segments": segments})
        yield name, results, segments
    finally:
        for container in engine.containers.list(all=True, filters={"label": "vnet.lab=%s" % name}):
            container.remove(force=True)
        for network in engine.networks.list(filters={"label": "vnet.lab=%s" % name}):
            network.remove()


def exec_in(engine, container, *command):
    result = engine.containers.get(container).exec_run(list(command))
    return result.exit_code, result.output.decode(errors="replace")


def ping(engine, container, address):
    family = "-6" if ":" in address else "-4"
    code, output = exec_in(engine, container, "ping", family, "-c", "1", "-W", "2", address)
    assert code == 0, "%s cannot ping %s:\n%s" % (container, address, output)


def addresses(engine, container):
    code, output = exec_in(engine, container, "ip", "-j", "addr", "show")
    assert code == 0, output
    return {entry["ifname"]: sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in entry["addr_info"]
                                    if a.get("scope") != "link")
            for entry in json.loads(output)}


# --- tests ------------------------------------------------------------------------------------------

def test_check_mode_predicts_and_second_run_is_unchanged(lab):
    dummy, results, segments = lab
    check, apply, again = by_node(results["check"]), by_node(results["apply"]), by_node(results["again"])
    for node in PLAN["nodes"]:
        assert apply[node]["changed"], node
        assert check[node]["actions"] == apply[node]["actions"], node
        assert check[node]["diff"] == apply[node]["diff"], node
        assert not again[node]["changed"] and again[node]["actions"] == [], (node, again[node]["actions"])
    assert not results["check again"]["changed"]
    assert not results["by pid"]["changed"]
    placeholder = segments["net1"]["endpoints"]["r1:eth1"]
    subnet_len = segments["net1"]["subnet"].split("/")[1]
    assert apply["r1"]["actions"][:2] == [
        "rename eth1 to eth2 (placeholder %s)" % segments["net2"]["endpoints"]["r1:eth2"],
        "rename eth0 to eth1 (placeholder %s)" % placeholder,
    ]
    assert "remove address %s/%s from eth1" % (placeholder, subnet_len) in apply["r1"]["actions"]
    assert "enable IPv6 on eth1" in apply["h2"]["actions"]
    assert "enable IPv6 on eth1" not in apply["h1"]["actions"]
    assert apply["h1"]["actions"][-3:] == ["add route 0.0.0.0/0 via 10.0.1.1", "add route ::/0 via 2001:db8:1::1",
                                           "set net.ipv4.ip_forward to 0 (was 1)"]
    assert apply["r1"]["diff"]["after"]["interfaces"] == [
        {"name": "eth1", "mtu": 1500, "addresses": ["10.0.1.1/24", "2001:db8:1::1/64"]},
        {"name": "eth2", "mtu": 1400, "addresses": ["10.0.2.1/24", "2001:db8:2::1/64"]},
        {"name": "lo", "mtu": 65536, "addresses": ["10.255.0.1/32", "127.0.0.1/8", "::1/128", "fd00:255::1/128"]},
    ]
    assert apply["h1"]["diff"]["after"]["routes"] == [
        "0.0.0.0/0 via 10.0.1.1 dev eth1 proto static", "::/0 via 2001:db8:1::1 dev eth1 proto static metric 1024"]
    assert apply["h1"]["diff"]["after"]["forwarding"] == {"net.ipv4.ip_forward": "0",
                                                          "net.ipv6.conf.all.forwarding": "0"}


def test_missing_interface_fails_naming_it(lab):
    results = lab[1]
    assert results["missing interface"]["failed"]
    assert results["missing interface"]["msg"] == (
        "interface eth9 (placeholder 100.127.255.254) not found: no link carries the placeholder or is named eth9")


def test_state_inside_the_containers(engine, lab):
    name = lab[0]
    assert addresses(engine, "%s-r1" % name) == {
        "lo": ["10.255.0.1/32", "127.0.0.1/8", "::1/128", "fd00:255::1/128"],
        "eth1": ["10.0.1.1/24", "2001:db8:1::1/64"],
        "eth2": ["10.0.2.1/24", "2001:db8:2::1/64"],
    }
    assert addresses(engine, "%s-h2" % name)["eth1"] == ["10.0.2.10/24", "2001:db8:2::10/64"]
    code, output = exec_in(engine, "%s-h1" % name, "ip", "route", "show", "default")
    assert code == 0 and output.strip() == "default via 10.0.1.1 dev eth1 proto static"


def test_ping_across_the_router(engine, lab):
    name = lab[0]
    for address in ("10.0.1.1", "10.0.2.10", "10.255.0.1", "2001:db8:1::1", "2001:db8:2::10", "fd00:255::1"):
        ping(engine, "%s-h1" % name, address)
    ping(engine, "%s-h2" % name, "2001:db8:1::10")


def test_same_prefix_on_two_segments(engine, lab):
    name = lab[0]
    ping(engine, "%s-a2" % name, "192.168.1.1")
    ping(engine, "%s-b2" % name, "192.168.1.1")
    ping(engine, "%s-a1" % name, "192.168.1.2")
    ping(engine, "%s-b1" % name, "192.168.1.2")

    def mac(container):
        return exec_in(engine, container, "cat", "/sys/class/net/eth1/address")[1].strip()

    def neighbour(container, address):
        return json.loads(exec_in(engine, container, "ip", "-j", "neigh", "show", address)[1])[0]["lladdr"]

    # Each .2 reached its own segment's .1, not the other one.
    assert neighbour("%s-a2" % name, "192.168.1.1") == mac("%s-a1" % name)
    assert neighbour("%s-b2" % name, "192.168.1.1") == mac("%s-b1" % name)
    assert mac("%s-a1" % name) != mac("%s-b1" % name)


def test_restarted_node_is_brought_back(engine, lab, tmp_path):
    name, dummy, segments = lab
    engine.containers.get("%s-r1" % name).restart(timeout=2)
    plan = dict(PLAN, name=name)
    results = run_tasks(tmp_path, "restart", [
        interfaces_task("reapply", ["r1"]),
        interfaces_task("reapply again", ["r1"]),
    ], variables={"plan": plan, "segments": segments})
    assert by_node(results["reapply"])["r1"]["changed"]
    assert not by_node(results["reapply again"])["r1"]["changed"]
    ping(engine, "%s-h1" % name, "10.0.2.10")
    ping(engine, "%s-h1" % name, "2001:db8:2::10")


@pytest.fixture
def namespaces(engine):
    """Two network namespaces of this test joined by a veth pair made inside them."""
    run = uuid.uuid4().hex[:6]
    left, right = "t2n%sl" % run, "t2n%sr" % run

    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    try:
        ip("netns", "add", left)
        ip("netns", "add", right)
        ip("-n", left, "link", "add", "t2v0", "type", "veth", "peer", "name", "t2v1", "netns", right)
        ip("-n", left, "addr", "add", "100.127.77.2/24", "dev", "t2v0")
        ip("-n", left, "link", "set", "t2v0", "up")
        yield left, right
    finally:
        for ns in (left, right):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_named_network_namespace(tmp_path, namespaces):
    left, right = namespaces
    plan_left = {"interfaces": {"up0": {"placeholder": "100.127.77.2", "ipv4": "10.77.0.1/30", "mtu": 1400}},
                 "loopback": {"ipv4": "10.77.255.1/32"}, "routes": [{"dst": "10.78.0.0/16", "via": "10.77.0.2"}],
                 "forwarding": True}
    plan_right = {"interfaces": {"t2v1": {"ipv4": "10.77.0.2/30"}}, "forwarding": False}

    def task(name, netns, plan, check=False):
        return {"name": name, "check_mode": check, "diff": True,
                "vnet.lab.interfaces": dict({"netns": netns}, **plan)}

    def forwarding(netns):
        return subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/sys/net/ipv4/ip_forward",
                               "/proc/sys/net/ipv6/conf/all/forwarding"],
                              capture_output=True, text=True, check=True).stdout.split()

    # A new namespace copies IPv4 forwarding from the host's and starts IPv6 forwarding at 0.
    expected_left = ["set %s to 1 (was %s)" % (name, value)
                     for name, value in zip(("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"), forwarding(left))
                     if value != "1"]
    expected_right = ["set %s to 0 (was %s)" % (name, value)
                      for name, value in zip(("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"),
                                             forwarding(right))
                      if value != "0"]
    results = run_tasks(tmp_path, "netns", [
        task("left check", left, plan_left, check=True),
        task("left", left, plan_left),
        task("left again", left, plan_left),
        task("right", right, plan_right),
        task("right again", right, plan_right),
    ])
    assert results["left check"]["actions"] == results["left"]["actions"] == [
        "rename t2v0 to up0 (placeholder 100.127.77.2)",
        "set mtu of up0 to 1400 (was 1500)",
        "set lo up",
        "remove address 100.127.77.2/24 from up0",
        "add address 10.77.0.1/30 to up0",
        "add address 10.77.255.1/32 to lo",
        "add route 10.78.0.0/16 via 10.77.0.2",
    ] + expected_left
    assert results["right"]["actions"] == ["set t2v1 up", "set lo up", "add address 10.77.0.2/30 to t2v1"
                                           ] + expected_right
    assert not results["left again"]["changed"] and not results["right again"]["changed"]
    assert forwarding(left) == ["1", "1"] and forwarding(right) == ["0", "0"]
    assert results["left"]["netns"] == "/run/netns/%s" % left
    out = subprocess.run(["ip", "-n", left, "-j", "route", "show", "10.78.0.0/16"], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == [{"dst": "10.78.0.0/16", "gateway": "10.77.0.2", "dev": "up0", "protocol": "static",
                                "flags": []}]


@pytest.fixture
def underlay(engine):
    """A plain Docker bridge network of this test (the host holds its gateway address) and a far-end
    container on it: the two ends of a VXLAN tunnel that never leaves this machine."""
    run = uuid.uuid4().hex[:6]
    lab = "t2v%s" % run
    try:
        net = engine.networks.create("%s-underlay" % lab, driver="bridge", labels={"vnet.lab": lab},
                                     options={"com.docker.network.bridge.name": "t2u%s" % run})
        far = engine.containers.run(TEST_IMAGE, ["sleep", "infinity"], name="%s-far" % lab, detach=True,
                                    init=True, cap_add=["NET_ADMIN"], network=net.name,
                                    labels={"vnet.lab": lab})
        net.reload()
        far.reload()
        gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
        far_ip = far.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        yield {"lab": lab, "bridge": "t2u%s" % run, "gateway": gateway, "far": far.name, "far_ip": far_ip}
    finally:
        for container in engine.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab}):
            container.remove(force=True)
        for network in engine.networks.list(filters={"label": "vnet.lab=%s" % lab}):
            device = network.attrs.get("Labels", {}).get("vnet.vxlan")
            if device:
                subprocess.run(["ip", "link", "del", "dev", device], capture_output=True, check=False)
            network.remove()


def test_vxlan_segment(engine, underlay, tmp_path):
    lab, vni, port = underlay["lab"], 4242, 47000 + uuid.uuid4().int % 1000
    code, output = exec_in(engine, underlay["far"], "sh", "-c",
                           "ip link add vx0 type vxlan id %d remote %s local %s dstport %d dev eth0"
                           " && ip addr add 192.168.7.2/24 dev vx0 && ip link set vx0 up"
                           % (vni, underlay["gateway"], underlay["far_ip"], port))
    assert code == 0, output
    segments = {"wan": {"endpoints": ["n1:eth1"], "mtu": None, "link": {
        "type": "vxlan", "vni": vni, "remote": underlay["far_ip"], "local": underlay["gateway"], "port": port,
        "dev": underlay["bridge"]}}}
    netplan = {"eth1": {"placeholder": "{{ r.segments.wan.endpoints['n1:eth1'] }}", "ipv4": "192.168.7.1/24"}}
    results = run_tasks(tmp_path, "vxlan", [
        {"name": "check", "vnet.lab.segments": {"lab": lab, "segments": segments}, "check_mode": True},
        {"name": "create", "vnet.lab.segments": {"lab": lab, "segments": segments}, "register": "r"},
        {"name": "again", "vnet.lab.segments": {"lab": lab, "segments": segments}},
        {"name": "node", "community.docker.docker_container": {
            "name": "%s-n1" % lab, "image": TEST_IMAGE, "pull": "never", "init": True,
            "command": ["sleep", "infinity"], "capabilities": ["NET_ADMIN"], "labels": {"vnet.lab": lab},
            "networks": [{"name": "{{ r.segments.wan.network }}",
                          "ipv4_address": "{{ r.segments.wan.endpoints['n1:eth1'] }}"}]}},
        {"name": "interfaces", "vnet.lab.interfaces": {"container": "%s-n1" % lab, "interfaces": netplan}},
    ])
    ident = hashlib.sha1(("%s/wan" % lab).encode()).hexdigest()[:10]
    device, bridge = "vxt" + ident, "vx" + ident
    # The placeholder subnet is the first free one of a pool other tests draw from at the same time:
    # the check's choice and the run's may differ by what others took in between.
    free = [[re.sub(r"placeholder [0-9.]+/[0-9]+", "placeholder <free /24>", a) for a in results[run]["actions"]]
            for run in ("check", "create")]
    assert free[0] == free[1]
    assert results["create"]["actions"][-1] == "create vxlan device %s (vni %d, remote %s) in bridge %s" % (
        device, vni, underlay["far_ip"], bridge)
    assert not results["again"]["changed"]
    link = json.loads(subprocess.run(["ip", "-j", "-d", "link", "show", "dev", device], capture_output=True,
                                     text=True, check=True).stdout)[0]
    assert link["master"] == bridge and "UP" in link["flags"]
    assert link["linkinfo"]["info_data"]["id"] == vni
    ping(engine, "%s-n1" % lab, "192.168.7.2")

    results = run_tasks(tmp_path, "vxlan_absent", [
        {"name": "node gone", "community.docker.docker_container": {"name": "%s-n1" % lab, "state": "absent"}},
        {"name": "absent", "vnet.lab.segments": {"lab": lab, "segments": {"wan": {}}, "state": "absent"}},
        {"name": "absent again", "vnet.lab.segments": {"lab": lab, "segments": {"wan": {}}, "state": "absent"}},
    ])
    assert results["absent"]["actions"] == ["remove vxlan device %s" % device, "remove network %s-wan" % lab]
    assert not results["absent again"]["changed"]
    assert subprocess.run(["ip", "link", "show", "dev", device], capture_output=True, check=False).returncode != 0
