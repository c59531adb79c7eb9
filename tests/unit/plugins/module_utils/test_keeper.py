# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's keeper (_keeper.py): its decisions on inspect data, and the keeper on a fake engine."""

from __future__ import annotations

import io
import itertools
import json
import threading
import time

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _keeper as K

NODE_ID = "n" * 64


def ts(second, fraction=""):
    return "2026-12-03T14:00:%02d%sZ" % (second, "." + fraction if fraction else "")


def container(name, started=None, running=True, error="", owner=None, labels=None, policy="unless-stopped",
              status=None, restarting=False, ident=None):
    return {"Id": ident or "id-" + name, "Name": "/" + name,
            "Config": {"Labels": dict(labels or {})},
            "HostConfig": {"NetworkMode": "container:%s" % owner if owner else "none",
                           "RestartPolicy": {"Name": policy}},
            "State": {"Running": running, "Restarting": restarting, "Error": error,
                      "Status": status or ("running" if running else "exited"),
                      "StartedAt": started or K.NEVER, "Pid": 7 if running else 0}}


def node(name="lab-r1", started=ts(10), **kwargs):
    return container(name, started, labels={"vnet.lab": "lab", "vnet.node": name[4:]}, ident=NODE_ID, **kwargs)


def service(name, service_label, started=ts(20), unit=None, ready=None, **kwargs):
    labels = {"vnet.lab": "lab", "vnet.node": "r1", "vnet.service": service_label}
    if unit:
        labels["vnet.unit"] = unit
    if ready:
        labels["vnet.ready"] = json.dumps(ready)
    return container(name, started, owner=kwargs.pop("owner", NODE_ID), labels=labels, **kwargs)


# --- pure functions -------------------------------------------------------------------------------

def test_start_times_compare_to_the_nanosecond():
    assert K.started_ns(ts(1, "5")) > K.started_ns(ts(1, "40944273"))
    assert K.started_ns(ts(1, "000000001")) - K.started_ns(ts(1)) == 1
    assert K.started_ns("2026-12-03T14:00:01Z") == 1796306401 * 10 ** 9
    assert K.started_ns(K.NEVER) == K.started_ns("") == 0


@pytest.mark.parametrize("attrs, kind", [
    (node(), "node"),
    (service("lab-r1-dns", "dns"), "service"),
    (container("lab.keeper", labels={"vnet.lab": "lab", "vnet.service": "keeper"}), "keeper"),
    (container("lab-verify", labels={"vnet.lab": "lab"}), "service"),
])
def test_kinds(attrs, kind):
    assert K.kind_of(attrs) == kind


def test_units_and_readiness_come_from_labels():
    assert K.unit_of(service("a", "voip", unit="lab-r1-voip:1")) == ("lab-r1-voip", 1)
    assert K.unit_of(service("a", "voip", unit="no-rank")) == ("a", 0)
    assert K.ready_check(service("a", "web", ready=["test", "-e", "/run/x"])) == ["test", "-e", "/run/x"]
    broken = service("a", "web")
    broken["Config"]["Labels"]["vnet.ready"] = "{not json"
    assert K.ready_check(broken) is None and K.ready_check(service("a", "web")) is None


def names(units):
    return [[(name, action) for name, action, _why in steps] for steps in units]


def test_a_restarted_node_gets_its_stale_services_restarted_in_service_order():
    services = [service("lab-r1-web", "web", started=ts(5)), service("lab-r1-dns", "dns", started=ts(6)),
                service("lab-r1-client", "client", started=ts(7)), service("lab-r1-ospf", "ospf", started=ts(8)),
                service("lab-r1-fresh", "ftp", started=ts(11)),
                service("lab-r2-dns", "dns", started=ts(5), owner="other")]
    actions = K.node_actions(node(), [node()] + services)
    assert names(actions) == [[("lab-r1-ospf", "restart")], [("lab-r1-dns", "restart")],
                              [("lab-r1-web", "restart")], [("lab-r1-client", "restart")]]
    assert actions[0][0][2] == "its node started again; it was in the old network namespace"
    assert K.node_actions(node(started=ts(1)), [node()] + services) == []


