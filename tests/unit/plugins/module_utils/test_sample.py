# SPDX-License-Identifier: GPL-3.0-or-later
"""The sampler of vnet.lab.probes (sample): cgroups, network namespaces and the host read from
fake /sys and /proc trees, turned into series; the thread that samples until it is stopped."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _sample

NODE, DNS, GONE = "a" * 64, "b" * 64, "c" * 64
NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: {lo} 10 0 0 0 0 0 0 {lo} 10 0 0 0 0 0 0
  eth1: {rx} 20 0 0 0 0 0 0 {tx} 20 0 0 0 0 0 0
 wlan0: 1000 5 0 0 0 0 0 0 2000 5 0 0 0 0 0 0
"""


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Machine:
    """A cgroup v1 tree, a /proc and a /sys/class/thermal whose figures a test moves on."""

    def __init__(self, root):
        self.cgroup, self.proc, self.thermal = root / "cgroup", root / "proc", root / "thermal"
        os.makedirs(self.proc / "11" / "ns")
        os.symlink("net:[4026532001]", self.proc / "11" / "ns" / "net")
        os.makedirs(self.proc / "12" / "ns")
        os.symlink("net:[4026532001]", self.proc / "12" / "ns" / "net")
        _write(self.thermal / "thermal_zone0" / "type", "cpu-thermal\n")

    def set(self, cpu_ns, memory, rx, tx, busy, idle, load, available, celsius):
        for cid, share in ((NODE, 0), (DNS, 1)):
            _write(self.cgroup / "memory" / "docker" / cid / "memory.usage_in_bytes", "%d\n" % (memory * share + 1000))
            _write(self.cgroup / "memory" / "docker" / cid / "memory.stat", "total_inactive_file 0\n")
            _write(self.cgroup / "cpuacct" / "docker" / cid / "cpuacct.usage", "%d\n" % (cpu_ns * share))
            _write(self.cgroup / "pids" / "docker" / cid / "pids.current", "%d\n" % (2 + share))
        _write(self.proc / "11" / "net" / "dev", NET_DEV.format(lo=999999, rx=rx, tx=tx))
        _write(self.proc / "stat", "cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 1 2 3 4\n" % (busy, idle))
        _write(self.proc / "loadavg", "%s 0.50 0.40 1/100 4242\n" % load)
        _write(self.proc / "meminfo", "MemTotal:  1000 kB\nMemFree: 10 kB\nMemAvailable: %d kB\n" % available)
        _write(self.thermal / "thermal_zone0" / "temp", "%d\n" % (celsius * 1000))


TARGETS = [
    {"name": "lab-r1", "id": NODE, "pid": 11, "node": "r1", "service": None},
    {"name": "lab-r1-dns", "id": DNS, "pid": 12, "node": "r1", "service": "dns"},
    {"name": "lab-r2", "id": GONE, "pid": None, "node": "r2", "service": None},
]


def test_two_samples_give_every_series(tmp_path):
    machine = Machine(tmp_path)
    clock = iter([100.0, 100.5])
    machine.set(cpu_ns=1_000_000_000, memory=5_000_000, rx=100, tx=200, busy=100, idle=100, load="0.25",
                available=600, celsius=41.5)
    sampler = _sample.Sampler(TARGETS, 0.5, str(machine.cgroup), str(machine.proc), str(machine.thermal),
                              clock=lambda: next(clock))
    sampler.sample_once()
    machine.set(cpu_ns=1_250_000_000, memory=6_000_000, rx=1100, tx=700, busy=175, idle=125, load="0.75",
                available=400, celsius=43)
    sampler.sample_once()
    series = _sample.series(sampler.targets, sampler.networks, sampler.raw, 0.5, 1234.0, 2)
    assert series["times"] == [0.0, 0.5]
    assert series["seconds"] == 0.5
    node, dns, gone = series["containers"]
    # 0.25 s of CPU in 0.5 s: half a core.
    assert dns == {"name": "lab-r1-dns", "node": "r1", "service": "dns", "found": True,
                   "cpu_percent": [None, 50.0], "memory_bytes": [5_001_000, 6_001_000], "pids": [3, 3]}
    assert node["cpu_percent"] == [None, 0.0]
    assert gone["found"] is False and gone["memory_bytes"] == [None, None] and gone["cpu_percent"] == [None, None]
    # One namespace for the node and its service, named after the node; loopback left out.
    assert series["networks"] == [{"node": "r1", "containers": ["lab-r1", "lab-r1-dns"],
                                   "rx_bytes": [0, 1000], "tx_bytes": [0, 500]}]
    assert series["host"] == {
        "cores": 2, "cpu_percent": [None, 75.0], "load1": [0.25, 0.75], "memory_total_bytes": 1_024_000,
        "memory_used_bytes": [409_600, 614_400], "temperature_celsius": {"cpu-thermal": [41.5, 43.0]}}


