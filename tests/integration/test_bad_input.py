# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input and the lab's defences, against a running lab (issue 10).

One small lab runs for the whole module: tests/golden/plans/badlab.yml (a router with DNS, FTP
and a PBX, a host with its client), named ``bad<hex>`` for this run, with random secrets.

Bad input: every case of tests/golden/errors/ (but those about real boards, which lab_up.yml
has none of) is run through ``playbooks/lab_up.yml`` in ONE ansible-playbook run in which each
case is a host of its own (``case-<name>``, local connection, its own topology file and
inventory variables): one process instead of fifty keeps the whole at some seconds. Each case
must fail with exactly its golden lines - the checks of ``playbooks/tasks/check.yml`` for the
``plan`` and ``check`` stages, ``vnet.lab.segments`` before it makes anything for the ``engine``
stage - and the running lab must be exactly as before: its containers (ids, start times, restart
counts), networks, volumes and the files under its state directory (hashes, modification times).

Security, against the same lab: each container's capabilities against an allow-list per service
(in its configuration and in its processes' bounding set), nothing privileged; no secret in any
container's environment, command or log, nor in what Ansible printed, and the lab's files that
hold one readable by root only; the roles fail without credentials; DNS refuses recursion to a
client outside the lab's prefixes and forwards nowhere; FTP refuses anonymous logins and keeps
its users in their homes; SIP without or with a wrong password gets 401 (407 for INVITE). Every
listening socket of every node's namespace belongs to a service of that node and is where the plan
says (the rule, wildcard binds included, in its test's docstring); no node has a route out of the
lab, and no lab traffic is NATed (in the nodes' namespaces or on the host). The probes run in the
lab's network namespaces with this test's Python (``nsenter --net``), so no image needs a tool for
them.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import os
import secrets as random_secrets
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = ROOT / "tests" / "golden"
BASE = yaml.safe_load((GOLDEN / "plans" / "badlab.yml").read_text())
STATE_ROOT = Path("/var/lib/vnet/labs")
IMAGES = ["vnet/node:latest", "vnet/dns:latest", "vnet/ftp:latest", "vnet/voip:latest", "vnet/client:latest"]
CHECK_TASK = "Stop before anything changes when the lab has a problem"
ENGINE_TASK = "vnet.lab.topology : Create the lab's segments"

# What each container of the lab may hold: its capabilities (all others dropped).
ALLOWED_CAPS = {
    "node": {"NET_ADMIN", "NET_RAW"},
    "dns": {"NET_BIND_SERVICE", "SETGID", "SETUID"},
    "ftp": {"CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_CHROOT"},
    "kamailio": set(),
    "rtpengine": set(),
    "client": {"NET_ADMIN", "NET_RAW"},
    # The lab's keeper (brings it back after restarts): no capability and no network, but the
    # Docker socket, which no other container of the lab may have.
    "keeper": set(),
}
DOCKER_SOCKET = "/var/run/docker.sock"
# Linux capability numbers (include/uapi/linux/capability.h), for the bounding sets in /proc.
CAP_NAMES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
             "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
             "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
             "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
             "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
             "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]


# --- the cases -----------------------------------------------------------------------------------

def cases():
    """Golden cases that lab_up.yml can run (real boards are site.yml's alone)."""
    return [p for p in sorted((GOLDEN / "errors").glob("*.yml")) if "boards" not in yaml.safe_load(p.read_text())]


def renamed(value, lab):
    """``value`` (text, or data) with the golden lab's name replaced by this run's."""
    if isinstance(value, str):
        return value.replace("badlab", lab)
    return yaml.safe_load(renamed(yaml.safe_dump(value), lab))


# --- running ansible -----------------------------------------------------------------------------

def ansible_env(**extra):
    ensure = ROOT / ".collections" / "ansible_collections" / "vnet" / "lab"
    if not ensure.exists():
        ensure.parent.mkdir(parents=True, exist_ok=True)
        ensure.symlink_to("../../..")
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json", **extra)


def playbook(playbook_path, inventory, cwd, *args, timeout=600, **env):
    """Run a playbook; return (rc, parsed JSON output, raw stdout + stderr)."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory),
               str(playbook_path)] + list(args)
    proc = subprocess.run(command, cwd=str(cwd), env=ansible_env(PWD=str(cwd), **env), capture_output=True,
                          text=True, timeout=timeout, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON (rc %d):\n%s\n%s"
                    % (proc.returncode, proc.stdout[-5000:], proc.stderr[-5000:]))
    return proc.returncode, output, proc.stdout + proc.stderr


def failures(output):
    """{host: (task name, result)} of the first failed task of each host."""
    found = {}
    for play in output["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") and not result.get("ignore_errors") and host not in found:
                    found[host] = (task["task"]["name"], result)
    return found


def inventory(path, hosts):
    """An inventory whose hosts (local connection, this Python) are all vnet_engines."""
    for host_vars in hosts.values():
        host_vars.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
    path.write_text(yaml.safe_dump({"all": {"children": {"vnet_engines": {"hosts": hosts}}}}, sort_keys=False))
    return path


# --- the engine and the lab ----------------------------------------------------------------------

def snapshot(client, lab):
    """What must not change while bad input is fed to the lab: its Docker objects and files."""
    containers = {}
    for container in client.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab}):
        attrs = container.attrs
        containers[container.name] = (attrs["Id"], attrs["State"]["StartedAt"], attrs["State"]["Status"],
                                      attrs["RestartCount"], attrs["Config"]["Labels"].get("vnet.config"))
    networks = {n.name: n.id for n in client.networks.list(filters={"label": "vnet.lab=%s" % lab})}
    volumes = sorted(v.name for v in client.volumes.list(filters={"label": "vnet.lab=%s" % lab}))
    files = {}
    for path in sorted((STATE_ROOT / lab).rglob("*")):
        if path.is_file():
            files[str(path.relative_to(STATE_ROOT))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                        path.stat().st_mtime_ns, path.stat().st_mode)
    return {"containers": containers, "networks": networks, "volumes": volumes, "files": files}


@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    for image in IMAGES:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            pytest.skip("image %s is not on this engine (make lab, or role vnet.lab.images, builds it)" % image)
    if shutil.which("nsenter") is None:
        pytest.skip("no nsenter on this machine (util-linux)")
    return client


@pytest.fixture(scope="module")
def lab(engine, tmp_path_factory):
    """The running lab: its name, variables (random secrets), topology file and inventory."""
    name = "bad%s" % uuid.uuid4().hex[:6]
    work = tmp_path_factory.mktemp("badlab")
    variables = copy.deepcopy(BASE["vars"])
    for entry in variables["vnet_lab_ftp_users"] + variables["vnet_lab_voip_extensions"]:
        entry["password"] = "pw-%s" % random_secrets.token_hex(10)
    topology = work / "lab.yml"
    topology.write_text(yaml.safe_dump(renamed(BASE["topology"], name), sort_keys=False))
    hosts = inventory(work / "inventory.yml", {"localhost": dict(copy.deepcopy(variables),
                                                                 vnet_lab_topology_file=str(topology))})
    info = {"name": name, "vars": variables, "work": work, "inventory": hosts, "printed": []}
    try:
        rc, output, text = playbook(ROOT / "playbooks" / "lab_up.yml", hosts, work)
        info["printed"].append(text)
        assert rc == 0, "the lab did not come up: %s" % json.dumps(failures(output), indent=1)[:20000]
        info["plan"] = json.loads((STATE_ROOT / name / "plan.json").read_text())
        yield info
    finally:
        playbook(ROOT / "playbooks" / "lab_down.yml", hosts, work, "-e", "vnet_lab_name=%s" % name)
        for container in engine.containers.list(all=True, filters={"label": "vnet.test=%s" % name}):
            container.remove(force=True)


def secret_values(variables):
    return [entry["password"] for entry in variables["vnet_lab_ftp_users"] + variables["vnet_lab_voip_extensions"]]


# --- bad input -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_runs(engine, lab):
    return run_cases(engine, lab)


def run_cases(engine, lab):
    """Every case through lab_up.yml at once; the lab before and after; what each case got."""
    work = lab["work"] / "cases"
    work.mkdir()
    hosts = {}
    for path in cases():
        case = yaml.safe_load(path.read_text())
        host_vars = copy.deepcopy(lab["vars"])
        host_vars.update(case.get("vars") or {})
        for name in case.get("unset") or []:
            host_vars.pop(name)
        if "topology_text" in case:
            if case["topology_text"] is not None:
                (work / ("%s.yml" % path.stem)).write_text(renamed(case["topology_text"], lab["name"]))
        else:
            topology = renamed(case.get("topology", BASE["topology"]), lab["name"])
            (work / ("%s.yml" % path.stem)).write_text(yaml.safe_dump(topology, sort_keys=False))
        # Relative, as a user types it: the messages name the file so.
        host_vars["vnet_lab_topology_file"] = "%s.yml" % path.stem
        hosts["case-%s" % path.stem] = host_vars
    path = inventory(work / "inventory.yml", hosts)
    before = snapshot(engine, lab["name"])
    # Every case at once, and without Mitogen: its strategy would start a Python for each of fifty
    # hosts, while the checks run in Ansible's own workers.
    rc, output, text = playbook(ROOT / "playbooks" / "lab_up.yml", path, work,
                                ANSIBLE_FORKS=str(len(hosts)), ANSIBLE_STRATEGY="linear")
    after = snapshot(engine, lab["name"])
    lab["printed"].append(text)
    return {"rc": rc, "failures": failures(output), "before": before, "after": after,
            "stats": output.get("stats", {}), "hosts": sorted(hosts)}


@pytest.mark.parametrize("path", cases(), ids=lambda p: p.stem)
def test_bad_input_is_refused_naming_the_culprit(bad_runs, lab, path):
    case = yaml.safe_load(path.read_text())
    expected = [renamed(line, lab["name"]) for line in case["errors"]]
    task, result = bad_runs["failures"].get("case-%s" % path.stem, (None, {}))
    assert task is not None, "case %s was not refused" % path.stem
    lines = result["msg"].splitlines()
    got = "%s failed: %s" % (task, result["msg"])
    if case.get("stage") == "engine":
        assert (task, lines) == (ENGINE_TASK, expected), got
    else:
        count = len(expected)
        head = "%d problem%s stop%s the lab before anything changes:" % (
            count, "" if count == 1 else "s", "s" if count == 1 else "")
        assert (task, lines) == (CHECK_TASK, [head] + expected), got


def test_every_case_failed_and_the_running_lab_is_untouched(bad_runs, engine, lab):
    assert bad_runs["rc"] != 0
    assert sorted(bad_runs["failures"]) == bad_runs["hosts"]
    assert bad_runs["before"]["containers"] and bad_runs["before"]["files"]
    assert bad_runs["after"] == bad_runs["before"]
    # The labs that clash with the running one made nothing either.
    for other in ("%s-r1" % lab["name"], "%s-h1" % lab["name"]):
        assert engine.containers.list(all=True, filters={"label": "vnet.lab=%s" % other}) == []
        assert engine.networks.list(filters={"label": "vnet.lab=%s" % other}) == []
        assert not (STATE_ROOT / other).exists()


# --- security: what the lab holds ----------------------------------------------------------------

def lab_containers(engine, lab):
    return engine.containers.list(all=True, filters={"label": "vnet.lab=%s" % lab["name"]})


def role_of(container):
    labels = container.labels
    if "vnet.service" not in labels:
        return "node"
    if labels["vnet.service"] == "voip":
        return labels.get("vnet.voip.daemon", "kamailio")
    return labels["vnet.service"]


def bounding_set(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return {name for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1}
    raise AssertionError("no CapBnd in /proc/%d/status" % pid)


def test_every_container_has_only_the_capabilities_of_its_service(engine, lab):
    seen = set()
    for container in lab_containers(engine, lab):
        role = role_of(container)
        seen.add(role)
        host = container.attrs["HostConfig"]
        assert container.status == "running", container.name
        assert host["Privileged"] is False, container.name
        assert host["CapDrop"] == ["ALL"], container.name
        assert set(host["CapAdd"] or []) == ALLOWED_CAPS[role], container.name
        assert not host.get("Devices"), container.name
        assert not [opt for opt in host.get("SecurityOpt") or [] if "unconfined" in opt], container.name
        assert host.get("PidMode") in ("", None) and host.get("IpcMode") != "host", container.name
        assert host["NetworkMode"] != "host", container.name
        assert bounding_set(container.attrs["State"]["Pid"]) == ALLOWED_CAPS[role], container.name
        sockets = [m for m in container.attrs["Mounts"] if m.get("Source") == DOCKER_SOCKET]
        if role == "keeper":
            assert host["NetworkMode"] == "none", container.name
        else:
            assert sockets == [], "%s holds the Docker socket" % container.name
    assert seen >= set(ALLOWED_CAPS) - {"keeper"}


def test_no_secret_in_environment_command_logs_or_output(engine, lab, bad_runs):
    values = secret_values(lab["vars"])
    for container in lab_containers(engine, lab):
        config = container.attrs["Config"]
        shown = json.dumps([config.get("Env"), config.get("Cmd"), config.get("Entrypoint"),
                            container.attrs.get("Args"), config.get("Labels")])
        logs = container.logs().decode(errors="replace")
        for value in values:
            assert value not in shown, "a secret in the configuration of %s" % container.name
            assert value not in logs, "a secret in the log of %s" % container.name
    for text in lab["printed"]:
        for value in values:
            assert value not in text, "Ansible printed a secret"
    # The lab's files that hold a secret are root's alone.
    holders = []
    for path in (STATE_ROOT / lab["name"]).rglob("*"):
        if path.is_file() and any(v.encode() in path.read_bytes() for v in values):
            holders.append(path.name)
            assert path.stat().st_mode & 0o077 == 0 and path.stat().st_uid == 0, path
    assert holders == ["users"]   # the FTP users' file; the PBX keeps digests only


def test_the_roles_have_no_default_credentials(engine, lab):
    """The service roles alone, without users or extensions: each stops before it makes anything."""
    work, other = lab["work"], "%snc" % lab["name"]
    roles = [("ftp", {"ftp_lab": other, "ftp_node": "r1"}),
             ("voip", {"voip_lab": other, "voip_node": "r1", "voip_server": "{{ plan | vnet.lab.voip_server('r1') }}"})]
    play = [{"name": "roles without secrets", "hosts": "localhost", "gather_facts": False, "vars": {"plan": lab["plan"]},
             "tasks": [{"name": role, "block": [{"name": "run " + role, "ansible.builtin.include_role": {
                 "name": "vnet.lab." + role}, "vars": role_vars}],
                 "rescue": [{"name": "refused " + role, "ansible.builtin.set_fact": {
                     "refused_%s" % role: "{{ ansible_failed_task.name }}: {{ ansible_failed_result.msg }}"}}]}
                 for role, role_vars in roles]
             + [{"name": "what was refused", "ansible.builtin.debug": {"msg": "{{ [refused_ftp, refused_voip] }}"}}]}]
    path = work / "no-credentials.yml"
    path.write_text(json.dumps(play))
    rc, output, _text = playbook(path, inventory(work / "no-credentials-inventory.yml", {"localhost": {}}), work)
    assert rc == 0, json.dumps(failures(output), indent=1)[:5000]
    refused = output["plays"][0]["tasks"][-1]["hosts"]["localhost"]["msg"]
    assert refused[0].startswith("Check the FTP users, their names and passwords, and the passive port range:"
                                 " ftp: no FTP users on r1"), refused
    assert refused[1].startswith("Check the extensions, their passwords and the server: voip: no extensions"), refused
    assert engine.containers.list(all=True, filters={"label": "vnet.lab=%s" % other}) == []
    assert engine.volumes.list(filters={"label": "vnet.lab=%s" % other}) == []
    assert not (STATE_ROOT / other).exists()


# --- security: the services ----------------------------------------------------------------------

def in_netns(engine, container, script, *args, timeout=60):
    """Run ``script`` with this Python in ``container``'s network namespace; its stdout as JSON."""
    pid = engine.api.inspect_container(container)["State"]["Pid"]
    proc = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, sys.executable, "-c", textwrap.dedent(script)]
                          + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


DNS_QUERY = r"""
import json, random, socket, struct, sys, time
server, name, family = sys.argv[1], sys.argv[2], sys.argv[3]
ident = random.randrange(65536)
query = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)   # recursion desired
query += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
query += struct.pack(">HH", 1, 1)                              # A, IN
sock = socket.socket(socket.AF_INET6 if family == "6" else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(5)
start = time.monotonic()
sock.sendto(query, (server, 53))
data = sock.recv(4096)
flags, answers = struct.unpack(">H", data[2:4])[0], struct.unpack(">H", data[6:8])[0]
print(json.dumps({"rcode": flags & 15, "ra": bool(flags & 0x80), "aa": bool(flags & 0x400),
                  "answers": answers, "seconds": time.monotonic() - start}))
"""

# A client outside the lab's prefixes: a throwaway container on the lab's segment whose only IPv6
# address is its link-local one. It reaches the DNS service's address on the link.
OUTSIDER = r"""
import json, subprocess, sys, time
address = sys.argv[1]
with open("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "w") as handle:
    handle.write("0")
deadline = time.monotonic() + 20
while True:
    shown = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"],
                           capture_output=True, text=True).stdout
    if shown and "tentative" not in shown:
        break
    if time.monotonic() > deadline:
        raise SystemExit("no link-local address on eth0: %r" % shown)
    time.sleep(0.1)
subprocess.run(["ip", "-6", "route", "replace", address + "/128", "dev", "eth0"], check=True)
print(json.dumps(shown.split()[3]))
"""


@pytest.fixture(scope="module")
def outsider(engine, lab):
    segment = "%s-h1-eth0" % lab["name"]
    container = engine.containers.run("vnet/client:latest", ["sleep", "300"], name="%s-outsider" % lab["name"],
                                      network=segment, init=True, detach=True, auto_remove=False,
                                      cap_drop=["ALL"], labels={"vnet.test": lab["name"]})
    try:
        source = in_netns(engine, container.name, OUTSIDER, "fd77::1")
        yield container.name, source
    finally:
        container.remove(force=True)


def test_dns_refuses_recursion_from_outside_the_lab(engine, lab, outsider):
    name, source = outsider
    assert source.startswith("fe80::")
    outside = in_netns(engine, name, DNS_QUERY, "fd77::1", "example.org", "6")
    assert outside["rcode"] == 5, outside   # REFUSED
    # From inside the lab the same server answers: its own names, and (no forwarder, no route
    # out) no outside name, without waiting for anything.
    inside = in_netns(engine, "%s-h1" % lab["name"], DNS_QUERY, "10.77.0.1", "ns1.%s.test" % lab["name"], "4")
    assert (inside["rcode"], inside["aa"], inside["answers"]) == (0, True, 1), inside
    away = in_netns(engine, "%s-h1" % lab["name"], DNS_QUERY, "10.77.0.1", "example.org", "4")
    assert away["rcode"] == 2 and away["seconds"] < 3, away   # SERVFAIL
    config = (STATE_ROOT / lab["name"] / "services" / "r1-dns" / "named.conf").read_text()
    assert "forwarders" not in config and "allow-recursion { lab_clients; };" in config
    route = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % engine.api.inspect_container(
        "%s-r1" % lab["name"])["State"]["Pid"], "ip", "route", "get", "198.41.0.4"],
        capture_output=True, text=True, check=False)
    assert route.returncode != 0 and "unreachable" in route.stderr, route


