# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's services under load, from its own client containers (issue 10); bounded, with figures.

One small lab for the module, named ``load<hex>``: a router r1 with DNS, web and a PBX, two hosts
h1 and h2 on its LAN, each with its client container (vnet/client: ab, dnsperf and SIPp). Traffic
stays between the lab's containers. Each test is bounded (about 10 s of load) and records its
figures (``record_property``, printed, and gathered in ``tests/output/load.json`` for the closing
note):

* HTTP: ``ab`` from h1, 10 concurrent connections for 10 s: requests/s, and no failed or non-2xx
  request;
* DNS: ``dnsperf`` from h1, 10,000 queries of the lab's names (A, AAAA, PTR, SOA, NS): none lost,
  every answer NOERROR; queries/s and latency;
* SIP: SIPp on h1 places 10 concurrent calls of extension 2001 to 2002, each authenticated (407,
  then the digest) and held 3 s; a SIPp on h2, registered (401, then the digest) as 2002, answers
  them. Every call completes on both sides, media anchored in rtpengine (the PBX rewrites the SDP);
* a REGISTER flood: SIPp on h1 registers 2001 (with its digest) as fast as it can for 10 s, while
  extension 2003 on h2 registers every quarter of a second: every one of h2's registrations is
  answered 200, within 4 s (the SIP timers' retransmissions included).
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import re
import secrets as random_secrets
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import yaml

docker = pytest.importorskip("docker")

# Exclusive: the load saturates this machine's two cores for some 30 s, which would make other
# tests' deadlines fail and these figures measure the others' work; `make pytest` runs it alone.
pytestmark = [pytest.mark.integration, pytest.mark.exclusive]

ROOT = Path(__file__).resolve().parents[2]
STATE_ROOT = Path("/var/lib/vnet/labs")
FIGURES_FILE = ROOT / "tests" / "output" / "load.json"
SIP_PORT = 5060
HOLD_MS = 3000
CALLS = 10


def topology(name):
    return {"name": name,
            "nodes": {"r1": {"kind": "router", "services": {"dns": {}, "web": {}, "voip": {}}},
                      "h1": {"kind": "host"}, "h2": {"kind": "host"}},
            "links": [{"endpoints": ["r1:eth1", "h1:eth0", "h2:eth0"], "ipv4": "10.79.0.0/24", "ipv6": "fd79::/64"}]}


# --- the lab ---------------------------------------------------------------------------------------

def playbook(path, inventory, cwd, *args):
    """Run a playbook (its output as text); fail with its tail."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), str(path)] + list(args)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(command, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=900, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    if shutil.which("nsenter") is None:
        pytest.skip("no nsenter on this machine (util-linux)")
    return client


@pytest.fixture(scope="module")
def figures():
    """What the tests measured: written to tests/output/load.json at the end of the module."""
    found = {}
    yield found
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_FILE.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    print("\nload figures (%s):\n%s" % (FIGURES_FILE, json.dumps(found, indent=1, sort_keys=True)))


@pytest.fixture(scope="module")
def lab(engine, tmp_path_factory):
    """The running lab: its name, plan, extensions (random passwords) and addresses."""
    name = "load%s" % uuid.uuid4().hex[:6]
    work = tmp_path_factory.mktemp("loadlab")
    extensions = [{"number": number, "password": "pw-%s" % random_secrets.token_hex(10)} for number in (2001, 2002, 2003)]
    (work / "lab.yml").write_text(yaml.safe_dump(topology(name), sort_keys=False))
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"vnet_engines": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "vnet_lab_topology_file": str(work / "lab.yml"), "vnet_lab_voip_extensions": extensions}}}}}}))
    try:
        started = time.monotonic()
        rc, text = playbook(ROOT / "playbooks" / "lab_up.yml", inventory, work)
        assert rc == 0, "the lab did not come up:\n%s" % text[-8000:]
        print("lab %s up in %.1f s" % (name, time.monotonic() - started))
        plan = json.loads((STATE_ROOT / name / "plan.json").read_text())
        address = {node: plan["nodes"][node]["interfaces"]["eth0"]["ipv4"].split("/")[0] for node in ("h1", "h2")}
        services = plan["nodes"]["r1"]["services"]
        yield {"name": name, "plan": plan, "work": work, "domain": plan.get("domain") or "%s.test" % name,
               "extensions": {e["number"]: e["password"] for e in extensions}, "address": address,
               "server": {s: services[s]["ipv4"].split("/")[0] for s in ("dns", "web", "voip")}}
    finally:
        playbook(ROOT / "playbooks" / "lab_down.yml", inventory, work, "-e", "vnet_lab_name=%s" % name)


def client(engine, lab, node):
    return engine.containers.get("%s-%s-client" % (lab["name"], node))


def run(container, argv, timeout=60):
    """(exit code, output) of argv in the container, within timeout seconds."""
    result = container.exec_run(["timeout", str(timeout)] + [str(a) for a in argv], demux=False)
    return result.exit_code, (result.output or b"").decode(errors="replace")


def put_files(container, directory, files):
    """Write {name: text} into directory of the container."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo("%s/%s" % (directory.strip("/"), name))
            info.size, info.mode = len(raw), 0o644
            tar.addfile(info, io.BytesIO(raw))
    assert container.put_archive("/", data.getvalue())


def wait_until(what, check, timeout=30.0):
    """Poll check() until it returns a true value (which is returned) or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "%s not within %.0f s" % (what, timeout)
        time.sleep(0.2)


def record(figures, record_property, name, values):
    figures[name] = values
    for key, value in values.items():
        record_property("%s %s" % (name, key), value)
    print("%s: %s" % (name, json.dumps(values, sort_keys=True)))


# --- HTTP and DNS ----------------------------------------------------------------------------------

def number(pattern, text, kind=float):
    found = re.search(pattern, text, re.M)
    assert found, "no %r in:\n%s" % (pattern, text[-3000:])
    return kind(found.group(1))


def test_http_load_from_a_client(engine, lab, figures, record_property):
    h1, url = client(engine, lab, "h1"), "http://%s/" % lab["server"]["web"]
    wait_until("the web server", lambda: run(h1, ["curl", "-fsS", "-o", "/dev/null", url], timeout=5)[0] == 0)
    # -t bounds the run; -n only so that ab does not stop at its default of 50,000 requests.
    code, out = run(h1, ["ab", "-q", "-t", "10", "-n", "10000000", "-c", "10", url], timeout=30)
    assert code == 0, out[-3000:]
    complete = number(r"^Complete requests:\s+(\d+)", out, int)
    failed = number(r"^Failed requests:\s+(\d+)", out, int)
    assert complete > 1000 and failed == 0, out[-3000:]
    assert "Non-2xx responses" not in out and "Write errors" not in out, out[-3000:]
    record(figures, record_property, "http", {
        "tool": "ab -c 10 -t 10", "requests": complete, "failed": failed,
        "requests_per_second": number(r"^Requests per second:\s+([\d.]+)", out),
        "mean_ms_per_request": number(r"^Time per request:\s+([\d.]+) \[ms\] \(mean\)$", out)})


def test_dns_load_from_a_client(engine, lab, figures, record_property):
    h1, server, domain, plan = client(engine, lab, "h1"), lab["server"]["dns"], lab["domain"], lab["plan"]
    host = plan["nodes"]["h2"]["interfaces"]["eth0"]["ipv4"].split("/")[0]
    # Ten queries of the lab's zones (every one answered NOERROR with data), 1,000 times over.
    queries = ["ns1.%s A" % domain, "www.%s A" % domain, "voip.%s A" % domain, "eth0.h1.%s A" % domain,
               "eth0.h2.%s AAAA" % domain, "eth1.r1.%s AAAA" % domain, "lo.r1.%s A" % domain,
               "%s.in-addr.arpa PTR" % ".".join(reversed(host.split("."))), "%s SOA" % domain, "%s NS" % domain]
    put_files(h1, "/tmp/vnet-load", {"queries": "\n".join(queries) + "\n"})

    def answers():
        code, out = run(h1, ["dig", "+short", "+tries=1", "@" + server, "ns1." + domain], timeout=5)
        return code == 0 and re.match(r"\d+\.\d+\.\d+\.\d+$", out.strip()) is not None

    wait_until("the DNS server", answers)
    code, out = run(h1, ["dnsperf", "-s", server, "-d", "/tmp/vnet-load/queries", "-n", "1000", "-c", "4", "-l", "12"],
                    timeout=30)
    assert code == 0, out[-3000:]
    sent = number(r"Queries sent:\s+(\d+)", out, int)
    completed = number(r"Queries completed:\s+(\d+)", out, int)
    lost = number(r"Queries lost:\s+(\d+)", out, int)
    assert (sent, completed, lost) == (10000, 10000, 0), out[-3000:]
    assert re.search(r"Response codes:\s+NOERROR 10000 \(100\.00%\)\s*$", out, re.M), out[-3000:]
    record(figures, record_property, "dns", {
        "tool": "dnsperf -c 4", "queries": sent, "lost": lost,
        "queries_per_second": number(r"Queries per second:\s+([\d.]+)", out),
        "mean_latency_ms": round(1000 * number(r"Average Latency \(s\):\s+([\d.]+)", out), 3),
        "max_latency_ms": round(1000 * number(r"Average Latency \(s\):.*max ([\d.]+)\)", out), 3)})


# --- SIP -------------------------------------------------------------------------------------------

# SIPp scenarios. REGISTER answered with its digest (Contact port and Expires filled in below).
REGISTER = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="vnet register">
%s
  <recv response="401" auth="true"/>
%s
  <recv response="200"/>
</scenario>
"""
REGISTER_REQUEST = """\
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: %d REGISTER
      Contact: <sip:[service]@[local_ip]:%s>
      %s
      Max-Forwards: 70
      Expires: %d
      Content-Length: 0

    ]]>
  </send>"""


def register_scenario(contact_port, expires):
    return REGISTER % (REGISTER_REQUEST % (1, contact_port, "", expires),
                       REGISTER_REQUEST % (2, contact_port, "[authentication]", expires))


SDP = """\
      v=0
      o=- [pid] [call_number] IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""

# A call from CALLER to [service]: INVITE, 407, ACK, INVITE with the digest, 200 (its route set
# kept), ACK, the call held, BYE along the route set.
CALL = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="vnet authenticated call">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:CALLER@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

SDP
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:CALLER@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:CALLER@[local_ip]:[local_port]>
      [authentication]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

SDP
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Contact: <sip:CALLER@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="HOLD_MS"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Contact: <sip:CALLER@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
""".replace("SDP\n", SDP).replace("HOLD_MS", str(HOLD_MS))

# The called phone: SIPp's own uas scenario, but its answers carry the Record-Route of the INVITE
# (the caller's ACK and BYE must go through the proxy) and an SDP for rtpengine to rewrite.
ANSWER = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="vnet answer">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

SDP
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
""".replace("SDP\n", SDP)


def sipp(container, lab, node, scenario, port, user, *options, service=None, timeout=60):
    """SIPp in node's client (scenario in /tmp/vnet-load) as extension user, towards service (by
    default user itself): (exit code, output)."""
    argv = ["sipp", "-sf", "/tmp/vnet-load/%s" % scenario, "-i", lab["address"][node], "-p", port,
            "-s", service or user, "-au", user, "-ap", lab["extensions"][user], "-nostdin"] + list(options)
    return run(container, argv + ["%s:%d" % (lab["server"]["voip"], SIP_PORT)], timeout=timeout)


def sipp_counts(out):
    """(successful, failed) calls of SIPp's final statistics."""
    statistics = out.rsplit("Statistics Screen", 1)[-1]
    return (number(r"^\s+Successful call\s+\|\s+\d+\s+\|\s+(\d+)", statistics, int),
            number(r"^\s+Failed call\s+\|\s+\d+\s+\|\s+(\d+)", statistics, int))


