# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The report's plots, drawn with matplotlib (Agg: no display needed) as PNG files.

``draw(report, directory, plan)`` writes each plot that the report has data for and returns
``{name: filename}``: ``services`` (CPU and memory per service over time), ``network`` (per
node), ``host`` (CPU, load, memory, temperature where exposed), ``rtp`` (delta and jitter per
stream), ``boot`` (the phases), ``theirs`` (our CPU per service beside Table II's, our boot time
and memory beside the poster's) and ``topology`` (Graphviz's ``dot`` when installed, else drawn
here). The studies' figures are drawn hatched and labelled *theirs*.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess

from ansible_collections.vnet.lab.plugins.module_utils import _evaluation, _lab

try:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
except ImportError:
    matplotlib = pyplot = None

WIDTH, HEIGHT, DPI = 9.0, 4.6, 100
THEIRS = {"hatch": "//", "edgecolor": "black", "color": "#d9d9d9"}
MIB = 1024 * 1024


def available():
    return pyplot is not None


def _colours(names):
    """A colour per service (or node), the same in every plot; tab10's ten first, all distinct."""
    palette = list(pyplot.get_cmap("tab10").colors) + list(pyplot.get_cmap("Dark2").colors)
    return {name: palette[index % len(palette)] for index, name in enumerate(sorted(names))}


def _save(figure, directory, filename):
    figure.tight_layout()
    figure.savefig(os.path.join(directory, filename), dpi=DPI)
    pyplot.close(figure)
    return filename


def _points(times, values, scale=1.0):
    pairs = [(t, v / scale) for t, v in zip(times, values) if v is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _legend(axes):
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _shade(axes, report):
    """The traffic window, shaded: the figures of the report's tables are those within it."""
    start, end = report["traffic"]["window"]
    axes.axvspan(start, end, color="#f2f2f2", zorder=0, label="traffic window")


def services(report, directory):
    """CPU (top) and memory (bottom) of each service over the phase; load generators dashed."""
    samples = report["series"]
    times = samples.get("times") or []
    groups = _evaluation.service_series(samples)
    if len(times) < 2 or not groups:
        return None
    colours = _colours(groups)
    figure, (cpu_axes, memory_axes) = pyplot.subplots(2, 1, figsize=(WIDTH, HEIGHT * 1.6), sharex=True)
    for axes, key, scale, label in ((cpu_axes, "cpu_percent", 1.0, "CPU % (100 = one core)"),
                                    (memory_axes, "memory_bytes", MIB, "memory MiB")):
        _shade(axes, report)
        for service in sorted(groups, key=lambda name: (name in _evaluation.LOAD_GENERATORS, name)):
            xs, ys = _points(times, groups[service][key], scale)
            generator = service in _evaluation.LOAD_GENERATORS
            axes.plot(xs, ys, label=service + (" (load)" if generator else ""), color=colours[service],
                      linestyle="--" if generator else "-", linewidth=1.2 if generator else 1.8)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    cpu_axes.set_title("CPU and memory per service of lab %s" % report["lab"])
    memory_axes.set_xlabel("seconds into the traffic phase")
    _legend(cpu_axes)
    return _save(figure, directory, "services.png")


def _cpu_theirs(axes, report):
    rows = {row["service"]: row for row in report["services"]}
    table = _evaluation.STUDIES["table_ii"]
    names = list(table["cpu_percent"]) + list(table["others"])
    positions = list(range(len(names)))
    ours = [(rows.get(name) or {}).get("cpu_percent_max") or 0.0 for name in names]
    theirs = [table["cpu_percent"].get(name, table["others_below_percent"]) for name in names]
    axes.bar([p - 0.2 for p in positions], ours, width=0.4, label="ours: max over the traffic window",
             color="#1f77b4")
    axes.bar([p + 0.2 for p in positions], theirs, width=0.4, label="theirs: the study's Table II", **THEIRS)
    for position, name, value in zip(positions, names, theirs):
        axes.annotate("%.2f" % value if name in table["cpu_percent"] else "< %g" % value, (position + 0.2, value),
                      ha="center", va="bottom", fontsize=8)
    for position, name, value in zip(positions, names, ours):
        axes.annotate("%.2f" % value if name in rows else "n/a", (position - 0.2, value), ha="center",
                      va="bottom", fontsize=8)
    axes.set_xticks(positions)
    axes.set_xticklabels(names)
    axes.set_ylabel("CPU % (100 = one core)")
    axes.set_title("CPU per service under use: ours (this machine) beside theirs (Raspberry Pi)")
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)