FTP_PROBE = r"""
import ftplib, json, sys
server, user, password = sys.argv[1:4]
result = {}
for login, secret in (("anonymous", "guest@example.org"), ("ftp", "")):
    ftp = ftplib.FTP(server, timeout=10)
    try:
        ftp.login(login, secret)
        result[login] = "logged in"
    except ftplib.error_perm as exc:
        result[login] = str(exc)
    ftp.close()
ftp = ftplib.FTP(server, timeout=10)
ftp.set_pasv(False)
ftp.login(user, password)
result["pwd"] = ftp.pwd()
result["files"] = sorted(ftp.nlst())
for path in ("/etc", "../..", "/proc"):
    try:
        ftp.cwd(path)
        result["cwd " + path] = ftp.pwd()
    except ftplib.error_perm as exc:
        result["cwd " + path] = str(exc)
try:
    ftp.retrlines("RETR /etc/passwd", lambda line: None)
    result["passwd"] = "read"
except ftplib.error_perm as exc:
    result["passwd"] = str(exc)
ftp.quit()
print(json.dumps(result))
"""


def test_ftp_refuses_anonymous_and_keeps_users_in_their_homes(engine, lab):
    user = lab["vars"]["vnet_lab_ftp_users"][0]
    result = in_netns(engine, "%s-h1" % lab["name"], FTP_PROBE, "10.77.0.1", user["name"], user["password"])
    assert result["anonymous"].startswith("530") and result["ftp"].startswith("530"), result
    assert result["pwd"] == "/" and "welcome.txt" in result["files"], result
    assert "etc" not in result["files"] and "proc" not in result["files"], result
    assert result["cwd /etc"].startswith("550") and result["cwd /proc"].startswith("550"), result
    assert result["cwd ../.."] == "/", result
    assert result["passwd"].startswith("550"), result