def test_cgroup_v2_and_no_thermal_zone(tmp_path):
    cgroup = tmp_path / "cgroup"
    _write(cgroup / "cgroup.controllers", "cpu memory pids\n")
    scope = cgroup / "system.slice" / ("docker-%s.scope" % DNS)
    _write(scope / "memory.current", "4096\n")
    _write(scope / "memory.stat", "inactive_file 1024\n")
    _write(scope / "cpu.stat", "usage_usec 2000000\n")
    _write(scope / "pids.current", "4\n")
    sampler = _sample.Sampler([TARGETS[1]], 1.0, str(cgroup), str(tmp_path / "proc"), str(tmp_path / "none"))
    sampler.sample_once()
    first = sampler.raw[0]
    assert first["containers"] == [{"memory": 3072, "cpu_ns": 2_000_000_000, "pids": 4}]
    assert first["host"] == {"cpu": None, "load1": None, "memory_total": None, "memory_used": None, "temperature": {}}
    assert sampler.networks == []


@pytest.mark.parametrize("text, expected", [
    ("cpu  10 1 4 80 5 0 0 0 0 0\n", (15, 100)),
    ("cpu  10 0 0 90 0 0 0 0 7 7\n", (10, 100)),  # guest time is already in user
    ("cpu0 1 2 3\n", None),
    ("", None),
])
def test_cpu_jiffies(text, expected):
    assert _sample.cpu_jiffies(text) == expected


def test_thermal_zones_of_the_same_type_keep_apart(tmp_path):
    for zone, celsius in (("thermal_zone0", "45000"), ("thermal_zone1", "50500"), ("thermal_zone2", "n/a")):
        _write(tmp_path / zone / "type", "soc\n")
        _write(tmp_path / zone / "temp", celsius + "\n")
    assert _sample.thermal_zones(str(tmp_path)) == {"soc": 45.0, "soc (thermal_zone1)": 50.5}


def test_a_namespace_without_a_node_is_named_after_its_container(tmp_path):
    for pid, inode in ((21, "1"), (22, "2")):
        os.makedirs(tmp_path / str(pid) / "ns")
        os.symlink("net:[%s]" % inode, tmp_path / str(pid) / "ns" / "net")
    targets = [{"name": "lab.keeper", "pid": 21, "node": None, "service": "keeper"},
               {"name": "lab-h1-client", "pid": 22, "node": "h1", "service": "client"},
               {"name": "lab-gone", "pid": 23, "node": "h2", "service": None}]
    assert _sample.network_groups(targets, str(tmp_path)) == [
        {"node": "h1", "pid": 22, "containers": ["lab-h1-client"]},
        {"node": "lab.keeper", "pid": 21, "containers": ["lab.keeper"]}]


def test_lab_targets_from_the_engine():
    class API:
        def containers(self, filters):
            assert filters == {"label": "vnet.lab=demo"}
            return [{"Id": "2"}, {"Id": "1"}]

        def inspect_container(self, cid):
            return {"1": {"Name": "/demo-r1", "Id": "1", "State": {"Pid": 42},
                          "Config": {"Labels": {"vnet.node": "r1"}}},
                    "2": {"Name": "/demo-r1-dns", "Id": "2", "State": {"Pid": 0},
                          "Config": {"Labels": {"vnet.node": "r1", "vnet.service": "dns"}}}}[cid]

    assert _sample.lab_targets(API(), "demo") == [
        {"name": "demo-r1", "id": "1", "pid": 42, "node": "r1", "service": None},
        {"name": "demo-r1-dns", "id": "2", "pid": None, "node": "r1", "service": "dns"}]


def test_the_thread_samples_until_stopped_then_once_more(tmp_path):
    machine = Machine(tmp_path)
    machine.set(cpu_ns=0, memory=1, rx=0, tx=0, busy=1, idle=1, load="0.1", available=1, celsius=40)
    sampler = _sample.Sampler(TARGETS[:2], 0.01, str(machine.cgroup), str(machine.proc), str(machine.thermal))
    sampler.start()
    deadline = time.monotonic() + 10
    while len(sampler.raw) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    series = sampler.stop()
    assert len(series["times"]) >= 4
    assert series["times"] == sorted(series["times"])
    assert series["started"] is not None
    assert all(len(c["memory_bytes"]) == len(series["times"]) for c in series["containers"])


def test_a_crash_in_the_thread_is_raised_by_stop(tmp_path):
    sampler = _sample.Sampler([], 0.01, str(tmp_path), str(tmp_path), str(tmp_path))

    def broken():
        raise RuntimeError("cannot read")

    sampler.sample_once = broken
    sampler.start()
    with pytest.raises(RuntimeError, match="cannot read"):
        sampler.stop()
