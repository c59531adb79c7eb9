# SPDX-License-Identifier: GPL-3.0-or-later
"""The boot's phases from Docker's times and the daemons' convergence ages (recorded outputs)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _boot

T0 = _boot.parse_time("2026-12-03T14:21:44.000000000Z")

NEIGHBOURS = json.dumps({"neighbors": {"10.0.0.2": [
    {"state": "Full/-", "upTimeInMsec": 163250, "upTime": "2m43s"}],
    "10.0.0.3": [{"state": "Init/-", "upTimeInMsec": 5}],
    "10.0.0.4": [{"state": "Full/DR", "upTime": "1m00s"}]}})
ROUTES = json.dumps({
    "10.0.0.1/32": [{"prefix": "10.0.0.1/32", "uptime": "00:02:46"}],
    "10.0.0.2/32": [{"prefix": "10.0.0.2/32", "selected": True, "uptime": "00:02:41"}],
    "192.168.4.0/24": [{"prefix": "192.168.4.0/24", "selected": True, "uptime": "00:02:40"}]})
SAS = """boards: #1, ESTABLISHED, IKEv2, 2a7a0b2b94db008f_i* 3a984f660ce80fec_r
  established 157s ago, rekeying in 13295s
  boards: #2, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/HMAC_SHA2_256_128
    installed 157s ago, rekeying in 3271s, expires in 3803s