SIP_PROBE = r"""
import hashlib, json, random, re, socket, sys
server, domain, number, wrong, right = sys.argv[1:6]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(5)
sock.connect((server, 5060))
local, port = sock.getsockname()
call_id = "%x@probe" % random.getrandbits(64)


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def request(method, cseq, authorization=None, expires=60):
    uri = "sip:%s" % domain if method == "REGISTER" else "sip:2002@%s" % domain
    lines = ["%s %s SIP/2.0" % (method, uri),
             "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%x;rport" % (local, port, random.getrandbits(48)),
             "Max-Forwards: 70",
             "From: <sip:%s@%s>;tag=%x" % (number, domain, random.getrandbits(32)),
             "To: <sip:%s@%s>" % (number if method == "REGISTER" else "2002", domain),
             "Call-ID: %s-%s" % (method, call_id), "CSeq: %d %s" % (cseq, method),
             "Contact: <sip:%s@%s:%d>" % (number, local, port), "Expires: %d" % expires]
    if authorization:
        lines.append(authorization)
    lines += ["Content-Length: 0", "", ""]
    sock.send("\r\n".join(lines).encode())
    while True:
        reply = sock.recv(65535).decode(errors="replace")
        status = int(reply.split(" ", 2)[1])
        if status >= 200:
            return status, reply


def answer(challenge, password):
    # The Authorization header of a REGISTER that answers the challenge (RFC 2617, qop=auth if offered).
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
    qop = re.search(r'qop="([^"]*)"', challenge)
    uri = "sip:%s" % domain
    ha1, ha2 = md5("%s:%s:%s" % (number, realm, password)), md5("REGISTER:%s" % uri)
    header = 'Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5' % (
        number, realm, nonce, uri)
    if qop:
        cnonce = "%x" % random.getrandbits(64)
        response = md5("%s:%s:00000001:%s:auth:%s" % (ha1, nonce, cnonce, ha2))
        return header + ', qop=auth, nc=00000001, cnonce="%s", response="%s"' % (cnonce, response)
    return header + ', response="%s"' % md5("%s:%s:%s" % (ha1, nonce, ha2))


result = {}
result["register"], challenge = request("REGISTER", 1)
result["wrong password"], challenge = request("REGISTER", 2, answer(challenge, wrong))
# The right password, unregistering at once (Expires: 0): the probe holds no binding.
result["right password"] = request("REGISTER", 3, answer(challenge, right), expires=0)[0]
result["invite"] = request("INVITE", 1)[0]
print(json.dumps(result))
"""


