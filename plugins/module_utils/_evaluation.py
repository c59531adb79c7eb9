# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""A lab's evaluation report: every figure of a measured traffic phase, beside the studies' own.

``build(...)`` gathers the figures into one JSON-ready dict (docs/report.schema.json describes
it; docs/evaluation.md says how to read it): the traffic that ran (``_traffic``), per service and
per container the CPU share (max, mean; 100 % = one core) and the memory (max) over the phase,
per node the network bytes, the host's load, the boot's phases (``_boot``), the call's RTP
streams, the checks when verify ran in the same run, the machine and the tools' versions, and the
time series themselves (``_sample``). ``markdown(report)`` renders report.md around the plots,
``summary(report)`` the few aligned lines a terminal shows.

The studies' figures (``STUDIES``) sit beside ours, always labelled as theirs: the study's
Table II (CPU under use per service on a Raspberry Pi) and the poster's boot time and memory of
the lab as Docker Compose containers and as Vagrant + VirtualBox VMs.
"""

from __future__ import annotations

import os
import re

from ansible_collections.vnet.lab.plugins.module_utils import _traffic

SCHEMA = "vnet.lab/report/1"
MIB = 1024 * 1024
# How the boot's origin (_boot.phases) reads in a sentence.
ORIGINS = {"lab_up start": "lab_up's start", "first segment": "the first segment",
           "first container": "the first container"}
# Containers that make the load instead of serving it: the hosts' clients (dig, curl, lftp run
# there), the test phones and the RTP probe of the call.
LOAD_GENERATORS = frozenset(("client", "phone", "voip-probe"))
STUDIES = {
    "table_ii": {
        "source": "the study, Table II: CPU share of each service under use, on a Raspberry Pi",
        "cpu_percent": {"dns": 15.02, "ftp": 11.89, "voip": 5.18},
        "others_below_percent": 1.0,
        "others": ["dhcp", "web", "ospf"],
    },
    "poster": {
        "source": "the poster: the lab booted as Docker Compose containers and as Vagrant + VirtualBox VMs",
        "compose": {"boot_seconds": 75, "memory_mb": 278},
        "vagrant_virtualbox": {"boot_seconds": 689, "memory_mb": 4500},
    },
}


def _values(series):
    return [value for value in series or [] if value is not None]


def _max(series):
    values = _values(series)
    return max(values) if values else None


def _mean(series):
    values = _values(series)
    return round(sum(values) / len(values), 2) if values else None


def sum_series(many, length):
    """Element-wise sum; None where every series is None."""
    total = []
    for index in range(length):
        values = [series[index] for series in many if index < len(series) and series[index] is not None]
        total.append(round(sum(values), 2) if values else None)
    return total


def service_of(container):
    return container.get("service") or "node"


def theirs_cpu(service):
    """Table II's figure for a service, as text: '15.02', '< 1', or '' when it has none."""
    table = STUDIES["table_ii"]
    if service in table["cpu_percent"]:
        return "%.2f" % table["cpu_percent"][service]
    if service in table["others"]:
        return "< %g" % table["others_below_percent"]
    return ""


def service_series(samples):
    """``{service: {cpu_percent: [...], memory_bytes: [...], containers: n}}`` summed per service."""
    length = len(samples.get("times") or [])
    groups = {}
    for container in samples.get("containers") or []:
        if not container.get("found"):
            continue
        groups.setdefault(service_of(container), []).append(container)
    return {service: {"containers": len(items),
                      "cpu_percent": sum_series([c["cpu_percent"] for c in items], length),
                      "memory_bytes": sum_series([c["memory_bytes"] for c in items], length)}
            for service, items in groups.items()}


def window(samples, traffic_kinds):
    """``[start, end]`` seconds of the sampled timeline during which the traffic ran: from the first
    sample (taken as the traffic starts) to the end of the longest traffic probe, plus one interval
    for the sample that closes it; the whole timeline when no traffic ran."""
    times = samples.get("times") or []
    last = times[-1] if times else 0.0
    ran = [entry["seconds"] for entry in (traffic_kinds or {}).values() if not entry.get("error")]
    if not ran:
        return [0.0, last]
    return [0.0, round(min(max(ran) + (samples.get("interval") or 0.0), last), 3)]


