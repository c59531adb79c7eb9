# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/verify.yml's checks as probes, and their lines: the reference lab's probes, and the
lines from outputs recorded on the running reference lab (the very lines the playbook printed
when each check was a task of its own), then what each kind of failure prints."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.vnet.lab.plugins.module_utils import _ipsec, _lab, _verify
from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def _plan(name):
    return make_plan(yaml.safe_load((EXAMPLES / name).read_text()))


def _checks(plan, ftp_user=None, web_sites=None):
    """What playbooks/verify.yml derives from the plan, the same way."""
    deployed = _lab.lab_services(plan)
    clients = [s["node"] for s in deployed if s["role"] == "client"]
    services = _lab.service_addresses(plan)
    dns_servers = [s["address"] for s in services if s["service"] == "dns"]
    ospf = [s["node"] for s in deployed if s["role"] == "ospf"]
    ftp = [s for s in services if s["service"] == "ftp"]
    return {
        "tunnels": _ipsec.probes(plan, plan.get("vpn")), "clients": clients,
        "user": clients[0] if clients else "", "peer": clients[-1] if clients else "",
        "dns_servers": dns_servers, "names": _lab.name_lookups(plan) if dns_servers else [],
        "web": [name for s in services if s["service"] == "web" for name in s["names"]],
        "web_sites": web_sites or {}, "ftp": ftp[0] if ftp else None,
        "ftp_user": ftp_user or {"name": "student", "password": "s3cret"},
        "ospf": ospf, "ospf_expected": _lab.ospf_expectations(plan, ospf), "min_hops": max(len(ospf), 1) + 1,
    }


PILAB = _plan("pilab.yml")
CHECKS = _checks(PILAB)

ROUTES_HEADER = "Codes: K - kernel route, C - connected, S - static, R - RIP,\n       O - OSPF, I - IS-IS\n\n"
NEIGHBOUR = ('{\n  "neighbors":{\n    "%s":[\n      {\n        "priority":1,\n        "state":"Full\\/-",\n'
             '        "nbrPriority":1,\n        "nbrState":"Full\\/-",\n        "converged":"Full"\n      }\n    ]\n  }\n}\n')


def _page(name):
    return ('<!DOCTYPE html>\n<html lang="en">\n<body>\n<h1>%s</h1>\n<p>Virtual host <code>%s</code> of the web server on'
            ' node rpi1 (lab vfylab).</p>\n</body>\n</html>\n\n' % (name, name))


def _run(stdout="", stderr="", rc=0, **more):
    return dict({"rc": rc, "stdout": stdout, "stderr": stderr, "ok": rc == 0}, **more)


