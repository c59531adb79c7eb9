# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The keeper of a lab: brings the lab back by itself after restarts and kills (private to vnet.lab).

Standard library only: the node image holds this file, and the topology role runs one container of
that image per lab, ``<lab>.keeper`` (no network, no capability, the Docker socket mounted), with::

    python3 /usr/lib/vnet/_keeper.py --lab LAB [--socket /var/run/docker.sock]

Docker alone does not bring a lab back. A service container joins its node's network namespace
(``network_mode: container:<node>``) when it starts and keeps that namespace for good: when the node
restarts (``docker restart``, a killed main process, ``docker kill`` then a start), the node gets a
new namespace and its services stay in the old one, which has lost every interface. After a restart
of the daemon (or of the host), Docker starts the containers in no particular order, and a service
started before its node fails ("cannot join network of a non running container") and is not
retried. And ``docker kill`` counts for Docker as a wanted stop: a killed node stays down.

The keeper follows the lab's events (``docker events``, label ``vnet.lab=<lab>``) and looks at the
lab's containers (label ``vnet.lab``; a node has ``vnet.node`` and no ``vnet.service``, a service
runs in the namespace of its node, ``HostConfig.NetworkMode`` ``container:<node id>``):

* When a node starts (and once at the keeper's own start, and every ``--period`` seconds, for each
  running node), it waits for the node's ready mark (``/run/vnet/ready``: the node applied its
  network plan), then, service by service (``ospf``, ``ipsec``, ``dns``, ``dhcp``, ``web``, ``ftp``,
  ``voip``, then ``client``), restarts each running service that started before the node did (it
  is in the old namespace) and starts each stopped one whose last start failed (Docker's
  ``State.Error``).
* The containers of one unit (label ``vnet.unit`` ``<unit>:<rank>``, which ``vnet.lab.service``
  gives the containers converged ``together``) go in rank order; a member that is restarted
  restarts the members after it, and a member that started after a later one (it was restarted
  alone) restarts the later ones. Before the next member, the keeper waits for a member's
  readiness check (label ``vnet.ready``: a JSON argv run in the container until it succeeds).
* A lab container with a restart policy that dies and is, ``--grace`` seconds later, still exited
  without a ``docker stop`` (no ``stop`` event) and still there is started again: that is
  ``docker kill``. A service whose node is down waits for its node. A container stopped with
  ``docker stop`` stays stopped until something starts it.
* A service whose node container was re-created (its ``NetworkMode`` names a container that is
  gone) cannot be restarted in the new namespace: the keeper says so; the next ``lab_up`` re-creates
  it (``vnet.lab.service``).

It prints one line per action, and never stops on an error of the engine: it says what failed and
goes on; when the event stream ends (the daemon went away), it subscribes again.

Decisions are pure functions of inspect data (``node_actions``, ``revive_action``); the side
effects go through ``Engine``, a small client of the Docker Engine API on a Unix socket.
"""

from __future__ import annotations

import argparse
import calendar
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

LABEL_LAB = "vnet.lab"
LABEL_NODE = "vnet.node"
LABEL_SERVICE = "vnet.service"
LABEL_UNIT = "vnet.unit"
LABEL_READY = "vnet.ready"
KEEPER_SERVICE = "keeper"
NODE_READY = ["test", "-e", "/run/vnet/ready"]
# The node's entrypoint writes in its ready mark when it applied its plan (RFC 3339, UTC); this
# prints that time (nothing from an older node image), then "ready"; nothing before the node is.
NODE_READY_AT = ["sh", "-c", "cat /run/vnet/ready 2>/dev/null && echo ready"]
# The order in which a node's services come back; others after these, clients last.
SERVICE_ORDER = ("ospf", "ipsec", "dns", "dhcp", "web", "ftp", "voip")
LAST = ("client",)
RESTART_POLICIES = ("always", "unless-stopped", "on-failure")
NEVER = "0001-01-01T00:00:00Z"
PREFIX = "vnet-keeper"


class EngineError(Exception):
    """The engine refused a request or could not be reached."""


# ---------------------------------------------------------------------------------------------
# Pure functions

def started_ns(text):
    """Docker's RFC 3339 time (``2026-12-03T14:22:14.40944273Z``) as nanoseconds, comparable."""
    if not text or text.startswith("0001-"):
        return 0
    text = text.rstrip("Z")
    date, dummy, fraction = text.partition(".")
    seconds = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 10 ** 9 + int((fraction + "000000000")[:9])