def _within(series, times, span):
    return [value for value, moment in zip(series or [], times) if span[0] <= moment <= span[1]]


def _services(samples, span):
    times = samples.get("times") or []
    rows = []
    for service, data in service_series(samples).items():
        memory = _max(_within(data["memory_bytes"], times, span))
        cpu = _within(data["cpu_percent"], times, span)
        rows.append({"service": service, "containers": data["containers"],
                     "load_generator": service in LOAD_GENERATORS,
                     "cpu_percent_max": _max(cpu), "cpu_percent_mean": _mean(cpu),
                     "memory_bytes_max": int(memory) if memory is not None else None,
                     "theirs_cpu_percent": theirs_cpu(service)})
    return sorted(rows, key=lambda row: (row["load_generator"], -(row["cpu_percent_max"] or 0), row["service"]))


def _containers(samples, span):
    times = samples.get("times") or []
    rows = []
    for c in sorted(samples.get("containers") or [], key=lambda c: c["name"]):
        cpu = _within(c["cpu_percent"], times, span)
        rows.append({"name": c["name"], "node": c.get("node"), "service": service_of(c),
                     "found": bool(c.get("found")), "cpu_percent_max": _max(cpu), "cpu_percent_mean": _mean(cpu),
                     "memory_bytes_max": _max(_within(c["memory_bytes"], times, span)),
                     "pids_max": _max(_within(c.get("pids"), times, span))})
    return rows


def rates(times, cumulative):
    """Bytes per second between consecutive samples of a cumulative counter (None at the first)."""
    out = [None]
    for index in range(1, len(times)):
        before, after = cumulative[index - 1], cumulative[index]
        elapsed = times[index] - times[index - 1]
        out.append(round((after - before) / elapsed, 1) if None not in (before, after) and elapsed > 0 else None)
    return out[:len(times)]


def _networks(samples, span):
    times = samples.get("times") or []
    rows = []
    for net in samples.get("networks") or []:
        both = sum_series([net["rx_bytes"], net["tx_bytes"]], len(times))
        rows.append({"node": net["node"], "containers": list(net.get("containers") or []),
                     "rx_bytes": _max(_within(net["rx_bytes"], times, span)) or 0,
                     "tx_bytes": _max(_within(net["tx_bytes"], times, span)) or 0,
                     "peak_bytes_per_second": _max(_within(rates(times, both), times, span)) or 0.0})
    return rows


def _host(samples, span):
    host = samples.get("host") or {}
    times = samples.get("times") or []
    cpu = _within(host.get("cpu_percent"), times, span)
    return {"cores": host.get("cores"), "cpu_percent_max": _max(cpu), "cpu_percent_mean": _mean(cpu),
            "load1_max": _max(_within(host.get("load1"), times, span)),
            "memory_total_bytes": host.get("memory_total_bytes"),
            "memory_used_bytes_max": _max(_within(host.get("memory_used_bytes"), times, span)),
            "temperature_celsius_max": {zone: _max(_within(values, times, span))
                                        for zone, values in (host.get("temperature_celsius") or {}).items()}}


def _voip(call):
    call = call or {}
    streams = list(call.get("streams") or [])
    return {"ran": bool(call), "seconds": call.get("seconds"), "error": call.get("error"), "streams": streams,
            "lost": sum(stream.get("lost") or 0 for stream in streams),
            "packets": sum(stream.get("packets") or 0 for stream in streams),
            "max_jitter_ms": _max([stream.get("max_jitter_ms") for stream in streams]),
            "max_delta_ms": _max([stream.get("max_delta_ms") for stream in streams])}


def _lab_memory(samples, span):
    """The most memory the lab's own containers (load generators left out) held at once."""
    times = samples.get("times") or []
    own = [c["memory_bytes"] for c in samples.get("containers") or []
           if c.get("found") and service_of(c) not in LOAD_GENERATORS]
    total = _max(_within(sum_series(own, len(times)), times, span))
    return int(total) if total is not None else None, len(own)


