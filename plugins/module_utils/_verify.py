# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The end-to-end checks of a running lab as probes, and their lines (private to vnet.lab).

playbooks/verify.yml checks a lab as its users would, from the lab's own containers, with the
programs they have (swanctl, vtysh, the DHCP client's state, dig, curl, lftp, ping, traceroute).
This module says which commands run where (``probes``), and what their output means
(``lines``): one ``{ok, line}`` per check, the line ending in ``pass`` or ``FAIL (...)``.
What each check must get is read from the plan and from ``checks``, which the playbook derives
from the plan with the collection's filters (service_addresses, name_lookups, ospf_expectations,
ipsec_probes), never from the roles under test::

    {tunnels: [...],        # vnet.lab.ipsec_probes
     clients: [node...],    # the hosts that have a client container, in plan order
     user: node, peer: node,                  # the first and the last client
     dns_servers: [address...], names: [...], # vnet.lab.name_lookups
     web: [fqdn...], web_sites: {site: {root: ...}},
     ftp: {address, names} or None, ftp_user: {name, password},
     ospf: [node...], ospf_expected: {node: {neighbours, prefixes}},  # vnet.lab.ospf_expectations
     min_hops: int}

The probes come in two stages, each run at once by vnet.lab.probes:

``waits``
    What converges by itself and what the rest depends on: each tunnel's security associations
    (until ESTABLISHED and INSTALLED; ``vpn <tunnel>``), then a ping through each tunnel while its
    first peer counts what crosses its transit interface (``wire <tunnel>``: ``_wire.py`` in the node,
    a docker exec, as the node has NET_RAW), each OSPF router's adjacencies (until as
    many are Full as the plan expects; ``ospf <node>``) and each client's lease, router and
    resolver (``client <node>``).
``checks``
    The rest, given the leases: the service names forward and back (``dns``), each web site
    (``web <fqdn>``), FTP in active mode and with a wrong password (``ftp``, ``ftp wrong
    password``), each OSPF router's routes (``routes <node>``) and a path from the first client to
    the last one's lease (``path``).

