# SPDX-License-Identifier: GPL-3.0-or-later
"""The node image (roles/images/files/node) on this machine's Docker engine.

The image is built through the vnet.lab.images role, once per session (an unchanged image is
reused: the role rebuilds only when the build context changed). A node joins two segments made
as the lab makes them (bridge networks with placeholder subnets and inhibit_ipv4); its plan,
mounted read-only at /etc/vnet/netplan.json, names its interfaces differently from Docker's
ethN and addresses them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = "vnet/node:latest"
BASE = "vnet/base:bookworm"
LABEL = "vnet.test=node-image"
# Measured: 52 MB on top of the base image (169 MB on the debootstrap base, 117 MB).
MAX_ADDED_BYTES = 64 * 1024 * 1024
MAX_BYTES = 200 * 1000 * 1000
PLAYBOOK = """\
- name: Build the lab's images
  hosts: all
  gather_facts: false
  roles:
    - role: vnet.lab.images
"""
# Interface names unlike Docker's (ethN), and a plan touching every phase: rename, MTU,
# addresses of both families, loopback, a static route, forwarding.
PLAN = {
    "interfaces": {
        "up0": {"placeholder": None, "ipv4": "10.99.1.1/30", "ipv6": None, "mtu": None, "dhcp": False},
        "down0": {"placeholder": None, "ipv4": "10.99.2.1/24", "ipv6": "2001:db8:99::1/64", "mtu": 1400,
                  "dhcp": False},
    },
    "loopback": {"ipv4": "10.99.0.1/32", "ipv6": None},
    "routes": [{"dst": "10.99.3.0/24", "via": "10.99.1.2"}],
    "forwarding": True,
}
EXPECTED = {
    "lo": {"127.0.0.1/8", "::1/128", "10.99.0.1/32"},
    "up0": {"10.99.1.1/30"},
    "down0": {"10.99.2.1/24", "2001:db8:99::1/64"},
}
NODE_OPTIONS = [
    "--init",
    "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
    "--sysctl", "net.ipv4.ip_forward=1",
    "--sysctl", "net.ipv6.conf.all.forwarding=1",
    "--sysctl", "net.ipv6.conf.all.disable_ipv6=0",
    "--sysctl", "net.ipv6.conf.default.disable_ipv6=0",
]


def docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, timeout=120)


def engine_answers():
    if not shutil.which("docker"):
        return False
    try:
        return docker("info", check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def node_image():
    """Build the node image through the role (or find it unchanged); return build figures."""
    if not engine_answers():
        pytest.skip("no Docker Engine answers (make engine)")
    playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(playbook_bin):
        playbook_bin = shutil.which("ansible-playbook")
    if not playbook_bin:
        pytest.skip("ansible-playbook is not installed (make venv)")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    playbook = os.path.join(ROOT, "tests", "output", "build_images.yml")
    os.makedirs(os.path.dirname(playbook), exist_ok=True)
    with open(playbook, "w") as handle:
        handle.write(PLAYBOOK)
    started = time.monotonic()
    proc = subprocess.run(
        [playbook_bin, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
         playbook],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    size = json.loads(docker("image", "inspect", IMAGE).stdout)[0]["Size"]
    base_size = json.loads(docker("image", "inspect", BASE).stdout)[0]["Size"]
    print("node image: role run %.1f s, %s, %.1f MB (base %.1f MB)" % (
        seconds, "built" if "changed=0" not in proc.stdout else "unchanged", size / 1e6, base_size / 1e6))
    return {"seconds": seconds, "size": size, "base_size": base_size}


def _free_subnet(name, taken):
    """Create a segment on the first free placeholder subnet (other labs may hold some)."""
    for third in range(200, 256):
        subnet = "100.126.%d.0/29" % third
        if subnet in taken:
            continue
        proc = docker("network", "create", "--driver", "bridge", "--subnet", subnet, "--label", LABEL,
                      "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                      "-o", "com.docker.network.bridge.enable_ip_masquerade=false", name, check=False)
        if proc.returncode == 0:
            taken.add(subnet)
            return ipaddress.ip_network(subnet)
        if "overlap" not in proc.stderr:
            raise AssertionError(proc.stderr)
    raise AssertionError("no free placeholder subnet in 100.126.200.0-100.126.255.0")


def links(container):
    """Interface name -> set of addresses (without IPv6 link-local ones)."""
    result = {}
    for link in json.loads(docker("exec", container, "ip", "-j", "address", "show").stdout):
        result[link["ifname"]] = {
            "%s/%s" % (info["local"], info["prefixlen"])
            for info in link.get("addr_info", []) if not info["local"].startswith("fe80:")}
    return result


def wait_until_planned(container, timeout=15.0):
    """Links once they are as planned and the ready marker is there; the last seen at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        seen = links(container)
        ready = docker("exec", container, "test", "-e", "/run/vnet/ready", check=False).returncode == 0
        if (ready and seen == EXPECTED) or time.monotonic() >= deadline:
            return seen, ready
        time.sleep(0.2)