def build(lab, created, samples, traffic_results=None, traffic_options=None, call=None, checks=None,
          boot=None, host=None, versions=None, notes=None):
    """The report as a JSON-ready dict (docs/report.schema.json); ``created`` is an ISO 8601 time."""
    samples = samples or {}
    kinds = _traffic.figures(traffic_results or {})
    span = window(samples, kinds)
    lab_memory, lab_containers = _lab_memory(samples, span)
    boot = boot or {"start": None, "origin": None, "seconds": None, "phases": [], "notes": []}
    poster = STUDIES["poster"]
    services = _services(samples, span)
    report = {
        "schema": SCHEMA,
        "lab": lab,
        "created": created,
        "host": dict(host or {}),
        "versions": dict(versions or {}),
        "checks": {"ran": checks is not None, "total": len(checks or []),
                   "passed": sum(1 for check in checks or [] if check.get("ok")),
                   "lines": [{"ok": bool(check.get("ok")), "line": str(check.get("line"))} for check in checks or []]},
        "traffic": {"seconds": samples.get("seconds"), "interval": samples.get("interval"),
                    "started": samples.get("started"), "window": span,
                    "options": _traffic.options_with_defaults(
                        {key: value for key, value in (traffic_options or {}).items() if key != "ftp_user"}),
                    "kinds": kinds},
        "services": services,
        "containers": _containers(samples, span),
        "networks": _networks(samples, span),
        "host_load": _host(samples, span),
        "lab_memory": {"bytes_max": lab_memory, "containers": lab_containers},
        "boot": boot,
        "voip": _voip(call),
        "comparison": {
            "boot_seconds": {"ours": boot.get("seconds"), "compose_theirs": poster["compose"]["boot_seconds"],
                             "vagrant_virtualbox_theirs": poster["vagrant_virtualbox"]["boot_seconds"]},
            "memory_mb": {"ours": round(lab_memory / 1e6, 1) if lab_memory is not None else None,
                          "compose_theirs": poster["compose"]["memory_mb"],
                          "vagrant_virtualbox_theirs": poster["vagrant_virtualbox"]["memory_mb"]},
            "cpu_percent": [{"service": row["service"], "ours_max": row["cpu_percent_max"],
                             "theirs": row["theirs_cpu_percent"]}
                            for row in services if row["theirs_cpu_percent"]],
        },
        "studies": STUDIES,
        "plots": {},
        "notes": list(notes or []) + list(boot.get("notes") or []),
        "series": samples,
    }
    return report


# ---- rendering ---------------------------------------------------------------------------------

def _fmt(value, pattern="%.2f", missing="-"):
    return pattern % value if value is not None else missing


def _mib(value):
    return _fmt(value / MIB if value is not None else None, "%.1f")


def _size(value):
    """Bytes as B, KiB, MiB or GiB, one decimal."""
    if value is None:
        return "-"
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", MIB), ("KiB", 1024)):
        if value >= scale:
            return "%.1f %s" % (value / scale, unit)
    return "%d B" % value


def table(header, rows, markdown=True):
    """Aligned columns; with ``markdown``, a pipe table that reads as well in a terminal."""
    cells = [[str(cell) for cell in row] for row in [header] + list(rows)]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    if not markdown:
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
        return lines
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return lines


def _traffic_phrases(report):
    phrases = []
    for kind, entry in report["traffic"]["kinds"].items():
        if entry["error"]:
            phrases.append("%s: did not run (%s)" % (kind, entry["error"]))
            continue
        text = "%s %d %s (%.1f/s, %d failed" % (
            kind, entry["operations"], entry["unit"], entry["per_second"], entry["failed"])
        if entry["bytes"] and kind == "ftp":
            text += ", %s/s" % _size(entry["bytes"] / entry["seconds"] if entry["seconds"] else 0)
        phrases.append(text + ")")
    voip = report["voip"]
    if voip["ran"] and not voip["error"]:
        phrases.append("call %s s (%d RTP streams, %d lost, max jitter %s ms)" % (
            voip["seconds"], len(voip["streams"]), voip["lost"], _fmt(voip["max_jitter_ms"], "%.1f")))
    elif voip["ran"]:
        phrases.append("call: failed (%s)" % voip["error"])
    return phrases