def test_sip_refuses_registration_without_the_right_password(engine, lab):
    extension = lab["vars"]["vnet_lab_voip_extensions"][0]
    result = in_netns(engine, "%s-h1" % lab["name"], SIP_PROBE, "10.77.0.1", "%s.test" % lab["name"],
                      extension["number"], "not-" + extension["password"], extension["password"])
    assert result == {"register": 401, "wrong password": 401, "right password": 200, "invite": 407}, result


# --- security: listening sockets, routes out, NAT ------------------------------------------------

# Where each service of the lab may listen: (protocol, port, where) with where "plan" (the
# service's addresses in the plan) or "loopback" (127.0.0.1 or ::1: its node's own processes only).
# Ports that are role variables come from the roles' defaults, which the lab runs with.
VOIP_DEFAULTS = yaml.safe_load((ROOT / "roles" / "voip" / "defaults" / "main.yml").read_text())
LISTENERS = {
    "dns": {("udp", 53, "plan"), ("tcp", 53, "plan"), ("udp", 53, "loopback"), ("tcp", 53, "loopback"),
            ("tcp", 953, "loopback")},                        # rndc, on loopback only
    "ftp": {("tcp", 21, "plan")},
    "kamailio": {("udp", VOIP_DEFAULTS["voip_sip_port"], "plan")},
    "rtpengine": {("udp", VOIP_DEFAULTS["voip_rtpengine_ng_port"], "loopback")},  # RTP ports only in calls
    "client": set(),
    "node": set(),
}
PLAN_SERVICE = {"kamailio": "voip", "rtpengine": "voip"}
# Services that listen on each of their plan addresses, not on one of them only: vsftpd binds one
# address per process, and roles/ftp runs one per planned family.
ON_EACH_PLAN_ADDRESS = {"ftp"}
# Docker's embedded resolver listens in every namespace of a user-defined network, on this address,
# from dockerd (no process of the lab): reachable from inside the namespace only.
DOCKER_RESOLVER = "127.0.0.11"
OUTSIDE = {"4": "198.41.0.4", "6": "2001:500:2f::f"}   # root name servers a and f
NAT_TARGETS = ("MASQUERADE", "SNAT", "DNAT", "REDIRECT", "NETMAP")