@pytest.fixture(scope="module")
def phones(engine, lab):
    h1, h2 = client(engine, lab, "h1"), client(engine, lab, "h2")
    scenarios = {"call.xml": CALL.replace("CALLER", "2001"), "answer.xml": ANSWER,
                 "register-2002.xml": register_scenario(5070, 300), "register.xml": register_scenario("[local_port]", 60)}
    for container in (h1, h2):
        put_files(container, "/tmp/vnet-load", scenarios)
    return h1, h2


def test_sip_concurrent_authenticated_calls(engine, lab, phones, figures, record_property):
    h1, h2 = phones
    # h2 answers as 2002 on port 5070: its registration (401, then the digest) names that port.
    registered = wait_until("2002's registration", lambda: sipp(
        h2, lab, "h2", "register-2002.xml", 5071, 2002, "-m", "1", "-timeout", "5", timeout=15)[0] == 0)
    assert registered
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answering = pool.submit(sipp, h2, lab, "h2", "answer.xml", 5070, 2002, "-m", CALLS, "-timeout", "40", timeout=50)
        started = time.monotonic()
        code, out = sipp(h1, lab, "h1", "call.xml", 5061, 2001, "-r", CALLS, "-l", CALLS, "-m", CALLS,
                         "-timeout", "30", service=2002, timeout=40)
        seconds = time.monotonic() - started
        answered_code, answered = answering.result()
    assert code == 0 and sipp_counts(out) == (CALLS, 0), out[-5000:]
    peak = number(r"Peak was (\d+) calls", out, int)
    assert peak == CALLS, out[-5000:]
    assert answered_code == 0 and sipp_counts(answered) == (CALLS, 0), answered[-5000:]
    record(figures, record_property, "sip_calls", {
        "calls": CALLS, "completed": sipp_counts(out)[0], "peak_concurrent": peak, "held_ms": HOLD_MS,
        "seconds": round(seconds, 2)})