def _service_rows(report, generators=False):
    return [[row["service"], row["containers"], _fmt(row["cpu_percent_max"]), _fmt(row["cpu_percent_mean"]),
             _mib(row["memory_bytes_max"]), row["theirs_cpu_percent"] or "-"]
            for row in report["services"] if row["load_generator"] == generators]


SERVICE_HEADER = ["service", "containers", "CPU % max", "CPU % mean", "memory MiB max", "Table II CPU % (theirs)"]


def _boot_lines(report):
    boot = report["boot"]
    poster = STUDIES["poster"]
    theirs = "theirs (poster): Compose %d s, Vagrant + VirtualBox %d s" % (
        poster["compose"]["boot_seconds"], poster["vagrant_virtualbox"]["boot_seconds"])
    notes = list(boot.get("notes") or [])
    if boot.get("seconds") is None:
        return (notes or ["not measured"]) + [theirs]
    last = max(boot["phases"], key=lambda phase: phase["end"])
    first = "%.1f s from %s to the end of its last phase (%s)" % (
        boot["seconds"], ORIGINS[boot["origin"]], last["name"])
    return [first] + notes + [theirs]


def _memory_lines(report):
    poster = STUDIES["poster"]
    memory = report["lab_memory"]
    ours = "%s MiB (%s MB) at most in the lab's %d containers" % (
        _mib(memory["bytes_max"]), _fmt(report["comparison"]["memory_mb"]["ours"], "%.0f"), memory["containers"])
    theirs = "theirs (poster): Compose %d MB, Vagrant + VirtualBox %.1f GB" % (
        poster["compose"]["memory_mb"], poster["vagrant_virtualbox"]["memory_mb"] / 1000.0)
    return [ours, theirs]


def _host_lines(report):
    host = report["host_load"]
    temperature = {zone: value for zone, value in host["temperature_celsius_max"].items() if value is not None}
    load = "%s cores; CPU %% max %s, mean %s (100 = all cores busy); load max %s" % (
        host["cores"], _fmt(host["cpu_percent_max"], "%.1f"), _fmt(host["cpu_percent_mean"], "%.1f"),
        _fmt(host["load1_max"]))
    heat = ("temperature max " + ", ".join("%s %.1f C" % item for item in sorted(temperature.items()))
            if temperature else "no temperature exposed")
    memory = "memory used max %s of %s; %s" % (
        _size(host["memory_used_bytes_max"]), _size(host["memory_total_bytes"]), heat)
    return [load, memory]


def _labelled(label, lines):
    return ["%-8s%s" % (label if index == 0 else "", line) for index, line in enumerate(lines)]


def _window_text(report):
    span = report["traffic"]["window"]
    return "%.1f s" % (span[1] - span[0])


def summary(report, path):
    """The few aligned lines a terminal shows, ending with where the report is."""
    checks = report["checks"]
    if report["traffic"]["kinds"] or report["voip"]["ran"]:
        head = "Lab %s under load: %s of traffic" % (report["lab"], _window_text(report))
    else:
        head = "Lab %s at rest: sampled for %s" % (report["lab"], _window_text(report))
    if checks["ran"]:
        head += "; checks %d of %d pass" % (checks["passed"], checks["total"])
    lines = [head, ""]
    lines += ["  " + phrase for phrase in _traffic_phrases(report)] or ["  no traffic: the lab has no clients"]
    lines.append("")
    lines += table(SERVICE_HEADER, _service_rows(report), markdown=False)
    generators = [row for row in report["services"] if row["load_generator"]]
    if generators:
        lines.append("load generators (%s): CPU %% max %s, memory %s MiB max" % (
            ", ".join(sorted(row["service"] for row in generators)),
            _fmt(sum(row["cpu_percent_max"] or 0 for row in generators)),
            _mib(sum(row["memory_bytes_max"] or 0 for row in generators))))
    lines += [""] + _labelled("host", _host_lines(report)) + _labelled("boot", _boot_lines(report))
    lines += _labelled("memory", _memory_lines(report)) + ["", "report: %s" % path]
    return "\n".join(lines)


def _image(report, name, alt):
    filename = report["plots"].get(name)
    return ["![%s](%s)" % (alt, filename), ""] if filename else []


