# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Memory, CPU and process figures of containers, read from their cgroups (v1 or v2).

``docker stats`` reads the same files, but shows 0 B for a container whose Docker-attached
interface was renamed (and for every container in its namespace), which is every lab node:
hence this module. Memory is what ``docker stats`` shows - usage less the inactive page cache;
CPU is the share of one CPU used between two samples (100 % = one core busy), as ``docker stats``.

``cgroup_dirs(root, container_id)`` finds a container's directories; ``sample(dirs)`` reads
one sample (the CPU share comes from two samples, as ``_sample`` takes them).
"""

from __future__ import annotations

import os

# Where Docker puts a container's cgroup, per driver: cgroupfs, then systemd.
_V1_PATTERNS = ("docker/{id}", "system.slice/docker-{id}.scope")
_V2_PATTERNS = ("system.slice/docker-{id}.scope", "docker/{id}")


def cgroup_dirs(root, container_id):
    """``{"version": 1|2, "memory", "cpu", "pids"}`` directories of a container, or None."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        for pattern in _V2_PATTERNS:
            path = os.path.join(root, pattern.format(id=container_id))
            if os.path.isdir(path):
                return {"version": 2, "memory": path, "cpu": path, "pids": path}
        return None
    for pattern in _V1_PATTERNS:
        relative = pattern.format(id=container_id)
        memory = os.path.join(root, "memory", relative)
        if os.path.isdir(memory):
            cpu = os.path.join(root, "cpuacct", relative)
            if not os.path.isdir(cpu):
                cpu = os.path.join(root, "cpu,cpuacct", relative)
            return {"version": 1, "memory": memory, "cpu": cpu, "pids": os.path.join(root, "pids", relative)}
    return None


def _read(path, default=None):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return default


def _keyed(text):
    values = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


def memory_bytes(version, usage, stat):
    """What ``docker stats`` shows: usage less the inactive page cache."""
    keys = _keyed(stat)
    inactive = keys.get("total_inactive_file", keys.get("inactive_file", 0)) if version == 1 \
        else keys.get("inactive_file", 0)
    return max(usage - inactive, 0) if inactive < usage else usage


def sample(dirs):
    """One sample: ``{memory, cpu_ns, pids}`` (None where a file cannot be read)."""
    if dirs["version"] == 1:
        usage = _read(os.path.join(dirs["memory"], "memory.usage_in_bytes"))
        stat = _read(os.path.join(dirs["memory"], "memory.stat"), "")
        cpu = _read(os.path.join(dirs["cpu"], "cpuacct.usage"))
        cpu_ns = int(cpu) if cpu and cpu.strip().isdigit() else None
    else:
        usage = _read(os.path.join(dirs["memory"], "memory.current"))
        stat = _read(os.path.join(dirs["memory"], "memory.stat"), "")
        usec = _keyed(_read(os.path.join(dirs["cpu"], "cpu.stat"), "")).get("usage_usec")
        cpu_ns = usec * 1000 if usec is not None else None
    pids = _read(os.path.join(dirs["pids"], "pids.current"))
    memory = None
    if usage and usage.strip().isdigit():
        memory = memory_bytes(dirs["version"], int(usage), stat)
    return {"memory": memory, "cpu_ns": cpu_ns, "pids": int(pids) if pids and pids.strip().isdigit() else None}
