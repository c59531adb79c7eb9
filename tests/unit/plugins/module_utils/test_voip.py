# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import copy
import hashlib

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _voip


def interface(segment, ipv4, secondary=(), dhcp=False):
    return {"segment": segment, "ipv4": ipv4, "ipv6": None, "dhcp": dhcp, "mtu": None,
            "secondary": list(secondary)}


def host(*interfaces, gateway=None):
    return {"kind": "host", "loopback": None, "gateway": {"ipv4": gateway, "ipv6": None},
            "interfaces": dict(interfaces), "routes": [], "services": {}}


# The reference: a router "pbx" with two LANs, a phone's host on each, a p2p link to a router
# that has a third LAN behind it (static routing).
PLAN = {
    "name": "demo",
    "domain": "demo.test",
    "routing": "static",
    "nodes": {
        "pbx": {
            "kind": "router",
            "loopback": {"ipv4": "10.0.0.1/32", "ipv6": None},
            "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": {
                "eth10": interface("core", "10.1.0.1/30"),
                "lan1": interface("lan1", "192.168.1.1/24", ["192.168.1.5/24"]),
                "lan2": interface("lan2", "192.168.2.1/24"),
                "lan3": interface("pbx-lan3", None, dhcp=True),
            },
            "routes": [{"dst": "192.168.9.0/24", "via": "10.1.0.2"}],
            "services": {
                "voip": {"interface": "lan1", "ipv4": "192.168.1.5/24", "ipv6": None,
                         "names": ["voip", "sip.demo.test", "pbx.example.org."]},
            },
        },
        "pc1": host(("eth0", interface("lan1", "192.168.1.10/24")), gateway="192.168.1.1"),
        "pc2": host(("eth0", interface("lan2", "192.168.2.10/24")), gateway="192.168.2.1"),
        "pc3": host(("eth0", interface("lan3", None, dhcp=True))),
    },
    "segments": {},
}


def plan_with(change):
    plan = copy.deepcopy(PLAN)
    change(plan)
    return plan


def test_reference_server():
    assert _voip.server(PLAN, "pbx") == {
        "address": "192.168.1.5",
        "interface": "lan1",
        "domain": "demo.test",
        "names": ["voip.demo.test", "sip.demo.test", "pbx.example.org"],
        "rtp_interfaces": [
            {"name": "core", "address": "10.1.0.1", "subnet": "10.1.0.0/30"},
            {"name": "lan1", "address": "192.168.1.5", "subnet": "192.168.1.0/24"},
            {"name": "lan2", "address": "192.168.2.1", "subnet": "192.168.2.0/24"},
        ],
        "media_routes": [
            {"subnet": "10.1.0.0/30", "interface": "core"},
            {"subnet": "192.168.1.0/24", "interface": "lan1"},
            {"subnet": "192.168.2.0/24", "interface": "lan2"},
            {"subnet": "192.168.9.0/24", "interface": "core"},
        ],
    }


def test_default_route_comes_last_and_a_route_to_an_own_subnet_is_ignored():
    def change(plan):
        plan["nodes"]["pbx"]["routes"] = [
            {"dst": "0.0.0.0/0", "via": "192.168.2.254"},
            {"dst": "192.168.1.0/24", "via": "10.1.0.2"},
            {"dst": "2001:db8::/32", "via": "fe80::1"},
        ]
    routes = _voip.server(plan_with(change), "pbx")["media_routes"]
    assert routes[-1] == {"subnet": "0.0.0.0/0", "interface": "lan2"}
    assert {"subnet": "192.168.1.0/24", "interface": "lan1"} in routes
    assert len(routes) == 4


def test_service_on_the_interface_address_has_no_names():
    def change(plan):
        plan["nodes"]["pbx"]["services"]["voip"].update(ipv4="192.168.2.1/24", interface="lan2", names=[])
    server = _voip.server(plan_with(change), "pbx")
    assert server["address"] == "192.168.2.1"
    assert server["names"] == []
    assert [i["address"] for i in server["rtp_interfaces"]] == ["10.1.0.1", "192.168.1.1", "192.168.2.1"]


