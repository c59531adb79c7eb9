# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _stats

CID = "ab" * 32


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _v1(root, usage, inactive, cpu_ns, pids, driver="docker/{id}"):
    relative = driver.format(id=CID)
    _write(root / "memory" / relative / "memory.usage_in_bytes", "%d\n" % usage)
    _write(root / "memory" / relative / "memory.stat", "cache 5\nrss 7\ntotal_inactive_file %d\n" % inactive)
    _write(root / "cpuacct" / relative / "cpuacct.usage", "%d\n" % cpu_ns)
    _write(root / "pids" / relative / "pids.current", "%d\n" % pids)


@pytest.mark.parametrize("driver", ["docker/{id}", "system.slice/docker-{id}.scope"])
def test_cgroup_v1_sample_as_docker_stats(tmp_path, driver):
    _v1(tmp_path, 25_000_000, 1_000_000, 2_000_000_000, 7, driver)
    dirs = _stats.cgroup_dirs(str(tmp_path), CID)
    assert dirs["version"] == 1
    first = _stats.sample(dirs)
    _v1(tmp_path, 25_000_000, 1_000_000, 2_500_000_000, 7, driver)
    second = _stats.sample(dirs)
    assert first == {"memory": 24_000_000, "cpu_ns": 2_000_000_000, "pids": 7}
    assert second["cpu_ns"] - first["cpu_ns"] == 500_000_000


def test_cgroup_v2_sample(tmp_path):
    _write(tmp_path / "cgroup.controllers", "cpu memory pids\n")
    base = tmp_path / "system.slice" / ("docker-%s.scope" % CID)
    _write(base / "memory.current", "10485760\n")
    _write(base / "memory.stat", "anon 9000000\ninactive_file 2097152\n")
    _write(base / "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n")
    _write(base / "pids.current", "3\n")
    dirs = _stats.cgroup_dirs(str(tmp_path), CID)
    assert dirs["version"] == 2
    one = _stats.sample(dirs)
    assert one == {"memory": 8388608, "cpu_ns": 1_500_000_000, "pids": 3}


def test_missing_container_has_no_dirs(tmp_path):
    assert _stats.cgroup_dirs(str(tmp_path), CID) is None
    _write(tmp_path / "cgroup.controllers", "cpu\n")
    assert _stats.cgroup_dirs(str(tmp_path), CID) is None


def test_unreadable_files_give_none(tmp_path):
    dirs = {"version": 1, "memory": str(tmp_path / "m"), "cpu": str(tmp_path / "c"), "pids": str(tmp_path / "p")}
    assert _stats.sample(dirs) == {"memory": None, "cpu_ns": None, "pids": None}