# REGISTER with its digest from another client, again and again for a while, each answered or not
# (its retransmissions as SIP's timer E: 0.5, 1, 2 s...): latencies of the answered ones.
REGISTER_PROBE = r"""
import hashlib, json, random, re, socket, sys, time
server, domain, number, password, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect((server, 5060))
local, port = sock.getsockname()


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def transaction(call_id, cseq, authorization, give_up):
    branch = "z9hG4bK%x" % random.getrandbits(48)
    message = "\r\n".join([
        "REGISTER sip:%s SIP/2.0" % domain, "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (local, port, branch),
        "Max-Forwards: 70", "From: <sip:%s@%s>;tag=%x" % (number, domain, random.getrandbits(32)),
        "To: <sip:%s@%s>" % (number, domain), "Call-ID: %s" % call_id, "CSeq: %d REGISTER" % cseq,
        "Contact: <sip:%s@%s:%d>" % (number, local, port), "Expires: 60"] + authorization + ["Content-Length: 0", "", ""])
    interval, deadline = 0.5, time.monotonic() + give_up
    while time.monotonic() < deadline:
        sock.send(message.encode())
        sock.settimeout(min(interval, max(deadline - time.monotonic(), 0.01)))
        interval = min(2 * interval, 4.0)
        try:
            while True:
                reply = sock.recv(65535).decode(errors="replace")
                if branch in reply and int(reply.split(" ", 2)[1]) >= 200:
                    return int(reply.split(" ", 2)[1]), reply
        except socket.timeout:
            continue
    return None, ""


results, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    started, call_id = time.monotonic(), "%x@probe" % random.getrandbits(64)
    status, challenge = transaction(call_id, 1, [], 8.0)
    if status == 401:
        realm = re.search(r'realm="([^"]*)"', challenge).group(1)
        nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
        uri, cnonce = "sip:%s" % domain, "%x" % random.getrandbits(64)
        ha1, ha2 = md5("%s:%s:%s" % (number, realm, password)), md5("REGISTER:%s" % uri)
        response = md5("%s:%s:00000001:%s:auth:%s" % (ha1, nonce, cnonce, ha2))
        header = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, qop=auth,'
                  ' nc=00000001, cnonce="%s", response="%s"' % (number, realm, nonce, uri, cnonce, response))
        status, _reply = transaction(call_id, 2, [header], 8.0)
    results.append({"status": status, "seconds": round(time.monotonic() - started, 4)})
    time.sleep(max(0.0, started + 0.25 - time.monotonic()))
print(json.dumps(results))
"""


