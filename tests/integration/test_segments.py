# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.segments against this machine's Docker Engine, through ansible-playbook.

Every change task is run in check mode first (its prediction is compared with the real run),
then for real, then again (asserted not changed). Two labs whose names share a prefix carry the
same segments side by side. Networks and containers are labelled vnet.lab=<a lab of this run>
and removed by label at the end, whatever happened.
"""

from __future__ import annotations

import ipaddress
import json
import os
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
BRIDGE_OPTIONS = {"com.docker.network.bridge.inhibit_ipv4": "true",
                  "com.docker.network.bridge.enable_ip_masquerade": "false"}
SEGMENTS = {
    "lan1": {"type": "lan", "ipv4": "192.168.1.0/24", "ipv6": None, "endpoints": ["r1:eth1", "h1:eth1"],
             "mtu": None, "link": {"type": "bridge"}},
    "lan2": {"type": "lan", "ipv4": "192.168.1.0/24", "ipv6": None, "endpoints": ["h2:eth1", "r1:eth2"],
             "mtu": 1400, "link": {"type": "bridge"}},
    "r1-eth3": {"type": "p2p", "ipv4": "10.1.0.0/30", "ipv6": None, "endpoints": ["r1:eth3", "r2:eth1"],
                "mtu": None, "link": {"type": "bridge"}},
}


# --- running ansible ----------------------------------------------------------------------------

def ensure_collection_link():
    link = ROOT / ".collections" / "ansible_collections" / "vnet" / "lab"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../..")


def run_tasks(tmp_path, name, tasks):
    """Run ``tasks`` on localhost; return {task name: result}. Fails with Ansible's output."""
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
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


def segments_task(name, lab, segments=None, state="present", check=False, pool=None, **extra):
    args = {"lab": lab, "state": state}
    if segments is not None:
        args["segments"] = segments
    if pool is not None:
        args["placeholder_pool"] = pool
    task = {"name": name, "vnet.lab.segments": args, "register": "r", "check_mode": check, "diff": True}
    task.update(extra)
    return task


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    ensure_collection_link()
    return client


def remove_labs(client, labs):
    for lab in labs:
        for container in client.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab}):
            container.remove(force=True)
        for network in client.networks.list(filters={"label": "vnet.lab=%s" % lab}):
            device = network.attrs.get("Labels", {}).get("vnet.vxlan")
            if device:
                subprocess.run(["ip", "link", "del", "dev", device], capture_output=True, check=False)
            network.remove()


@pytest.fixture(scope="module")
def labs(engine):
    run = uuid.uuid4().hex[:6]
    # "a" and "a-b": one lab's name is a prefix of the other's.
    names = {"a": "t2s%s" % run, "b": "t2s%s-b" % run, "c": "t2s%sc" % run}
    try:
        yield names
    finally:
        remove_labs(engine, names.values())


def network(client, name):
    return client.api.inspect_network(name)


# --- tests --------------------------------------------------------------------------------------

