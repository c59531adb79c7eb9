# SPDX-License-Identifier: GPL-3.0-or-later
"""The vnet.lab.ipsec role against real containers of this machine's Docker Engine.

Two namespace-holder nodes, gw1 and gw2, on a transit segment and one LAN segment each (bridge
networks made as the lab makes them: placeholder subnets, inhibit_ipv4, no masquerade; addresses
set by hand). The role runs on both (one ansible-playbook run, connection local) with
connections from the vnet.lab.ipsec_connections filter, and then:

* host-to-host, pre-shared key: SAs installed; a ping between the two peers crosses the transit
  segment as ESP in UDP 4500 only (tcpdump in gw2's namespace); a second run changes nothing;
  a wrong key on gw2 gives no SA, and nothing in clear crosses the transit segment (tcpdump
  there while the negotiation fails and gw1 pings with a payload pattern: IKE seen, no ICMP, no
  pattern; the trap holds the traffic);
  fail closed: with gw1's charon stopped, a ping from gw1 to gw2 (no source address given)
  gets no answer and nothing in clear crosses the transit segment; started again, the tunnel
  is back and carries the ping as ESP only;
  ``ipsec_state: absent`` removes the containers, and neither charon's routing rule nor the
  fail-closed rules stay behind;
* site-to-site, IPv4 with certificates (strongSwan's pki) and IPv6 with a pre-shared key, at
  once, the LANs also routed in clear over the transit segment (as OSPF would): LAN-to-LAN pings
  encrypted; private keys mode 600; a second run changes nothing; gw1's charon killed (it leaves
  its rule, its TUN device goes): no LAN-to-LAN ping of either family crosses in clear; started
  again, both tunnels carry the pings as ESP only;
* the kernel backend (forced: this kernel has no ESP, so no CHILD_SA installs, but policies do):
  charon's trap policies and the fail-closed block policies (higher priority numbers) side by
  side; IKE between the peers passes the block policies; with charon stopped its policies go
  and the block policies hold the ping;
* the image's vnet-ipsec-fail-closed alone, in a namespace of its own: rules per remote selector
  and family (libipsec), block policies per selector pair (kernel), a change that swaps slots,
  --count and --clear;
* a missing pre-shared key, or one under 16 characters, fails before anything is made.

On this kernel (no ESP) the role must choose kernel-libipsec by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BASE = "vnet/base:bookworm"
PREFIX = os.environ.get("VNET_TEST_PREFIX", "t4ipsec")
IMAGE = "%s/strongswan:test" % PREFIX
NODE_IMAGE = "%s/node:test" % PREFIX
LAB = "%s%d" % (PREFIX, os.getpid())
NODE_DOCKERFILE = """\
FROM %s
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      iproute2 iputils-ping tcpdump >/dev/null \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
""" % BASE
PSK = "correct horse battery staple"
WRONG_PSK = "not the key, though long enough"
# The payload of the pings sent while no SA is up (ping -p): never to be seen on the transit segment.
PROBE_PATTERN = "76e7c1ea5ec2e7"
PLAYBOOK = """\
- name: IPsec tunnels of the test lab
  hosts: all
  gather_facts: false
  roles:
    - role: vnet.lab.ipsec
      vars:
        ipsec_connections: "{{ plan | vnet.lab.ipsec_connections(vpn, inventory_hostname) }}"
