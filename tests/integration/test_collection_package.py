# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as its users get it: a tarball, installed offline, one role used on its own.

The checkout's files (those git shows) are copied to a scratch tree, with one file planted for
every pattern of .gitignore (secrets, caches, results, the venv...) and for the secrets and caches
a user's tree may hold besides (vaults beside the inventory, ansible-lint's cache, an .env file):
each holds a canary string. ``ansible-galaxy collection build`` of that tree must give exactly the
runtime files (plugins, roles, playbooks, docs, changelog, LICENSE...), none of the planted files
nor any byte of their canary, and a MANIFEST that declares its dependency.

The tarball is installed with ``ansible-galaxy collection install --offline`` into a fresh
collections path, the only one the playbooks then see (community.docker comes from the ansible
package). From there, with no topology, no lab_up and no fact topology_plan: the images role
provides the dns image, and the dns role serves a zone of the test's own data on each of two
plain containers of the test, included once per container in a loop (the way roles were bound
to the wrong node's handlers). Both answer; a second run changes nothing; a change of the second
container's zone reloads that container's named and no other (named's own log, the answers, and
both containers never restarted); everything the role wrote is under vnet_lab_state_root, and
``dns_state: absent`` leaves nothing there. module_defaults of group/vnet.lab.docker reach the
modules. All this test makes is named after its run (``tpkg<hex>``) and removed at the end.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BASE_IMAGE = "vnet/base:bookworm"
DNS_IMAGE = "vnet/dns:latest"

# What the tarball holds at its top, and nothing else.
RUNTIME = {"LICENSE", "README.md", "changelogs", "docs", "examples", "inventory", "meta", "playbooks",
           "plugins", "roles", "site.yml"}
GENERATED = {"MANIFEST.json", "FILES.json"}
# Secrets and caches a user's tree may hold that .gitignore does not list (it lists the others).
PLANTED_BESIDES_GITIGNORE = [
    "inventory/group_vars/boards/vault.yml", "inventory/host_vars/rpi1/vault.yml", ".env", ".envrc",
    ".ansible/roles/cache", ".cache/ansible-compat/x", "changelogs/.plugin-cache.yaml", "ansible.log",
    "roles/dns/tasks/__pycache__/x.cpython-311.pyc", "roles/dns/tasks/main.yml.swp",
    "molecule/dns/.molecule/state.yml", "tests/output/.tmp/sanity.json", "bench/results/lab.json",
]
# Development tooling: in the checkout, never in the tarball.
DEV_ONLY = ["Makefile", "ansible.cfg", "pytest.ini", "requirements.txt", "scripts", "tests", "molecule",
            "bench", ".ci", ".ansible-lint", ".yamllint", ".gitignore", ".config"]


# --- the tarball ----------------------------------------------------------------------------------

def run(command, env, timeout=300, cwd=None):
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed (rc %d):\n%s\n%s" % (
        command[:3], proc.returncode, proc.stdout[-5000:], proc.stderr[-5000:])
    return proc.stdout


def visible_files():
    """The checkout's files as git shows them (tracked, and untracked unless ignored)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode()
    return sorted(p for p in out.split("\0") if p and not p.startswith(".collections/")
                  and (ROOT / p).is_file())


def planted_paths():
    """One path per .gitignore pattern (a '*' made concrete, a directory given a file), and the rest."""
    paths = []
    for line in (ROOT / ".gitignore").read_text().splitlines():
        pattern = line.strip().strip("/")
        if not pattern or pattern.startswith("#"):
            continue
        if "*" in pattern:
            concrete = pattern.replace("*", "canary")
            paths += [concrete, "roles/dns/" + concrete]
        else:
            paths.append(pattern + "/canary")
    return paths + PLANTED_BESIDES_GITIGNORE


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Ansible's environment for this test: a configuration of its own (not the checkout's, which
    points at the checkout as a collection) and no collections path yet."""
    work = tmp_path_factory.mktemp("package")
    config = work / "ansible.cfg"
    config.write_text("[defaults]\nretry_files_enabled = false\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    environment.update(ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1", ANSIBLE_HOME=str(work / "home"))
    return work, environment