@pytest.mark.parametrize("node, change, expected", [
    ("nope", None, ["node nope is not in the plan (nodes: pbx, pc1, pc2, pc3)"]),
    ("pc1", None, ["node pc1 runs no voip service (plan.nodes.pc1.services.voip)"]),
    ("pbx", lambda p: p["nodes"]["pbx"]["services"]["voip"].update(ipv4=None),
     ["node pbx: the voip service has no IPv4 address (plan.nodes.pbx.services.voip.ipv4)"]),
    ("pbx", lambda p: p["nodes"]["pbx"]["services"]["voip"].update(interface="wlan9"),
     ["node pbx: the voip service's interface 'wlan9' is not one of the node's"]),
    ("pbx", lambda p: p["nodes"]["pbx"]["interfaces"]["lan2"].update(segment="lan 2", ipv4="192.168.1.2/24"),
     ["node pbx: segment 'lan 2' of lan2 cannot name an rtpengine interface (letters, digits, '.', '_', '-')"]),
    ("pbx", lambda p: p["nodes"]["pbx"]["interfaces"]["lan2"].update(ipv4="192.168.1.2/24"),
     ["node pbx: lan1 and lan2 are both in 192.168.1.0/24, so rtpengine cannot tell which one reaches a phone there"]),
    ("pbx", lambda p: p["nodes"]["pbx"].update(routes=[{"dst": "172.16.0.0/12", "via": "10.9.9.9"}]),
     ["node pbx: the next hop 10.9.9.9 of the route to 172.16.0.0/12 is on none of its subnets"]),
    ("pbx", lambda p: p["nodes"]["pbx"]["services"]["voip"].update(names=['bad"name', "voip"]),
     ["node pbx: voip name 'bad\"name' cannot be a SIP alias"]),
])
def test_server_errors(node, change, expected):
    plan = plan_with(change) if change else PLAN
    with pytest.raises(_voip.VoipError) as info:
        _voip.server(plan, node)
    assert info.value.errors == expected


def test_server_errors_are_collected():
    def change(plan):
        plan["nodes"]["pbx"]["interfaces"]["lan2"].update(ipv4="192.168.1.2/24")
        plan["nodes"]["pbx"]["routes"] = [{"dst": "172.16.0.0/12", "via": "10.9.9.9"}]
    with pytest.raises(_voip.VoipError) as info:
        _voip.server(plan_with(change), "pbx")
    assert len(info.value.errors) == 2


SECRET = "s3cr3t-Pa55"
REFERENCE = [{"number": n, "password": "%s-%d" % (SECRET, n)} for n in (2001, 2002, 2003, 2004)]


def test_reference_extensions_have_no_problem():
    assert _voip.extension_problems(REFERENCE) == []


@pytest.mark.parametrize("extensions, expected", [
    (None, ["no extensions: set voip_extensions to a list of {number, password} "
            "(passwords have no default; keep them in a vault)"]),
    ([], ["no extensions: set voip_extensions to a list of {number, password} "
          "(passwords have no default; keep them in a vault)"]),
    ({"number": 2001, "password": SECRET}, ["voip_extensions must be a list of {number, password}"]),
    ([{"number": 2001}], ["extension 2001 has no password (passwords have no default)"]),
    ([{"number": "2001", "password": ""}], ["extension 2001 has no password (passwords have no default)"]),
    ([{"number": 2001, "password": None}], ["extension 2001 has no password (passwords have no default)"]),
    ([{"number": 2001, "password": 1234}], ["extension 2001: the password must be a string"]),
    ([{"number": "20a1", "password": SECRET}], ["extension #1: the number must be digits (1 to 32)"]),
    ([{"number": True, "password": SECRET}], ["extension #1: the number must be digits (1 to 32)"]),
    ([{"password": SECRET}], ["extension #1: the number must be digits (1 to 32)"]),
    (["2001"], ["extension #1 is not a mapping with number and password"]),
    ([{"number": 2001, "password": SECRET}, {"number": "2001", "password": SECRET}],
     ["extension 2001 is listed twice"]),
    ([{"number": 2001, "password": SECRET, "pin": SECRET}],
     ["extension 2001: unknown key(s) pin (known: number, password)"]),
    ([{"number": 2001}, {"number": 2002, "password": ""}, {"number": "x"}],
     ["extension 2001 has no password (passwords have no default)",
      "extension 2002 has no password (passwords have no default)",
      "extension #3: the number must be digits (1 to 32)",
      "extension #3 has no password (passwords have no default)"]),
])
def test_extension_problems(extensions, expected):
    problems = _voip.extension_problems(extensions)
    assert problems == expected
    assert not any(SECRET in line for line in problems)


def test_accounts_hold_rfc2617_ha1_not_passwords():
    accounts = _voip.accounts(REFERENCE[:2], "demo.test")
    assert accounts == [
        {"number": "2001", "ha1": hashlib.md5(("2001:demo.test:%s-2001" % SECRET).encode()).hexdigest()},
        {"number": "2002", "ha1": hashlib.md5(("2002:demo.test:%s-2002" % SECRET).encode()).hexdigest()},
    ]
    assert SECRET not in repr(accounts)