def proc_sockets(pid):
    """Listening TCP and unconnected bound UDP sockets of pid's namespace: [(proto, address, port, inode)]."""
    found = []
    for proto, family in (("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6)):
        lines = Path("/proc/%d/net/%s%s" % (pid, proto, "6" if family == 6 else "")).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if (proto == "tcp" and state != "0A") or (proto == "udp" and int(remote.split(":")[1], 16) != 0):
                continue   # not listening (TCP), or connected (UDP: a client's socket)
            raw, port = local.split(":")
            packed = bytes.fromhex(raw)
            # /proc prints each 32-bit word of the address in host (little-endian) order.
            packed = b"".join(packed[i:i + 4][::-1] for i in range(0, len(packed), 4))
            found.append((proto, str(ipaddress.ip_address(packed)), int(port, 16), inode))
    return found


def socket_owners(engine, containers):
    """{socket inode: (container name, role)} of every process of containers."""
    owners = {}
    for container in containers:
        top = engine.api.top(container.id)
        column = top["Titles"].index("PID")
        for process in top["Processes"] or []:
            fds = Path("/proc/%s/fd" % process[column])
            try:
                links = [os.readlink(fd) for fd in fds.iterdir()]
            except (FileNotFoundError, ProcessLookupError):
                continue   # a process that ended meanwhile
            for link in links:
                if link.startswith("socket:["):
                    owners[int(link[8:-1])] = (container.name, role_of(container))
    return owners


def netns_addresses(pid):
    """Global (not loopback, not link-local) addresses of pid's namespace."""
    proc = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, "ip", "-j", "address", "show"],
                          capture_output=True, text=True, check=True)
    return {a["local"] for link in json.loads(proc.stdout) for a in link.get("addr_info", [])
            if not ipaddress.ip_address(a["local"]).is_loopback and not ipaddress.ip_address(a["local"]).is_link_local}