# Recorded on the reference lab (lab vfylab, examples/pilab.yml), shortened where nothing is read.
RESULTS = {
    "vpn boards": _run("boards: #1, ESTABLISHED, IKEv2, 97f1e65e9c94f9d8_i* 648722615ab40450_r\n"
                       "  boards: #2, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/HMAC_SHA2_256_128\n"),
    "ospf rpi1": _run(NEIGHBOUR % "10.0.0.2"),
    "ospf rpi2": _run(NEIGHBOUR % "10.0.0.1"),
    "client client1": _run("lease eth0 192.168.5.10/24\nrouter 192.168.5.1\ndns 192.168.0.2 \ndomain pilab.test\n"),
    "client client2": _run("lease eth0 192.168.2.10/24\nrouter 192.168.2.1\ndns 192.168.0.2 \ndomain pilab.test\n"),
    "dns": _run("dhcp.pilab.test 192.168.0.3 dhcp.pilab.test.\nns1.pilab.test 192.168.0.2 ns1.pilab.test.\n"
                "ftp.pilab.test 192.168.0.4 ftp.pilab.test.\nvoip.pilab.test 192.168.0.6 voip.pilab.test.\n"
                "www.pilab.test 192.168.0.5 www.pilab.test.\nweb1.pilab.test 192.168.0.5 www.pilab.test.\n"
                "web2.pilab.test 192.168.0.5 www.pilab.test.\n"),
    "web www.pilab.test": _run(_page("www.pilab.test") + "200 241"),
    "web web1.pilab.test": _run(_page("web1.pilab.test") + "200 244"),
    "web web2.pilab.test": _run(_page("web2.pilab.test") + "200 244"),
    "ftp": _run("== welcome\nWelcome to the FTP server of node rpi1 in lab vfylab.\n== list\nfrom-client1.txt\n"
                "welcome.txt\n== etc\n== end\n",
                "---> USER student\n<--- 331 Please specify the password.\n---> PASS ********\n<--- 230 Login successful.\n"
                "---> PORT 192,168,5,10,189,87\n---> RETR welcome.txt\n"
                "---- Accepted data connection from (192.168.0.4) port 20\n---> PORT 192,168,5,10,178,173\n"
                "---> STOR from-client1.txt\n---- Accepted data connection from (192.168.0.4) port 20\n"
                "---> PORT 192,168,5,10,160,45\n---> LIST\n---- Accepted data connection from (192.168.0.4) port 20\n"
                "---> CWD /etc\n<--- 550 Failed to change directory.\n"
                "cd: Access failed: 550 Failed to change directory. (/etc)\n---> QUIT\n"),
    "ftp wrong password": _run("", "Login failed: 530 Login incorrect.\n", rc=1),
    "routes rpi1": _run(ROUTES_HEADER + "O   10.0.0.1/32 [110/0] is directly connected, lo, weight 1, 00:29:49\n"
                        "O>* 10.0.0.2/32 [110/10] via 10.0.1.2, eth3, weight 1, 00:29:48\n"
                        "O   10.0.1.0/30 [110/10] is directly connected, eth3, weight 1, 00:29:49\n"
                        "O>* 192.168.4.0/24 [110/20] via 10.0.1.2, eth3, weight 1, 00:29:48\n"
                        "O>* 192.168.5.0/24 [110/20] via 10.0.1.2, eth3, weight 1, 00:29:48\n"),
    "routes rpi2": _run(ROUTES_HEADER + "O>* 10.0.0.1/32 [110/10] via 10.0.1.1, eth3, weight 1, 00:29:48\n"
                        "O>* 192.168.0.0/24 [110/20] via 10.0.1.1, eth3, weight 1, 00:29:48\n"
                        "O>* 192.168.1.0/24 [110/20] via 10.0.1.1, eth3, weight 1, 00:29:48\n"
                        "O>* 192.168.2.0/24 [110/20] via 10.0.1.1, eth3, weight 1, 00:29:48\n"
                        "O   192.168.4.0/24 [110/10] is directly connected, eth1, weight 1, 00:29:48\n"),
    "path": _run("replies 3\nhop 192.168.5.1\nhop 192.168.2.1\nhop 192.168.2.10\n"),
}

CAPTURES = {"boards": "replies=3\nesp=6\nplain=0\n"}

# What the playbook printed for the reference lab when each check was a task (its report.md).
LINES = [
    "vpn boards: SA established rpi1 <-> rpi2 ... pass",
    "vpn boards: ping 192.168.1.1 -> 192.168.4.1 through the tunnel ... pass (3/3 replies)",
    "vpn boards: transit eth3 carries only ESP ... pass (6 ESP packets, 0 in clear)",
    "dhcp client1: lease 192.168.5.10/24 router 192.168.5.1 dns 192.168.0.2 domain pilab.test ... pass",
    "dhcp client2: lease 192.168.2.10/24 router 192.168.2.1 dns 192.168.0.2 domain pilab.test ... pass",
    "dns dhcp.pilab.test: A 192.168.0.3, PTR dhcp.pilab.test. ... pass",
    "dns ns1.pilab.test: A 192.168.0.2, PTR ns1.pilab.test. ... pass",
    "dns ftp.pilab.test: A 192.168.0.4, PTR ftp.pilab.test. ... pass",
    "dns voip.pilab.test: A 192.168.0.6, PTR voip.pilab.test. ... pass",
    "dns www.pilab.test: A 192.168.0.5, PTR www.pilab.test. ... pass",
    "dns web1.pilab.test: A 192.168.0.5, PTR www.pilab.test. ... pass",
    "dns web2.pilab.test: A 192.168.0.5, PTR www.pilab.test. ... pass",
    "web http://www.pilab.test/: its own page ... pass (HTTP 200, 241 bytes)",
    "web http://web1.pilab.test/: its own page ... pass (HTTP 200, 244 bytes)",
    "web http://web2.pilab.test/: its own page ... pass (HTTP 200, 244 bytes)",
    "ftp ftp.pilab.test: student logs in (active mode), gets welcome.txt, uploads a file ... pass"
    " (3 PORT commands, data from port 20: yes)",
    "ftp: the user cannot leave its chroot (cd /etc refused) ... pass",
    "ftp: a wrong password is refused ... pass (530 Login incorrect.)",
    "ospf rpi1: 1/1 neighbours Full, routes to 10.0.0.2/32 192.168.4.0/24 192.168.5.0/24 ... pass",
    "ospf rpi2: 1/1 neighbours Full, routes to 10.0.0.1/32 192.168.0.0/24 192.168.1.0/24 192.168.2.0/24 ... pass",
    "path client1 -> client2: ping 192.168.2.10 ... pass (3/3 replies)",
    "path client1 -> client2: traceroute 192.168.5.1 > 192.168.2.1 > 192.168.2.10 ... pass (3 hops)",
]