def test_failed_starts_are_started_and_stopped_services_left_alone():
    failed = service("lab-r1-dns", "dns", running=False, error="cannot join network of a non running container: x")
    stopped = service("lab-r1-web", "web", started=ts(5), running=False)
    one_shot = service("lab-r1-probe", "verify", started=ts(5), policy="no")
    stale_but_stopped_by_hand = service("lab-r1-ftp", "ftp", started=ts(5))
    actions = K.node_actions(node(), [failed, stopped, one_shot, stale_but_stopped_by_hand],
                             stopped={"lab-r1-ftp", "lab-r1-dns"})
    assert actions == [[("lab-r1-dns", "start",
                         "its last start failed: cannot join network of a non running container: x")]]


def test_a_unit_comes_back_in_rank_order_and_whole():
    rtp = service("lab-r1-rtpengine", "voip", started=ts(5), unit="lab-r1-voip:0", ready=["probe"])
    kam = service("lab-r1-voip", "voip", started=ts(12), unit="lab-r1-voip:1")
    # The first member in the old namespace: both, in rank order (the second restarted for the first).
    assert names(K.node_actions(node(), [kam, rtp])) == [[("lab-r1-rtpengine", "restart"), ("lab-r1-voip", "restart")]]
    # The first member restarted alone (it started after the second): the second follows it.
    rtp = service("lab-r1-rtpengine", "voip", started=ts(14), unit="lab-r1-voip:0")
    actions = K.node_actions(node(), [kam, rtp])
    assert actions == [[("lab-r1-voip", "restart", "it started before the members of its unit before it")]]
    # In order: nothing.
    assert K.node_actions(node(), [service("lab-r1-voip", "voip", started=ts(15), unit="lab-r1-voip:1"), rtp]) == []


@pytest.mark.parametrize("attrs, owner, stopped, action", [
    (None, None, (), None),
    (node(running=False), None, (), "start"),
    (node(running=False), None, {"lab-r1"}, None),
    (node(running=False, policy="no"), None, (), None),
    (node(), None, (), None),
    (node(running=False, restarting=True, status="restarting"), None, (), None),
    (service("lab-r1-dns", "dns", running=False), node(), (), "start"),
    (service("lab-r1-dns", "dns", running=False), node(running=False), (), None),
    (service("lab-r1-dns", "dns", running=False), None, (), None),
    (service("lab-r1-dns", "dns", running=False, status="created"), node(), (), None),
], ids=["removed", "killed-node", "stopped-node", "no-policy", "back", "restarting", "killed-service",
        "node-down", "node-gone", "never-started"])
def test_what_a_death_leads_to(attrs, owner, stopped, action):
    assert K.revive_action(attrs, owner, stopped) == action


def test_services_of_a_recreated_node_are_orphans():
    kept = [node(), service("lab-r1-dns", "dns"), service("lab-r1-web", "web", owner="gone-id"),
            service("lab-r1-x", "web", owner="gone-id", policy="no")]
    assert K.orphans(kept) == ["lab-r1-web"]


# --- the keeper on a fake engine ------------------------------------------------------------------

class FakeEngine:
    """Containers by name; starts and restarts give a later start time; execs answer from a table."""

    def __init__(self, containers):
        self.attrs = {K.name_of(c): c for c in containers}
        self.calls = []
        self.clock = itertools.count(30)
        self.exec_codes = {}
        self.outputs = {}
        self.lock = threading.Lock()

    def _find(self, ident):
        for attrs in self.attrs.values():
            if ident in (attrs["Id"], K.name_of(attrs)):
                return attrs
        return None

    def containers(self, lab):
        return [{"Id": a["Id"]} for a in self.attrs.values() if a["Config"]["Labels"].get("vnet.lab") == lab]

    def inspect(self, ident):
        found = self._find(ident)
        return json.loads(json.dumps(found)) if found else None

    def _run(self, ident):
        attrs = self._find(ident)
        if attrs is None:
            raise K.EngineError("no such container %s" % ident)
        owner = K.owner_of(attrs)
        if owner and not (self._find(owner) or {}).get("State", {}).get("Running"):
            raise K.EngineError("cannot join network of a non running container: %s" % owner)
        attrs["State"].update(Running=True, Restarting=False, Status="running", Error="",
                              StartedAt=ts(next(self.clock)))

    def start(self, ident):
        with self.lock:
            self.calls.append(("start", ident))
            self._run(ident)

    def restart(self, ident, timeout=3):
        with self.lock:
            self.calls.append(("restart", ident))
            self._run(ident)

    def exec_status(self, ident, argv):
        with self.lock:
            self.calls.append(("exec", ident, tuple(argv)))
            codes = self.exec_codes.get((ident, tuple(argv)), [0])
            return codes.pop(0) if len(codes) > 1 else codes[0]

    def exec_output(self, ident, argv):
        with self.lock:
            self.calls.append(("output", ident, tuple(argv)))
            return self.outputs.get((ident, tuple(argv)), "ready\r\n")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def keeper(engine, **kwargs):
    clock = Clock()
    return K.Keeper(engine, "lab", out=io.StringIO(), clock=clock, sleep=clock.sleep, **kwargs)