def test_two_labs_side_by_side(tmp_path, engine, labs):
    a, b = labs["a"], labs["b"]
    tasks = []
    # A pool of their own: the check's predicted placeholders are the run's only when no other test
    # takes a subnet of the pool in between (the default pool is everyone's).
    pool = "100.124.0.0/16"
    for key, lab in (("a", a), ("b", b)):
        tasks += [
            segments_task("%s check" % key, lab, SEGMENTS, check=True, pool=pool),
            segments_task("%s create" % key, lab, SEGMENTS, pool=pool),
            segments_task("%s again" % key, lab, SEGMENTS, pool=pool),
            segments_task("%s check again" % key, lab, SEGMENTS, check=True, pool=pool),
        ]
    results = run_tasks(tmp_path, "side_by_side", tasks)

    for key, lab in (("a", a), ("b", b)):
        check, create, again = results["%s check" % key], results["%s create" % key], results["%s again" % key]
        assert check["changed"] and create["changed"]
        assert check["segments"] == create["segments"], "check mode predicted other subnets"
        assert check["actions"] == create["actions"]
        assert check["diff"] == create["diff"]
        assert not again["changed"] and again["actions"] == []
        assert again["segments"] == create["segments"]
        assert not results["%s check again" % key]["changed"]
        assert sorted(create["segments"]) == sorted(SEGMENTS)
        assert create["actions"] == ["create network %s-%s (bridge, placeholder %s)"
                                     % (lab, name, create["segments"][name]["subnet"])
                                     for name in sorted(SEGMENTS)]
        for name, segment in create["segments"].items():
            subnet = ipaddress.ip_network(segment["subnet"])
            assert segment["network"] == "%s-%s" % (lab, name)
            assert subnet.subnet_of(ipaddress.ip_network("100.64.0.0/10")) and subnet.prefixlen == 24
            ordered = sorted(SEGMENTS[name]["endpoints"], key=lambda e: tuple(e.split(":")))
            assert segment["endpoints"] == {e: str(subnet.network_address + i + 2) for i, e in enumerate(ordered)}
            attrs = network(engine, segment["network"])
            assert attrs["Driver"] == "bridge" and not attrs["Internal"]
            assert attrs["Labels"]["vnet.lab"] == lab and attrs["Labels"]["vnet.segment"] == name
            wanted = dict(BRIDGE_OPTIONS)
            if SEGMENTS[name]["mtu"]:
                wanted["com.docker.network.driver.mtu"] = str(SEGMENTS[name]["mtu"])
            assert attrs["Options"] == wanted
            assert attrs["IPAM"]["Config"] == [{"Subnet": str(subnet), "Gateway": str(subnet.network_address + 1)}]
            # The host is quiet on the lab's wire: no ARP answer, no IPv6 address of its own.
            bridge = Path("/proc/sys/net")
            quiet = {key: (bridge / family / "conf" / ("br-" + attrs["Id"][:12]) / key).read_text().strip()
                     for family, key in (("ipv4", "arp_ignore"), ("ipv4", "arp_announce"), ("ipv6", "disable_ipv6"))}
            assert quiet == {"arp_ignore": "1", "arp_announce": "2", "disable_ipv6": "1"}, segment["network"]

    # Placeholders overlap no other network of the engine, this run's or anybody's.
    mine = {s["network"] for key in ("a", "b") for s in results["%s create" % key]["segments"].values()}
    subnets = []
    for attrs in engine.api.networks():
        for config in (attrs.get("IPAM") or {}).get("Config") or []:
            net = ipaddress.ip_network(config["Subnet"], strict=False)
            if net.version == 4:
                subnets.append((attrs["Name"], net))
    for name, net in subnets:
        if name not in mine:
            continue
        clashes = [other for other, onet in subnets if other != name and onet.overlaps(net)]
        assert clashes == [], "%s (%s) overlaps %s" % (name, net, clashes)

    # Removing lab a (one segment, then all) leaves lab b, whose name it prefixes, alone.
    results = run_tasks(tmp_path, "absent", [
        segments_task("a absent lan2 check", a, {"lan2": {}}, state="absent", check=True),
        segments_task("a absent lan2", a, {"lan2": {}}, state="absent"),
        segments_task("a absent lan2 again", a, {"lan2": {}}, state="absent"),
        segments_task("a absent check", a, state="absent", check=True),
        segments_task("a absent", a, state="absent"),
        segments_task("a absent again", a, state="absent"),
    ])
    assert results["a absent lan2 check"]["actions"] == results["a absent lan2"]["actions"] == [
        "remove network %s-lan2" % a]
    assert results["a absent lan2 check"]["diff"] == results["a absent lan2"]["diff"]
    assert not results["a absent lan2 again"]["changed"]
    assert results["a absent check"]["actions"] == results["a absent"]["actions"] == [
        "remove network %s-lan1" % a, "remove network %s-r1-eth3" % a]
    assert results["a absent"]["changed"] and not results["a absent again"]["changed"]
    assert engine.networks.list(filters={"label": "vnet.lab=%s" % a}) == []
    assert sorted(n.name for n in engine.networks.list(filters={"label": "vnet.lab=%s" % b})) == [
        "%s-%s" % (b, name) for name in sorted(SEGMENTS)]


