# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.nodes against this machine's Docker Engine, through ansible-playbook.

One lab goes through its life: up (check mode first, then for real, then again: not changed), an
interface address changed (converged live, the container kept), a node added and removed, a
`docker restart` of a node, and down, next to a second lab whose name the first one's prefixes and
whose prefixes are the same. A restart of the Docker daemon is a test of its own, among the fault
tests (`make test-faults`; only with VNET_TEST_DAEMON_RESTART=1: it stops every container of the
engine, other people's included). Traffic only flows between the
containers of this test. Everything labelled with a lab of this run is removed at the end.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE_IMAGE = "vnet/node:latest"

# Two routers, a LAN behind each; static routes from the plan.
TOPOLOGY = {
    "routing": "static",
    "addressing": {"lan": {"ipv4": "192.168.0.0/16", "prefix": 24}, "p2p": {"ipv4": "10.1.0.0/24", "prefix": 30},
                   "loopback": {"ipv4": "10.0.0.0/24"}},
    "nodes": {"r1": {"kind": "router"}, "r2": {"kind": "router"}, "h1": {"kind": "host"}, "h2": {"kind": "host"}},
    "links": [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"name": "lan1", "endpoints": ["r1:eth2", "h1:eth0"]},
        {"name": "lan2", "endpoints": ["r2:eth2", "h2:eth0"]},
    ],
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


def up_tasks(key, topology, state_dir, check=True, again=True):
    """Plan, segments, then the nodes: in check mode, for real, and again."""
    nodes = {"lab": topology["name"], "plan": "{{ plan_%s.plan }}" % key,
             "segments": "{{ segments_%s.segments }}" % key, "state_dir": str(state_dir)}
    tasks = [
        {"name": "%s plan" % key, "vnet.lab.address_plan": {"topology": topology}, "register": "plan_%s" % key},
        {"name": "%s segments" % key, "vnet.lab.segments": {"lab": topology["name"],
                                                            "segments": "{{ plan_%s.plan.segments }}" % key},
         "register": "segments_%s" % key},
    ]
    if check:
        tasks.append({"name": "%s check" % key, "vnet.lab.nodes": nodes, "check_mode": True, "diff": True})
    tasks.append({"name": "%s" % key, "vnet.lab.nodes": nodes, "diff": True})
    if again:
        tasks.append({"name": "%s again" % key, "vnet.lab.nodes": nodes})
    return tasks


def down_tasks(key, lab, state_dir):
    args = {"lab": lab, "state": "absent", "state_dir": str(state_dir), "keep_volumes": False,
            "remove_segments": True}
    return [
        {"name": "%s check" % key, "vnet.lab.nodes": args, "check_mode": True},
        {"name": key, "vnet.lab.nodes": args},
        {"name": "%s again" % key, "vnet.lab.nodes": args},
    ]


# --- the engine and the labs --------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    try:
        client.images.get(NODE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip("the node image %s is not on this engine (make base-image, role vnet.lab.images)" % NODE_IMAGE)
    ensure_collection_link()
    return client


def remove_labs(client, labs):
    for lab in labs:
        for container in client.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab}):
            container.remove(force=True)
        for network in client.networks.list(filters={"label": "vnet.lab=%s" % lab}):
            network.remove()


@pytest.fixture(scope="module")
def labs(engine, tmp_path_factory):
    run = uuid.uuid4().hex[:6]
    # "a" is a prefix of "b"'s name, and both labs use the same prefixes.
    names = {"a": "t9n%s" % run, "b": "t9n%s-b" % run, "d": "t9d%s" % run}
    state_dir = tmp_path_factory.mktemp("state")
    try:
        yield names, state_dir
    finally:
        remove_labs(engine, names.values())
        shutil.rmtree(state_dir, ignore_errors=True)


def topology(lab, change=None):
    result = copy.deepcopy(TOPOLOGY)
    result["name"] = lab
    if change:
        change(result)
    return result


def pin_h1(topo):
    topo["links"][1]["endpoints"] = ["r1:eth2", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.0.77/24"}]


def add_h3(topo):
    """A host that sorts between h1 and r1 on lan1: r1's placeholder there moves, h1's stays."""
    pin_h1(topo)
    topo["nodes"]["h3"] = {"kind": "host"}
    topo["links"][1]["endpoints"].append("h3:eth0")


def containers(client, lab):
    """{name: (id, started at)} of a lab's containers."""
    result = {}
    for container in client.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab}):
        result[container.name] = (container.id, container.attrs["State"]["StartedAt"])
    return result


def addresses(lab, node):
    """{interface: [addresses]} inside a node (iproute2 in the node image)."""
    out = subprocess.run(["docker", "exec", "%s-%s" % (lab, node), "ip", "-j", "addr", "show"],
                         capture_output=True, text=True, check=True).stdout
    return {link["ifname"]: sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in link["addr_info"]
                                   if a.get("scope") != "link")
            for link in json.loads(out)}