"""


def iface(segment, ipv4, ipv6):
    return {"segment": segment, "ipv4": ipv4, "ipv6": ipv6, "dhcp": False, "mtu": None}


def router(**interfaces):
    return {"kind": "router", "loopback": {"ipv4": None, "ipv6": None}, "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": interfaces, "routes": []}


def segment(ipv4, ipv6, *endpoints):
    return {"type": "lan", "ipv4": ipv4, "ipv6": ipv6, "endpoints": list(endpoints), "mtu": None,
            "link": {"type": "bridge"}}


# Documentation and private prefixes none of this machine's own interfaces holds.
PLAN = {
    "name": LAB,
    "routing": "none",
    "nodes": {
        "gw1": router(eth0=iface("transit", "198.51.100.1/24", "2001:db8:41::1/64"),
                      eth1=iface("lan1", "10.41.1.1/24", "2001:db8:41:1::1/64")),
        "gw2": router(eth0=iface("transit", "198.51.100.2/24", "2001:db8:41::2/64"),
                      eth1=iface("lan2", "10.41.2.1/24", "2001:db8:41:2::1/64")),
    },
    "segments": {
        "transit": segment("198.51.100.0/24", "2001:db8:41::/64", "gw1:eth0", "gw2:eth0"),
        "lan1": segment("10.41.1.0/24", "2001:db8:41:1::/64", "gw1:eth1"),
        "lan2": segment("10.41.2.0/24", "2001:db8:41:2::/64", "gw2:eth1"),
    },
}
NODES = ("gw1", "gw2")


def docker(*args, check=True, timeout=300):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args), proc.stderr.strip()))
    return proc


def node_name(node):
    return "%s-%s" % (LAB, node)


def ipsec_name(node):
    return "%s-%s-ipsec" % (LAB, node)


def in_node(node, *argv, check=True):
    return docker("exec", node_name(node), *argv, check=check)


def swanctl(node, *args, check=True):
    return docker("exec", ipsec_name(node), "swanctl", *args, check=check)


def remove_by_label(*labels, graceful=True):
    """Remove the containers that carry every one of labels (never another lab's)."""
    filters = [arg for label in labels for arg in ("--filter", "label=" + label)]
    ids = docker("ps", "-aq", *filters).stdout.split()
    if ids:
        if graceful:
            # charon removes its routing rule and TUN device when it stops, not when killed.
            docker("stop", "-t", "5", *ids, check=False)
        docker("rm", "-f", *ids, check=False)


def installed(node, name):
    out = swanctl(node, "--list-sas", "--ike", name, check=False).stdout
    return re.search(r"^\s+%s: #\d+, reqid \d+, INSTALLED" % re.escape(name), out, re.M) is not None


def wait_installed(name, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not all(installed(node, name) for node in NODES):
        assert time.monotonic() < deadline, "no SA %s within %.0f s: %s" % (
            name, timeout, swanctl("gw1", "--list-sas", check=False).stdout)
        time.sleep(0.2)
    return timeout - (deadline - time.monotonic())


def encrypted_ping(source, destination, count=3):
    """Ping from gw1 while tcpdump listens on gw2's transit interface for 3 s; return (ping, packet
    lines). Neighbour discovery and ARP are left out: they are not the traffic protected."""
    capture = subprocess.Popen(
        ["docker", "exec", node_name("gw2"), "timeout", "3", "tcpdump", "-Z", "root", "-l", "-nn", "-i", "eth0",
         "not arp and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while "listening on" not in capture.stderr.readline():
            assert capture.poll() is None, "tcpdump did not start"
        ping = in_node("gw1", "ping", "-c", str(count), "-i", "0.2", "-W", "1", *(["-I", source] if source else []),
                       destination, check=False)
        out, _err = capture.communicate(timeout=15)
    finally:
        if capture.poll() is None:
            capture.kill()
    return ping, [line for line in out.splitlines() if line.strip()]


@contextlib.contextmanager
def transit_capture():
    """Yield a list, filled once the block ends with what tcpdump saw on gw2's transit interface
    meanwhile (ARP and neighbour discovery aside): (summary line, the packet's bytes as hex)."""
    capture = subprocess.Popen(
        ["docker", "exec", node_name("gw2"), "sh", "-c", 'echo "$$"; exec timeout 60 "$@"', "capture",
         "tcpdump", "-Z", "root", "-l", "-nn", "-x", "-i", "eth0",
         "not arp and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    packets = []
    try:
        pid = capture.stdout.readline().strip()
        while "listening on" not in capture.stderr.readline():
            assert capture.poll() is None, "tcpdump did not start"
        yield packets
        in_node("gw2", "sh", "-c", "kill -INT %s" % pid)
        out, _err = capture.communicate(timeout=15)
    finally:
        if capture.poll() is None:
            capture.kill()
    for line in out.splitlines():
        if line.startswith("\t0x"):
            packets[-1][1] += "".join(line.split(":", 1)[1].split())
        elif line.strip():
            packets.append([line, ""])


def held_ping(source, destination, count=2):
    """Ping destination from gw1 (from source, or with no source address given when source is None)
    with a payload pattern while tcpdump listens on gw2's transit interface: the ping must get no
    answer and the wire must carry neither an echo request or reply nor the pattern. (Other ICMP
    may cross: a port unreachable for a peer's IKE packet to a stopped charon.)"""
    with transit_capture() as packets:
        ping = in_node("gw1", "ping", "-c", str(count), "-i", "0.2", "-W", "1", "-p", PROBE_PATTERN,
                       *(["-I", source] if source else []), destination, check=False)
    assert ping.returncode != 0, ping.stdout
    assert not [p for p in packets if re.search(r"ICMP6?,? echo ", p[0])], packets
    assert not [p for p in packets if PROBE_PATTERN in p[1]], packets
    return ping


def fail_closed_rules(node):
    """gw's fail-closed rules (priorities 221-224), both families, as ip prints them."""
    return [line for family in ("-4", "-6") for line in in_node(node, "ip", family, "rule").stdout.splitlines()
            if re.match(r"22[1-4]:", line)]


def assert_only_esp(lines, count=3):
    assert len(lines) >= 2 * count, lines
    for line in lines:
        assert "ICMP" not in line and "echo" not in line, "clear text on the wire: %s" % line
        assert re.search(r"\.4500 > \S+\.4500: ", line), "not UDP 4500: %s" % line
    assert sum("UDP-encap: ESP" in line for line in lines) >= 2 * count, lines


def changed_tasks(stdout):
    """'TASK [...] host' for every change a run reports (to say what was not idempotent)."""
    found, task = [], None
    for line in stdout.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("]")[0] + "]"
        elif line.startswith("changed: "):
            found.append("%s %s" % (task, line.split()[1]))
    return found


def changed_per_host(stdout):
    return {host: int(changed) for host, changed in re.findall(r"^(\w+)\s+: ok=\d+\s+changed=(\d+)", stdout, re.M)}


@pytest.fixture(scope="module")
def images():
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("no Docker Engine answers (make engine)")
    if docker("image", "inspect", BASE, check=False).returncode != 0:
        pytest.skip("no base image %s (make base-image)" % BASE)
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun: neither kernel ESP nor kernel-libipsec can be tested here")
    started = time.monotonic()
    docker("build", "-q", "-t", IMAGE, "--build-arg", "BASE=" + BASE, str(ROOT / "roles/images/files/strongswan"),
           timeout=900)
    proc = subprocess.run(["docker", "build", "-q", "-t", NODE_IMAGE, "-"], input=NODE_DOCKERFILE,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr
    print("images built (or found in the build cache) in %.1f s" % (time.monotonic() - started))


def _network(name, taken):
    """A segment on the first free placeholder subnet (other labs may hold some)."""
    for third in range(200, 256):
        subnet = "100.125.%d.0/29" % third
        if subnet in taken:
            continue
        proc = docker("network", "create", "--driver", "bridge", "--subnet", subnet, "--label", "vnet.lab=" + LAB,
                      "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                      "-o", "com.docker.network.bridge.enable_ip_masquerade=false", name, check=False)
        if proc.returncode == 0:
            taken.add(subnet)
            return
        if "overlap" not in proc.stderr:
            raise AssertionError(proc.stderr)
    raise AssertionError("no free placeholder subnet in 100.125.200.0-100.125.255.0")


@pytest.fixture(scope="module")
def lab(images, tmp_path_factory):
    """gw1 and gw2 addressed as PLAN says; everything labelled vnet.lab=LAB goes afterwards."""
    work = tmp_path_factory.mktemp("ipsec")
    taken = set()
    try:
        for net in PLAN["segments"]:
            _network("%s-%s" % (LAB, net), taken)
        for node in NODES:
            interfaces = PLAN["nodes"][node]["interfaces"]
            docker("run", "-d", "--init", "--name", node_name(node), "--hostname", node,
                   "--label", "vnet.lab=" + LAB, "--label", "vnet.node=" + node,
                   # SETGID: tcpdump -Z root still sets its groups (it stays root, so timeout stops it).
                   "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SETGID",
                   "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "net.ipv6.conf.all.disable_ipv6=0",
                   "--sysctl", "net.ipv6.conf.all.forwarding=1",
                   "--network", "%s-%s" % (LAB, interfaces["eth0"]["segment"]), NODE_IMAGE, "sleep", "infinity")
            docker("network", "connect", "%s-%s" % (LAB, interfaces["eth1"]["segment"]), node_name(node))
            for ifname, data in sorted(interfaces.items()):
                in_node(node, "ip", "address", "flush", "dev", ifname, "scope", "global")
                in_node(node, "ip", "address", "add", data["ipv4"], "dev", ifname)
                in_node(node, "ip", "address", "add", data["ipv6"], "dev", ifname, "nodad")
        yield {"work": work}
    finally:
        remove_by_label("vnet.lab=" + LAB)
        for net in PLAN["segments"]:
            docker("network", "rm", "%s-%s" % (LAB, net), check=False)


def run_role(lab, vpn, psk=None, state="present", **role_vars):
    """One ansible-playbook run of the role on gw1 and gw2 (role_vars on both); returns (process, seconds)."""
    work = lab["work"]
    hosts = {}
    for node in NODES:
        hostvars = dict(role_vars, ipsec_node=node, ipsec_config_dir=str(work / "config" / node))
        if psk is not None and psk.get(node) is not None:
            hostvars["ipsec_psk"] = psk[node]
        hosts[node] = hostvars
    inventory = {"all": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "ipsec_lab": LAB, "ipsec_image": IMAGE, "ipsec_pki_dir": str(work / "pki"), "ipsec_state": state,
        "plan": PLAN, "vpn": vpn}}}
    (work / "inventory.json").write_text(json.dumps(inventory))
    (work / "play.yml").write_text(PLAYBOOK)
    playbook = Path(sys.executable).parent / "ansible-playbook"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    proc = subprocess.run([str(playbook if playbook.exists() else "ansible-playbook"),
                           "--diff", "-i", str(work / "inventory.json"), str(work / "play.yml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    print("role %s run: %.1f s, changed %s %s" % (state, seconds, changed_per_host(proc.stdout), changed_tasks(proc.stdout)))
    return proc, seconds


@pytest.fixture
def clean(lab):
    """Each case starts without strongSwan containers or configuration of an earlier one, nor the
    fail-closed rules or policies one left in the nodes' namespaces."""
    yield
    remove_by_label("vnet.lab=" + LAB, "vnet.service=ipsec")
    shutil.rmtree(lab["work"] / "config", ignore_errors=True)
    for node in NODES:
        in_node(node, "sh", "-c", "for p in 221 222 223 224; do for f in -4 -6; do"
                " while ip $f rule del pref $p 2>/dev/null; do :; done; done; done; ip xfrm policy flush")


def test_missing_psk_fails_before_anything_changes(lab, clean):
    proc, _seconds = run_role(lab, {"h2h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}})
    assert proc.returncode != 0
    assert "ipsec: no pre-shared key for h2h on gw1: set ipsec_psk" in proc.stdout
    assert not (lab["work"] / "config").exists()
    assert docker("ps", "-aq", "--filter", "label=vnet.lab=" + LAB, "--filter", "label=vnet.service").stdout == ""


def test_short_psk_fails_before_anything_changes(lab, clean):
    """The role used alone refuses a key under 16 characters with the lab's own check, naming the
    variable and the connection, never the key."""
    short = "s3cret-0f-12"
    proc, _seconds = run_role(lab, {"h2h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}},
                              psk={"gw1": short, "gw2": {"h2h": short}})
    assert proc.returncode != 0
    for node in NODES:
        assert ("ipsec: ipsec_psk: the key of tunnel h2h has 12 characters; a pre-shared key needs at least 16"
                " (on %s)" % node in proc.stdout), proc.stdout[-3000:]
    assert short not in proc.stdout + proc.stderr
    assert not (lab["work"] / "config").exists()
    assert docker("ps", "-aq", "--filter", "label=vnet.lab=" + LAB, "--filter", "label=vnet.service").stdout == ""


def test_host_to_host_psk(lab, clean):
    vpn = {"h2h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}}
    proc, seconds = run_role(lab, vpn, psk={"gw1": PSK, "gw2": PSK})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert PSK not in proc.stdout + proc.stderr
    print("SAs installed %.1f s after the run" % wait_installed("h2h"))
    for node in NODES:
        labels = json.loads(docker("inspect", ipsec_name(node)).stdout)[0]["Config"]["Labels"]
        assert labels["vnet.ipsec.backend"] == "libipsec"
        assert labels["vnet.service"] == "ipsec" and labels["vnet.node"] == node

    ping, lines = encrypted_ping("198.51.100.1", "198.51.100.2")
    assert ping.returncode == 0, ping.stdout
    assert_only_esp(lines)

    again, _seconds = run_role(lab, vpn, psk={"gw1": PSK, "gw2": PSK})
    assert again.returncode == 0, again.stdout[-6000:]
    assert changed_per_host(again.stdout) == {"gw1": 0, "gw2": 0}, again.stdout

    # Fail closed: the container held gw2's address before charon started (charon's own packets,
    # marked, pass). Stopped, charon takes its rule and routes away; the rules stay, and a ping to
    # gw2 with no source address given (the kernel picks 198.51.100.1, the protected address) gets
    # no answer, nothing in clear on the wire. Started again, the container brings the tunnel back.
    assert [rule.split(":", 1)[1] for rule in fail_closed_rules("gw1")] == [
        "\tfrom all to 198.51.100.2 fwmark 0x4500 lookup main", "\tfrom all to 198.51.100.2 prohibit"]
    docker("stop", "-t", "5", ipsec_name("gw1"))
    assert "lookup 220" not in in_node("gw1", "ip", "rule").stdout
    held_ping(None, "198.51.100.2")
    docker("start", ipsec_name("gw1"))
    print("SAs installed again %.1f s after the start" % wait_installed("h2h"))
    ping, lines = encrypted_ping(None, "198.51.100.2")
    assert ping.returncode == 0, ping.stdout
    assert_only_esp(lines)

    # A wrong key on gw2 is loaded (reload swanctl); a new negotiation then fails and nothing
    # leaves in clear text: gw1's trap holds the ping. The transit segment, seen from gw2, carries
    # the failed negotiation (IKE) and neither an ICMP packet nor the ping's payload pattern.
    wrong, _seconds = run_role(lab, vpn, psk={"gw1": PSK, "gw2": WRONG_PSK})
    assert wrong.returncode == 0, wrong.stdout[-6000:]
    assert changed_per_host(wrong.stdout)["gw2"] > 0
    with transit_capture() as packets:
        swanctl("gw1", "--terminate", "--ike", "h2h")
        initiate = docker("exec", ipsec_name("gw1"), "vnet-ipsec-initiate", "h2h", check=False)
        assert initiate.returncode == 1
        assert "could not initiate h2h" in initiate.stderr
        for node in NODES:
            assert not installed(node, "h2h"), swanctl(node, "--list-sas").stdout
            assert "ESTABLISHED" not in swanctl(node, "--list-sas").stdout
        ping = in_node("gw1", "ping", "-c", "2", "-i", "0.2", "-W", "1", "-p", PROBE_PATTERN, "-I", "198.51.100.1",
                       "198.51.100.2", check=False)
    assert ping.returncode != 0, ping.stdout
    assert [p for p in packets if re.search(r"\.500 > \S+\.500: isakmp", p[0])], packets
    assert not [p for p in packets if "ICMP" in p[0]], packets
    assert not [p for p in packets if PROBE_PATTERN in p[1]], packets
    for node in NODES:
        assert not installed(node, "h2h"), swanctl(node, "--list-sas").stdout

    gone, _seconds = run_role(lab, vpn, state="absent")
    assert gone.returncode == 0, gone.stdout[-6000:]
    assert docker("ps", "-aq", "--filter", "label=vnet.lab=" + LAB, "--filter", "label=vnet.service=ipsec").stdout == ""
    assert not (lab["work"] / "config" / "gw1").exists()
    for node in NODES:
        assert "lookup 220" not in in_node(node, "ip", "rule").stdout
        assert "ipsec0" not in in_node(node, "ip", "link").stdout
        assert fail_closed_rules(node) == []
    assert "TASK [vnet.lab.ipsec : Remove the fail-closed rules" in gone.stdout
    gone_again, _seconds = run_role(lab, vpn, state="absent")
    assert changed_per_host(gone_again.stdout) == {"gw1": 0, "gw2": 0}, gone_again.stdout


@pytest.fixture
def lan_routes(lab):
    """Each LAN routed to the other over the transit segment, in clear, as a routing protocol
    would: the path the LAN traffic takes whenever the tunnel does not hold it."""
    routes = {"gw1": [("-4", "10.41.2.0/24", "198.51.100.2"), ("-6", "2001:db8:41:2::/64", "2001:db8:41::2")],
              "gw2": [("-4", "10.41.1.0/24", "198.51.100.1"), ("-6", "2001:db8:41:1::/64", "2001:db8:41::1")]}
    for node, entries in routes.items():
        for family, prefix, via in entries:
            in_node(node, "ip", family, "route", "replace", prefix, "via", via)
    yield
    for node, entries in routes.items():
        for family, prefix, _via in entries:
            in_node(node, "ip", family, "route", "del", prefix, check=False)


def test_site_to_site_ipv4_pubkey_and_ipv6_psk(lab, clean, lan_routes):
    vpn = {"s2s": {"mode": "site-to-site", "peers": ["gw1", "gw2"], "auth": "pubkey"},
           "s2s6": {"mode": "site-to-site", "peers": ["gw2", "gw1"], "family": "ipv6"}}
    proc, _seconds = run_role(lab, vpn, psk={"gw1": {"s2s6": PSK}, "gw2": {"s2s6": PSK}})
    assert proc.returncode == 0, proc.stdout[-6000:]
    wait_installed("s2s")
    wait_installed("s2s6")
    assert "authentication of 'gw2' with ECDSA" in docker("logs", ipsec_name("gw1")).stderr

    ping, lines = encrypted_ping("10.41.1.1", "10.41.2.1")
    assert ping.returncode == 0, ping.stdout
    assert_only_esp(lines)
    ping, lines = encrypted_ping("2001:db8:41:1::1", "2001:db8:41:2::1")
    assert ping.returncode == 0, ping.stdout
    assert_only_esp(lines)

    work = lab["work"]
    for key in [work / "pki" / "ca" / "ca.key", work / "pki" / "nodes" / "gw1.key",
                work / "config" / "gw1" / "swanctl" / "private" / "gw1.key",
                work / "config" / "gw2" / "swanctl" / "swanctl.conf"]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert not (work / "config" / "gw1" / "swanctl" / "private" / "gw2.key").exists()

    again, _seconds = run_role(lab, vpn, psk={"gw1": {"s2s6": PSK}, "gw2": {"s2s6": PSK}})
    assert again.returncode == 0, again.stdout[-6000:]
    assert changed_per_host(again.stdout) == {"gw1": 0, "gw2": 0}, again.stdout

    # Fail closed: gw1's charon killed leaves its rule to table 220, but its TUN device, and so its
    # routes, go with it; the LAN traffic would take the clear route. The fail-closed rules hold it,
    # both families. Started again, gw1 brings s2s back itself; s2s6 is gw2's to initiate (gw1's
    # new IKE_SA made gw2 drop the old ones).
    docker("kill", ipsec_name("gw1"))
    assert "ipsec0" not in in_node("gw1", "ip", "link").stdout
    held_ping("10.41.1.1", "10.41.2.1")
    held_ping("2001:db8:41:1::1", "2001:db8:41:2::1")
    docker("start", ipsec_name("gw1"))
    print("s2s installed again %.1f s after the start" % wait_installed("s2s"))
    swanctl("gw2", "--terminate", "--ike", "s2s6", "--force", check=False)
    docker("exec", ipsec_name("gw2"), "vnet-ipsec-initiate", "s2s6")
    print("s2s6 installed again %.1f s after gw2 initiated it" % wait_installed("s2s6"))
    for source, destination in (("10.41.1.1", "10.41.2.1"), ("2001:db8:41:1::1", "2001:db8:41:2::1")):
        ping, lines = encrypted_ping(source, destination)
        assert ping.returncode == 0, ping.stdout
        assert_only_esp(lines)


def xfrm_policies(node):
    """gw's xfrm policies: [{'selector': 'src ... dst ...', 'dir': ..., 'priority': int, 'action': ...,
    'mark': '0/0x1' or None}]."""
    policies = []
    for line in in_node(node, "ip", "xfrm", "policy").stdout.splitlines():
        if line.startswith("src "):
            policies.append({"selector": line.strip(), "mark": None, "action": "allow"})
        elif policies and "priority" in line:
            fields = line.split()
            policies[-1].update(dir=fields[1], priority=int(fields[fields.index("priority") + 1]))
            if "action" in fields:
                policies[-1]["action"] = fields[fields.index("action") + 1]
        elif policies and line.strip().startswith("mark "):
            policies[-1]["mark"] = line.split()[1]
    return policies


def test_kernel_backend_fails_closed(lab, clean):
    """The kernel backend, forced: this kernel takes xfrm policies but no ESP state, so charon
    installs its trap policies and IKE comes up, but no CHILD_SA."""
    vpn = {"h2h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}}
    proc, _seconds = run_role(lab, vpn, psk={"gw1": PSK, "gw2": PSK}, ipsec_backend="kernel")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "ipsec: gw1: not up yet" in proc.stdout
    selector = "src 198.51.100.1/32 dst 198.51.100.2/32"

    def outbound(node):
        return [p for p in xfrm_policies(node) if p["selector"] == selector and p["dir"] == "out"]

    def ike_established():
        return "ESTABLISHED" in swanctl("gw1", "--list-sas", "--ike", "h2h", check=False).stdout

    # Both sets side by side: charon's (no mark, the lower priority number: looked up first) and
    # the two block policies (marks 0/1 and 1/1).
    policies = outbound("gw1")
    charon = [p for p in policies if p["mark"] is None]
    blocks = sorted((p["mark"], p["priority"], p["action"]) for p in policies if p["mark"] is not None)
    assert len(charon) == 1 and charon[0]["priority"] < 2000000, policies
    assert blocks == [("0/0x1", 2000000, "block"), ("0x1/0x1", 2000000, "block")], policies
    print("charon's trap policy: priority %d; the block policies: 2000000" % charon[0]["priority"])
    # IKE between the two protected addresses passes them (charon's sockets bypass the policies).
    deadline = time.monotonic() + 20
    while not ike_established():
        assert time.monotonic() < deadline, swanctl("gw1", "--list-sas", check=False).stdout
        time.sleep(0.2)
    held_ping(None, "198.51.100.2")

    docker("stop", "-t", "5", ipsec_name("gw1"))
    policies = outbound("gw1")
    assert sorted(p["mark"] for p in policies) == ["0/0x1", "0x1/0x1"], policies
    held_ping(None, "198.51.100.2")

    docker("start", ipsec_name("gw1"))
    deadline = time.monotonic() + 20
    while len(outbound("gw1")) != 3 or not ike_established():
        assert time.monotonic() < deadline, (outbound("gw1"), swanctl("gw1", "--list-sas", check=False).stdout)
        time.sleep(0.2)


FAIL_CLOSED_FILES = {
    "libipsec": "backend libipsec\nmark 0x4500\n"
                "selector a 10.1.0.0/24 10.2.0.0/24\nselector b 10.3.0.0/24 10.2.0.0/24\n"
                "selector c 2001:db8:1::/64 2001:db8:2::/64\nselector h 192.0.2.1/32 192.0.2.2/32\n",
    "changed": "# a comment\nbackend libipsec\nmark 0x4500\nselector a 10.1.0.0/24 10.9.0.0/24\n",
    "kernel": "backend kernel\nselector a 10.1.0.0/24 10.2.0.0/24\nselector c 2001:db8:1::/64 2001:db8:2::/64\n",
    "broken": "backend libipsec\nselector a 10.1.0.0/24 10.2.0.0/24\n",
}
FAIL_CLOSED_STEPS = """
show() { { ip -4 rule; ip -6 rule; ip xfrm policy; } | grep -v lookup.local | sed 's/[[:space:]]*$//'; }
for f in libipsec changed kernel broken; do
    echo "== $f"; VNET_IPSEC_FAIL_CLOSED=/fc/$f vnet-ipsec-fail-closed 2>&1 && show
done
echo "== count"; vnet-ipsec-fail-closed --count
echo "== clear"; vnet-ipsec-fail-closed --clear; show
echo "== then"; VNET_IPSEC_FAIL_CLOSED=/fc/changed vnet-ipsec-fail-closed echo and then this
"""
FAIL_CLOSED_EXPECTED = """\
== libipsec
vnet-ipsec-fail-closed: libipsec: 3 held while no SA carries them; 0 of the old set removed
221:\tfrom all to 10.2.0.0/24 fwmark 0x4500 lookup main
221:\tfrom all to 192.0.2.2 fwmark 0x4500 lookup main
222:\tfrom all to 10.2.0.0/24 prohibit
222:\tfrom all to 192.0.2.2 prohibit
32766:\tfrom all lookup main
32767:\tfrom all lookup default
221:\tfrom all to 2001:db8:2::/64 fwmark 0x4500 lookup main
222:\tfrom all to 2001:db8:2::/64 prohibit
32766:\tfrom all lookup main
== changed
vnet-ipsec-fail-closed: libipsec: 1 held while no SA carries them; 6 of the old set removed
223:\tfrom all to 10.9.0.0/24 fwmark 0x4500 lookup main
224:\tfrom all to 10.9.0.0/24 prohibit
32766:\tfrom all lookup main
32767:\tfrom all lookup default
32766:\tfrom all lookup main
== kernel
vnet-ipsec-fail-closed: kernel: 2 held while no SA carries them; 2 of the old set removed
32766:\tfrom all lookup main
32767:\tfrom all lookup default
32766:\tfrom all lookup main
src 2001:db8:1::/64 dst 2001:db8:2::/64\n\tdir out action block priority 2000000 ptype main\n\tmark 0x1/0x1
src 2001:db8:1::/64 dst 2001:db8:2::/64\n\tdir out action block priority 2000000 ptype main\n\tmark 0/0x1
src 10.1.0.0/24 dst 10.2.0.0/24\n\tdir out action block priority 2000000 ptype main\n\tmark 0x1/0x1
src 10.1.0.0/24 dst 10.2.0.0/24\n\tdir out action block priority 2000000 ptype main\n\tmark 0/0x1
== broken
vnet-ipsec-fail-closed: /fc/broken: libipsec needs the mark of charon's packets (mark MARK)
== count
installed 4
== clear
vnet-ipsec-fail-closed: removed 4
32766:\tfrom all lookup main
32767:\tfrom all lookup default
32766:\tfrom all lookup main
== then
vnet-ipsec-fail-closed: libipsec: 1 held while no SA carries them; 0 of the old set removed
and then this
"""


def test_fail_closed_script_alone(images, tmp_path):
    """vnet-ipsec-fail-closed of the image, in a namespace of its own (no network, NET_ADMIN only)."""
    for name, text in FAIL_CLOSED_FILES.items():
        (tmp_path / name).write_text(text)
    tmp_path.chmod(0o755)
    proc = docker("run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN",
                  "-v", "%s:/fc:ro" % tmp_path, "--entrypoint", "sh", IMAGE, "-c", FAIL_CLOSED_STEPS)
    assert proc.stdout == FAIL_CLOSED_EXPECTED, proc.stdout