def lab_containers():
    return [node(), service("lab-r1-dns", "dns", started=ts(5), ready=["dig"]),
            service("lab-r1-rtpengine", "voip", started=ts(6), unit="lab-r1-voip:0", ready=["probe"]),
            service("lab-r1-voip", "voip", started=ts(7), unit="lab-r1-voip:1"),
            service("lab-r1-web", "web", running=False, error="cannot join network of a non running container"),
            container("lab.keeper", labels={"vnet.lab": "lab", "vnet.service": "keeper"}, started=ts(1))]


def test_keep_node_waits_for_the_node_then_brings_its_services_back_in_order():
    engine = FakeEngine(lab_containers())
    engine.exec_codes[("lab-r1", tuple(K.NODE_READY))] = [1, 1, 0]
    engine.exec_codes[("lab-r1-rtpengine", ("probe",))] = [1, 0]
    the_keeper = keeper(engine)
    the_keeper.keep_node("lab-r1")
    assert engine.calls == [
        ("exec", "lab-r1", tuple(K.NODE_READY)), ("exec", "lab-r1", tuple(K.NODE_READY)),
        ("exec", "lab-r1", tuple(K.NODE_READY)),
        ("output", "lab-r1", tuple(K.NODE_READY_AT)),
        ("restart", "lab-r1-dns"),
        ("start", "lab-r1-web"),
        ("restart", "lab-r1-rtpengine"), ("exec", "lab-r1-rtpengine", ("probe",)),
        ("exec", "lab-r1-rtpengine", ("probe",)), ("restart", "lab-r1-voip")]
    lines = the_keeper.out.getvalue().splitlines()
    assert lines[0] == "vnet-keeper: restart container lab-r1-dns (its node started again; it was in the old" \
                       " network namespace)"
    assert lines[-1] == "vnet-keeper: restart container lab-r1-voip (its node started again; it was in the old" \
                        " network namespace)"
    engine.calls.clear()
    the_keeper.keep_node("lab-r1")
    assert engine.calls == [("exec", "lab-r1", tuple(K.NODE_READY))], \
        "all back: nothing more (the node's ready time is known for this start)"


def test_a_service_started_before_its_node_was_ready_is_restarted():
    # After a restart of the daemon, a service starts right after its node, in its namespace but
    # before the node's entrypoint renamed and addressed the interfaces.
    engine = FakeEngine([node(started=ts(10)), service("lab-r1-ospf", "ospf", started=ts(10, "5")),
                         service("lab-r1-dns", "dns", started=ts(12))])
    engine.outputs[("lab-r1", tuple(K.NODE_READY_AT))] = ts(11) + "\r\nready\r\n"
    the_keeper = keeper(engine)
    the_keeper.keep_all()
    wait_for(lambda: not the_keeper.busy)
    assert [c for c in engine.calls if c[0] in ("start", "restart")] == [("restart", "lab-r1-ospf")]
    assert "restart container lab-r1-ospf (it started before its node applied its network plan)" \
        in the_keeper.out.getvalue()
    # The time is read once per start of the node.
    engine.calls.clear()
    the_keeper.keep_all()
    assert engine.calls == []