def network(report, directory):
    samples = report["series"]
    times = samples.get("times") or []
    nets = samples.get("networks") or []
    if len(times) < 2 or not nets:
        return None
    colours = _colours([net["node"] for net in nets])
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT))
    _shade(axes, report)
    for net in nets:
        both = _evaluation.sum_series([net["rx_bytes"], net["tx_bytes"]], len(times))
        xs, ys = _points(times, _evaluation.rates(times, both), 1024.0)
        axes.plot(xs, ys, label=net["node"], color=colours[net["node"]], linewidth=1.6)
    axes.set_title("Network per node of lab %s (received + sent)" % report["lab"])
    axes.set_xlabel("seconds into the traffic phase")
    axes.set_ylabel("KiB/s")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    _legend(axes)
    return _save(figure, directory, "network.png")


def host(report, directory):
    samples = report["series"]
    times = samples.get("times") or []
    data = samples.get("host") or {}
    if len(times) < 2:
        return None
    zones = data.get("temperature_celsius") or {}
    panels = 4 if zones else 3
    figure, axes = pyplot.subplots(panels, 1, figsize=(WIDTH, 2.0 * panels), sharex=True)
    xs, ys = _points(times, data.get("cpu_percent") or [])
    axes[0].plot(xs, ys, color="#d62728")
    axes[0].set_ylabel("CPU %")
    axes[0].set_ylim(0, 105)
    axes[0].set_title("Host: %s cores (CPU 100 %% = all busy), load, memory%s" % (
        data.get("cores"), ", temperature" if zones else " (no thermal zone exposed)"))
    xs, ys = _points(times, data.get("load1") or [])
    axes[1].plot(xs, ys, color="#9467bd")
    axes[1].axhline(data.get("cores") or 1, color="grey", linestyle=":", linewidth=1)
    axes[1].set_ylabel("load (1 min)")
    axes[1].set_ylim(bottom=0)
    xs, ys = _points(times, data.get("memory_used_bytes") or [], 1024.0 ** 3)
    axes[2].plot(xs, ys, color="#2ca02c")
    axes[2].set_ylabel("memory used GiB")
    if data.get("memory_total_bytes"):
        axes[2].set_ylim(0, data["memory_total_bytes"] / 1024.0 ** 3)
    for zone, values in sorted(zones.items()):
        xs, ys = _points(times, values)
        axes[3].plot(xs, ys, label=zone)
    if zones:
        axes[3].set_ylabel("°C")
        axes[3].legend(fontsize=8)
    for item in axes:
        item.grid(alpha=0.3)
        _shade(item, report)
    axes[-1].set_xlabel("seconds into the traffic phase")
    return _save(figure, directory, "host.png")


def rtp(report, directory):
    streams = report["voip"]["streams"]
    if not streams:
        return None
    labels = ["%s:%s\n-> %s:%s" % (s["src"], s["src_port"], s["dst"], s["dst_port"]) for s in streams]
    positions = list(range(len(streams)))
    figure, (delta, jitter) = pyplot.subplots(1, 2, figsize=(WIDTH + 2, HEIGHT))
    delta.axhline(20.0, color="grey", linestyle=":", linewidth=1, label="20 ms: a packet per 20 ms of audio")
    for axes, keys, title in ((delta, ("min_delta_ms", "mean_delta_ms", "max_delta_ms"), "delta between packets"),
                              (jitter, ("mean_jitter_ms", "max_jitter_ms"), "jitter")):
        width = 0.8 / len(keys)
        for index, key in enumerate(keys):
            values = [s.get(key) or 0.0 for s in streams]
            offset = (index - (len(keys) - 1) / 2.0) * width
            axes.bar([p + offset for p in positions], values, width=width,
                     label=key.replace("_ms", "").replace("_", " "))
        axes.set_xticks(positions)
        axes.set_xticklabels(labels, fontsize=7)
        axes.set_ylabel("ms")
        axes.set_title("RTP %s per stream" % title)
        axes.grid(axis="y", alpha=0.3)
        axes.legend(fontsize=8)
    return _save(figure, directory, "rtp.png")


