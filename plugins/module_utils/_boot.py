# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""A running lab's boot, split into phases, from what the engine and the daemons remember.

Docker keeps when each network and container was made and when each container last started,
and each container's log with the time of every line; the daemons say how long ago they
converged: FRR each adjacency's and each route's age, charon each IKE SA's; a client's dhclient
logs ``bound to`` when it gets its lease. ``phases(objects, reads,
started)`` turns these into phases on one timeline, in seconds from the boot's start: the
``started`` time when given (``make lab`` passes when lab_up began, so the first phase is the
plan and the images, and what that run kept from an earlier one is left out), else the first
segment's creation::

    {"start": epoch, "origin": "lab_up start" | "first segment" | "first container", "seconds": total,
     "phases": [{"name", "group", "start", "end", "seconds", "count"}], "notes": [...]}

``group`` is ``prepare``, ``objects``, ``services`` or ``convergence``. A phase starts when its
first object was made (a service: its first container's creation) and ends when its last is
running; a convergence phase (``ospf adjacencies Full``, ``ospf routes``, ``leases``,
``ipsec SAs``) starts when the containers that converge started and ends at the last event.
An object kept from an earlier run keeps its own times: after a run that changed nothing, the
phases are those of the boot that made the lab as it runs.
"""

from __future__ import annotations

import calendar
import json
import re

# Load generators and one-shot helpers: not part of the lab's boot.
TEST_SERVICES = frozenset(("phone", "voip-probe", "verify"))
_DOCKER_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
_ZERO_TIME = "0001-01-01"


def parse_time(text):
    """Seconds since the epoch of Docker's RFC 3339 time (UTC, nanoseconds); None when unset."""
    if not text or str(text).startswith(_ZERO_TIME):
        return None
    found = _DOCKER_TIME.match(str(text))
    if not found:
        raise ValueError("not a Docker time: %r" % text)
    year, month, day, hour, minute, second = (int(value) for value in found.groups()[:6])
    fraction = float("0." + found.group(7)) if found.group(7) else 0.0
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + fraction


def frr_age(text):
    """Seconds of an FRR age: ``00:02:46``, ``2m43s``, ``1d02h03m``, ``02w3d04h``; None if unknown."""
    text = (text or "").strip()
    clock = re.match(r"^(\d+):(\d\d):(\d\d)$", text)
    if clock:
        hours, minutes, seconds = (int(value) for value in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([wdhms])", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * units[unit] for number, unit in parts)


def ospf_full_ages(neighbours_json):
    """Seconds since each Full adjacency of ``show ip ospf neighbor json`` came up."""
    try:
        neighbours = json.loads(neighbours_json or "{}").get("neighbors") or {}
    except ValueError:
        return []
    ages = []
    for entries in neighbours.values():
        for entry in entries:
            if not str(entry.get("state", "")).startswith("Full"):
                continue
            if entry.get("upTimeInMsec") is not None:
                ages.append(entry["upTimeInMsec"] / 1000.0)
            elif frr_age(entry.get("upTime")) is not None:
                ages.append(frr_age(entry.get("upTime")))
    return ages


def ospf_route_ages(routes_json):
    """Seconds since each selected route of ``show ip route ospf json`` was installed."""
    try:
        routes = json.loads(routes_json or "{}")
    except ValueError:
        return []
    ages = []
    for entries in routes.values():
        for entry in entries:
            if entry.get("selected") and frr_age(entry.get("uptime")) is not None:
                ages.append(frr_age(entry.get("uptime")))
    return ages


def sa_ages(list_sas):
    """Seconds since each IKE SA of ``swanctl --list-sas`` was established."""
    return [int(value) for value in re.findall(r"established (\d+)s ago", list_sas or "")]


def first_bound(log_text):
    """When dhclient first logged ``bound to`` in a container log read with Docker's timestamps
    (``2026-12-03T14:22:20.612483084Z bound to 192.168.5.10 -- renewal in 53 seconds.``); None if never."""
    for line in (log_text or "").splitlines():
        stamp, message = (line.split(" ", 1) + [""])[:2]
        if message.startswith("bound to "):
            return parse_time(stamp)
    return None


def _phase(name, group, start, end, count, origin):
    return {"name": name, "group": group, "start": round(start - origin, 2), "end": round(end - origin, 2),
            "seconds": round(end - start, 2), "count": count}


def _events(reads, kind, ages_of):
    """Absolute times of the events in the reads of one kind (read time less each age)."""
    times = []
    for read in reads.get(kind) or []:
        times += [read["read_at"] - age for age in ages_of(read.get("stdout"))]
    return times


def phases(objects, reads=None, started=None):
    """The boot's phases (see the module's docstring).

    ``objects``: ``{networks: [{name, created}], containers: [{name, service, kind, created,
    started}]}`` with Docker's times as it gives them. ``reads``: ``{kind: [{read_at, stdout}]}``
    for the kinds ``ospf_neighbours``, ``ospf_routes``, ``ipsec`` (``read_probes``' output) and
    ``leases`` (each client container's log with timestamps, ``read_at`` unused).
    """
    reads = reads or {}
    notes = []
    networks = [parse_time(item.get("created")) for item in objects.get("networks") or []]
    networks = [value for value in networks if value is not None]
    containers = []
    for item in objects.get("containers") or []:
        if item.get("service") in TEST_SERVICES:
            continue
        created, running = parse_time(item.get("created")), parse_time(item.get("started"))
        if created is not None and running is not None:
            containers.append(dict(item, created_at=created, started_at=running))
    if not networks and not containers:
        return {"start": None, "origin": None, "seconds": None, "phases": [], "notes": ["the lab has no objects"]}
    if started is None:
        origin = min(networks or [item["created_at"] for item in containers])
        origin_name = "first segment" if networks else "first container"
    else:
        # This run's boot: what it made, and what converged, after it began; the rest was kept.
        origin, origin_name = started, "lab_up start"
        kept = len([value for value in networks if value < started])
        kept += len([item for item in containers if item["created_at"] < started])
        networks = [value for value in networks if value >= started]
        containers = [item for item in containers if item["created_at"] >= started]
        if kept:
            notes.append("%d objects kept from an earlier run (made before this lab_up began) are left out" % kept)

    def after_origin(times):
        return [value for value in times if started is None or value >= started]

    out = []
    made = networks + [item["created_at"] for item in containers]
    if started is not None and made:
        out.append(_phase("plan and images", "prepare", origin, min(made), 1, origin))
    if networks:
        out.append(_phase("segments", "objects", min(networks), max(networks), len(networks), origin))
    nodes = [item for item in containers if not item.get("service")]
    if nodes:
        out.append(_phase("nodes", "objects", min(i["created_at"] for i in nodes),
                          max(i["started_at"] for i in nodes), len(nodes), origin))
    by_service = {}
    for item in containers:
        if item.get("service"):
            by_service.setdefault(item["service"], []).append(item)
    for service in sorted(by_service, key=lambda name: (name == "client", min(i["created_at"] for i in by_service[name]),
                                                        name)):
        items = by_service[service]
        out.append(_phase("service %s" % service, "services", min(i["created_at"] for i in items),
                          max(i["started_at"] for i in items), len(items), origin))

    def begin_of(service):
        """When the containers that converge started; the origin when this run kept them."""
        items = by_service.get(service) or []
        return min(i["started_at"] for i in items) if items else origin

    for name, kind, service, ages_of in (("ospf adjacencies Full", "ospf_neighbours", "ospf", ospf_full_ages),
                                         ("ospf routes", "ospf_routes", "ospf", ospf_route_ages),
                                         ("ipsec SAs", "ipsec", "ipsec", sa_ages)):
        events = after_origin(_events(reads, kind, ages_of))
        if events:
            # The last event of each kind: the last adjacency, the last route, the last SA.
            begin = begin_of(service)
            out.append(_phase(name, "convergence", begin, max(events + [begin]), len(events), origin))
    leases = after_origin([value for value in (first_bound(read.get("stdout")) for read in reads.get("leases") or [])
                           if value is not None])
    if leases:
        begin = begin_of("client")
        out.append(_phase("leases", "convergence", begin, max(leases + [begin]), len(leases), origin))
    if started is not None and not out:
        notes.append("this run kept the lab as it was: no boot to time")
    if not out:
        return {"start": origin, "origin": origin_name, "seconds": None, "phases": out, "notes": notes}
    total = max(item["end"] for item in out)
    if started is None and total > 600:
        notes.append("the phases span %.0f s: made by several runs, not one boot" % total)
    return {"start": origin, "origin": origin_name, "seconds": total, "phases": out, "notes": notes}


# What each service's containers are asked about their convergence, by kind of read.
_READS = (
    ("ospf", "ospf_neighbours", ["vtysh", "-c", "show ip ospf neighbor json"]),
    ("ospf", "ospf_routes", ["vtysh", "-c", "show ip route ospf json"]),
    ("ipsec", "ipsec", ["swanctl", "--list-sas"]),
)


def read_probes(containers):
    """Probes (vnet.lab.probes) that read the convergence of the running ``containers``
    (``[{name, service}]``), named ``<kind> <container>``."""
    probes = []
    for container in sorted(containers, key=lambda item: item["name"]):
        for service, kind, argv in _READS:
            if container.get("service") == service:
                probes.append({"name": "%s %s" % (kind, container["name"]), "container": container["name"],
                               "argv": list(argv)})
    return probes


def reads(results, read_at):
    """``{kind: [{container, read_at, stdout}]}`` of the read probes' results that succeeded (the
    clients' logs are the caller's to add, as kind ``leases``)."""
    out = {}
    for name, result in (results or {}).items():
        kind, container = (name.split(" ", 1) + [""])[:2]
        if kind in {read[1] for read in _READS} and result.get("ok"):
            out.setdefault(kind, []).append({"container": container, "read_at": read_at,
                                             "stdout": result.get("stdout") or ""})
    return out