def _names(probes):
    return [probe["name"] for probe in probes]


def test_the_reference_labs_first_stage():
    probes = _verify.wait_probes(PILAB, CHECKS)
    assert _names(probes) == ["vpn boards", "wire boards", "ospf rpi1", "ospf rpi2", "client client1", "client client2"]
    sas, wire, ospf = probes[0], probes[1], probes[2]
    # The tunnel's traffic once its SA is up, counted on the transit interface by the node itself.
    assert wire["container"] == "pilab-rpi1" and wire["after"] == ["vpn boards"]
    assert wire["argv"][:3] == ["python3", "/usr/lib/vnet/_wire.py", "eth3"] and len(wire["argv"]) == 5
    assert sas["container"] == "pilab-rpi1-ipsec" and sas["argv"] == ["swanctl", "--list-sas", "--ike", "boards"]
    assert sas["until"]["patterns"] == [{"regex": "ESTABLISHED"}, {"regex": "INSTALLED"}]
    assert ospf["container"] == "pilab-rpi1-ospf" and ospf["until"]["patterns"] == [{"regex": _verify.FULL, "min": 1}]
    assert probes[4]["container"] == "pilab-client1-client"
    assert probes[4]["argv"][2].startswith('for i in eth0; do echo "lease $i $(ip -4 -o address show dev $i scope global')


def test_the_reference_labs_second_stage_from_the_leases():
    probes = _verify.check_probes(PILAB, CHECKS, RESULTS)
    assert _names(probes) == ["dns", "web www.pilab.test", "web web1.pilab.test", "web web2.pilab.test", "ftp",
                              "ftp wrong password", "routes rpi1", "routes rpi2", "path"]
    assert {probe["container"] for probe in probes if not probe["name"].startswith("routes")} == {"pilab-client1-client"}
    assert probes[0]["argv"][2].splitlines()[0] == (
        'echo "dhcp.pilab.test $(dig +short +time=2 +tries=2 dhcp.pilab.test A | tail -n 1)'
        ' $(dig +short +time=2 +tries=2 -x 192.168.0.3 | head -n 1)"')
    assert probes[1]["argv"] == ["curl", "-s", "--max-time", "5", "-w", "\n%{http_code} %{size_download}",
                                 "http://www.pilab.test/"]
    assert probes[4]["argv"] == ["lftp", "-d"] and probes[4]["stdin"] == (
        "set net:max-retries 1\nset net:timeout 5\nset ftp:passive-mode false\nset ftp:auto-passive-mode false\n"
        'open -u "student,s3cret" ftp.pilab.test\necho == welcome\ncat welcome.txt\n'
        "!echo 'uploaded by client1' >/tmp/vnet-upload.txt\nput /tmp/vnet-upload.txt -o from-client1.txt\n"
        "echo == list\ncls -1\necho == etc\ncd /etc\necho == end\n")
    assert probes[5]["stdin"] == 'set net:max-retries 1\nset net:timeout 5\nopen -u "student,not-the-password" 192.168.0.4\ncls -1\n'
    assert "ping -n -c 3 -i 0.2 -W 2 -w 5 192.168.2.10 " in probes[-1]["argv"][2]


def test_without_the_peers_lease_there_is_no_path():
    waited = dict(RESULTS, **{"client client2": _run("lease eth0 \nrouter \ndns \ndomain \n")})
    assert "path" not in _names(_verify.check_probes(PILAB, CHECKS, waited))
    assert not [line for line in _verify.lines(waited, PILAB, CHECKS) if line["line"].startswith("path")]


def test_the_leases():
    assert _verify.leases(RESULTS, PILAB, CHECKS["clients"]) == {"client1": "192.168.5.10/24", "client2": "192.168.2.10/24"}
    assert _verify.leases({}, PILAB, CHECKS["clients"]) == {"client1": "", "client2": ""}


def test_the_reference_labs_lines_are_those_printed_before():
    lines = _verify.lines(RESULTS, PILAB, CHECKS, CAPTURES)
    assert [line["line"] for line in lines] == LINES
    assert all(line["ok"] for line in lines)