def labels_of(attrs):
    return ((attrs or {}).get("Config") or {}).get("Labels") or {}


def name_of(attrs):
    return (attrs.get("Name") or "").lstrip("/")


def kind_of(attrs):
    """``node``, ``keeper``, ``service`` (another lab container) of a container's inspect data."""
    labels = labels_of(attrs)
    if labels.get(LABEL_SERVICE) == KEEPER_SERVICE:
        return "keeper"
    if LABEL_NODE in labels and LABEL_SERVICE not in labels:
        return "node"
    return "service"


def owner_of(attrs):
    """The id (or name) of the container whose namespace this one joins; None."""
    mode = ((attrs.get("HostConfig") or {}).get("NetworkMode")) or ""
    return mode.split(":", 1)[1] if mode.startswith("container:") else None


def policy_of(attrs):
    return (((attrs.get("HostConfig") or {}).get("RestartPolicy")) or {}).get("Name") or "no"


def unit_of(attrs):
    """(unit, rank): the unit a container belongs to, its own name when none."""
    value = labels_of(attrs).get(LABEL_UNIT) or ""
    unit, dummy, rank = value.rpartition(":")
    if unit and rank.isdigit():
        return unit, int(rank)
    return name_of(attrs), 0


def ready_check(attrs):
    """The argv that tells that a container is ready (label ``vnet.ready``), or None."""
    try:
        argv = json.loads(labels_of(attrs).get(LABEL_READY) or "null")
    except ValueError:
        return None
    return argv if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv) else None


def service_rank(attrs):
    service = labels_of(attrs).get(LABEL_SERVICE) or ""
    if service in SERVICE_ORDER:
        return SERVICE_ORDER.index(service)
    return len(SERVICE_ORDER) + (1 if service in LAST else 0)


def dependants(node, containers):
    """The containers that join ``node``'s namespace (by its id or its name)."""
    keys = {node.get("Id"), name_of(node)}
    return [c for c in containers if c is not node and owner_of(c) in keys]


def node_actions(node, containers, stopped=(), ready_at=0):
    """What to do, once ``node`` is running and ready, with the services in its namespace.

    Returns a list of units, each a list of ``(name, action, why)`` in rank order (action
    ``restart`` or ``start``), units in service order; units with nothing to do are left out.
    ``stopped``: names of containers stopped with ``docker stop`` (left alone, unless a start of
    theirs failed since). ``ready_at``: when the node applied its network plan at this start (ns;
    0 when unknown): a service started between the node's start and then (as the daemon starts
    one right after its node) joined the namespace before its interfaces had their names and
    addresses, and is restarted too.
    """
    node_started = started_ns((node.get("State") or {}).get("StartedAt"))
    units = {}
    for attrs in dependants(node, containers):
        state = attrs.get("State") or {}
        # A failed start is the last thing asked of a container: it is wanted, even if stopped before.
        failed = not (state.get("Running") or state.get("Restarting")) and state.get("Error")
        if policy_of(attrs) not in RESTART_POLICIES or (name_of(attrs) in stopped and not failed):
            continue
        unit, rank = unit_of(attrs)
        units.setdefault(unit, []).append((rank, attrs))
    result = []
    for unit in sorted(units, key=lambda u: (min(service_rank(item[1]) for item in units[u]), u)):
        members = [item[1] for item in sorted(units[unit], key=lambda item: (item[0], name_of(item[1])))]
        steps, follow, last_started = [], None, 0
        for attrs in members:
            state = attrs.get("State") or {}
            running = state.get("Running") or state.get("Restarting")
            started = started_ns(state.get("StartedAt"))
            if running and started < node_started:
                action, why = "restart", "its node started again; it was in the old network namespace"
            elif running and started < ready_at:
                action, why = "restart", "it started before its node applied its network plan"
            elif not running and state.get("Error"):
                action, why = "start", "its last start failed: %s" % state["Error"]
            elif follow:
                action, why = ("restart" if running else "start"), follow
            elif running and started < last_started:
                action, why = "restart", "it started before the members of its unit before it"
            else:
                action, why = None, None
            if action:
                steps.append((name_of(attrs), action, why))
                follow = "%s of its unit came back before it" % name_of(attrs)
            elif running:
                last_started = max(last_started, started)
        if steps:
            result.append(steps)
    return result