@pytest.fixture(scope="module")
def node(node_image, tmp_path_factory):
    """A running node on two segments; removed with its segments afterwards."""
    suffix = "%d" % os.getpid()
    name = "vnet-itest-node-%s" % suffix
    networks = ["vnet-itest-up-%s" % suffix, "vnet-itest-down-%s" % suffix]
    taken = set()
    plan = json.loads(json.dumps(PLAN))
    try:
        for network, ifname in zip(networks, ["up0", "down0"]):
            subnet = _free_subnet(network, taken)
            plan["interfaces"][ifname]["placeholder"] = str(subnet[2])
        plan_file = tmp_path_factory.mktemp("node") / "netplan.json"
        plan_file.write_text(json.dumps(plan, indent=2) + "\n")
        # Docker attaches the second network in another step, as the topology role's does.
        docker("create", "--name", name, "--label", LABEL, *NODE_OPTIONS,
               "--network", networks[0], "--ip", plan["interfaces"]["up0"]["placeholder"],
               "-v", "%s:/etc/vnet/netplan.json:ro" % plan_file, IMAGE)
        docker("network", "connect", "--ip", plan["interfaces"]["down0"]["placeholder"], networks[1], name)
        docker("start", name)
        yield name
    finally:
        docker("rm", "-f", name, check=False)
        for network in networks:
            docker("network", "rm", network, check=False)


def test_image_is_small(node_image):
    added = node_image["size"] - node_image["base_size"]
    assert added < MAX_ADDED_BYTES, "node image adds %.1f MB to its base" % (added / 1e6)
    assert node_image["size"] < MAX_BYTES, "node image is %.1f MB" % (node_image["size"] / 1e6)


def test_image_labels():
    labels = json.loads(docker("image", "inspect", IMAGE).stdout)[0]["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "vnet node"
    assert labels["vnet.lab.image"] == "node"
    assert len(labels["vnet.lab.fingerprint"]) == 64


def test_missing_plan_stops_the_node(node_image):
    proc = docker("run", "--rm", "--init", "--label", LABEL, IMAGE, check=False)
    assert proc.returncode == 66
    assert "no network plan at /etc/vnet/netplan.json" in proc.stderr


def test_interfaces_renamed_and_addressed(node):
    seen, ready = wait_until_planned(node)
    assert seen == EXPECTED
    assert ready
    routes = json.loads(docker("exec", node, "ip", "-j", "route", "show").stdout)
    assert {"dst": "10.99.3.0/24", "gateway": "10.99.1.2", "dev": "up0"} in [
        {key: route.get(key) for key in ("dst", "gateway", "dev")} for route in routes]
    mtu = json.loads(docker("exec", node, "ip", "-j", "link", "show", "down0").stdout)[0]["mtu"]
    assert mtu == 1400


def test_survives_restart(node):
    wait_until_planned(node)
    docker("restart", node)
    seen, ready = wait_until_planned(node)
    assert seen == EXPECTED
    assert ready
    assert docker("logs", node).stdout.count("network plan applied") == 2


def test_stops_within_seconds(node):
    wait_until_planned(node)
    started = time.monotonic()
    docker("stop", node)
    seconds = time.monotonic() - started
    print("node stop: %.2f s" % seconds)
    assert seconds < 3