def _changed(results):
    """The recorded results with some replaced, or left out (None)."""
    changed = copy.deepcopy(RESULTS)
    for name, result in results.items():
        if result is None:
            del changed[name]
        else:
            changed[name] = result
    return changed


@pytest.mark.parametrize("results, captures, failed", [
    (_changed({"vpn boards": _run("boards: #1, CONNECTING, IKEv2\n")}), CAPTURES, ["vpn boards: SA established rpi1 <-> rpi2 ... FAIL"]),
    (RESULTS, {},
     ["vpn boards: ping 192.168.1.1 -> 192.168.4.1 through the tunnel ... FAIL (0/3 replies)",
      "vpn boards: transit eth3 carries only ESP ... FAIL (0 ESP packets, ? in clear)"]),
    (RESULTS, {"boards": "replies=3\nesp=0\nplain=6\n"},
     ["vpn boards: transit eth3 carries only ESP ... FAIL (0 ESP packets, 6 in clear)"]),
    (_changed({"client client1": _run("lease eth0 \nrouter \ndns \ndomain \n")}), CAPTURES,
     ["dhcp client1: lease none router none dns none domain none ... FAIL (expected router 192.168.5.1,"
      " dns 192.168.0.2, domain pilab.test)"]),
    (_changed({"client client2": _run("lease eth0 192.168.9.10/24\nrouter 192.168.2.1\ndns 192.168.0.2 \ndomain pilab.test\n")}), CAPTURES,
     ["dhcp client2: lease 192.168.9.10/24 router 192.168.2.1 dns 192.168.0.2 domain pilab.test ... FAIL"
      " (expected router 192.168.2.1, dns 192.168.0.2, domain pilab.test)",
      "path client1 -> client2: traceroute 192.168.5.1 > 192.168.2.1 > 192.168.2.10 ... FAIL (3 hops)"]),
    (_changed({"dns": _run(RESULTS["dns"]["stdout"].replace("ns1.pilab.test 192.168.0.2 ns1.pilab.test.", "ns1.pilab.test  "))}),
     CAPTURES,
     ["dns ns1.pilab.test: A none, PTR none ... FAIL (expected 192.168.0.2, ns1.pilab.test.)"]),
    (_changed({"web web1.pilab.test": _run("<html>not found</html>\n404 153")}), CAPTURES,
     ["web http://web1.pilab.test/: its own page ... FAIL (HTTP 404, 153 bytes)"]),
    (_changed({"web web2.pilab.test": _run("\n000 0", rc=28)}), CAPTURES, ["web http://web2.pilab.test/: its own page ... FAIL (HTTP 000, 0 bytes)"]),
    (_changed({"ftp": _run("", "---- Connecting to ftp.pilab.test (192.168.0.4) port 21\n", rc=1)}), CAPTURES,
     ["ftp ftp.pilab.test: student logs in (active mode), gets welcome.txt, uploads a file ... FAIL"
      " (0 PORT commands, data from port 20: no)",
      "ftp: the user cannot leave its chroot (cd /etc refused) ... FAIL"]),
    (_changed({"ftp wrong password": _run("", "")}), CAPTURES, ["ftp: a wrong password is refused ... FAIL (no reply)"]),
    (_changed({"routes rpi1": _run(RESULTS["routes rpi1"]["stdout"].replace("O>* 192.168.5.0/24", "O   192.168.5.0/24"))}), CAPTURES,
     ["ospf rpi1: 1/1 neighbours Full, routes to 10.0.0.2/32 192.168.4.0/24 ... FAIL"
      " (expected routes to 192.168.4.0/24 192.168.5.0/24 10.0.0.2/32)"]),
    (_changed({"ospf rpi2": _run("% OSPF instance not found\n", rc=1), "routes rpi2": None}), CAPTURES,
     ["ospf rpi2: 0/1 neighbours Full, routes to nothing ... FAIL"
      " (expected routes to 192.168.1.0/24 192.168.2.0/24 192.168.0.0/24 10.0.0.1/32)"]),
    (_changed({"path": _run("replies 0\n")}), CAPTURES,
     ["path client1 -> client2: ping 192.168.2.10 ... FAIL (0/3 replies)",
      "path client1 -> client2: traceroute  ... FAIL (0 hops)"]),
    (_changed({"path": _run("replies 3\nhop 192.168.5.1\nhop 192.168.2.10\n")}), CAPTURES,
     ["path client1 -> client2: traceroute 192.168.5.1 > 192.168.2.10 ... FAIL (2 hops)"]),
], ids=["sa", "no capture", "in clear", "no lease", "lease elsewhere", "dig", "http 404", "curl timeout", "ftp",
        "ftp wrong password", "ospf route", "ospf down", "path", "short path"])