@pytest.fixture(scope="module")
def tarball(env):
    """Build the collection from a copy of the checkout with every planted file; return the tarball,
    the copy's runtime files and the canary."""
    work, environment = env
    tree = work / "tree"
    files = visible_files()
    for name in files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name, follow_symlinks=False)
    canary = "canary-%s" % uuid.uuid4().hex
    for name in planted_paths():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("vault_secret: %s\n" % canary)
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(tree)], environment)
    built = sorted(work.glob("vnet-lab-*.tar.gz"))
    assert len(built) == 1, built
    runtime = {name for name in files if name.split("/", 1)[0] in RUNTIME}
    return built[0], runtime, canary


def test_tarball_holds_the_runtime_files_and_nothing_secret_or_generated(tarball):
    path, runtime, canary = tarball
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        contents = {m.name: archive.extractfile(m).read() for m in members if m.isfile()}
    files = set(contents)
    tops = {name.split("/", 1)[0] for name in files}
    assert tops <= RUNTIME | GENERATED, "not runtime content: %s" % sorted(tops - RUNTIME - GENERATED)
    assert not [n for n in DEV_ONLY if n in tops], "development files in the tarball"
    assert sorted(n for n in files if "canary" in n or "vault" in n or "pycache" in n) == []
    assert sorted(n for n, data in contents.items() if canary.encode() in data) == []
    # Lean but complete: every runtime file the checkout has, and no other.
    assert sorted(files - GENERATED - runtime) == []
    assert sorted(runtime - files) == []
    manifest = json.loads(contents["MANIFEST.json"])["collection_info"]
    assert manifest["dependencies"].get("community.docker"), manifest["dependencies"]
    assert manifest["license"] == ["GPL-3.0-or-later"] and "LICENSE" in files
    assert sorted(n for n, data in contents.items() if b"example.invalid" in data) == [], "placeholder URLs"


@pytest.fixture(scope="module")
def installed(env, tarball):
    """Install the tarball offline into a fresh collections path, the only one Ansible is given."""
    work, environment = env
    collections = work / "collections"
    out = run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections),
               str(tarball[0])], environment)
    assert "vnet.lab:" in out and "was installed successfully" in out, out
    environment = dict(environment, ANSIBLE_COLLECTIONS_PATH=str(collections))
    found = json.loads(run([str(BIN / "ansible-galaxy"), "collection", "list", "--format", "json"], environment))
    homes = [path for path, names in found.items() if "vnet.lab" in names]
    assert homes == [str(collections / "ansible_collections")], homes
    assert any("community.docker" in names for names in found.values()), "community.docker, the dependency"
    return collections, environment


# --- one role on containers of the test's own -----------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip("the base image %s is not on this engine (make base-image, role vnet.lab.images)" % BASE_IMAGE)
    return client


@pytest.fixture(scope="module")
def hosts(engine, env):
    """Two plain containers on a network of their own (no vnet.lab node, no plan), their addresses."""
    lab = "tpkg%s" % uuid.uuid4().hex[:6]
    labels = {"vnet.test": lab}
    try:
        network = engine.networks.create(lab, driver="bridge", labels=labels)
        addresses = {}
        for name in ("host1", "host2"):
            container = engine.containers.create(BASE_IMAGE, ["sleep", "infinity"], name="%s-%s" % (lab, name),
                                                 labels=labels, init=True, network=network.name)
            container.start()
            container.reload()
            addresses[name] = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        yield lab, addresses, env[0] / "state"
    finally:
        for label in ("vnet.test=%s" % lab, "vnet.lab=%s" % lab):
            for container in engine.containers.list(all=True, filters={"label": label}):
                container.remove(force=True)
        for network in engine.networks.list(names=[lab]):
            network.remove()


