# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The lab's report: its checks, what each service costs, and the VoIP call's quality.

``report(lab, checks, containers, streams, lab_up_seconds)`` returns Markdown text that reads
as well in a terminal as rendered:

* checks: ``[{ok, line}]`` (playbooks/verify.yml), a summary then one line each;
* containers: ``[{name, node, service, memory_bytes, cpu_percent, cpu_seconds, pids}]``
  (the vnet.lab.container_stats module), grouped by service with a bar for memory;
* streams: the RTP streams of the measured call (``_voip.rtp_streams``).
"""

from __future__ import annotations

MIB = 1024 * 1024
BAR_WIDTH = 24


def _mib(value):
    return "%.1f" % (value / MIB) if value is not None else "?"


def _table(header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(header, widths)) + " |",
             "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
    lines += ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    return lines


def normalise(container):
    """A container as vnet.lab.container_stats returns those of docker_host_info (Names, Labels),
    or already ``{name, node, service, ...}``."""
    item = dict(container)
    labels = item.get("Labels") or {}
    item.setdefault("name", ((item.get("Names") or ["?"])[0]).lstrip("/"))
    item.setdefault("node", labels.get("vnet.node"))
    item.setdefault("service", labels.get("vnet.service"))
    return item


def service_rows(containers):
    """One row per service (nodes together as ``node``), most memory first."""
    groups = {}
    for item in containers:
        key = item.get("service") or "node"
        group = groups.setdefault(key, {"service": key, "containers": 0, "memory_bytes": 0,
                                        "cpu_percent": 0.0, "cpu_seconds": 0.0, "pids": 0})
        group["containers"] += 1
        group["memory_bytes"] += item.get("memory_bytes") or 0
        group["cpu_percent"] += item.get("cpu_percent") or 0.0
        group["cpu_seconds"] += item.get("cpu_seconds") or 0.0
        group["pids"] += item.get("pids") or 0
    return sorted(groups.values(), key=lambda group: (-group["memory_bytes"], group["service"]))


def report(lab, checks, containers, streams=None, lab_up_seconds=None):
    lines = ["# Lab %s" % lab, ""]
    passed = sum(1 for check in checks if check.get("ok"))
    lines.append("**Checks: %d of %d pass**%s" % (
        passed, len(checks), "" if passed == len(checks) else " - FAILED: see the lines marked FAIL"))
    if lab_up_seconds is not None:
        lines.append("")
        lines.append("Brought up in %.1f s (playbooks/lab_up.yml, wall clock)." % lab_up_seconds)
    lines += [""] + ["- %s" % check["line"] for check in checks] + [""]
    containers = [normalise(item) for item in containers]

    rows = service_rows(containers)
    services = [row for row in rows if row["service"] != "node"]
    total = sum(row["memory_bytes"] for row in services)
    top = max([row["memory_bytes"] for row in rows] or [1]) or 1
    lines += ["## What each service costs", ""]
    lines += _table(
        ["service", "containers", "memory MiB", "", "CPU % now", "CPU s since start", "processes"],
        [[row["service"], row["containers"], _mib(row["memory_bytes"]),
          "#" * max(1, round(BAR_WIDTH * row["memory_bytes"] / top)) if row["memory_bytes"] else "",
          "%.2f" % row["cpu_percent"], "%.2f" % row["cpu_seconds"], row["pids"]] for row in rows])
    lines += ["", "All service containers together: %s MiB (nodes left out)." % _mib(total), ""]
    lines += ["<details><summary>Per container</summary>", ""]
    lines += _table(["container", "node", "service", "memory MiB", "CPU %", "processes"],
                    [[item.get("name", "?"), item.get("node") or "", item.get("service") or "node",
                      _mib(item.get("memory_bytes")), item.get("cpu_percent"), item.get("pids")]
                     for item in sorted(containers, key=lambda c: c.get("name", ""))])
    lines += ["", "</details>", ""]

    if streams:
        lines += ["## VoIP call quality (tshark -z rtp,streams)", ""]
        lines += _table(
            ["from", "to", "codec", "packets", "lost", "mean delta ms", "max delta ms", "max jitter ms"],
            [["%s:%s" % (s["src"], s["src_port"]), "%s:%s" % (s["dst"], s["dst_port"]), s.get("payload", ""),
              s["packets"], s["lost"], s["mean_delta_ms"], s["max_delta_ms"], s["max_jitter_ms"]]
             for s in streams])
        lines.append("")
    return "\n".join(lines)
