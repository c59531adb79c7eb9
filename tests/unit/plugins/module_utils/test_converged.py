# SPDX-License-Identifier: GPL-3.0-or-later
"""_converged: the record of a converged lab and the reasons a lab differs from it (fake engine)."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.vnet.lab.plugins.filter import fingerprint as F
from ansible_collections.vnet.lab.plugins.module_utils import _converged as C

LAB = "lab1"


class NotFound(Exception):
    status_code = 404


def container(name, node, service=None, tag="vnet/node", image="sha256:aaa", started="T1", pid=100):
    labels = {"vnet.lab": LAB, "vnet.node": node}
    if service:
        labels["vnet.service"] = service
    return {"Id": "id-" + name, "Image": image, "Config": {"Image": tag, "Labels": labels},
            "State": {"Running": True, "Paused": False, "StartedAt": started, "Pid": pid}}


class FakeAPI:
    def __init__(self):
        self.containers_ = {
            "lab1-r1": container("lab1-r1", "r1", pid=101),
            "lab1-h1": container("lab1-h1", "h1", pid=102),
            "lab1-r1-dns": container("lab1-r1-dns", "r1", service="dns", tag="vnet/dns", image="sha256:ddd",
                                     pid=103),
        }
        self.tags = {"vnet/node": {"Id": "sha256:aaa"}, "vnet/dns": {"Id": "sha256:ddd"}}
        self.images_ = []
        self.networks_ = [{"Name": "lab1-net1", "Id": "n1"}, {"Name": "lab1-net2", "Id": "n2"}]

    def containers(self, all=False, filters=None):
        assert all and filters == {"label": "vnet.lab=%s" % LAB}
        return [{"Names": ["/" + name]} for name in self.containers_]

    def inspect_container(self, name):
        if name not in self.containers_:
            raise NotFound(name)
        return copy.deepcopy(self.containers_[name])

    def inspect_image(self, tag):
        if tag not in self.tags:
            raise NotFound(tag)
        return self.tags[tag]

    def networks(self, filters=None):
        assert filters == {"label": "vnet.lab=%s" % LAB}
        return list(self.networks_)

    def images(self, all=False):
        return list(self.images_)


class FakeClient:
    def __init__(self):
        self.api = FakeAPI()


@pytest.fixture
def lab(tmp_path):
    """A converged lab: its files, the engine's state, and the record of it."""
    root = tmp_path / LAB
    for path, text in {"plan.json": "{}", "nodes/r1/netplan.json": '{"interfaces": {}}',
                       "nodes/h1/netplan.json": '{"interfaces": {}}',
                       "services/r1-dns/named.conf": "options {};\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    client = FakeClient()
    record = C.record_of(C.snapshot(client, LAB, str(tmp_path)), "digest1")
    C.write_record(C.record_path(str(tmp_path), LAB), record)
    return client, tmp_path, record


def reasons(client, tmp_path, inputs="digest1"):
    snap = C.snapshot(client, LAB, str(tmp_path))
    return C.differences(C.read_record(C.record_path(str(tmp_path), LAB)), snap, inputs)


def test_unchanged_lab_is_current(lab):
    client, tmp_path, record = lab
    assert reasons(client, tmp_path) == []
    assert sorted(record["containers"]) == ["lab1-h1", "lab1-r1", "lab1-r1-dns"]
    assert "pid" not in record["containers"]["lab1-r1"]
    assert sorted(record["files"]) == ["nodes/h1/netplan.json", "nodes/r1/netplan.json", "plan.json",
                                       "services/r1-dns/named.conf"]
    assert record["networks"] == {"lab1-net1": "n1", "lab1-net2": "n2"}


def test_no_record_other_format_other_inputs(lab):
    client, root, dummy = lab
    snap = C.snapshot(client, LAB, str(root))
    assert C.differences(None, snap, "digest1") == ["no record of a converged run"]
    assert C.differences({"format": 0}, snap, "digest1") == ["the record has another format"]
    assert reasons(client, root, inputs="digest2") == ["the inputs changed (plan, variables or the collection)"]


def test_what_happens_to_containers_is_a_reason(lab):
    client, tmp_path, dummy = lab
    containers = client.api.containers_
    containers["lab1-r1"]["State"]["StartedAt"] = "T2"
    containers["lab1-h1"]["Id"] = "id-other"
    containers["lab1-r1-dns"]["State"]["Running"] = False
    containers["lab1-x"] = container("lab1-x", "x")
    assert reasons(client, tmp_path) == [
        "container lab1-h1 was re-created", "container lab1-r1 restarted",
        "container lab1-r1-dns is not running", "container lab1-x is new"]
    del containers["lab1-r1"]
    assert "container lab1-r1 is gone" in reasons(client, tmp_path)


def test_a_paused_container_is_not_running(lab):
    client, tmp_path, dummy = lab
    client.api.containers_["lab1-r1"]["State"]["Paused"] = True
    assert reasons(client, tmp_path) == ["container lab1-r1 is not running"]


def test_a_rebuilt_or_removed_image_is_a_reason(lab):
    client, tmp_path, dummy = lab
    client.api.tags["vnet/dns"] = {"Id": "sha256:eee"}
    del client.api.tags["vnet/node"]
    assert reasons(client, tmp_path) == [
        "container lab1-h1 runs sha256:aaa, no longer the image tagged vnet/node",
        "container lab1-r1 runs sha256:aaa, no longer the image tagged vnet/node",
        "container lab1-r1-dns runs sha256:ddd, no longer the image tagged vnet/dns"]


def test_segments_gone_new_or_recreated(lab):
    client, tmp_path, dummy = lab
    client.api.networks_ = [{"Name": "lab1-net2", "Id": "n2b"}, {"Name": "lab1-net3", "Id": "n3"}]
    assert reasons(client, tmp_path) == ["segment lab1-net1 is gone", "segment lab1-net2 is re-created",
                                         "segment lab1-net3 is new"]


def test_files_changed_new_gone_and_reports_left_out(lab):
    client, tmp_path, dummy = lab
    root = tmp_path / LAB
    (root / "services/r1-dns/named.conf").write_text("options { recursion yes; };\n")
    (root / "services/r1-dns/extra.conf").write_text("")
    (root / "plan.json").unlink()
    # Written by verify and measure: not the lab's state.
    (root / "report.md").write_text("report")
    (root / "reports/2026").mkdir(parents=True)
    (root / "reports/2026/report.json").write_text("{}")
    (root / "verify/r1-voip").mkdir(parents=True)
    (root / "verify/r1-voip/capture.pcap").write_text("")
    assert reasons(client, tmp_path) == ["file plan.json is gone", "file services/r1-dns/extra.conf is new",
                                         "file services/r1-dns/named.conf is changed"]


def test_interfaces_checked_in_running_nodes_only(lab, monkeypatch):
    client, tmp_path, dummy = lab
    client.api.containers_["lab1-h1"]["State"].update(Running=False, Pid=0)
    snap = C.snapshot(client, LAB, str(tmp_path))
    seen = []

    def apply(runner, netplan, check_mode=False):
        assert check_mode is True and netplan == {"interfaces": {}}
        seen.append(runner)
        return {"changed": True, "actions": ["add address 10.0.0.1/24 to eth1"]}

    monkeypatch.setattr(C._interfaces, "apply", apply)
    found = C.interface_differences(snap, str(tmp_path), runner_for=lambda pid: pid)
    # r1 only: h1 is not running, r1-dns is a service (it shares r1's namespace).
    assert seen == [101]
    assert found == ["node r1: would add address 10.0.0.1/24 to eth1"]


def test_interfaces_missing_plan_and_errors(lab, monkeypatch):
    client, tmp_path, dummy = lab
    (tmp_path / LAB / "nodes/h1/netplan.json").unlink()

    def apply(runner, netplan, check_mode=False):
        raise C._interfaces.InterfacesError("no interface with placeholder 100.64.0.2")

    monkeypatch.setattr(C._interfaces, "apply", apply)
    found = C.interface_differences(C.snapshot(client, LAB, str(tmp_path)), str(tmp_path),
                                    runner_for=lambda pid: pid)
    assert found[0].startswith("node h1: cannot read its plan")
    assert found[1] == "node r1: no interface with placeholder 100.64.0.2"


def test_compare_current_then_not(lab, monkeypatch):
    client, tmp_path, dummy = lab
    monkeypatch.setattr(C._interfaces, "apply", lambda runner, netplan, check_mode=False: {"actions": []})
    current, found, dummy = C.compare(client, LAB, str(tmp_path), "digest1", runner_for=lambda pid: pid)
    assert (current, found) == (True, [])
    client.api.containers_["lab1-r1"]["State"]["StartedAt"] = "T3"
    current, found, dummy = C.compare(client, LAB, str(tmp_path), "digest1", runner_for=lambda pid: pid)
    assert (current, found) == (False, ["container lab1-r1 restarted"])


def test_write_record_only_when_it_changes(tmp_path):
    path = str(tmp_path / "lab" / C.RECORD_FILE)
    assert C.write_record(path, {"a": 1}) is True
    assert C.write_record(path, {"a": 1}) is False
    assert C.write_record(path, {"a": 2}) is True
    assert json.loads(open(path).read()) == {"a": 2}
    assert C.read_record(str(tmp_path / "none.json")) is None
    (tmp_path / "bad.json").write_text("{")
    assert C.read_record(str(tmp_path / "bad.json")) == {}


def test_fingerprint_follows_the_data_and_the_collection(tmp_path, monkeypatch):
    assert F.fingerprint({"a": 1, "b": [1, 2]}) == F.fingerprint({"b": [1, 2], "a": 1})
    assert F.fingerprint({"a": 1}) != F.fingerprint({"a": 2})
    (tmp_path / "roles/x/tasks").mkdir(parents=True)
    (tmp_path / "roles/x/tasks/main.yml").write_text("---\n")
    (tmp_path / "roles/x/__pycache__").mkdir()
    (tmp_path / "roles/x/__pycache__/a.pyc").write_text("1")
    first = F.collection_digest(str(tmp_path))
    (tmp_path / "roles/x/__pycache__/a.pyc").write_text("2")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/x.md").write_text("not part of a run")
    assert F.collection_digest(str(tmp_path)) == first
    (tmp_path / "roles/x/tasks/main.yml").write_text("---\n# changed\n")
    assert F.collection_digest(str(tmp_path)) != first


def test_compare_without_a_usable_record_reads_nothing(tmp_path):
    class Untouchable:
        @property
        def api(self):
            raise AssertionError("the engine was read")

    assert C.compare(Untouchable(), LAB, str(tmp_path), "digest1") == (
        False, ["no record of a converged run"], None)
    C.write_record(C.record_path(str(tmp_path), LAB), {"format": C.FORMAT, "inputs": "digest0"})
    assert C.compare(Untouchable(), LAB, str(tmp_path), "digest1")[1] == [
        "the inputs changed (plan, variables or the collection)"]


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A converged board: a lab node in the host's namespace, whose record watches host files,
    the engine's images, the host's plan and rule set."""
    state = tmp_path / "state"
    (state / LAB / "services/r1-dns").mkdir(parents=True)
    (state / LAB / "services/r1-dns/named.conf").write_text("options {};\n")
    etc = tmp_path / "etc"
    (etc / "vnet").mkdir(parents=True)
    (etc / "vnet/netplan.json").write_text('{"interfaces": {"eth1": {"ipv4": "10.0.0.1/24"}}}')
    (etc / "vnet/firewall.json").write_text('{"interfaces": ["eth1", "eth2"]}')
    (etc / "daemon.json").write_text('{"live-restore": true}\n')
    (etc / "wants").mkdir()
    (etc / "wants/docker.service").symlink_to("/lib/systemd/system/docker.service")
    client = FakeClient()
    client.api.containers_ = {"lab1-r1-dns": container("lab1-r1-dns", "r1", service="dns", tag="vnet/dns",
                                                       image="sha256:ddd")}
    client.api.networks_ = []
    client.api.images_ = [{"Id": "sha256:ddd"}, {"Id": "sha256:base"}]
    client.api.tags = {"vnet/dns": {"Id": "sha256:ddd"}}
    seen = {}

    def interfaces_apply(runner, netplan, check_mode=False):
        seen["interfaces"] = (runner, netplan, check_mode)
        return {"actions": list(seen.get("interface_actions", []))}

    def firewall_apply(runner, spec, check_mode=False):
        seen["firewall"] = (runner, spec, check_mode)
        return {"actions": list(seen.get("firewall_actions", []))}

    monkeypatch.setattr(C._interfaces, "apply", interfaces_apply)
    monkeypatch.setattr(C._firewall, "apply", firewall_apply)
    watch = C.watch_of([str(etc / "daemon.json"), str(etc / "vnet"), str(etc / "wants"), str(etc / "missing")],
                       images=True, host_plan=str(etc / "vnet/netplan.json"),
                       host_firewall=str(etc / "vnet/firewall.json"))
    record = C.record_of(C.snapshot(client, LAB, str(state), watch=watch), "digest1")
    C.write_record(C.record_path(str(state), LAB), record)
    return client, state, etc, seen


def compare_board(client, state):
    current, found, dummy = C.compare(lambda: client, LAB, str(state), "digest1", host_runners=("ns", "fw"))
    return current, found


def test_a_board_as_recorded_is_current_and_its_host_is_read(board):
    client, state, etc, seen = board
    assert compare_board(client, state) == (True, [])
    assert seen["interfaces"] == ("ns", {"interfaces": {"eth1": {"ipv4": "10.0.0.1/24"}}}, True)
    assert seen["firewall"] == ("fw", {"interfaces": ["eth1", "eth2"]}, True)
    record = C.read_record(C.record_path(str(state), LAB))
    assert record["paths"][str(etc / "missing")] is None
    assert record["paths"][str(etc / "wants")] is not None
    assert record["images"] == ["sha256:base", "sha256:ddd"]


@pytest.mark.parametrize("change, reason", [
    (lambda etc: (etc / "daemon.json").write_text("{}\n"), "daemon.json is changed"),
    (lambda etc: (etc / "daemon.json").unlink(), "daemon.json is gone"),
    (lambda etc: (etc / "missing").write_text(""), "missing is new"),
    (lambda etc: (etc / "vnet/extra").write_text(""), "vnet is changed"),
    (lambda etc: (etc / "wants/docker.service").unlink(), "wants is changed"),
    (lambda etc: ((etc / "wants/docker.service").unlink(),
                  (etc / "wants/docker.service").symlink_to("/elsewhere")), "wants is changed"),
])
def test_what_the_record_watches_on_the_host_is_a_reason(board, change, reason):
    client, state, etc, seen = board
    change(etc)
    current, found = compare_board(client, state)
    assert not current and len(found) == 1 and found[0].endswith(reason), found
    # The host's interfaces and firewall are read only once all else is as recorded.
    assert "interfaces" not in seen


def test_the_engines_images_the_host_plan_and_rule_set_are_reasons(board):
    client, state, dummy, seen = board
    client.api.images_ = [{"Id": "sha256:ddd"}, {"Id": "sha256:new"}]
    assert compare_board(client, state) == (False, ["1 image of the converged run is gone from the engine (base)"])
    client.api.images_ = [{"Id": "sha256:ddd"}, {"Id": "sha256:base"}, {"Id": "sha256:probe"}]
    assert compare_board(client, state) == (True, [])
    client.api.images_ = [{"Id": "sha256:ddd"}, {"Id": "sha256:base"}]
    seen["interface_actions"] = ["add address 10.0.0.1/24 to eth1"]
    seen["firewall_actions"] = ["add the jump to VNET-LAB in DOCKER-USER (iptables)"]
    assert compare_board(client, state) == (False, [
        "host: would add address 10.0.0.1/24 to eth1",
        "host firewall: would add the jump to VNET-LAB in DOCKER-USER (iptables)"])


def test_a_board_without_a_record_is_not_asked_for_an_engine(tmp_path):
    def no_engine():
        raise AssertionError("the engine was asked for")

    current, found, snap = C.compare(no_engine, LAB, str(tmp_path), "digest1")
    assert (current, found, snap) == (False, ["no record of a converged run"], None)


def test_changed_inputs_are_named_by_part(tmp_path):
    snap = {"format": C.FORMAT, "lab": LAB, "containers": {}, "networks": {}, "files": {}}
    record = C.record_of(snap, "d1", {"topology": "t1", "vnet_lab_ftp_users": "f1", "gone": "g"})
    assert C.differences(record, snap, "d2", {"topology": "t1", "vnet_lab_ftp_users": "f2", "new": "n"}) == [
        "the inputs changed: gone, new, vnet_lab_ftp_users"]
    assert C.differences(record, snap, "d2", dict(record["input_parts"])) == [
        "the inputs changed (the collection or Ansible)"]
    assert C.differences(record, snap, "d2") == ["the inputs changed (plan, variables or the collection)"]
    path = C.record_path(str(tmp_path), LAB)
    C.write_record(path, record)
    # The parts' digests come from secrets too: the record is root's only.
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