Without clients there are only the tunnels' probes. ``lines`` takes the results of both stages
(and the output of captures a caller made itself, such as the boards' scenario) and gives the lines
in the order vpn, dhcp, dns, web, ftp, ospf, path; a probe that did not run reads as empty output.
"""

from __future__ import annotations

import ipaddress
import json
import re

# The same patience as before: 20 s for a tunnel or an adjacency to come up.
WAIT = {"timeout": 20, "interval": 0.5}
FULL = r'"state":\s*"Full'


def _client(lab, node):
    return "%s-%s-client" % (lab, node)


def dhcp_interfaces(plan, node):
    """The node's interfaces that take their address by DHCP, in plan order."""
    return [name for name, spec in plan["nodes"][node]["interfaces"].items() if spec.get("dhcp")]


def segment_router(plan, segment):
    """The address of the first router on ``segment`` (plan order), '' when none has one there."""
    for node in plan["nodes"].values():
        if node.get("kind") != "router":
            continue
        for spec in node.get("interfaces", {}).values():
            if spec.get("segment") == segment and spec.get("ipv4"):
                return spec["ipv4"].split("/")[0]
    return ""


def _client_argv(plan, node):
    return [
        "sh", "-c",
        "for i in %s; do echo \"lease $i $(ip -4 -o address show dev $i scope global | awk '{print $4}'"
        " | head -n 1)\"; done; echo \"router $(ip -4 route show default | awk '{print $3; exit}')\";"
        " echo \"dns $(awk '/^nameserver/ {print $2}' /etc/resolv.conf | tr '\\n' ' ')\";"
        " echo \"domain $(awk '/^(domain|search)/ {print $2; exit}' /etc/resolv.conf)\""
        % " ".join(dhcp_interfaces(plan, node)),
    ]


def _ftp_host(ftp):
    return (ftp.get("names") or [ftp["address"]])[0]


def _ftp_session(checks):
    """lftp's script: log in in active mode, read the test file, upload one, try to leave the chroot."""
    ftp, user, client = checks["ftp"], checks.get("ftp_user") or {}, checks["user"]
    return ("set net:max-retries 1\nset net:timeout 5\nset ftp:passive-mode false\nset ftp:auto-passive-mode false\n"
            'open -u "%s,%s" %s\n' % (user.get("name", ""), user.get("password", ""), _ftp_host(ftp))
            + "echo == welcome\ncat welcome.txt\n"
            "!echo 'uploaded by %s' >/tmp/vnet-upload.txt\n" % client
            + "put /tmp/vnet-upload.txt -o from-%s.txt\n" % client
            + "echo == list\ncls -1\necho == etc\ncd /etc\necho == end\n")


def _ftp_wrong(checks):
    user = checks.get("ftp_user") or {}
    return ('set net:max-retries 1\nset net:timeout 5\nopen -u "%s,not-the-password" %s\ncls -1\n'
            % (user.get("name", ""), checks["ftp"]["address"]))


def wait_probes(plan, checks):
    """The first stage: tunnels, adjacencies and leases, each until it is ready where it can be."""
    lab = plan["name"]
    probes = [{"name": "vpn %s" % tunnel["name"], "container": "%s-%s-ipsec" % (lab, tunnel["node"]),
               "argv": ["swanctl", "--list-sas", "--ike", tunnel["name"]],
               "until": dict(WAIT, patterns=[{"regex": "ESTABLISHED"}, {"regex": "INSTALLED"}])}
              for tunnel in checks.get("tunnels") or []]
    # Each tunnel's traffic, once its SA is up: a ping through it from its first peer while the
    # node counts what crosses the transit interface (_wire.py, in the node image). The other waits
    # send nothing through a tunnel that a ping would be told from.
    probes += [{"name": "wire %s" % tunnel["name"], "container": "%s-%s" % (lab, tunnel["node"]),
                "argv": ["python3", "/usr/lib/vnet/_wire.py", tunnel["transit"], tunnel["source"],
                         tunnel["destination"]],
                "after": ["vpn %s" % tunnel["name"]]}
               for tunnel in checks.get("tunnels") or [] if tunnel.get("source") and tunnel.get("destination")]
    if not checks.get("clients"):
        return probes
    for node in checks.get("ospf") or []:
        probes.append({"name": "ospf %s" % node, "container": "%s-%s-ospf" % (lab, node),
                       "argv": ["vtysh", "-c", "show ip ospf neighbor json"],
                       "until": dict(WAIT, patterns=[{"regex": FULL,
                                                      "min": checks["ospf_expected"][node]["neighbours"]}])})
    for node in checks["clients"]:
        probes.append({"name": "client %s" % node, "container": _client(lab, node),
                       "argv": _client_argv(plan, node)})
    return probes


def _client_facts(result):
    lines = (result or {}).get("stdout", "").splitlines()

    def after(prefix):
        found = [line for line in lines if line.startswith(prefix + " ")]
        return found[0][len(prefix) + 1:] if found else ""

    lease = [line.split()[-1] for line in lines if line.startswith("lease ")]
    return {"lease": next((value for value in lease if "/" in value), ""), "router": after("router"),
            "dns": after("dns").strip(), "domain": after("domain")}


def leases(results, plan, clients):
    """``{node: lease}`` (address/prefix, '' when none) of each client that takes one by DHCP."""
    return {node: _client_facts(results.get("client %s" % node))["lease"]
            for node in clients if dhcp_interfaces(plan, node)}


def path_target(results, plan, checks):
    """The address the path check pings: the peer's lease, '' when it has none. The peer is the last
    client, of another engine in a lab placed over several (``results`` then holds its engine's too)."""
    peer = checks.get("peer")
    return (leases(results, plan, [peer] if peer else []).get(peer) or "").split("/")[0]


def check_probes(plan, checks, waited):
    """The second stage, given the first stage's results ``waited`` (the leases)."""
    lab = plan["name"]
    if not checks.get("clients"):
        return []
    client = _client(lab, checks["user"])
    probes = []
    if checks.get("names"):
        script = "".join('echo "%s $(dig +short +time=2 +tries=2 %s A | tail -n 1) $(dig +short +time=2 +tries=2 -x %s'
                         ' | head -n 1)"\n' % (entry["fqdn"], entry["fqdn"], entry["address"])
                         for entry in checks["names"])
        probes.append({"name": "dns", "container": client, "argv": ["sh", "-c", script]})
    for name in checks.get("web") or []:
        probes.append({"name": "web %s" % name, "container": client,
                       "argv": ["curl", "-s", "--max-time", "5", "-w", "\n%{http_code} %{size_download}",
                                "http://%s/" % name]})
    if checks.get("ftp"):
        probes.append({"name": "ftp", "container": client, "argv": ["lftp", "-d"], "stdin": _ftp_session(checks)})
        probes.append({"name": "ftp wrong password", "container": client, "argv": ["lftp"],
                       "stdin": _ftp_wrong(checks)})
    for node in checks.get("ospf") or []:
        probes.append({"name": "routes %s" % node, "container": "%s-%s-ospf" % (lab, node),
                       "argv": ["vtysh", "-c", "show ip route ospf"]})
    target = path_target(waited, plan, checks)
    if target:
        # Three replies wanted, within 5 s (-w: ping sends until it has them): a first request lost
        # to a busy hop's neighbour resolution is not a broken path; no reply in 5 s is.
        probes.append({"name": "path", "container": client, "argv": [
            "sh", "-c",
            "echo \"replies $(ping -n -c 3 -i 0.2 -W 2 -w 5 %s | grep -c 'bytes from')\"; traceroute -n -q 1 -w 1 -m 8 %s"
            " | tail -n +2 | awk '{print \"hop\", $2}'" % (target, target)]})
    return probes


def _line(ok, text, figures="", expected=""):
    """``text ... pass (figures)``, or ``text ... FAIL (figures) (expected)``."""
    return {"ok": bool(ok), "line": "%s ... %s%s" % (text, "pass" if ok else "FAIL", figures + ("" if ok else expected))}


def _int(text, default=0):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _vpn_lines(results, checks, captures):
    out = []
    for tunnel in checks.get("tunnels") or []:
        name = tunnel["name"]
        sas = results.get("vpn %s" % name) or {}
        # The capture the caller made, else the wire probe's (replies=3 esp=6 plain=0).
        captured = captures.get(name)
        if captured is None:
            captured = (results.get("wire %s" % name) or {}).get("stdout")
        figures = dict(item.split("=", 1) for item in (captured or "").split() if "=" in item)
        sa_ok = sas.get("rc") == 0 and "INSTALLED" in (sas.get("stdout") or "")
        replies = figures.get("replies", "0")
        ping_ok = _int(replies) == 3
        wire_ok = _int(figures.get("esp", "0")) > 0 and _int(figures.get("plain", "1"), 1) == 0
        out += [
            _line(sa_ok, "vpn %s: SA established %s <-> %s" % (name, tunnel["node"], tunnel["peer"])),
            _line(ping_ok, "vpn %s: ping %s -> %s through the tunnel" % (name, tunnel["source"], tunnel["destination"]),
                  " (%s/3 replies)" % replies),
            _line(wire_ok, "vpn %s: transit %s carries only ESP" % (name, tunnel["transit"]),
                  " (%s ESP packets, %s in clear)" % (figures.get("esp", "0"), figures.get("plain", "?"))),
        ]
    return out


def _dhcp_lines(results, plan, checks):
    out = []
    dns_servers = list(checks.get("dns_servers") or [])
    for node in checks.get("clients") or []:
        interfaces = dhcp_interfaces(plan, node)
        if not interfaces:
            continue
        got = _client_facts(results.get("client %s" % node))
        segment = plan["nodes"][node]["interfaces"][interfaces[0]]["segment"]
        router = segment_router(plan, segment)
        try:
            in_segment = str(ipaddress.ip_interface(got["lease"]).network) == plan["segments"][segment].get("ipv4")
        except ValueError:
            in_segment = False
        ok = (got["lease"] and in_segment and got["router"] == router and got["dns"].split() == dns_servers
              and got["domain"] == plan.get("domain"))
        out.append(_line(ok, "dhcp %s: lease %s router %s dns %s domain %s" % (
            node, got["lease"] or "none", got["router"] or "none", got["dns"] or "none", got["domain"] or "none"),
            expected=" (expected router %s, dns %s, domain %s)" % (router, " ".join(dns_servers), plan.get("domain"))))
    return out


def _dns_lines(results, checks):
    if "dns" not in results:
        return []
    lines = results["dns"].get("stdout", "").splitlines()
    out = []
    for entry in checks.get("names") or []:
        found = [line for line in lines if re.match(entry["fqdn"] + " ", line)]
        got = found[0].split() if found else []
        a_record = got[1] if len(got) > 1 else None
        ptr = got[2] if len(got) > 2 else None
        ok = (a_record or "") == entry["address"] and (ptr or "") == entry["ptr"]
        out.append(_line(ok, "dns %s: A %s, PTR %s" % (entry["fqdn"], a_record or "none", ptr or "none"),
                         expected=" (expected %s, %s)" % (entry["address"], entry["ptr"])))
    return out


def _web_lines(results, checks):
    out = []
    sites = checks.get("web_sites") or {}
    for name in checks.get("web") or []:
        result = results.get("web %s" % name) or {}
        stdout = result.get("stdout") or ""
        lines = stdout.splitlines()
        status = (lines[-1] if lines else "").split()
        # A generated page names its virtual host; a site with content of its own only has to answer.
        own_content = (sites.get(name.split(".")[0]) or {}).get("root") is not None
        ok = status[:1] == ["200"] and (own_content or ("<code>%s</code>" % name) in stdout)
        figures = " (HTTP %s, %s bytes)" % (status[0] if status else "none", status[1] if len(status) > 1 else "0")
        out.append(_line(ok, "web http://%s/: its own page" % name, figures))
    return out


def _ftp_lines(results, checks):
    if not checks.get("ftp") or "ftp" not in results:
        return []
    run, bad = results["ftp"], results.get("ftp wrong password") or {}
    out_lines = (run.get("stdout") or "").splitlines()
    err_lines = (run.get("stderr") or "").splitlines()
    ports = len([line for line in err_lines if line.startswith("---> PORT ")])
    from_20 = any(re.search("Accepted data connection from .* port 20", line) for line in err_lines)
    session_ok = (run.get("rc") == 0 and "== welcome" in out_lines and len(out_lines) > 3
                  and "from-%s.txt" % checks["user"] in out_lines and ports > 0 and from_20)
    chroot_ok = any(re.search("cd: Access failed: 550", line) for line in err_lines)
    bad_err = bad.get("stderr") or ""
    bad_ok = bad.get("rc") not in (None, 0) and "530" in bad_err
    reply = re.search("[0-9]{3} [^\n]*", bad_err)
    figures = " (%d PORT commands, data from port 20: %s)" % (ports, "yes" if from_20 else "no")
    return [
        _line(session_ok, "ftp %s: %s logs in (active mode), gets welcome.txt, uploads a file"
              % (_ftp_host(checks["ftp"]), (checks.get("ftp_user") or {}).get("name", "")), figures),
        _line(chroot_ok, "ftp: the user cannot leave its chroot (cd /etc refused)"),
        _line(bad_ok, "ftp: a wrong password is refused", " (%s)" % (reply.group(0) if reply else "no reply")),
    ]


def _full(result):
    try:
        neighbours = json.loads((result or {}).get("stdout") or "{}").get("neighbors") or {}
    except ValueError:
        return []
    return [n for group in neighbours.values() for n in group if re.match("Full", str(n.get("state", "")))]


def _ospf_lines(results, checks):
    out = []
    for node in checks.get("ospf") or []:
        expected = checks["ospf_expected"][node]
        full = _full(results.get("ospf %s" % node))
        learnt = re.findall(r"(?m)^O>\* (\S+)", (results.get("routes %s" % node) or {}).get("stdout") or "")
        missing = [prefix for prefix in expected["prefixes"] if prefix not in learnt]
        ok = len(full) >= expected["neighbours"] and not missing
        out.append(_line(ok, "ospf %s: %d/%s neighbours Full, routes to %s" % (
            node, len(full), expected["neighbours"], " ".join(learnt) or "nothing"),
            expected=" (expected routes to %s)" % " ".join(expected["prefixes"])))
    return out


def _path_lines(results, plan, checks):
    target = path_target(results, plan, checks)
    if not target:
        return []
    lines = ((results.get("path") or {}).get("stdout") or "").splitlines()
    replies = next((line.split()[-1] for line in lines if line.startswith("replies ")), "0")
    hops = [line.split()[-1] for line in lines if line.startswith("hop ")]
    ping_ok = _int(replies) == 3
    # Through every router between the two segments: at least one hop per router, ending at the peer.
    trace_ok = len(hops) >= int(checks["min_hops"]) and (hops[-1] if hops else "") == target
    route = "path %s -> %s" % (checks["user"], checks["peer"])
    return [
        _line(ping_ok, "%s: ping %s" % (route, target), " (%s/3 replies)" % replies),
        _line(trace_ok, "%s: traceroute %s" % (route, " > ".join(hops)), " (%d hops)" % len(hops)),
    ]


def _size(count):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (count, unit)
        count /= 1024.0
    return ""


def volume_lines(volumes):
    """A line per full volume, else one line for them all (``vnet.lab.probes``' ``volumes``)."""
    if not volumes:
        return []
    known = {name: v for name, v in volumes.items() if v.get("free") is not None}
    full = sorted(name for name, v in known.items() if v.get("full"))
    if full:
        return [_line(False, "volume %s (%s)" % (name, known[name]["mountpoint"]),
                      " (%s left of %s)" % (_size(known[name]["free"]), _size(known[name]["size"])),
                      " (full: leases, zones, uploads and logs on it cannot be written; free space on the"
                      " Docker host's file system that holds it)") for name in full]
    if not known:
        return [_line(True, "volumes: %d, their space unknown (the engine is not on this host)" % len(volumes))]
    least = min(known, key=lambda name: known[name]["free"])
    return [_line(True, "volumes: %d, the least space left %s (%s)" % (len(volumes), _size(known[least]["free"]), least))]


def lines(results, plan, checks, captures=None, volumes=None):
    """The checks' lines ``[{ok, line}]``: vpn, dhcp, dns, web, ftp, ospf, path, volumes.

    ``captures``: ``{tunnel: output}`` of each tunnel's capture (``replies=3 esp=6 plain=0``);
    ``volumes``: the space left on the lab's volumes (``vnet.lab.probes``' ``volumes``).
    """
    out = _vpn_lines(results, checks, captures or {})
    if checks.get("clients"):
        out = (out + _dhcp_lines(results, plan, checks) + _dns_lines(results, checks) + _web_lines(results, checks)
               + _ftp_lines(results, checks) + _ospf_lines(results, checks) + _path_lines(results, plan, checks))
    return out + volume_lines(volumes)