def test_ha1_of_a_known_triple():
    # Well-known: MD5("Mufasa:testrealm@host.com:Circle Of Life") from RFC 2617's example user.
    digest = hashlib.md5(b"2001:lab:Circle Of Life").hexdigest()
    assert _voip.accounts([{"number": 2001, "password": "Circle Of Life"}], "lab")[0]["ha1"] == digest


@pytest.mark.parametrize("extensions, realm, expected", [
    ([{"number": 2001}], "lab", ["extension 2001 has no password (passwords have no default)"]),
    (REFERENCE, "", ["the SIP realm '' must be a non-empty string without quotes, backslashes or line breaks"]),
    (REFERENCE, 'a"b', ["the SIP realm 'a\"b' must be a non-empty string without quotes, backslashes or line breaks"]),
])
def test_accounts_errors(extensions, realm, expected):
    with pytest.raises(_voip.VoipError) as info:
        _voip.accounts(extensions, realm)
    assert info.value.errors == expected
    assert SECRET not in str(info.value)


def test_phones_get_their_node_address_and_ports_of_their_own():
    assert _voip.phones(PLAN, {2003: "pc1", "2001": "pc1", 2002: "pc2", 2004: "pc2"}) == [
        {"number": "2001", "node": "pc1", "address": "192.168.1.10", "sip_port": 5070, "ctrl_port": 4441,
         "rtp_ports": [20100, 20199]},
        {"number": "2002", "node": "pc2", "address": "192.168.2.10", "sip_port": 5070, "ctrl_port": 4441,
         "rtp_ports": [20100, 20199]},
        {"number": "2003", "node": "pc1", "address": "192.168.1.10", "sip_port": 5080, "ctrl_port": 4442,
         "rtp_ports": [20200, 20299]},
        {"number": "2004", "node": "pc2", "address": "192.168.2.10", "sip_port": 5080, "ctrl_port": 4442,
         "rtp_ports": [20200, 20299]},
    ]


@pytest.mark.parametrize("assignments, expected", [
    ({}, ["assignments must map each extension number to the client node of its phone"]),
    ({2001: "pc9"}, ["node pc9 is not in the plan (nodes: pbx, pc1, pc2, pc3)"]),
    ({2001: "pc3"}, ["phone 2001: node pc3 has no IPv4 address of its own for a phone (a DHCP client's lease is given in addresses)"]),
    ({"x1": "pc1", 2001: "pc3"}, ["phone 'x1': the extension number must be digits (1 to 32)",
                                  "phone 2001: node pc3 has no IPv4 address of its own for a phone (a DHCP client's lease is given in addresses)"]),
])
def test_phones_errors(assignments, expected):
    with pytest.raises(_voip.VoipError) as info:
        _voip.phones(PLAN, assignments)
    assert info.value.errors == expected


# Measured here: Wireshark 4.0 (Debian 12), a 8 s call 172.16.0.2 -> 172.16.1.2 through rtpengine.
TSHARK_4 = "".join([
    "========================= RTP Streams ========================\n",
    "   Start time      End time     Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts"
    "         Lost   Min Delta(ms)  Mean Delta(ms)   Max Delta(ms)  Min Jitter(ms) Mean Jitter(ms)"
    "  Max Jitter(ms) Problems?\n",
    "     0.071497      8.363576      172.16.1.1 30000      172.16.1.2 20270 0x34CA3EA6            g711U   416"
    "     0 (0.0%)           8.195          19.981          30.232           0.474           1.444"
    "           3.930 \n",
    "     0.069737      8.363487      172.16.0.2 20172      172.16.0.1 30000 0x34CA3EA6            g711U   416"
    "     0 (0.0%)           8.217          19.985          30.276           0.370           1.423"
    "           3.936 \n",
    "     0.047896      8.362954      172.16.0.1 30000      172.16.0.2 20172 0xBD34D019            g711U   417"
    "    -2 (-0.5%)          4.175          19.988          48.342           0.418           1.418"
    "           4.624 X\n",
    "==============================================================\n",
])

# The older column set (Wireshark 3.x): no times, no min/mean delta, a payload name with spaces.
TSHARK_3 = """\
========================= RTP Streams ========================
    Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts         Lost   Max Delta(ms)  Max Jitter(ms) Mean Jitter(ms) Problem?
       10.0.0.1 40000        10.0.0.2 30000 0x1234ABCD ITU-T G.711 PCMU   500     3 (0.6%)           60.00            2.50            0.75 X
==============================================================
"""


