# SPDX-License-Identifier: GPL-3.0-or-later
"""A measured traffic phase of a small lab, made up but shaped as vnet.lab.probes (sample),
the traffic probes and the voip role return it: the input of the report's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
MIB = 1024 * 1024


def _series(times, during, after, spike=None):
    """A figure worth ``during`` while the traffic runs (the first 10 s), ``after`` then; ``spike``
    ``(time, value)`` replaces one value."""
    values = [during if moment <= 10.0 else after for moment in times]
    if spike:
        values[times.index(spike[0])] = spike[1]
    return values


def _container(name, node, service, times, cpu, memory, spike=None):
    return {"name": name, "node": node, "service": service, "found": True,
            "cpu_percent": [None] + _series(times, cpu, 0.5, spike)[1:],
            "memory_bytes": _series(times, memory * MIB, memory * MIB), "pids": _series(times, 3, 3)}


@pytest.fixture(name="measured")
def fixture_measured():
    times = [index * 0.5 for index in range(26)]
    containers = [
        _container("pilab-rpi1", "rpi1", None, times, 0.1, 1),
        _container("pilab-rpi1-dns", "rpi1", "dns", times, 4.0, 24, spike=(12.0, 80.0)),
        _container("pilab-rpi1-ftp", "rpi1", "ftp", times, 9.0, 18),
        _container("pilab-rpi1-voip", "rpi1", "voip", times, 2.0, 8),
        _container("pilab-rpi1-rtpengine", "rpi1", "voip", times, 3.0, 17),
        _container("pilab-rpi1-ipsec", "rpi1", "ipsec", times, 12.0, 5),
        _container("pilab-client1-client", "client1", "client", times, 20.0, 11),
        _container("pilab-client1-phone2001", "client1", "phone", times, 5.0, 3),
        {"name": "pilab-rpi2", "node": "rpi2", "service": None, "found": False,
         "cpu_percent": [None] * 26, "memory_bytes": [None] * 26, "pids": [None] * 26},
    ]
    cumulative = [int(moment * 1_000_000) for moment in times]
    samples = {
        "interval": 0.5, "started": 1796308966.0, "seconds": times[-1], "times": times,
        "containers": containers,
        "networks": [{"node": "client1", "containers": ["pilab-client1", "pilab-client1-client"],
                      "rx_bytes": cumulative, "tx_bytes": [value // 2 for value in cumulative]},
                     {"node": "rpi1", "containers": ["pilab-rpi1", "pilab-rpi1-dns"],
                      "rx_bytes": [None] + cumulative[1:], "tx_bytes": cumulative}],
        "host": {"cores": 2, "cpu_percent": [None] + _series(times, 90.0, 20.0)[1:],
                 "load1": _series(times, 1.5, 1.0), "memory_total_bytes": 24 * 1024 * MIB,
                 "memory_used_bytes": _series(times, 2 * 1024 * MIB, 2 * 1024 * MIB),
                 "temperature_celsius": {"cpu-thermal": _series(times, 52.0, 48.0)}},
    }
    traffic = {
        "traffic dns": {"ok": True, "stdout": "rounds 10 ok 400 failed 0 bytes 0 ns 10100000000\n"},
        "traffic web": {"ok": True, "stdout": "rounds 10 ok 99 failed 1 bytes 24000 ns 10050000000\n"},
        "traffic ftp": {"ok": True, "stdout": "rounds 10 ok 10 failed 0 bytes 10485760 ns 10000000000\n"},
    }
    stream = {"src": "192.168.2.1", "src_port": 30000, "dst": "192.168.2.10", "dst_port": 20108,
              "ssrc": "0x1", "payload": "g711U", "packets": 500, "lost": 0, "lost_percent": 0.0,
              "problem": False, "start": 0.1, "end": 10.1, "min_delta_ms": 0.5, "mean_delta_ms": 19.99,
              "max_delta_ms": 57.4, "min_jitter_ms": 0.1, "mean_jitter_ms": 2.1, "max_jitter_ms": 8.1}
    streams = [stream, dict(stream, src="192.168.0.6", dst="192.168.5.10", ssrc="0x2", lost=2,
                            max_delta_ms=33.9, max_jitter_ms=2.6)]
    boot = {"start": 1796308900.0, "origin": "lab_up start", "seconds": 38.0, "notes": [], "phases": [
        {"name": "plan and images", "group": "prepare", "start": 0.0, "end": 9.0, "seconds": 9.0, "count": 1},
        {"name": "segments", "group": "objects", "start": 9.0, "end": 9.7, "seconds": 0.7, "count": 6},
        {"name": "nodes", "group": "objects", "start": 10.0, "end": 11.6, "seconds": 1.6, "count": 4},
        {"name": "service dns", "group": "services", "start": 28.8, "end": 29.6, "seconds": 0.8, "count": 1},
        {"name": "ospf routes", "group": "convergence", "start": 29.1, "end": 31.0, "seconds": 1.9, "count": 7},
        {"name": "ipsec SAs", "group": "convergence", "start": 29.5, "end": 38.0, "seconds": 8.5, "count": 2}]}
    return {
        "lab": "pilab", "created": "2026-12-03T14:43:07Z", "samples": samples, "traffic_results": traffic,
        "traffic_options": {"seconds": 10, "ftp_user": {"name": "student", "password": "secret"}},
        "call": {"seconds": 10, "streams": streams, "error": None},
        "checks": [{"ok": True, "line": "dns www.pilab.test: A 192.168.0.5 ... pass"},
                   {"ok": False, "line": "web http://www.pilab.test/: its own page ... FAIL (HTTP 500)"}],
        "boot": boot,
        "host": {"hostname": "vm", "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0", "architecture": "x86_64",
                 "cpu": "Intel(R) Xeon(R)", "cores": 2, "memory_bytes": 24 * 1024 * MIB, "board": "",
                 "cgroup_version": 1},
        "versions": {"python": "3.11.7", "docker engine": "20.10.24", "bind9": "1:9.18.49-1~deb12u1"},
        "plan": make_plan(yaml.safe_load((EXAMPLES / "pilab.yml").read_text())),
    }