def test_recreate_conflicts_and_macvlan(tmp_path, engine, labs):
    c = labs["c"]
    try:
        engine.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip("the base image %s is not on this engine" % BASE_IMAGE)
    lan = {"lan1": {"endpoints": ["h1:eth1"], "mtu": None, "link": {"type": "bridge"}}}
    lan_mtu = {"lan1": {"endpoints": ["h1:eth1"], "mtu": 1400, "link": {"type": "bridge"}}}
    results = run_tasks(tmp_path, "recreate", [
        segments_task("create", c, lan),
        {"name": "container on lan1", "community.docker.docker_container": {
            "name": "%s-h1" % c, "image": BASE_IMAGE, "command": ["sleep", "infinity"], "init": True,
            "labels": {"vnet.lab": c}, "pull": "never",
            "networks": [{"name": "{{ r.segments.lan1.network }}",
                          "ipv4_address": "{{ r.segments.lan1.endpoints['h1:eth1'] }}"}]}},
        segments_task("mtu with container", c, lan_mtu, ignore_errors=True),
        {"name": "remove container", "community.docker.docker_container": {"name": "%s-h1" % c, "state": "absent"}},
        segments_task("mtu check", c, lan_mtu, check=True),
        segments_task("mtu", c, lan_mtu),
        segments_task("mtu again", c, lan_mtu),
        {"name": "alien network", "community.docker.docker_network": {
            "name": "%s-alien" % c, "labels": {"vnet.lab": c, "vnet.segment": "other"}}},
        segments_task("alien", c, {"alien": {}}, ignore_errors=True),
        segments_task("macvlan missing parent", c,
                      {"up": {"link": {"type": "macvlan", "parent": "t2nosuchif"}}}, ignore_errors=True),
        {"name": "bridge of lan1", "community.docker.docker_network_info": {"name": "%s-lan1" % c},
         "register": "info"},
        segments_task("macvlan check", c, {"up": {"endpoints": ["x:eth1"],
                                                  "link": {"type": "macvlan", "parent": "br-{{ info.network.Id[:12] }}"}}},
                      check=True),
        segments_task("macvlan", c, {"up": {"endpoints": ["x:eth1"],
                                            "link": {"type": "macvlan", "parent": "br-{{ info.network.Id[:12] }}"}}}),
        segments_task("macvlan again", c, {"up": {"endpoints": ["x:eth1"],
                                                  "link": {"type": "macvlan", "parent": "br-{{ info.network.Id[:12] }}"}}}),
    ])
    subnet = results["create"]["segments"]["lan1"]["subnet"]
    conflict = results["mtu with container"]
    assert conflict["failed"]
    assert conflict["msg"] == (
        "network %s-lan1 differs from segment lan1 (option com.docker.network.driver.mtu is unset, wanted 1400)"
        " but containers are attached to it (%s-h1): remove them first" % (c, c))
    assert results["mtu check"]["actions"] == results["mtu"]["actions"] == [
        "re-create network %s-lan1 (option com.docker.network.driver.mtu is unset, wanted 1400)" % c]
    assert results["mtu"]["segments"]["lan1"]["subnet"] == subnet, "the subnet is kept"
    assert not results["mtu again"]["changed"]
    assert network(engine, "%s-lan1" % c)["Options"]["com.docker.network.driver.mtu"] == "1400"
    assert results["alien"]["msg"] == (
        "network %s-alien exists but is not segment alien of lab %s (its labels: vnet.lab=%s,"
        " vnet.segment=other); remove or rename it" % (c, c, c))
    assert results["macvlan missing parent"]["msg"] == (
        "segment up: macvlan parent interface t2nosuchif does not exist on the Docker host")
    assert results["macvlan check"]["segments"] == results["macvlan"]["segments"]
    assert results["macvlan"]["changed"] and not results["macvlan again"]["changed"]
    attrs = network(engine, "%s-up" % c)
    assert attrs["Driver"] == "macvlan"
    assert attrs["Options"]["parent"] == "br-" + results["bridge of lan1"]["network"]["Id"][:12]