def boot(report, directory):
    phases = report["boot"].get("phases") or []
    if not phases:
        return None
    groups = {"prepare": "#7f7f7f", "objects": "#1f77b4", "services": "#2ca02c", "convergence": "#ff7f0e"}
    figure, axes = pyplot.subplots(figsize=(WIDTH, max(2.5, 0.35 * len(phases) + 1.2)))
    names = [phase["name"] for phase in phases]
    for index, phase in enumerate(phases):
        axes.barh(index, max(phase["seconds"], 0.1), left=phase["start"], color=groups.get(phase["group"], "#8c564b"))
        axes.annotate("%.1f s" % phase["seconds"], (phase["end"], index), xytext=(3, 0),
                      textcoords="offset points", va="center", fontsize=8)
    axes.set_yticks(range(len(phases)))
    axes.set_yticklabels(names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("seconds from %s" % _evaluation.ORIGINS[report["boot"]["origin"]])
    axes.set_title("Boot of lab %s: %.1f s in all" % (report["lab"], report["boot"]["seconds"] or 0.0))
    axes.set_xlim(0, (report["boot"]["seconds"] or 1.0) * 1.15)
    axes.grid(axis="x", alpha=0.3)
    handles = [pyplot.Rectangle((0, 0), 1, 1, color=colour) for colour in groups.values()]
    axes.legend(handles, list(groups), fontsize=8, loc="lower left")
    return _save(figure, directory, "boot.png")


def theirs(report, directory):
    """The studies' figures beside ours: CPU per service (Table II), boot time and memory (poster)."""
    data = report["comparison"]
    figure = pyplot.figure(figsize=(WIDTH, HEIGHT * 1.8))
    grid = figure.add_gridspec(2, 2, height_ratios=[1, 1])
    _cpu_theirs(figure.add_subplot(grid[0, :]), report)
    labels = ["ours", "Compose\n(theirs)", "Vagrant +\nVirtualBox\n(theirs)"]
    for column, key, title, unit in ((0, "boot_seconds", "Boot time", "s"), (1, "memory_mb", "Memory of the lab", "MB")):
        axes = figure.add_subplot(grid[1, column])
        values = [data[key]["ours"], data[key]["compose_theirs"], data[key]["vagrant_virtualbox_theirs"]]
        for position, value in enumerate(values):
            style = THEIRS if position else {"color": "#1f77b4"}
            axes.bar(position, value or 0.0, **style)
            axes.annotate("n/a" if value is None else ("%.0f %s" % (value, unit)), (position, value or 1.0),
                          ha="center", va="bottom", fontsize=9)
        axes.set_yscale("log")
        axes.set_xticks(range(3))
        axes.set_xticklabels(labels, fontsize=8)
        axes.set_title("%s, %s (log scale)" % (title, unit), fontsize=10)
        axes.grid(axis="y", alpha=0.3)
    return _save(figure, directory, "theirs.png")


def _drawn_topology(plan, path):
    """The plan drawn here: nodes on a circle; a segment of several nodes as a small square between
    them, a segment of one node as a small square set outwards from it."""
    nodes = sorted(plan["nodes"])
    where, angles = {}, {}
    for index, name in enumerate(nodes):
        angle = 2 * math.pi * index / max(len(nodes), 1)
        where[name] = (math.cos(angle), math.sin(angle))
        angles[name] = angle
    stubs = {}
    for segment_name in sorted(plan["segments"]):
        ends = [endpoint.split(":", 1)[0] for endpoint in plan["segments"][segment_name]["endpoints"]]
        if len(ends) == 1 and ends[0] in where:
            stubs.setdefault(ends[0], []).append(segment_name)
    figure, axes = pyplot.subplots(figsize=(WIDTH, WIDTH * 0.75))
    points = list(where.values())
    for segment_name in sorted(plan["segments"]):
        segment = plan["segments"][segment_name]
        ends = [end for end in (endpoint.split(":", 1)[0] for endpoint in segment["endpoints"]) if end in where]
        if not ends:
            continue
        if segment.get("type") == "p2p" and len(ends) == 2:
            (ax, ay), (bx, by) = where[ends[0]], where[ends[1]]
            axes.plot([ax, bx], [ay, by], color="#555555", zorder=1)
            axes.annotate(segment.get("ipv4") or segment_name, ((ax + bx) / 2, (ay + by) / 2), fontsize=7,
                          ha="center", color="#555555")
            continue
        if len(ends) == 1:
            x, y = where[ends[0]]
            angle = angles[ends[0]]
            siblings = stubs[ends[0]]
            angle += (siblings.index(segment_name) - (len(siblings) - 1) / 2.0) * 0.7
            cx, cy = x + 0.5 * math.cos(angle), y + 0.5 * math.sin(angle)
        else:
            cx = sum(where[end][0] for end in ends) / len(ends)
            cy = sum(where[end][1] for end in ends) / len(ends)
        points.append((cx, cy))
        for end in ends:
            axes.plot([cx, where[end][0]], [cy, where[end][1]], color="#999999", linewidth=0.8, zorder=1)
        axes.scatter([cx], [cy], marker="s", s=40, color="#fff2a8", edgecolors="#999999", zorder=2)
        axes.annotate("%s\n%s" % (segment_name, segment.get("ipv4") or ""), (cx, cy), fontsize=7, ha="center",
                      va="top", xytext=(0, -6), textcoords="offset points")
    for name in nodes:
        x, y = where[name]
        router = plan["nodes"][name]["kind"] == "router"
        axes.scatter([x], [y], marker="s" if router else "o", s=1100, color="#aec7e8" if router else "#c5e0b4",
                     edgecolors="black", zorder=3)
        axes.annotate(name, (x, y), ha="center", va="center", fontsize=8, zorder=4)
    axes.set_title("lab %s (routers: squares, hosts: circles, segments: small squares)" % plan["name"])
    axes.set_axis_off()
    axes.set_xlim(min(p[0] for p in points) - 0.35, max(p[0] for p in points) + 0.35)
    axes.set_ylim(min(p[1] for p in points) - 0.35, max(p[1] for p in points) + 0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    pyplot.close(figure)


def topology(plan, directory, dot=None):
    """topology.png of the plan: rendered by Graphviz's ``dot`` when found, else drawn here."""
    if not plan:
        return None
    path = os.path.join(directory, "topology.png")
    dot = dot if dot is not None else shutil.which("dot")
    if dot:
        done = subprocess.run([dot, "-Tpng", "-Gdpi=%d" % DPI, "-o", path], input=_lab.topology_dot(plan),
                              capture_output=True, text=True, check=False, timeout=60)
        if done.returncode == 0 and os.path.getsize(path) > 0:
            return "topology.png"
    _drawn_topology(plan, path)
    return "topology.png"


# The plots of the time series, and those that need the boot's phases as well.
SERIES_PLOTS = ("services", "network", "host", "rtp", "topology")
BOOT_PLOTS = ("boot", "theirs")


def draw(report, directory, plan=None, dot=None, names=SERIES_PLOTS + BOOT_PLOTS):
    """The plots of ``names`` that the report has data for, as PNG files in ``directory``:
    ``{name: filename}``."""
    if pyplot is None:
        raise RuntimeError("matplotlib is not installed where the report is written")
    functions = {"services": services, "network": network, "host": host, "rtp": rtp, "boot": boot, "theirs": theirs,
                 "topology": lambda _report, where: topology(plan, where, dot)}
    drawn = {}
    for name in names:
        filename = functions[name](report, directory)
        if filename:
            drawn[name] = filename
    return drawn