def ping(lab, node, address):
    proc = subprocess.run(["docker", "exec", "%s-%s" % (lab, node), "ping", "-c", "1", "-W", "2", address],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0


def wait_running(client, names, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {}
        for name in names:
            attrs = client.api.inspect_container(name)
            pid = attrs["State"]["Pid"]
            ready = pid and os.path.exists("/proc/%d/root/run/vnet/ready" % pid)
            states[name] = attrs["State"]["Running"] and ready
        if all(states.values()):
            return
        time.sleep(0.2)
    pytest.fail("not running and ready after %s s: %s" % (timeout, states))


def restart_daemon():
    """Restart dockerd the way it was started: the service, else a background dockerd."""
    if os.path.isdir("/run/systemd/system") and subprocess.run(
            ["systemctl", "is-active", "--quiet", "docker"], check=False).returncode == 0:
        subprocess.run(["systemctl", "restart", "docker"], check=True)
        return
    pid = int(Path("/var/run/docker.pid").read_text().strip())
    os.kill(pid, 15)
    deadline = time.monotonic() + 60
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    subprocess.run([str(ROOT / "scripts" / "ensure-docker.sh")], check=True)


# --- the test -----------------------------------------------------------------------------------

def test_lab_life(tmp_path, engine, labs):
    (a, b), state_dir = (labs[0]["a"], labs[0]["b"]), labs[1]

    # Up: predicted, done, then nothing left to do.
    results = run_tasks(tmp_path, "up", up_tasks("up", topology(a), state_dir))
    check, real, again = results["up check"], results["up"], results["up again"]
    assert check["changed"] and real["changed"]
    assert check["actions"] == real["actions"]
    assert check["diff"] == real["diff"]
    assert not again["changed"] and again["actions"] == {}
    assert sorted(real["actions"]) == ["(lab)", "h1", "h2", "r1", "r2"]
    assert real["actions"]["h1"][0] == "write %s/%s/nodes/h1/netplan.json" % (state_dir, a)
    assert real["actions"]["h1"][-1] == "start container %s-h1" % a
    assert {n: v["state"] for n, v in real["nodes"].items()} == dict.fromkeys(["h1", "h2", "r1", "r2"], "running")
    assert all(isinstance(v["pid"], int) for v in real["nodes"].values())
    plan = results["up plan"]["plan"]
    h2 = plan["nodes"]["h2"]["interfaces"]["eth0"]["ipv4"].split("/")[0]
    assert ping(a, "h1", h2), "h1 reaches h2 through r1 and r2"
    attrs = engine.api.inspect_container("%s-r1" % a)
    assert attrs["HostConfig"]["Init"] and attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert sorted(attrs["HostConfig"]["CapAdd"]) == ["NET_ADMIN", "NET_RAW"]
    assert attrs["HostConfig"]["Sysctls"]["net.ipv4.ip_forward"] == "1"
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert attrs["Config"]["Labels"]["vnet.kind"] == "router" and len(attrs["Config"]["Labels"]["vnet.config"]) == 64
    assert json.loads((state_dir / a / "plan.json").read_text()) == plan
    before = containers(engine, a)

    # One address changed: only that node's interfaces, live, the container kept.
    results = run_tasks(tmp_path, "address", up_tasks("address", topology(a, pin_h1), state_dir))
    check, real = results["address check"], results["address"]
    assert real["actions"] == check["actions"] == {
        "(lab)": ["write %s/%s/plan.json" % (state_dir, a)],
        "h1": ["write %s/%s/nodes/h1/netplan.json" % (state_dir, a),
               "remove address %s from eth0" % plan["nodes"]["h1"]["interfaces"]["eth0"]["ipv4"],
               "add address 192.168.0.77/24 to eth0",
               "add route 0.0.0.0/0 via %s" % plan["nodes"]["h1"]["gateway"]["ipv4"]],
    }
    assert check["diff"] == real["diff"]
    assert not results["address again"]["changed"]
    assert containers(engine, a) == before, "no container re-created or restarted"
    assert addresses(a, "h1")["eth0"] == ["192.168.0.77/24"]
    assert ping(a, "h1", h2)

    # A node added: one container more; r1, whose placeholder on lan1 moved, reconnected live.
    results = run_tasks(tmp_path, "add", up_tasks("add", topology(a, add_h3), state_dir))
    check, real = results["add check"], results["add"]
    assert real["actions"] == check["actions"]
    assert sorted(real["actions"]) == ["(lab)", "h3", "r1"]
    assert real["actions"]["h3"][1].startswith("create container %s-h3 " % a)
    assert real["actions"]["r1"][1:3] == [
        "disconnect container %s-r1 from network %s-lan1" % (a, a),
        "connect container %s-r1 to network %s-lan1 (placeholder %s)"
        % (a, a, results["add segments"]["segments"]["lan1"]["endpoints"]["r1:eth2"])]
    assert not results["add again"]["changed"]
    after = containers(engine, a)
    assert set(after) - set(before) == {"%s-h3" % a}
    assert {k: v for k, v in after.items() if k in before} == before, "the others kept"
    h3 = results["add plan"]["plan"]["nodes"]["h3"]["interfaces"]["eth0"]["ipv4"].split("/")[0]
    assert ping(a, "h2", h3) and ping(a, "h1", h2)

    # The node removed again: its container goes.
    results = run_tasks(tmp_path, "remove", up_tasks("remove", topology(a, pin_h1), state_dir))
    assert results["remove check"]["actions"] == results["remove"]["actions"]
    assert results["remove"]["actions"]["h3"] == [
        "remove container %s-h3 (node not in the plan)" % a, "remove %s/%s/nodes/h3" % (state_dir, a)]
    assert not results["remove again"]["changed"]
    assert containers(engine, a) == before
    assert ping(a, "h1", h2)

    # `docker restart`: same names and addresses, without Ansible.
    inside = {node: addresses(a, node) for node in ("r1", "r2", "h1", "h2")}
    subprocess.run(["docker", "restart", "-t", "1", "%s-r1" % a], check=True, capture_output=True)
    wait_running(engine, ["%s-r1" % a])
    assert addresses(a, "r1") == inside["r1"]
    # No address of the restarted node waits for duplicate detection (its IPv6 neighbours answer
    # at once), on the interfaces Docker started it with nor on one it was connected to live.
    tentative = subprocess.run(["docker", "exec", "%s-r1" % a, "ip", "-6", "addr", "show", "tentative"],
                               check=True, capture_output=True, text=True).stdout
    assert tentative == "", tentative
    assert ping(a, "h1", h2)

    # The same again converges nothing.
    results = run_tasks(tmp_path, "after restarts", up_tasks("same", topology(a, pin_h1), state_dir, check=False))
    assert not results["same"]["changed"], results["same"]["actions"]

    # A second lab, same prefixes, a name that lab a's prefixes; then lab a goes, lab b stays.
    results = run_tasks(tmp_path, "b", up_tasks("b", topology(b), state_dir, check=False, again=False))
    assert results["b"]["changed"]
    b_before = containers(engine, b)
    assert len(b_before) == 4
    a_networks = sorted(n.name for n in engine.networks.list(filters={"label": "vnet.lab=%s" % a}))
    assert len(a_networks) == 3
    results = run_tasks(tmp_path, "down", down_tasks("down", a, state_dir))
    assert results["down check"]["actions"] == results["down"]["actions"]
    assert results["down"]["actions"] == {
        "(lab)": ["remove network %s" % name for name in a_networks] + ["remove %s/%s" % (state_dir, a)],
        "h1": ["remove container %s-h1" % a], "h2": ["remove container %s-h2" % a],
        "r1": ["remove container %s-r1" % a], "r2": ["remove container %s-r2" % a]}
    assert not results["down again"]["changed"]
    assert containers(engine, a) == {}
    assert engine.networks.list(filters={"label": "vnet.lab=%s" % a}) == []
    assert containers(engine, b) == b_before
    assert ping(b, "h1", h2), "lab b still works"


@pytest.mark.faults
@pytest.mark.exclusive
def test_nodes_keep_their_addresses_across_a_daemon_restart(tmp_path, engine, labs):
    if os.environ.get("VNET_TEST_DAEMON_RESTART") != "1":
        pytest.skip("restarting the Docker daemon stops every container of the engine, other people's"
                    " included: set VNET_TEST_DAEMON_RESTART=1 to run it")
    d, state_dir = labs[0]["d"], labs[1]
    results = run_tasks(tmp_path, "up", up_tasks("up", topology(d), state_dir, check=False, again=False))
    nodes = ["%s-%s" % (d, node) for node in ("r1", "r2", "h1", "h2")]
    wait_running(engine, nodes)
    inside = {node: addresses(d, node) for node in ("r1", "r2", "h1", "h2")}
    h2 = results["up plan"]["plan"]["nodes"]["h2"]["interfaces"]["eth0"]["ipv4"].split("/")[0]
    assert ping(d, "h1", h2)
    restart_daemon()
    wait_running(engine, nodes)
    assert {node: addresses(d, node) for node in inside} == inside
    assert ping(d, "h1", h2)
    results = run_tasks(tmp_path, "after", up_tasks("same", topology(d), state_dir, check=False, again=False))
    assert not results["same"]["changed"], results["same"]["actions"]
    run_tasks(tmp_path, "down", down_tasks("down", d, state_dir))
