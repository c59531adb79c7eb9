# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.vnet.lab.plugins.module_utils import _report

MIB = 1024 * 1024


def _container(name, service, memory, node="r1"):
    labels = {"vnet.lab": "t", "vnet.node": node}
    if service:
        labels["vnet.service"] = service
    return {"Names": ["/" + name], "Labels": labels, "memory_bytes": memory, "cpu_percent": 0.5,
            "cpu_seconds": 1.0, "pids": 2}


CONTAINERS = [_container("t-r1", None, 1 * MIB), _container("t-r1-dns", "dns", 20 * MIB),
              _container("t-r1-dhcp-eth1", "dhcp", 4 * MIB), _container("t-r1-dhcp-eth2", "dhcp", 4 * MIB)]


def test_service_rows_group_and_sort_by_memory():
    rows = _report.service_rows([_report.normalise(c) for c in CONTAINERS])
    assert [(r["service"], r["containers"], r["memory_bytes"]) for r in rows] == [
        ("dns", 1, 20 * MIB), ("dhcp", 2, 8 * MIB), ("node", 1, 1 * MIB)]


def test_report_summary_costs_and_streams():
    checks = [{"ok": True, "line": "dns ns1: pass"}, {"ok": False, "line": "web www: FAIL"}]
    streams = [{"src": "192.168.0.6", "src_port": 30000, "dst": "192.168.5.10", "dst_port": 20100,
                "payload": "g711U", "packets": 400, "lost": 0, "mean_delta_ms": 20.0, "max_delta_ms": 22.1,
                "max_jitter_ms": 1.4}]
    text = _report.report("t", checks, CONTAINERS, streams, 12.34)
    assert "**Checks: 1 of 2 pass** - FAILED: see the lines marked FAIL" in text
    assert "Brought up in 12.3 s" in text
    assert "All service containers together: 28.0 MiB (nodes left out)." in text
    assert "| dns     | 1          | 20.0       | ######################## |" in text
    assert "| 192.168.0.6:30000 | 192.168.5.10:20100 | g711U | 400     | 0    |" in text
    assert "| t-r1-dhcp-eth1 | r1   | dhcp    | 4.0        |" in text


def test_report_without_streams_or_figures():
    text = _report.report("t", [], [_container("t-h1", None, None, "h1")])
    assert "**Checks: 0 of 0 pass**" in text
    assert "VoIP" not in text
    assert "| t-h1      | h1   | node    | ?          |" in text
