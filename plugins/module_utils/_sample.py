# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Time series of a lab's containers and of their host, sampled while something else runs.

A ``Sampler`` reads, every ``interval`` seconds in a thread of its own, until it is stopped:

* each container's cgroup (``_stats``: memory as ``docker stats`` shows it, CPU time, processes;
  cgroup v1 or v2);
* each network namespace's byte counters (``/proc/<pid>/net/dev`` of one of its containers,
  loopback left out): the services of a node share its namespace, so network figures are per
  node, not per service;
* the host: CPU (``/proc/stat``, 100 % = every core busy), load average over one minute,
  memory in use (``MemTotal - MemAvailable``) and each thermal zone's temperature where
  ``/sys/class/thermal`` has one (a Raspberry Pi's SoC; this VM has none).

``Sampler.stop()`` returns the series (see ``series``): one list per figure, all on the same
timeline ``times`` (seconds since the first sample). A CPU share needs two samples, so the
first value of each CPU series is None.
"""

from __future__ import annotations

import glob
import os
import threading
import time

from ansible_collections.vnet.lab.plugins.module_utils._stats import cgroup_dirs, sample as cgroup_sample


def _read(path):
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_jiffies(stat_text):
    """``(busy, total)`` jiffies of all CPUs from /proc/stat's ``cpu`` line; None when absent."""
    for line in (stat_text or "").splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            values = [int(value) for value in parts[1:] if value.isdigit()]
            # user nice system idle iowait irq softirq steal (guest time is already in user).
            counted = values[:8]
            idle = sum(counted[3:5])
            return sum(counted) - idle, sum(counted)
    return None


def meminfo(text):
    """``(total, available)`` bytes from /proc/meminfo; None where missing."""
    values = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return values.get("MemTotal"), values.get("MemAvailable")


def net_dev(text):
    """``(rx_bytes, tx_bytes)`` summed over the interfaces of /proc/<pid>/net/dev but ``lo``."""
    if text is None:
        return None
    rx = tx = 0
    for line in text.splitlines()[2:]:
        if ":" not in line:
            continue
        name, counters = line.split(":", 1)
        fields = counters.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def thermal_zones(root):
    """``{name: celsius}`` of each thermal zone under ``root`` that can be read (name: its type)."""
    zones = {}
    for path in sorted(glob.glob(os.path.join(root, "thermal_zone*"))):
        raw = (_read(os.path.join(path, "temp")) or "").strip()
        if not raw.lstrip("-").isdigit():
            continue
        name = (_read(os.path.join(path, "type")) or "").strip() or os.path.basename(path)
        if name in zones:
            name = "%s (%s)" % (name, os.path.basename(path))
        zones[name] = int(raw) / 1000.0
    return zones


def host_sample(proc="/proc", thermal="/sys/class/thermal"):
    load = (_read(os.path.join(proc, "loadavg")) or "").split()
    total, available = meminfo(_read(os.path.join(proc, "meminfo")))
    return {
        "cpu": cpu_jiffies(_read(os.path.join(proc, "stat"))),
        "load1": float(load[0]) if load else None,
        "memory_total": total,
        "memory_used": total - available if total is not None and available is not None else None,
        "temperature": thermal_zones(thermal),
    }


def network_groups(targets, proc="/proc"):
    """The network namespaces of the targets: ``[{node, pid, containers}]``, one per namespace.

    A namespace is named after the node container in it (no ``service``), else after the first
    container's node, else after that container; a target without a running process is left out.
    """
    groups = {}
    for target in targets:
        pid = target.get("pid")
        if not pid:
            continue
        try:
            namespace = os.readlink(os.path.join(proc, str(pid), "ns", "net"))
        except OSError:
            continue
        group = groups.setdefault(namespace, {"node": None, "pid": pid, "containers": []})
        group["containers"].append(target["name"])
        if not target.get("service") and target.get("node"):
            group["node"], group["pid"] = target["node"], pid
        elif group["node"] is None and target.get("node"):
            group["node"] = target["node"]
    for group in groups.values():
        group["node"] = group["node"] or group["containers"][0]
    return sorted(groups.values(), key=lambda group: group["node"])


def lab_targets(api, lab):
    """The running containers labelled ``vnet.lab=<lab>`` as targets, by name (Docker's low-level API)."""
    targets = []
    for item in api.containers(filters={"label": "vnet.lab=%s" % lab}):
        info = api.inspect_container(item["Id"])
        labels = (info.get("Config") or {}).get("Labels") or {}
        targets.append({"name": info["Name"].lstrip("/"), "id": info["Id"],
                        "pid": (info.get("State") or {}).get("Pid") or None,
                        "node": labels.get("vnet.node"), "service": labels.get("vnet.service")})
    return sorted(targets, key=lambda target: target["name"])


class Sampler:
    """Samples ``targets`` (``[{name, id, pid, node, service}]``) every ``interval`` seconds."""

    def __init__(self, targets, interval=0.5, cgroup_root="/sys/fs/cgroup", proc="/proc",
                 thermal="/sys/class/thermal", clock=time.monotonic, wall=time.time):
        self.targets = [dict(target) for target in targets]
        self.interval = interval
        self.proc = proc
        self.thermal = thermal
        self.clock = clock
        self.wall = wall
        self.dirs = [cgroup_dirs(cgroup_root, target["id"]) for target in self.targets]
        self.networks = network_groups(self.targets, proc)
        self.raw = []
        self.started = None
        self._stop = threading.Event()
        self._thread = None
        self._error = None

    def sample_once(self):
        """Reads every figure once and keeps it."""
        self.raw.append({
            "time": self.clock(),
            "containers": [cgroup_sample(dirs) if dirs else None for dirs in self.dirs],
            "networks": [net_dev(_read(os.path.join(self.proc, str(group["pid"]), "net", "dev")))
                         for group in self.networks],
            "host": host_sample(self.proc, self.thermal),
        })

    def _run(self):
        try:
            next_at = self.clock()
            while True:
                self.sample_once()
                next_at += self.interval
                if self._stop.wait(max(next_at - self.clock(), 0.0)):
                    return
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Raised again by stop(): in this thread it would be lost.
            self._error = exc

    def start(self):
        self.started = self.wall()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        """Ends the sampling with a last sample, and returns the series."""
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        self.sample_once()
        return series(self.targets, self.networks, self.raw, self.interval, self.started,
                      os.cpu_count() or 1)


def _percent(before, after, seconds):
    if before is None or after is None or seconds <= 0:
        return None
    return round(max(after - before, 0) / (seconds * 1e9) * 100, 2)


def series(targets, networks, raw, interval, started, cores):
    """The figures of the raw samples, one list per figure on the timeline ``times``."""
    first = raw[0]["time"] if raw else 0.0
    times = [round(item["time"] - first, 3) for item in raw]
    containers = []
    for index, target in enumerate(targets):
        values = [item["containers"][index] for item in raw]
        cpu = [None]
        for previous, current, before, after in zip(values, values[1:], raw, raw[1:]):
            cpu.append(_percent((previous or {}).get("cpu_ns"), (current or {}).get("cpu_ns"),
                                after["time"] - before["time"]))
        containers.append({
            "name": target["name"], "node": target.get("node"), "service": target.get("service"),
            "found": any(value is not None for value in values),
            "cpu_percent": cpu[:len(values)],
            "memory_bytes": [(value or {}).get("memory") for value in values],
            "pids": [(value or {}).get("pids") for value in values],
        })
    nets = []
    for index, group in enumerate(networks):
        counters = [item["networks"][index] for item in raw]
        base = next((value for value in counters if value is not None), (0, 0))
        nets.append({
            "node": group["node"], "containers": list(group["containers"]),
            "rx_bytes": [value[0] - base[0] if value else None for value in counters],
            "tx_bytes": [value[1] - base[1] if value else None for value in counters],
        })
    hosts = [item["host"] for item in raw]
    host_cpu = [None]
    for before, after in zip(hosts, hosts[1:]):
        if before["cpu"] and after["cpu"] and after["cpu"][1] > before["cpu"][1]:
            host_cpu.append(round((after["cpu"][0] - before["cpu"][0]) * 100.0
                                  / (after["cpu"][1] - before["cpu"][1]), 2))
        else:
            host_cpu.append(None)
    zones = sorted({zone for host in hosts for zone in host["temperature"]})
    return {
        "interval": interval,
        "started": started,
        "seconds": times[-1] if times else 0.0,
        "times": times,
        "containers": containers,
        "networks": nets,
        "host": {
            "cores": cores,
            "cpu_percent": host_cpu[:len(hosts)],
            "load1": [host["load1"] for host in hosts],
            "memory_total_bytes": next((host["memory_total"] for host in hosts if host["memory_total"]), None),
            "memory_used_bytes": [host["memory_used"] for host in hosts],
            "temperature_celsius": {zone: [host["temperature"].get(zone) for host in hosts] for zone in zones},
        },
    }