@pytest.mark.parametrize("output, expected", [
    (ts(11) + "\r\nready\r\n", K.started_ns(ts(11))),
    ("ready\r\n", 0),  # a node image older than the time in its mark: ready, time unknown
    ("", None),  # not ready yet: asked again later
    ("garbage\r\nready\r\n", 0),
])
def test_the_ready_time_of_a_node(output, expected):
    engine = FakeEngine([node()])
    engine.outputs[("lab-r1", tuple(K.NODE_READY_AT))] = output
    the_keeper = keeper(engine)
    assert the_keeper._ready_at(engine.inspect("lab-r1")) == (expected or 0)
    assert ("lab-r1" in the_keeper.ready_times) == (expected is not None)


def test_keep_node_gives_up_on_a_node_that_never_gets_ready():
    engine = FakeEngine(lab_containers())
    engine.exec_codes[("lab-r1", tuple(K.NODE_READY))] = [1]
    the_keeper = keeper(engine, ready_timeout=2)
    the_keeper.keep_node("lab-r1")
    assert {call[0] for call in engine.calls} == {"exec"}
    assert the_keeper.out.getvalue() == ("vnet-keeper: node lab-r1: not ready (no /run/vnet/ready) within 2 s;"
                                         " its services wait\n")


def test_a_failing_start_is_reported_and_the_keeper_goes_on():
    engine = FakeEngine([node(running=False, error="x"), service("lab-r1-dns", "dns", running=False, error="y")])
    the_keeper = keeper(engine)
    the_keeper.keep_all()
    assert engine.calls == [("start", "lab-r1")]
    engine.attrs["lab-r1"]["State"]["Running"] = False
    the_keeper.revive("id-lab-r1-dns")
    assert engine.calls == [("start", "lab-r1")], "a service waits for its node"


def wait_for(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met within %s s" % timeout
        time.sleep(0.01)


def test_events_stop_start_and_die():
    engine = FakeEngine(lab_containers())
    the_keeper = keeper(engine, grace=0.01)
    attributes = {"name": "lab-r1", "vnet.lab": "lab", "vnet.node": "r1"}
    # docker stop: left down.
    engine.attrs["lab-r1"]["State"].update(Running=False, Status="exited")
    the_keeper.on_event({"Action": "stop", "Actor": {"ID": NODE_ID, "Attributes": attributes}})
    the_keeper.revive(NODE_ID)
    assert engine.calls == [] and the_keeper.stopped == {"lab-r1"}
    # docker kill (a death without a stop): started again after the grace.
    the_keeper.stopped.clear()
    the_keeper.on_event({"Action": "die", "Actor": {"ID": NODE_ID, "Attributes": attributes}})
    wait_for(lambda: ("start", "lab-r1") in engine.calls)
    # The keeper's own events are not its business; a node's start brings its services back.
    keeper_attributes = {"name": "lab.keeper", "vnet.service": "keeper"}
    the_keeper.on_event({"Action": "die", "Actor": {"ID": "k", "Attributes": keeper_attributes}})
    the_keeper.on_event({"Action": "start", "Actor": {"ID": NODE_ID, "Attributes": attributes}})
    wait_for(lambda: ("restart", "lab-r1-voip") in engine.calls)
    wait_for(lambda: not the_keeper.busy)
    assert ("start", "lab-r1-web") in engine.calls


def test_keep_all_reports_a_recreated_nodes_services_once():
    engine = FakeEngine([node(started=ts(1)), service("lab-r1-dns", "dns", owner="old-id")])
    the_keeper = keeper(engine)
    the_keeper.keep_all()
    the_keeper.keep_all()
    wait_for(lambda: not the_keeper.busy)
    assert the_keeper.out.getvalue() == ("vnet-keeper: service lab-r1-dns: its node container was re-created; the next"
                                         " lab_up re-creates it in the new node's namespace\n")
    assert engine.calls == []


def test_arguments():
    args = K.parse_args(["--lab", "pilab"])
    assert (args.lab, args.socket, args.grace, args.ready_timeout, args.period) == (
        "pilab", "/var/run/docker.sock", 2.0, 60.0, 30.0)
    with pytest.raises(SystemExit):
        K.parse_args([])