def markdown(report):
    """report.md: the figures in tables, the plots embedded, the studies' figures beside ours."""
    checks = report["checks"]
    lines = ["# Lab %s: evaluation of %s" % (report["lab"], report["created"]), ""]
    lines += ["Every figure below is in report.json beside this file, with the time series"
              " (docs/evaluation.md says how to read them). The studies' figures are marked *theirs*.", ""]
    if checks["ran"]:
        lines += ["**Checks: %d of %d pass**" % (checks["passed"], checks["total"]), ""]
    lines += ["## Traffic", ""]
    phrases = _traffic_phrases(report)
    lines += ["- %s" % phrase for phrase in phrases] or ["- none: the lab has no clients; sampled at rest"]
    lines += ["", "Sampled every %s s for %s s (every container's cgroup, each node's network, the host); the"
              " figures below are those of the traffic window, the first %s (shaded in the plots), the series"
              " go on while the call ends and its capture is read." % (
                  report["traffic"]["interval"], _fmt(report["traffic"]["seconds"], "%.1f"), _window_text(report)),
              ""]

    lines += ["## Services under load, beside the study's Table II", ""]
    lines += ["CPU %: 100 = one core busy (as `docker stats`); max and mean over the traffic window. "
              "Table II's figures are *theirs*: measured on a Raspberry Pi, not on this machine.", ""]
    lines += table(SERVICE_HEADER, _service_rows(report)) + [""]
    generator_rows = _service_rows(report, generators=True)
    if generator_rows:
        lines += ["Load generators (the hosts' clients, the test phones, the RTP probe):", ""]
        lines += table(SERVICE_HEADER[:5], [row[:5] for row in generator_rows]) + [""]
    lines += _image(report, "services", "CPU and memory over time per service")

    lines += ["## Network per node", "", "A node's services share its network namespace: bytes are per node.", ""]
    lines += table(["node", "received", "sent", "peak rate"],
                   [[net["node"], _size(net["rx_bytes"]), _size(net["tx_bytes"]),
                     _size(net["peak_bytes_per_second"]) + "/s"] for net in report["networks"]]) + [""]
    lines += _image(report, "network", "network throughput per node")

    lines += ["## Host", "", "; ".join(_host_lines(report)) + ".", ""]
    lines += _image(report, "host", "host CPU, load, memory and temperature")

    lines += ["## Boot, beside the poster's", ""]
    boot = report["boot"]
    if boot.get("phases"):
        lines += ["Timed from %s (Docker's records of the objects now running, the daemons' own convergence"
                  " ages, the clients' logs; docs/evaluation.md)." % ORIGINS[boot["origin"]], ""]
        lines += table(["phase", "objects", "start s", "end s", "seconds"],
                       [[phase["name"], phase["count"], "%.1f" % phase["start"], "%.1f" % phase["end"],
                         "%.1f" % phase["seconds"]] for phase in boot["phases"]]) + [""]
    comparison = report["comparison"]
    lines += table(["", "boot s", "memory MB"], [
        ["ours (this lab, this machine)", _fmt(comparison["boot_seconds"]["ours"], "%.1f"),
         _fmt(comparison["memory_mb"]["ours"], "%.0f")],
        ["theirs: Docker Compose (poster)", comparison["boot_seconds"]["compose_theirs"],
         comparison["memory_mb"]["compose_theirs"]],
        ["theirs: Vagrant + VirtualBox (poster)", comparison["boot_seconds"]["vagrant_virtualbox_theirs"],
         comparison["memory_mb"]["vagrant_virtualbox_theirs"]]]) + [""]
    lines += _image(report, "boot", "boot phases")
    lines += _image(report, "theirs", "CPU per service beside Table II's, boot time and memory beside the poster's")

    voip = report["voip"]
    if voip["streams"]:
        lines += ["## The call's RTP streams (tshark -z rtp,streams, in the PBX's namespace)", ""]
        lines += table(["from", "to", "packets", "lost", "mean delta ms", "max delta ms", "mean jitter ms",
                        "max jitter ms"],
                       [["%s:%s" % (s["src"], s["src_port"]), "%s:%s" % (s["dst"], s["dst_port"]), s["packets"],
                         s["lost"], _fmt(s.get("mean_delta_ms")), _fmt(s.get("max_delta_ms")),
                         _fmt(s.get("mean_jitter_ms")), _fmt(s.get("max_jitter_ms"))] for s in voip["streams"]])
        lines += [""] + _image(report, "rtp", "RTP delta and jitter per stream")
    elif voip["ran"]:
        lines += ["## The call", "", "Failed: %s" % voip["error"], ""]

    if checks["ran"]:
        lines += ["## Checks (playbooks/verify.yml)", ""]
        lines += ["- %s" % check["line"] for check in checks["lines"]] + [""]
    lines += ["## Topology", ""] + _image(report, "topology", "the lab's topology")
    lines += ["## Machine and tools", ""]
    facts = dict(report["host"])
    if facts.get("memory_bytes"):
        facts["memory_bytes"] = "%d (%s)" % (facts["memory_bytes"], _size(facts["memory_bytes"]))
    lines += table(["fact", "value"], [[key, value if value != "" else "-"] for key, value in sorted(facts.items())])
    lines += [""]
    lines += table(["tool", "version"], [[key, value] for key, value in sorted(report["versions"].items())]) + [""]
    lines += ["<details><summary>Per container</summary>", ""]
    lines += table(["container", "node", "service", "CPU % max", "CPU % mean", "memory MiB max", "processes max"],
                   [[c["name"], c["node"] or "", c["service"], _fmt(c["cpu_percent_max"]),
                     _fmt(c["cpu_percent_mean"]), _mib(c["memory_bytes_max"]), _fmt(c["pids_max"], "%d")]
                    for c in report["containers"]])
    lines += ["", "</details>", ""]
    if report["notes"]:
        lines += ["## Notes", ""] + ["- %s" % note for note in report["notes"]] + [""]
    return "\n".join(lines)