def test_each_failure_reads_as_before(results, captures, failed):
    lines = _verify.lines(results, PILAB, CHECKS, captures)
    assert len(lines) == len(LINES)
    assert [line["line"] for line in lines if not line["ok"]] == failed


def test_a_site_with_content_of_its_own_only_has_to_answer():
    results = _changed({"web www.pilab.test": _run("<html>my own</html>\n\n200 20")})
    checks = dict(CHECKS, web_sites={"www": {"root": "/srv/www"}})
    assert [line["ok"] for line in _verify.lines(results, PILAB, checks, CAPTURES) if line["line"].startswith("web")] == [True] * 3
    assert not _verify.lines(results, PILAB, CHECKS, CAPTURES)[12]["ok"]


def test_a_lab_with_only_a_tunnel():
    plan = _plan("vpn-host-to-host.yml")
    checks = _checks(plan)
    assert checks["clients"] == [] and len(checks["tunnels"]) == 1
    assert _names(_verify.wait_probes(plan, checks)) == ["vpn gw1-gw2", "wire gw1-gw2"]
    assert _verify.check_probes(plan, checks, {}) == []
    results = {"vpn gw1-gw2": _run("gw1-gw2: #1, ESTABLISHED\n  gw1-gw2: #2, INSTALLED\n")}
    assert [line["line"] for line in _verify.lines(results, plan, checks, {"gw1-gw2": "replies=3 esp=6 plain=0"})] == [
        "vpn gw1-gw2: SA established gw1 <-> gw2 ... pass",
        "vpn gw1-gw2: ping 198.51.100.1 -> 198.51.100.2 through the tunnel ... pass (3/3 replies)",
        "vpn gw1-gw2: transit wan carries only ESP ... pass (6 ESP packets, 0 in clear)"]


def test_a_lab_without_tunnels_or_clients_has_nothing_to_check():
    plan = _plan("ring.yml")
    checks = _checks(plan)
    assert _verify.wait_probes(plan, checks) == [] and _verify.check_probes(plan, checks, {}) == []
    assert _verify.lines({}, plan, checks) == []


def test_volume_lines_one_line_for_all_or_one_failure_per_full_volume():
    free = {"lab-a": {"mountpoint": "/v/a", "size": 2 << 30, "free": 1 << 30, "full": False},
            "lab-b": {"mountpoint": "/v/b", "size": 2 << 30, "free": 300 << 20, "full": False}}
    assert _verify.volume_lines(None) == []
    assert _verify.volume_lines(free) == [
        {"ok": True, "line": "volumes: 2, the least space left 300.0 MiB (lab-b) ... pass"}]
    full = dict(free, **{"lab-c": {"mountpoint": "/v/c", "size": 100 << 20, "free": 1024, "full": True}})
    (line,) = _verify.volume_lines(full)
    assert line["ok"] is False
    assert line["line"].startswith("volume lab-c (/v/c) ... FAIL (1.0 KiB left of 100.0 MiB) (full: ")
    remote = {"lab-a": {"mountpoint": "/v/a", "size": None, "free": None, "full": False}}
    assert _verify.volume_lines(remote) == [
        {"ok": True, "line": "volumes: 1, their space unknown (the engine is not on this host) ... pass"}]


def test_volume_lines_come_last_even_without_clients():
    plan = _plan("vpn-host-to-host.yml")
    space = {"v": {"mountpoint": "/v", "size": 1 << 30, "free": 0, "full": True}}
    out = _verify.lines({}, plan, {"tunnels": []}, volumes=space)
    assert [line["ok"] for line in out] == [False] and out[-1]["line"].startswith("volume v (/v)")


def test_the_wire_probe_counts_when_the_caller_captured_nothing():
    wired = dict(RESULTS, **{"wire boards": _run(CAPTURES["boards"])})
    assert [line["ok"] for line in _verify.lines(wired, PILAB, CHECKS, {})] == [True] * len(LINES)
    clear = dict(RESULTS, **{"wire boards": _run("replies=3\nesp=0\nplain=6\n")})
    assert [line["line"] for line in _verify.lines(clear, PILAB, CHECKS, {}) if not line["ok"]] == [
        "vpn boards: transit eth3 carries only ESP ... FAIL (0 ESP packets, 6 in clear)"]
    # A capture the caller made (the boards' scenario) is read first.
    assert [line["ok"] for line in _verify.lines(clear, PILAB, CHECKS, CAPTURES)] == [True] * len(LINES)