def test_rtp_streams_of_wireshark_4():
    streams = _voip.rtp_streams(TSHARK_4)
    assert len(streams) == 3
    assert streams[0] == {
        "start": 0.071497, "end": 8.363576,
        "src": "172.16.1.1", "src_port": 30000, "dst": "172.16.1.2", "dst_port": 20270,
        "ssrc": "0x34CA3EA6", "payload": "g711U", "packets": 416, "lost": 0, "lost_percent": 0.0,
        "problem": False,
        "min_delta_ms": 8.195, "mean_delta_ms": 19.981, "max_delta_ms": 30.232,
        "min_jitter_ms": 0.474, "mean_jitter_ms": 1.444, "max_jitter_ms": 3.930,
    }
    assert (streams[2]["lost"], streams[2]["lost_percent"], streams[2]["problem"]) == (-2, -0.5, True)


def test_rtp_streams_of_wireshark_3():
    assert _voip.rtp_streams(TSHARK_3) == [{
        "start": None, "end": None,
        "src": "10.0.0.1", "src_port": 40000, "dst": "10.0.0.2", "dst_port": 30000,
        "ssrc": "0x1234ABCD", "payload": "ITU-T G.711 PCMU", "packets": 500, "lost": 3, "lost_percent": 0.6,
        "problem": True,
        "min_delta_ms": None, "mean_delta_ms": None, "max_delta_ms": 60.0,
        "min_jitter_ms": None, "mean_jitter_ms": 0.75, "max_jitter_ms": 2.5,
    }]


def test_no_stream_is_an_empty_list():
    head = TSHARK_4.splitlines()
    assert _voip.rtp_streams("\n".join([head[0], head[1], head[-1]])) == []


@pytest.mark.parametrize("text, expected", [
    ("", ["no RTP stream table in the output (tshark -q -z rtp,streams)"]),
    ("tshark: The file \"x\" doesn't exist.\n", ["no RTP stream table in the output (tshark -q -z rtp,streams)"]),
    (TSHARK_4.replace("  0 (0.0%)           8.195", "  zero (0.0%)        8.195", 1),
     ["cannot read RTP stream line '0.071497      8.363576      172.16.1.1 30000      172.16.1.2 20270 0x34CA3EA6"
      "            g711U   416     zero (0.0%)        8.195          19.981          30.232           0.474"
      "           1.444           3.930'"]),
    (None, ["the RTP statistics must be tshark's text output"]),
])
def test_rtp_streams_errors(text, expected):
    with pytest.raises(_voip.VoipError) as info:
        _voip.rtp_streams(text)
    assert info.value.errors == expected


def stream(src, dst):
    return {"src": src, "src_port": 20000, "dst": dst, "dst_port": 30000}


SERVER = ["172.16.0.1", "172.16.1.1"]
ANCHORED = [stream("172.16.0.2", "172.16.0.1"), stream("172.16.0.1", "172.16.0.2"),
            stream("172.16.1.2", "172.16.1.1"), stream("172.16.1.1", "172.16.1.2")]


@pytest.mark.parametrize("streams, expected", [
    (ANCHORED, []),
    ([], ["no RTP from 172.16.0.2 to the server", "no RTP from the server to 172.16.0.2",
          "no RTP from 172.16.1.2 to the server", "no RTP from the server to 172.16.1.2"]),
    ([stream("172.16.0.2", "172.16.1.2"), stream("172.16.1.2", "172.16.0.2")],
     ["RTP 172.16.0.2:20000 -> 172.16.1.2:30000 bypasses the server (172.16.0.1, 172.16.1.1)",
      "RTP 172.16.1.2:20000 -> 172.16.0.2:30000 bypasses the server (172.16.0.1, 172.16.1.1)",
      "no RTP from 172.16.0.2 to the server", "no RTP from the server to 172.16.0.2",
      "no RTP from 172.16.1.2 to the server", "no RTP from the server to 172.16.1.2"]),
    (ANCHORED[:3], ["no RTP from the server to 172.16.1.2"]),
])
def test_media_problems(streams, expected):
    assert _voip.media_problems(streams, SERVER, ["172.16.0.2", "172.16.1.2"]) == expected


def test_phones_take_a_dhcp_clients_lease_from_addresses():
    plan = {"nodes": {"pc1": {"kind": "host", "interfaces": {"eth0": {"ipv4": None, "dhcp": True}}}}}
    with pytest.raises(_voip.VoipError, match="pc1 has no IPv4 address"):
        _voip.phones(plan, {2001: "pc1"})
    phones = _voip.phones(plan, {2001: "pc1", 2003: "pc1"}, {"pc1": "192.168.5.10/24"})
    assert [(p["number"], p["address"], p["sip_port"]) for p in phones] == [
        ("2001", "192.168.5.10", 5070), ("2003", "192.168.5.10", 5080)]