# ---- the machine and the tools -------------------------------------------------------------

# Debian packages whose versions the report gives, where a lab's image has them.
PACKAGES = ("frr", "bind9", "dnsmasq", "isc-dhcp-server", "nginx", "vsftpd", "kamailio", "rtpengine-daemon",
            "charon-systemd", "strongswan-swanctl", "isc-dhcp-client", "bind9-dnsutils", "curl", "lftp", "baresip",
            "sip-tester", "tshark")


def version_probes(containers):
    """One probe per image of the running ``containers`` (``[{name, image}]``) listing the
    versions of ``PACKAGES`` it has, named ``versions <container>``."""
    seen = set()
    probes = []
    for container in sorted(containers, key=lambda item: item["name"]):
        if container.get("image") in seen:
            continue
        seen.add(container.get("image"))
        probes.append({"name": "versions %s" % container["name"], "container": container["name"],
                       "argv": ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n"] + list(PACKAGES)})
    return probes


def package_versions(results):
    """``{package: version}`` from the version probes' output (dpkg-query fails for a package an
    image lacks, but lists the others)."""
    versions = {}
    for name, result in sorted((results or {}).items()):
        if not name.startswith("versions "):
            continue
        for line in (result.get("stdout") or "").splitlines():
            package, version = (line.split("=", 1) + [""])[:2]
            if package and version:
                versions[package] = version
    return versions


def _file(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def host_facts(root="/", cgroup_root="/sys/fs/cgroup"):
    """The machine the lab runs on: OS, kernel, architecture, CPU, cores, memory, board, cgroups."""
    release = dict(line.split("=", 1) for line in _file(os.path.join(root, "etc/os-release")).splitlines()
                   if "=" in line)
    cpuinfo = _file(os.path.join(root, "proc/cpuinfo"))
    model = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", _file(os.path.join(root, "proc/meminfo")), re.MULTILINE)
    board = _file(os.path.join(root, "proc/device-tree/model")).strip("\x00\n ")
    uname = os.uname()
    return {
        "hostname": uname.nodename,
        "os": release.get("PRETTY_NAME", "").strip('"') or uname.sysname,
        "kernel": uname.release,
        "architecture": uname.machine,
        "cpu": model.group(1).strip() if model else "",
        "cores": os.cpu_count() or 0,
        "memory_bytes": int(memory.group(1)) * 1024 if memory else 0,
        "board": board,
        "cgroup_version": 2 if os.path.exists(os.path.join(cgroup_root, "cgroup.controllers")) else 1,
    }