def test_every_listening_socket_is_where_the_plan_says(engine, lab):
    """Every socket that listens (TCP) or waits unconnected (UDP) in each node's namespace belongs
    to a service of that node and is on a (protocol, port) of its service's allow-list above, bound
    to the service's plan address, or to loopback where the list says so. The rule for a wildcard
    bind (0.0.0.0 or ::): accepted only where the namespace holds no global address but the
    service's plan addresses (loopback and link-local aside) - it then listens where the plan says
    and nowhere else. Docker's embedded resolver (127.0.0.11, owned by dockerd) is the one socket
    no process of the lab owns. And each service listens on every (protocol, port) the list
    gives it on its plan address, on one of its plan addresses at least, and on each of them for
    the services of ON_EACH_PLAN_ADDRESS (FTP: one vsftpd per family)."""
    containers = lab_containers(engine, lab)
    nodes = [c for c in containers if role_of(c) == "node"]
    assert sorted(c.labels["vnet.node"] for c in nodes) == sorted(lab["plan"]["nodes"])
    seen = []
    for node in nodes:
        name = node.labels["vnet.node"]
        members = [c for c in containers if c.id == node.id
                   or c.attrs["HostConfig"]["NetworkMode"] in ("container:%s" % node.id, "container:%s" % node.name)]
        owners = socket_owners(engine, members)
        pid = node.attrs["State"]["Pid"]
        addresses = netns_addresses(pid)
        services = lab["plan"]["nodes"][name].get("services") or {}
        listening, bound = {}, {}
        for proto, address, port, inode in proc_sockets(pid):
            where = "%s %s:%d/%s" % (name, address, port, proto)
            if inode not in owners:
                assert address == DOCKER_RESOLVER, "%s: owned by no process of the lab" % where
                continue
            container, role = owners[inode]
            plan_service = services.get(PLAN_SERVICE.get(role, role)) or {}
            planned = {plan_service[f].split("/")[0] for f in ("ipv4", "ipv6") if plan_service.get(f)}
            ip = ipaddress.ip_address(address)
            if ip.is_unspecified:
                assert (proto, port, "plan") in LISTENERS[role], "%s (%s): not a port of %s" % (where, container, role)
                assert addresses <= planned, "%s (%s): a wildcard bind in a namespace that also holds %s" % (
                    where, container, ", ".join(sorted(addresses - planned)))
                kind = "plan"
            elif ip.is_loopback:
                kind = "loopback"
            else:
                assert address in planned, "%s (%s): not an address the plan gives %s (%s)" % (
                    where, container, role, ", ".join(sorted(planned)) or "none")
                kind = "plan"
            assert (proto, port, kind) in LISTENERS[role], "%s (%s): %s may not listen there" % (where, container, role)
            listening.setdefault(role, set()).add((proto, port, kind))
            if kind == "plan":
                bound.setdefault((role, proto, port), set()).update(planned if ip.is_unspecified else {address})
            seen.append(where)
        for member in members:
            role = role_of(member)
            missing = LISTENERS[role] - listening.get(role, set())
            assert not missing, "%s does not listen on %s" % (member.name, sorted(missing))
            if role in ON_EACH_PLAN_ADDRESS:
                plan_service = services.get(PLAN_SERVICE.get(role, role)) or {}
                planned = {plan_service[f].split("/")[0] for f in ("ipv4", "ipv6") if plan_service.get(f)}
                for proto, port, kind in sorted(LISTENERS[role]):
                    if kind == "plan":
                        assert bound[(role, proto, port)] == planned, "%s listens on %d/%s at %s, not at each of %s" % (
                            member.name, port, proto, sorted(bound[(role, proto, port)]), sorted(planned))
    assert seen, "no socket listens in the lab"