def zone(address, www, extra=()):
    records = [{"name": "ns1", "type": "A", "value": address}, {"name": "www", "type": "A", "value": www}]
    return {"name": "pkg.test", "file": "db.pkg.test", "ttl": 60, "ns": ["ns1.pkg.test."],
            "soa": {"mname": "ns1.pkg.test.", "rname": "hostmaster.pkg.test.", "refresh": 3600, "retry": 600,
                    "expire": 86400, "minimum": 60},
            "records": records + [{"name": name, "type": "A", "value": value} for name, value in extra]}


def play(hosts, state="present", tasks=(), images=True):
    """The play: the images role (``images``), the dns role on each container, then ``tasks``."""
    lab, addresses, state_root = hosts
    docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return [{
        "name": "A name server on each of two containers of my own", "hosts": "localhost", "gather_facts": False,
        "vars": {"vnet_lab_state_root": str(state_root), "ansible_python_interpreter": sys.executable},
        "module_defaults": {"group/vnet.lab.docker": {"docker_host": docker_host}},
        "tasks": ([
            {"name": "Get the dns image", "ansible.builtin.include_role": {"name": "vnet.lab.images"},
             "vars": {"images_build": ["dns"]}}] if images else []) + [
            {"name": "Serve each container's zone", "ansible.builtin.include_role": {"name": "vnet.lab.dns"},
             "loop": sorted(addresses),
             "vars": {"dns_lab": lab, "dns_node": "{{ item }}", "dns_state": state,
                      "dns_network_mode": "container:%s-{{ item }}" % lab,
                      "dns_listen_ipv4": ["{{ pkg_addresses[item] }}"], "dns_zones": "{{ [pkg_zones[item]] }}"}},
        ] + list(tasks),
    }]