"""
CLIENT_LOG = """2026-12-03T14:22:19.497427526Z Internet Systems Consortium DHCP Client 4.4.3-P1
2026-12-03T14:22:20.536190897Z DHCPACK of 192.168.5.10 from 192.168.5.1
2026-12-03T14:22:20.612483084Z bound to 192.168.5.10 -- renewal in 53 seconds.
2026-12-03T14:23:13.468232909Z bound to 192.168.5.10 -- renewal in 52 seconds.
"""


@pytest.mark.parametrize("text, expected", [
    ("2026-12-03T14:21:44.824507876Z", T0 + 0.824507876),
    ("2026-12-03 14:21:44 +0000 UTC", T0),
    ("0001-01-01T00:00:00Z", None),
    ("", None),
    (None, None),
])
def test_parse_time(text, expected):
    assert _boot.parse_time(text) == pytest.approx(expected) if expected else _boot.parse_time(text) is None


def test_parse_time_refuses_other_text():
    with pytest.raises(ValueError, match="not a Docker time: 'yesterday'"):
        _boot.parse_time("yesterday")


@pytest.mark.parametrize("text, expected", [
    ("00:02:46", 166), ("12:00:01", 43201), ("2m43s", 163), ("1d02h03m", 93780), ("02w3d04h", 1483200),
    ("1.5s", 1.5), ("soon", None), ("", None), ("2m43sx", None),
])
def test_frr_age(text, expected):
    assert _boot.frr_age(text) == expected


def test_ages_of_the_daemons():
    assert _boot.ospf_full_ages(NEIGHBOURS) == [163.25, 60]
    assert _boot.ospf_full_ages("not json") == []
    assert _boot.ospf_route_ages(ROUTES) == [161, 160]
    assert _boot.sa_ages(SAS) == [157]
    assert _boot.first_bound(CLIENT_LOG) == pytest.approx(_boot.parse_time("2026-12-03T14:22:20.612483084Z"))
    assert _boot.first_bound("2026-12-03T14:22:19Z DHCPDISCOVER on eth0\n") is None


def _objects():
    at = "2026-12-03T14:%s.000000000Z"
    return {
        "networks": [{"name": "lab-a", "created": "2026-12-03 14:21:44 +0000 UTC"},
                     {"name": "lab-b", "created": at % "21:45"}],
        "containers": [
            {"name": "lab-r1", "service": None, "created": at % "21:46", "started": at % "21:47"},
            {"name": "lab-r1-ospf", "service": "ospf", "created": at % "22:10", "started": at % "22:11"},
            {"name": "lab-r1-dns", "service": "dns", "created": at % "22:12", "started": at % "22:14"},
            {"name": "lab-h1-client", "service": "client", "created": at % "22:18", "started": at % "22:19"},
            {"name": "lab-r1-ipsec", "service": "ipsec", "created": at % "22:10", "started": at % "22:10"},
            {"name": "lab-h1-phone2001", "service": "phone", "created": at % "40:00", "started": at % "40:00"},
            {"name": "lab-r2", "service": None, "created": at % "21:46", "started": "0001-01-01T00:00:00Z"},
        ]}


def test_phases_of_a_boot_timed_from_lab_up():
    read_at = _boot.parse_time("2026-12-03T14:25:00Z")
    reads = {"ospf_neighbours": [{"read_at": read_at, "stdout": NEIGHBOURS}],
             "ospf_routes": [{"read_at": read_at, "stdout": ROUTES}],
             "ipsec": [{"read_at": read_at, "stdout": SAS}],
             "leases": [{"read_at": None, "stdout": CLIENT_LOG}]}
    boot = _boot.phases(_objects(), reads, started=T0 - 20)
    assert boot["origin"] == "lab_up start" and boot["start"] == T0 - 20
    rows = [(p["name"], p["group"], p["start"], p["end"], p["count"]) for p in boot["phases"]]
    assert rows == [
        ("plan and images", "prepare", 0.0, 20.0, 1),
        ("segments", "objects", 20.0, 21.0, 2),
        ("nodes", "objects", 22.0, 23.0, 1),  # a node that never started is left out; so are the phones
        ("service ipsec", "services", 46.0, 46.0, 1),
        ("service ospf", "services", 46.0, 47.0, 1),
        ("service dns", "services", 48.0, 50.0, 1),
        ("service client", "services", 54.0, 55.0, 1),
        # read at 14:25:00 (216 s from the origin): adjacencies 163.25 and 60 s old, routes 160 s, the SA 157 s.
        ("ospf adjacencies Full", "convergence", 47.0, 156.0, 2),
        ("ospf routes", "convergence", 47.0, 56.0, 2),
        ("ipsec SAs", "convergence", 46.0, 59.0, 1),
        ("leases", "convergence", 55.0, 56.61, 1),
    ]
    assert boot["seconds"] == 156.0
    assert boot["notes"] == []


def test_phases_without_lab_up_start_or_reads():
    boot = _boot.phases(_objects())
    assert boot["origin"] == "first segment" and boot["start"] == T0
    assert [p["name"] for p in boot["phases"]][:2] == ["segments", "nodes"]
    assert boot["seconds"] == 35.0  # the client started at 14:22:19
    assert boot["notes"] == []


def test_a_run_that_kept_objects_times_only_what_it_made():
    boot = _boot.phases(_objects(), started=T0 + 5)
    assert boot["origin"] == "lab_up start" and boot["start"] == T0 + 5
    # The segments and the node r1 were made before: kept, left out.
    assert boot["notes"] == ["3 objects kept from an earlier run (made before this lab_up began) are left out"]
    assert [(p["name"], p["start"], p["end"]) for p in boot["phases"]] == [
        ("plan and images", 0.0, 21.0), ("service ipsec", 21.0, 21.0), ("service ospf", 21.0, 22.0),
        ("service dns", 23.0, 25.0), ("service client", 29.0, 30.0)]


def test_a_run_that_only_brought_a_tunnel_up_again():
    read_at = _boot.parse_time("2026-12-03T14:26:00Z")
    reads = {"ipsec": [{"read_at": read_at, "stdout": SAS}],  # established 14:23:23
             "ospf_neighbours": [{"read_at": read_at, "stdout": NEIGHBOURS}]}  # Full at 14:23:16.75 and 14:25:00
    # lab_up began at 14:22:44, after every object was made: only what converged again is timed.
    boot = _boot.phases(_objects(), reads, started=T0 + 60)
    assert [(p["name"], p["start"], p["end"], p["count"]) for p in boot["phases"]] == [
        ("ospf adjacencies Full", 0.0, 136.0, 2), ("ipsec SAs", 0.0, 39.0, 1)]
    assert boot["seconds"] == 136.0
    kept = _boot.phases(_objects(), started=T0 + 3600)
    assert kept["phases"] == [] and kept["seconds"] is None
    assert kept["notes"][1:] == ["this run kept the lab as it was: no boot to time"]


def test_phases_over_ten_minutes_are_noted_and_an_empty_lab_has_none():
    objects = _objects()
    objects["containers"][2]["started"] = "2026-12-03T16:00:00Z"
    assert _boot.phases(objects)["notes"] == ["the phases span 5896 s: made by several runs, not one boot"]
    assert _boot.phases({"networks": [], "containers": []}) == {
        "start": None, "origin": None, "seconds": None, "phases": [], "notes": ["the lab has no objects"]}


def test_read_probes_and_their_reads():
    containers = [{"name": "lab-r1-ospf", "service": "ospf"}, {"name": "lab-r1-ipsec", "service": "ipsec"},
                  {"name": "lab-r1-dns", "service": "dns"}]
    probes = _boot.read_probes(containers)
    assert [(p["name"], p["argv"]) for p in probes] == [
        ("ipsec lab-r1-ipsec", ["swanctl", "--list-sas"]),
        ("ospf_neighbours lab-r1-ospf", ["vtysh", "-c", "show ip ospf neighbor json"]),
        ("ospf_routes lab-r1-ospf", ["vtysh", "-c", "show ip route ospf json"])]
    reads = _boot.reads({"ipsec lab-r1-ipsec": {"ok": True, "stdout": SAS},
                         "ospf_routes lab-r1-ospf": {"ok": False, "stdout": ""},
                         "versions lab-r1-dns": {"ok": True, "stdout": "bind9=1"}}, 1000.0)
    assert reads == {"ipsec": [{"container": "lab-r1-ipsec", "read_at": 1000.0, "stdout": SAS}]}