def route_out(pid, family):
    """The next hop from pid's namespace towards an address outside the lab: None when unreachable."""
    proc = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, "ip", "-j", "-%s" % family, "route", "get",
                           OUTSIDE[family]], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        assert "unreachable" in proc.stderr, proc.stderr
        return None
    return json.loads(proc.stdout)[0]


def nat_rules(pid):
    """The rules that translate addresses in pid's namespace (None: the host's), through both
    iptables back ends (a container may use either)."""
    rules = []
    for tool in ("iptables-nft-save", "ip6tables-nft-save", "iptables-legacy-save", "ip6tables-legacy-save"):
        if shutil.which(tool) is None:
            continue
        argv = ["nsenter", "--net=/proc/%d/ns/net" % pid, tool] if pid else [tool]
        proc = subprocess.run(argv + ["-t", "nat"], capture_output=True, text=True, check=False)
        rules += [line for line in proc.stdout.splitlines() if line.startswith("-A ")
                  and any(" -j %s" % target in line for target in NAT_TARGETS)]
    return rules


def test_no_route_out_of_the_lab_and_no_nat_of_its_traffic(engine, lab):
    """From every node, an address outside the lab (a root name server's, IPv4 and IPv6) is
    unreachable, or its next hop is another node of the lab, whence it is unreachable (a host's
    default route ends at its router, which has none). No NAT rule in any node's namespace but
    those of Docker's embedded resolver (127.0.0.11, inside the namespace); on the host, the lab's
    segments are made without masquerading, their bridges hold no IPv4 address (the host is no
    gateway of the lab) and no NAT rule names a lab bridge, a placeholder subnet or a lab prefix."""
    plan, nodes = lab["plan"], {}
    for container in lab_containers(engine, lab):
        if role_of(container) == "node":
            nodes[container.labels["vnet.node"]] = container.attrs["State"]["Pid"]
    owner = {}
    for name, node in plan["nodes"].items():
        for interface in node["interfaces"].values():
            for family in ("ipv4", "ipv6"):
                if interface.get(family):
                    owner[interface[family].split("/")[0]] = name
    for name, pid in nodes.items():
        for family in OUTSIDE:
            path, hop = [name], route_out(pid, family)
            while hop is not None:
                gateway = hop.get("gateway")
                assert gateway in owner, "%s: route to %s via %s, not a node of the lab (%s)" % (
                    " -> ".join(path), OUTSIDE[family], gateway or "the link %s" % hop.get("dev"), hop)
                assert owner[gateway] not in path, "%s: a routing loop" % " -> ".join(path + [owner[gateway]])
                path.append(owner[gateway])
                hop = route_out(nodes[owner[gateway]], family)
        for rule in nat_rules(pid):
            assert "%s/32" % DOCKER_RESOLVER in rule, "%s: NAT rule %s" % (name, rule)
    networks = engine.networks.list(filters={"label": "vnet.lab=%s" % lab["name"]})
    assert networks
    watched = {segment["ipv4"] for segment in plan["segments"].values() if segment.get("ipv4")}
    watched |= {segment["ipv6"] for segment in plan["segments"].values() if segment.get("ipv6")}
    for network in networks:
        options = network.attrs["Options"]
        assert options.get("com.docker.network.bridge.enable_ip_masquerade") == "false", network.name
        bridge = options.get("com.docker.network.bridge.name") or "br-%s" % network.id[:12]
        shown = subprocess.run(["ip", "-j", "-4", "address", "show", "dev", bridge], capture_output=True, text=True,
                               check=True).stdout
        assert [a for link in json.loads(shown) for a in link.get("addr_info", [])] == [], "%s holds %s" % (bridge, shown)
        watched.add(bridge)
        watched |= {config["Subnet"] for config in network.attrs["IPAM"]["Config"] or []}
    for rule in nat_rules(None):
        assert not [word for word in watched if word in rule.split()], "host NAT rule %s names the lab" % rule


# --- inspection ----------------------------------------------------------------------------------

def test_inspect_shows_the_running_lab_from_its_saved_plan(lab):
    """lab_inspect.yml, run beside the lab: a line per interface of every node of the saved plan,
    each node ``running`` (it read every node as absent while Docker's short container list, which
    has no labels, was used)."""
    rc, output, text = playbook(ROOT / "playbooks" / "lab_inspect.yml", lab["inventory"], lab["work"])
    assert rc == 0, text[-5000:]
    shown = [result["msg"] for play in output["plays"] for task in play["tasks"]
             if task["task"]["name"] == "Show the lab" for result in task["hosts"].values()]
    assert len(shown) == 1, text[-5000:]
    rows = {line.split()[0]: line.split()[2] for line in shown[0]
            if line.split() and line.split()[0] in lab["plan"]["nodes"]}
    assert rows == dict.fromkeys(lab["plan"]["nodes"], "running"), shown[0]