def playbook(installed, hosts, name, plays, zones):
    """Run ``plays`` with the installed collection; return (stats of localhost, results by task name)."""
    collections, environment = installed
    work = collections.parent
    path = work / ("%s.yml" % name)
    path.write_text(json.dumps(plays, indent=1))  # JSON is YAML
    extra = {"pkg_zones": zones, "pkg_addresses": hosts[1]}
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", json.dumps(extra),
                           str(path)], env=dict(environment, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"),
                          cwd=work, capture_output=True, text=True, timeout=300, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    results = {}
    for task in output["plays"][0]["tasks"]:
        results.setdefault(task["task"]["name"], []).append(task["hosts"].get("localhost", {}))
    stats = output["stats"]["localhost"]
    if proc.returncode != 0 and stats["failures"]:
        failed = [r for rs in results.values() for r in rs if r.get("failed") and not r.get("ignore_errors")]
        pytest.fail("ansible-playbook failed: %s\n%s" % (json.dumps(failed, indent=1)[:20000], proc.stderr[-3000:]))
    return stats, results


def service_runs(results):
    """{container: its action} of every vnet.lab.service call of the dns role in the run."""
    actions = {}
    for result in results.get("vnet.lab.dns : Serve the zones from named in the node's network namespace", []):
        for container, entry in result.get("containers", {}).items():
            actions[container] = entry["action"]
    return actions


def query_a(server, name, timeout=1.0):
    """The A records of ``name`` from ``server`` (UDP port 53), or the response code when none."""
    ident = random.randrange(1 << 16)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        reply = sock.recv(4096)
    got_id, flags, _qd, count = struct.unpack(">HHHH", reply[:8])
    assert got_id == ident
    if flags & 0xF:
        return "rcode %d" % (flags & 0xF)
    offset = 12 + len(question) + 4
    found = []
    for _record in range(count):
        while reply[offset] and reply[offset] < 0xC0:  # the owner: labels, or a pointer to them
            offset += reply[offset] + 1
        offset += 2 if reply[offset] >= 0xC0 else 1
        rtype, _rclass, _ttl, length = struct.unpack(">HHIH", reply[offset:offset + 10])
        if rtype == 1:
            found.append(socket.inet_ntoa(reply[offset + 10:offset + 14]))
        offset += 10 + length
    return sorted(found)


def answers(server, name, expected, deadline=15.0):
    """Poll until ``server`` answers ``expected`` for ``name`` (named loads zones asynchronously)."""
    end = time.monotonic() + deadline
    while True:
        try:
            got = query_a(server, name)
        except OSError as exc:
            got = "no answer (%s)" % exc
        if got == expected or time.monotonic() > end:
            return got
        time.sleep(0.2)


def reloads(engine, container):
    """How many times named in ``container`` was told to reload, from its own log."""
    return engine.containers.get(container).logs().decode().count("received control channel command 'reload'")


def state(engine, container):
    attrs = engine.api.inspect_container(container)
    return attrs["Id"], attrs["State"]["StartedAt"]


def written(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_one_role_alone_from_the_installed_collection(engine, installed, hosts):
    lab, addresses, state_root = hosts
    servers = {node: "%s-%s-dns" % (lab, node) for node in addresses}
    zones = {"host1": zone(addresses["host1"], "192.0.2.1"), "host2": zone(addresses["host2"], "192.0.2.2")}

    stats, results = playbook(installed, hosts, "up", play(hosts), zones)
    assert service_runs(results) == {servers["host1"]: "create", servers["host2"]: "create"}
    assert stats["changed"] > 0
    for node, www in (("host1", "192.0.2.1"), ("host2", "192.0.2.2")):
        assert answers(addresses[node], "www.pkg.test", [www]) == [www]
    assert written(state_root) == sorted(
        "%s/services/%s-dns/%s" % (lab, node, name) for node in addresses
        for name in ("named.conf", "zones/db.pkg.test", ".vnet-serials.json")), "all under vnet_lab_state_root"

    stats, results = playbook(installed, hosts, "again", play(hosts), zones)
    assert stats["changed"] == 0, results
    assert service_runs(results) == {servers["host1"]: "keep", servers["host2"]: "keep"}

    # One container's zone changes: only its named reloads, and neither container restarts.
    before = {node: (state(engine, name), reloads(engine, name)) for node, name in servers.items()}
    zones["host2"] = zone(addresses["host2"], "192.0.2.2", extra=[("new", "192.0.2.22")])
    stats, results = playbook(installed, hosts, "change", play(hosts, images=False), zones)
    assert service_runs(results) == {servers["host1"]: "keep", servers["host2"]: "reload"}
    assert answers(addresses["host2"], "new.pkg.test", ["192.0.2.22"]) == ["192.0.2.22"]
    assert answers(addresses["host1"], "new.pkg.test", "rcode 3") == "rcode 3"  # NXDOMAIN: not reloaded
    after = {node: (state(engine, name), reloads(engine, name)) for node, name in servers.items()}
    assert after["host1"] == before["host1"]
    assert after["host2"][0] == before["host2"][0] and after["host2"][1] == before["host2"][1] + 1

    # Removed with the role; module_defaults of group/vnet.lab.docker reach the collection's modules.
    elsewhere = {"name": "Talk to the engine named by module_defaults", "vnet.lab.service": {
        "name": "%s-nowhere" % lab, "state": "absent"}, "module_defaults": {
        "group/vnet.lab.docker": {"docker_host": "unix://%s/no-engine.sock" % state_root}},
        "ignore_errors": True}
    stats, results = playbook(installed, hosts, "down", play(hosts, "absent", [elsewhere], images=False), zones)
    assert engine.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab}) == []
    assert written(state_root) == []
    [nowhere] = results["Talk to the engine named by module_defaults"]
    # The socket of the real engine exists: only the one module_defaults names is missing.
    assert nowhere.get("failed") and "No such file or directory" in nowhere["msg"], nowhere