def in_netns(engine, container, script, *args, timeout=60):
    """Run ``script`` with this Python in ``container``'s network namespace; its stdout as JSON."""
    pid = engine.api.inspect_container(container)["State"]["Pid"]
    proc = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, sys.executable, "-c", textwrap.dedent(script)]
                          + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_register_flood_leaves_the_registrar_answering_others(engine, lab, phones, figures, record_property):
    h1, _h2 = phones

    def probe(seconds):
        return in_netns(engine, "%s-h2" % lab["name"], REGISTER_PROBE, lab["server"]["voip"], lab["domain"], 2003,
                        lab["extensions"][2003], seconds)

    quiet = probe(1)
    assert quiet and all(r["status"] == 200 for r in quiet), quiet
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        flood = pool.submit(sipp, h1, lab, "h1", "register.xml", 5062, 2001, "-r", "5000", "-l", "1000",
                            "-timeout", "10", timeout=30)
        during = probe(9)
        code, out = flood.result()
        seconds = time.monotonic() - started
    # 1: some of the flood's own registrations failed (its retransmissions given up), as a flood's do.
    assert code in (0, 1), out[-5000:]
    registered, failed = sipp_counts(out)
    assert registered > 1000, out[-5000:]   # a flood: more than 100 registrations a second
    assert len(during) >= 10, during
    assert all(r["status"] == 200 and r["seconds"] <= 4.0 for r in during), during
    latencies = sorted(r["seconds"] for r in during)
    record(figures, record_property, "register_flood", {
        "flood_seconds": round(seconds, 1), "flood_registrations": registered, "flood_failed": failed,
        "flood_per_second": round(registered / seconds, 1),
        "other_client_registrations": len(during), "other_client_answered": sum(r["status"] == 200 for r in during),
        "other_client_median_s": latencies[len(latencies) // 2], "other_client_max_s": latencies[-1],
        "quiet_median_s": sorted(r["seconds"] for r in quiet)[len(quiet) // 2]})