def revive_action(attrs, owner, stopped=()):
    """What to do with a lab container seen dying ``--grace`` seconds ago; None or ``start``.

    ``attrs``: its inspect data now (None: removed); ``owner``: the inspect data of the node whose
    namespace it joins (None when it joins none, or the node is gone).
    """
    if attrs is None or name_of(attrs) in stopped or policy_of(attrs) not in RESTART_POLICIES:
        return None
    state = attrs.get("State") or {}
    if state.get("Running") or state.get("Restarting") or state.get("Status") not in ("exited", "dead"):
        return None
    if owner_of(attrs) is not None and not ((owner or {}).get("State") or {}).get("Running"):
        return None
    return "start"


def orphans(containers):
    """Services whose namespace owner is no container any more (their node was re-created)."""
    keys = {c.get("Id") for c in containers} | {name_of(c) for c in containers}
    return [name_of(c) for c in containers
            if kind_of(c) == "service" and owner_of(c) and owner_of(c) not in keys
            and policy_of(c) in RESTART_POLICIES]


# ---------------------------------------------------------------------------------------------
# The engine: the Docker Engine API over a Unix socket (standard library only)

class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Engine:
    """The few calls of the Docker Engine API the keeper makes."""

    def __init__(self, path="/var/run/docker.sock", timeout=30):
        self.path = path
        self.timeout = timeout

    def _request(self, method, url, body=None, timeout=None, raw=False):
        connection = _UnixConnection(self.path, timeout or self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, url, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read()
        except OSError as exc:
            raise EngineError("%s %s: %s" % (method, url.split("?")[0], exc)) from None
        finally:
            connection.close()
        if response.status == 404:
            return None
        if response.status >= 400:
            try:
                message = json.loads(text).get("message")
            except ValueError:
                message = text.decode("utf-8", "replace")
            raise EngineError("%s %s: %s" % (method, url.split("?")[0], message))
        if raw:
            return text
        return json.loads(text) if text.strip() else {}

    def containers(self, lab):
        filters = urllib.parse.quote(json.dumps({"label": ["%s=%s" % (LABEL_LAB, lab)]}))
        return self._request("GET", "/containers/json?all=1&filters=" + filters) or []

    def inspect(self, ident):
        return self._request("GET", "/containers/%s/json" % urllib.parse.quote(ident))

    def start(self, ident):
        self._request("POST", "/containers/%s/start" % urllib.parse.quote(ident))

    def restart(self, ident, timeout=3):
        self._request("POST", "/containers/%s/restart?t=%d" % (urllib.parse.quote(ident), timeout),
                      timeout=self.timeout + timeout)

    def exec_status(self, ident, argv):
        """Run ``argv`` in the container; its exit status (None if it could not run)."""
        created = self._request("POST", "/containers/%s/exec" % urllib.parse.quote(ident),
                                {"Cmd": argv, "AttachStdout": False, "AttachStderr": False})
        if not created:
            return None
        self._request("POST", "/exec/%s/start" % created["Id"], {"Detach": True})
        for dummy in range(100):
            status = self._request("GET", "/exec/%s/json" % created["Id"]) or {}
            if not status.get("Running"):
                return status.get("ExitCode")
            time.sleep(0.05)
        return None

    def exec_output(self, ident, argv):
        """Run ``argv`` in the container and return what it printed (None if it could not run)."""
        created = self._request("POST", "/containers/%s/exec" % urllib.parse.quote(ident),
                                {"Cmd": argv, "AttachStdout": True, "AttachStderr": False, "Tty": True})
        if not created:
            return None
        text = self._request("POST", "/exec/%s/start" % created["Id"], {"Detach": False, "Tty": True}, raw=True)
        return None if text is None else text.decode("utf-8", "replace")

    def subscribe(self, lab):
        """Subscribe to the lab's container events; returns the iterator of events (dicts), which
        ends with the stream. Events from the moment of this call on are seen."""
        filters = urllib.parse.quote(json.dumps({"type": ["container"], "label": ["%s=%s" % (LABEL_LAB, lab)],
                                                 "event": ["start", "die", "stop", "destroy"]}))
        connection = _UnixConnection(self.path, None)
        try:
            connection.request("GET", "/events?filters=" + filters)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise EngineError("GET /events: %s" % exc) from None
        if response.status != 200:
            connection.close()
            raise EngineError("GET /events: status %d" % response.status)
        return self._read_events(connection, response)

    @staticmethod
    def _read_events(connection, response):
        try:
            while True:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        except OSError as exc:
            raise EngineError("GET /events: %s" % exc) from None
        finally:
            connection.close()


# ---------------------------------------------------------------------------------------------
# The keeper

class Keeper:
    """Follows one lab's events and brings its containers back (see the module docstring)."""

    def __init__(self, engine, lab, out=sys.stdout, grace=2.0, ready_timeout=60.0, period=30.0,
                 clock=time.monotonic, sleep=time.sleep, workers=4):
        self.engine = engine
        self.lab = lab
        self.out = out
        self.grace = grace
        self.ready_timeout = ready_timeout
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self.stopped = set()
        self.lock = threading.Lock()
        self.busy = {}
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.reported_orphans = set()
        # Each node's ready time at its current start: {name: (StartedAt, ns)}.
        self.ready_times = {}

    def say(self, text):
        with self.lock:
            self.out.write("%s: %s\n" % (PREFIX, text))
            self.out.flush()

    def _lab(self):
        """Inspect data of every container of the lab."""
        found = []
        for summary in self.engine.containers(self.lab):
            attrs = self.engine.inspect(summary["Id"])
            if attrs is not None:
                found.append(attrs)
        return found

    @staticmethod
    def _kept(node, containers):
        """Whether ``node`` has services the keeper brings back (a restart policy)."""
        return any(policy_of(c) in RESTART_POLICIES for c in dependants(node, containers))

    def _ready_at(self, node):
        """When the running ``node`` applied its network plan at its current start (ns), read once
        per start from its ready mark; 0 while unknown (not ready yet, or a mark without a time)."""
        name, started = name_of(node), (node.get("State") or {}).get("StartedAt")
        known = self.ready_times.get(name)
        if known and known[0] == started:
            return known[1]
        lines = (self.engine.exec_output(name, NODE_READY_AT) or "").split()
        if not lines or lines[-1] != "ready":
            return 0
        try:
            at = started_ns(lines[0]) if len(lines) > 1 else 0
        except ValueError:
            at = 0
        self.ready_times[name] = (started, at)
        return at

    def _wait(self, name, argv, timeout):
        """Run ``argv`` in ``name`` until it succeeds; whether it did within ``timeout``."""
        deadline = self.clock() + timeout
        while True:
            attrs = self.engine.inspect(name)
            if attrs is None or not (attrs.get("State") or {}).get("Running"):
                if self.clock() >= deadline:
                    return False
            elif self.engine.exec_status(name, argv) == 0:
                return True
            if self.clock() >= deadline:
                return False
            self.sleep(0.2)

    # -- a node and its services
    def schedule_node(self, name):
        """Bring back the services of node ``name``; runs at most once at a time per node, again
        when asked meanwhile."""
        with self.lock:
            if name in self.busy:
                self.busy[name] = True
                return
            self.busy[name] = False
        self.pool.submit(self._node_loop, name)

    def _node_loop(self, name):
        while True:
            try:
                self.keep_node(name)
            except EngineError as exc:
                self.say("node %s: %s" % (name, exc))
            except Exception as exc:  # the keeper must outlive any surprise; it says what happened
                self.say("node %s: unexpected %s: %s" % (name, type(exc).__name__, exc))
            with self.lock:
                if not self.busy.get(name):
                    del self.busy[name]
                    return
                self.busy[name] = False

    def keep_node(self, name):
        node = self.engine.inspect(name)
        if node is None or not (node.get("State") or {}).get("Running"):
            return
        containers = self._lab()
        # Its services are looked at once it is ready: which of them started before that.
        if not self._kept(node, containers):
            return
        if not self._wait(name, NODE_READY, self.ready_timeout):
            self.say("node %s: not ready (no /run/vnet/ready) within %d s; its services wait"
                     % (name, self.ready_timeout))
            return
        # Read again: the node may have restarted while it got ready.
        node = self.engine.inspect(name)
        if node is None or not (node.get("State") or {}).get("Running"):
            return
        by_name = {name_of(c): c for c in self._lab()}
        for steps in node_actions(node, list(by_name.values()), self.stopped, self._ready_at(node)):
            for index, (member, action, why) in enumerate(steps):
                self.say("%s container %s (%s)" % (action, member, why))
                try:
                    if action == "restart":
                        self.engine.restart(member)
                    else:
                        self.engine.start(member)
                except EngineError as exc:
                    self.say("could not %s %s: %s" % (action, member, exc))
                    break
                check = ready_check(by_name.get(member) or {})
                if index + 1 < len(steps) and check and not self._wait(member, check, self.ready_timeout):
                    self.say("%s: not ready within %d s (%s)" % (member, self.ready_timeout, " ".join(check)))

    # -- the whole lab
    def keep_all(self):
        containers = self._lab()
        for attrs in containers:
            kind, state = kind_of(attrs), attrs.get("State") or {}
            if kind == "node" and not state.get("Running") and state.get("Error") \
                    and policy_of(attrs) in RESTART_POLICIES and name_of(attrs) not in self.stopped:
                self._start(name_of(attrs), "its last start failed: %s" % state["Error"])
            elif kind == "node" and state.get("Running") and self._kept(attrs, containers) \
                    and node_actions(attrs, containers, self.stopped, self._ready_at(attrs)):
                self.schedule_node(name_of(attrs))
        for name in orphans(containers):
            if name not in self.reported_orphans:
                self.reported_orphans.add(name)
                self.say("service %s: its node container was re-created; the next lab_up re-creates it"
                         " in the new node's namespace" % name)

    def _start(self, name, why):
        self.say("start container %s (%s)" % (name, why))
        try:
            self.engine.start(name)
        except EngineError as exc:
            self.say("could not start %s: %s" % (name, exc))

    def revive(self, ident):
        """A lab container died ``grace`` seconds ago: start it again unless stopped or back."""
        attrs = self.engine.inspect(ident)
        owner_id = owner_of(attrs) if attrs else None
        owner = self.engine.inspect(owner_id) if owner_id else None
        if revive_action(attrs, owner, self.stopped) == "start":
            self._start(name_of(attrs), "it was killed, not stopped")

    # -- events
    def on_event(self, event):
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        name, action = attributes.get("name") or "", event.get("Action") or event.get("status")
        if attributes.get(LABEL_SERVICE) == KEEPER_SERVICE:
            return
        if action == "stop":
            self.stopped.add(name)
        elif action == "destroy":
            self.stopped.discard(name)
        elif action == "start":
            self.stopped.discard(name)
            if LABEL_NODE in attributes and LABEL_SERVICE not in attributes:
                self.schedule_node(name)
        elif action == "die":
            ident = (event.get("Actor") or {}).get("ID") or event.get("id")
            timer = threading.Timer(self.grace, self._guarded, (self.revive, ident))
            timer.daemon = True
            timer.start()

    def _guarded(self, function, *args):
        try:
            function(*args)
        except EngineError as exc:
            self.say(str(exc))

    def _periodic(self):
        while True:
            self.sleep(self.period)
            self._guarded(self.keep_all)

    def run(self):
        """Follow the lab for good: subscribe, look at everything once, then act on events."""
        self.say("keeping lab %s" % self.lab)
        threading.Thread(target=self._periodic, daemon=True).start()
        while True:
            try:
                stream = self.engine.subscribe(self.lab)
                self.keep_all()
                for event in stream:
                    self.on_event(event)
            except EngineError as exc:
                self.say("%s; subscribing again" % exc)
            self.sleep(1)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="vnet-keeper", description="Bring a vnet.lab lab back by itself.")
    parser.add_argument("--lab", required=True, help="the lab to keep (label vnet.lab)")
    parser.add_argument("--socket", default="/var/run/docker.sock", help="the Docker Engine's Unix socket")
    parser.add_argument("--grace", type=float, default=2.0,
                        help="seconds after a container died before it counts as killed (default 2)")
    parser.add_argument("--ready-timeout", type=float, default=60.0,
                        help="seconds to wait for a node's or a service's readiness (default 60)")
    parser.add_argument("--period", type=float, default=30.0,
                        help="seconds between two looks at the whole lab (default 30)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    keeper = Keeper(Engine(args.socket), args.lab, grace=args.grace, ready_timeout=args.ready_timeout,
                    period=args.period)
    keeper.run()


if __name__ == "__main__":
    main()
