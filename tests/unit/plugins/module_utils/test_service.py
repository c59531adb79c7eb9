# SPDX-License-Identifier: GPL-3.0-or-later
"""One service converged in one call: the pure helpers (files, serials, decisions, mounts, emptied
directories), then ``Service`` and ``converge_all`` on a fake engine (containers, volumes, execs and
the throwaway validation container as plain data, /proc a directory of the test)."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import time

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _service as S

IMAGE = "vnet/test:latest"
IMAGE_ID = "sha256:" + "ab" * 32
OTHER_IMAGE_ID = "sha256:" + "cd" * 32
TODAY = 20240115


def digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def today():
    """What ``prepare`` takes as today (a run across midnight UTC would see two days)."""
    return int(time.strftime("%Y%m%d", time.gmtime()))


# --- normalise_files ------------------------------------------------------------------------------

@pytest.mark.parametrize("files, expected", [
    ([], {}),
    ([{"path": "named.conf", "content": "x\n"}], {"named.conf": ("x\n", 0o644, False)}),
    ([{"path": "key", "content": "k\n", "secret": True}], {"key": ("k\n", 0o600, True)}),
    ([{"path": "a/./b//c", "content": None, "mode": ""}], {"a/b/c": ("", 0o644, False)}),
    ([{"path": "x", "mode": "0640"}, {"path": "y", "mode": 0o750}, {"path": "z", "mode": "755"}],
     {"x": ("", 0o640, False), "y": ("", 0o750, False), "z": ("", 0o755, False)}),
    ([{"path": "k", "mode": "0644", "secret": True}], {"k": ("", 0o644, True)}),
    ([{"path": "a/../b"}], {"b": ("", 0o644, False)}),
    ([{"path": "..data"}, {"path": "zones/..old"}], {"..data": ("", 0o644, False), "zones/..old": ("", 0o644, False)}),
], ids=["none", "default-mode", "secret-mode", "normalised", "modes", "secret-given-mode", "inner-dotdot",
        "dotdot-names"])
def test_normalise_files(files, expected):
    assert S.normalise_files(files) == expected


@pytest.mark.parametrize("files, errors", [
    ([{"path": "/etc/passwd"}], ["file '/etc/passwd' is not a relative path inside the service's directory"]),
    ([{"path": "."}], ["file '.' is not a relative path inside the service's directory"]),
    ([{"path": "a/.."}], ["file 'a/..' is not a relative path inside the service's directory"]),
    ([{"path": "../x"}], ["file '../x' is not a relative path inside the service's directory"]),
    ([{"path": "a/../../x"}], ["file 'a/../../x' is not a relative path inside the service's directory"]),
    ([{"path": "a"}, {"path": "./a"}], ["file a is given twice"]),
    ([{"path": "a", "mode": "rw-r--r--"}], ["file a: mode 'rw-r--r--' is not octal"]),
    ([{"path": "a", "mode": "0689"}], ["file a: mode '0689' is not octal"]),
    ([{"path": "/abs"}, {"path": "b", "mode": "x"}, {"path": "c"}, {"path": "c"}],
     ["file '/abs' is not a relative path inside the service's directory", "file b: mode 'x' is not octal",
      "file c is given twice"]),
], ids=["absolute", "dot", "dir-up", "parent", "escapes", "twice", "symbolic-mode", "not-octal", "all-together"])
def test_normalise_files_errors(files, errors):
    with pytest.raises(S.ServiceError) as raised:
        S.normalise_files(files)
    assert raised.value.errors == errors
    assert str(raised.value) == "\n".join(errors)


# --- apply_serials --------------------------------------------------------------------------------

ZONE = "@ SOA ns. admin. @SERIAL@ 3600\n"


@pytest.mark.parametrize("previous, serial", [
    ({}, 2024011500),
    ({"db": {"serial": 2023010105, "hash": digest(ZONE)}}, 2023010105),
    ({"db": {"serial": 2024011507, "hash": digest(ZONE)}}, 2024011507),
    ({"db": {"serial": 2023010105, "hash": "0" * 16}}, 2024011500),
    ({"db": {"serial": 2024011507, "hash": "0" * 16}}, 2024011508),
    ({"db": {"serial": 2024011599, "hash": "0" * 16}}, 2024011600),
    ({"db": {"serial": 2025010100, "hash": "0" * 16}}, 2025010101),
    ({"other": {"serial": 2025010100, "hash": digest(ZONE)}}, 2024011500),
], ids=["new", "unchanged-old", "unchanged-today", "changed-old", "changed-today", "changed-99", "changed-future",
        "other-file"])
def test_apply_serials(previous, serial):
    files = {"db": (ZONE, 0o644, False), "named.conf": ("zone x { file db; };\n", 0o640, False)}
    result, serials = S.apply_serials(files, previous, TODAY)
    assert result == {"db": ("@ SOA ns. admin. %d 3600\n" % serial, 0o644, False),
                      "named.conf": ("zone x { file db; };\n", 0o640, False)}
    assert serials == {"db": {"serial": serial, "hash": digest(ZONE)}}


def test_apply_serials_replaces_every_token_and_keeps_secrets():
    files = {"db": ("@SERIAL@ @SERIAL@\n", 0o600, True)}
    assert S.apply_serials(files, {}, TODAY) == ({"db": ("2024011500 2024011500\n", 0o600, True)},
                                                 {"db": {"serial": 2024011500, "hash": digest("@SERIAL@ @SERIAL@\n")}})


def test_apply_serials_without_token():
    files = {"a": ("no serial\n", 0o644, False)}
    assert S.apply_serials(files, {"a": {"serial": 5, "hash": "x"}}, TODAY) == (files, {})


@pytest.mark.parametrize("previous, today, error", [
    ({"db": {"serial": S.MAX_SERIAL, "hash": "0" * 16}}, TODAY, "file db: serial 4294967296 does not fit in 32 bits"),
    ({}, 42949673, "file db: serial 4294967300 does not fit in 32 bits"),
], ids=["previous-at-max", "today-too-late"])
def test_apply_serials_overflow(previous, today, error):
    with pytest.raises(S.ServiceError, match="^%s$" % error):
        S.apply_serials({"db": (ZONE, 0o644, False)}, previous, today)


def test_apply_serials_keeps_a_serial_at_the_maximum():
    previous = {"db": {"serial": S.MAX_SERIAL, "hash": digest(ZONE)}}
    assert S.apply_serials({"db": (ZONE, 0o644, False)}, previous, TODAY)[1]["db"]["serial"] == S.MAX_SERIAL


# --- containers: hash, decisions, mounts ----------------------------------------------------------

SPEC = {"name": "d", "image": IMAGE, "network_mode": "none", "command": ["daemon"], "capabilities": ["NET_ADMIN"],
        "volumes": ["/srv/svc:/etc/vnet:ro"], "labels": {"vnet.service": "svc"}}


@pytest.mark.parametrize("change, same", [
    ({"capabilities": ["cap_net_admin", "NET_ADMIN"]}, True),
    ({"reload": ["reload"], "restart_on": ["x"], "wait_path": "/run/x", "wait_always": True, "stop_timeout": 3},
     True),
    ({"command": ["daemon", "-d"]}, False),
    ({"image": "vnet/other:latest"}, False),
    ({"capabilities": ["NET_RAW"]}, False),
    ({"volumes": ["/srv/svc:/etc/vnet"]}, False),
    ({"env": {"A": "1"}}, False),
    ({"labels": {"vnet.service": "other"}}, False),
    ({"init": False}, False),
    ({"restart_policy": "always"}, False),
    ({"network_mode": "container:n"}, False),
], ids=["caps-spelling", "not-hashed", "command", "image", "caps", "volumes", "env", "labels", "init", "restart",
        "network"])
def test_config_hash(change, same):
    assert (S.config_hash(dict(SPEC, **change)) == S.config_hash(SPEC)) is same
    assert len(S.config_hash(SPEC)) == 16


def attrs_of(spec=None, image_id=IMAGE_ID, running=True, paused=False, label=None):
    spec = SPEC if spec is None else spec
    return {"Image": image_id, "Config": {"Labels": {S.LABEL_CONFIG: label or S.config_hash(spec)}},
            "State": {"Running": running, "Paused": paused, "Pid": 42 if running else 0}}


@pytest.mark.parametrize("attrs, expected", [
    (None, ("create", None)),
    (attrs_of(image_id=OTHER_IMAGE_ID), ("recreate", "image changed")),
    (attrs_of(image_id=OTHER_IMAGE_ID, label="0" * 16), ("recreate", "image changed")),
    (attrs_of(label="0" * 16), ("recreate", "configuration changed")),
    ({"Image": IMAGE_ID, "Config": {"Labels": None}, "State": {"Running": True}},
     ("recreate", "configuration changed")),
    (attrs_of(running=False, label="0" * 16), ("recreate", "configuration changed")),
    (attrs_of(paused=True), ("unpause", None)),
    (attrs_of(running=False), ("start", None)),
    (attrs_of(), ("keep", None)),
], ids=["missing", "image", "image-and-config", "config", "no-labels", "stopped-and-config", "paused", "stopped",
        "keep"])
def test_decide(attrs, expected):
    assert S.decide(attrs, SPEC, IMAGE_ID) == expected


@pytest.mark.parametrize("volumes, changed, expected", [
    (["/srv/svc:/etc/vnet:ro"], ["a.conf", "zones/db"], ["a.conf", "zones/db"]),
    (["/srv/svc/:/etc/vnet:ro"], ["a.conf"], ["a.conf"]),
    (["/srv/svc/zones:/etc/zones:ro"], ["a.conf", "zones/db"], ["zones/db"]),
    (["/srv/svc/a.conf:/etc/a.conf:ro"], ["a.conf", "zones/db"], ["a.conf"]),
    (["/srv/svc-other:/etc/x:ro", "/srv/sv:/etc/y"], ["a.conf"], []),
    (["data:/srv/svc"], ["a.conf"], []),
    (["/srv/svc/zones:/z", "/srv/svc:/etc/vnet"], ["a.conf", "zones/db"], ["zones/db", "a.conf"]),
    (["/srv/svc:/etc/vnet:ro"], [], []),
    ([], ["a.conf"], []),
], ids=["whole-dir", "trailing-slash", "sub-dir", "one-file", "sibling-prefixes", "named-volume", "twice", "nothing",
        "no-binds"])
def test_mounts_changed(volumes, changed, expected):
    assert S.mounts_changed({"volumes": volumes}, "/srv/svc", changed) == expected


# --- files on disk --------------------------------------------------------------------------------

def make_tree(root, paths):
    for path in paths:
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(path)


TREE = ["top.conf", "a/x", "a/b/y", "a/b/z", "c/w", "c/keep.txt", "d/e/f", "g/old", "h/i/j", "h/k"]


@pytest.mark.parametrize("removed, wanted, expected", [
    (["a/x", "a/b/y", "a/b/z"], [], ["a/b", "a"]),
    (["a/b/y", "a/b/z"], [], ["a/b"]),
    (["a/x", "a/b/y"], [], []),
    (["c/w"], [], []),
    (["d/e/f"], [], ["d/e", "d"]),
    (["g/old"], ["g/new"], []),
    (["d/e/f"], ["d/new"], ["d/e"]),
    (["h/i/j"], [], ["h/i"]),
    (["h/i/j", "h/k"], [], ["h/i", "h"]),
    (["top.conf"], [], []),
    (["gone/x"], [], []),
    (["d/e/f", "a/b/y", "a/b/z"], [], ["a/b", "d/e", "d"]),
], ids=["all-of-a", "inner", "one-left", "kept-file", "chain", "wanted-there", "wanted-above", "sibling-file",
        "both", "top-level", "missing-dir", "deepest-first"])
def test_emptied_dirs(tmp_path, removed, wanted, expected):
    make_tree(tmp_path, TREE)
    assert S.emptied_dirs(str(tmp_path), removed, wanted) == expected


def test_emptied_dirs_keeps_a_directory_holding_a_link(tmp_path):
    make_tree(tmp_path, ["a/x"])
    os.symlink("x", tmp_path / "a" / "link")
    assert S.emptied_dirs(str(tmp_path), ["a/x"]) == []


def test_listed_files_leave_out_keep(tmp_path):
    make_tree(tmp_path, TREE)
    assert S.listed_files(str(tmp_path), keep=["a/b", "c/keep.txt", "./h"]) == [
        "a/x", "c/w", "d/e/f", "g/old", "top.conf"]


def test_present_arguments_mark_secret_files():
    params = {"config_dir": "/srv/svc", "files": [{"path": "a", "content": "1", "mode": "0644"}],
              "secret_files": [{"path": "k", "content": "s", "mode": "0600"}], "keep": ["state"],
              "validate": None, "volumes": [], "containers": [], "remove": None, "together": True,
              "wait_timeout": 5.0, "name": "svc", "state": "present", "docker_host": None}
    assert S.present_arguments(params) == {
        "config_dir": "/srv/svc", "files": [{"path": "a", "content": "1", "mode": "0644"},
                                            {"path": "k", "content": "s", "mode": "0600", "secret": True}],
        "keep": ["state"], "validate": None, "volumes": [], "containers": [], "remove": None, "together": True,
        "wait_timeout": 5.0}
    assert "secret" not in params["secret_files"][0]


def test_argument_spec_is_a_fresh_copy():
    spec = S.argument_spec()
    spec["containers"]["options"]["name"]["required"] = False
    assert S.argument_spec()["containers"]["options"]["name"]["required"] is True


# --- a fake engine --------------------------------------------------------------------------------

class FakeAPI:
    """Just enough of docker's APIClient. ``calls`` records every change to the engine, in order."""

    def __init__(self, proc):
        self.proc = proc
        self.images = {IMAGE: IMAGE_ID}
        self.containers_ = {}
        self.volumes_ = {}
        self.calls = []
        self.exec_codes = {}
        self.exec_ids = itertools.count(1)
        self.exec_output = {}
        self.execs = {}
        self.never_ready = set()
        self.fail_inspect = {}
        self.next_pid = 100

    # reads
    def _name(self, name_or_id):
        for name, attrs in self.containers_.items():
            if name_or_id in (name, attrs["Id"]):
                return name
        raise S.NotFound("No such container: %s" % name_or_id)

    def inspect_container(self, name):
        if name in self.fail_inspect:
            raise S.APIError(self.fail_inspect[name])
        return copy.deepcopy(self.containers_[self._name(name)])

    def inspect_image(self, image):
        if image not in self.images:
            raise S.ImageNotFound("No such image: %s" % image)
        return {"Id": self.images[image]}

    def containers(self, all=False, filters=None):  # noqa: A002 (docker's name)
        assert all
        wanted = dict(item.split("=", 1) for item in (filters or {}).get("label", []))
        return [{"Id": c["Id"], "Names": [c["Name"]], "Labels": dict(c["Config"]["Labels"])}
                for c in self.containers_.values()
                if wanted.items() <= c["Config"]["Labels"].items()]

    def volumes(self):
        return {"Volumes": [{"Name": n, "Labels": dict(l)} for n, l in self.volumes_.items()] or None}

    def logs(self, name, tail=None):
        assert tail == 20
        return b"starting\nno config\n"

    # configs
    def create_host_config(self, **kwargs):
        return dict(kwargs)

    # changes
    def create_volume(self, name, labels=None):
        self.calls.append(("create volume", name))
        self.volumes_[name] = labels or {}

    def remove_volume(self, name, force=False):
        assert force
        self.calls.append(("remove volume", name))
        del self.volumes_[name]

    def create_container(self, image, name, command, entrypoint, environment, labels, user, host_config):
        self.calls.append(("create", name))
        assert name not in self.containers_
        self.containers_[name] = {
            "Id": "id-" + name, "Name": "/" + name, "Image": image,
            "Config": {"Labels": dict(labels), "Cmd": command, "Entrypoint": entrypoint, "Env": environment,
                       "User": user},
            "HostConfig": dict(host_config, NetworkMode=host_config["network_mode"]),
            "State": {"Running": False, "Paused": False, "Pid": 0}}
        return {"Id": "id-" + name}

    def _run(self, name):
        """A new process: its root (with /run/ready unless never ready) and its network namespace."""
        attrs = self.containers_[name]
        self.next_pid += 1
        pid = self.next_pid
        mode = attrs["HostConfig"]["NetworkMode"] or ""
        if mode.startswith("container:"):
            owner = self.containers_[mode.split(":", 1)[1]]["State"]["Pid"]
            namespace = os.readlink(os.path.join(self.proc, str(owner), "ns", "net"))
        else:
            namespace = "net:[%d]" % (4026530000 + pid)
        os.makedirs(os.path.join(self.proc, str(pid), "ns"))
        os.symlink(namespace, os.path.join(self.proc, str(pid), "ns", "net"))
        os.makedirs(os.path.join(self.proc, str(pid), "root", "run"))
        if name not in self.never_ready:
            open(os.path.join(self.proc, str(pid), "root", "run", "ready"), "w").close()
        attrs["State"] = {"Running": True, "Paused": False, "Pid": pid}

    def start(self, name_or_id):
        name = self._name(name_or_id)
        self.calls.append(("start", name))
        self._run(name)

    def restart(self, name, timeout=None):
        self.calls.append(("restart", self._name(name)))
        self._run(self._name(name))

    def stop(self, name, timeout=None):
        self.calls.append(("stop", name, timeout))
        self.containers_[self._name(name)]["State"] = {"Running": False, "Paused": False, "Pid": 0}

    def unpause(self, name):
        self.calls.append(("unpause", name))
        self.containers_[self._name(name)]["State"]["Paused"] = False

    def remove_container(self, name, force=False):
        assert force
        self.calls.append(("remove", name))
        del self.containers_[self._name(name)]

    def exec_create(self, name, argv):
        self._name(name)
        exec_id = "exec-%d" % next(self.exec_ids)   # threads of converge_all create execs at once
        self.execs[exec_id] = (name, tuple(argv))
        self.calls.append(("exec", name, tuple(argv)))
        return {"Id": exec_id}

    def exec_start(self, exec_id):
        return self.exec_output.get(self.execs[exec_id][1], b"")

    def exec_inspect(self, exec_id):
        codes = self.exec_codes.get(self.execs[exec_id][1], [0])
        return {"ExitCode": codes.pop(0) if len(codes) > 1 else codes[0]}

    # set-ups of the tests, not recorded
    def add(self, name, labels, network_mode="none", image_id=IMAGE_ID):
        self.containers_[name] = {"Id": "id-" + name, "Name": "/" + name, "Image": image_id,
                                  "Config": {"Labels": dict(labels)}, "HostConfig": {"NetworkMode": network_mode},
                                  "State": {"Running": False, "Paused": False, "Pid": 0}}
        self._run(name)


class FakeValidation:
    def __init__(self, client, record):
        self.client, self.record = client, record

    def start(self):
        self.record["staged"] = {
            volume["bind"]: {os.path.relpath(os.path.join(root, name), source):
                             open(os.path.join(root, name), encoding="utf-8").read()
                             for root, _dirs, names in os.walk(source) for name in names}
            for source, volume in self.record["volumes"].items()}
        self.record["modes"] = {volume["mode"] for volume in self.record["volumes"].values()}
        self.code, self.output = self.client.validator(self.record["staged"])

    def wait(self, timeout=None):
        self.record["timeout"] = timeout
        return {"StatusCode": self.code, "Error": None}

    def logs(self, stdout=True, stderr=True):
        return self.output.encode("utf-8")

    def remove(self, force=False):
        self.record["removed"] = force


class FakeContainers:
    def __init__(self, client):
        self.client = client

    def create(self, image, command, entrypoint, volumes, network_mode, cap_drop, cap_add, labels):
        record = {"image": image, "command": command, "entrypoint": entrypoint, "volumes": volumes,
                  "network_mode": network_mode, "cap_drop": cap_drop, "cap_add": cap_add, "labels": labels}
        self.client.validations.append(record)
        return FakeValidation(self.client, record)


class FakeClient:
    def __init__(self, proc):
        self.api = FakeAPI(proc)
        self.containers = FakeContainers(self)
        self.validations = []
        self.validator = lambda staged: (0, "")


class Clock:
    """A monotonic clock that moves only when the service sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def engine(tmp_path):
    return FakeClient(str(tmp_path / "proc"))


@pytest.fixture
def cfg(tmp_path):
    return tmp_path / "srv" / "svc"


def service(engine, check_mode=False):
    clock = Clock()
    return S.Service(engine, "svc", check_mode=check_mode, proc=engine.api.proc, clock=clock, sleep=clock.sleep)


def daemon(cfg, **changes):
    spec = {"name": "tsvc-daemon", "image": IMAGE, "network_mode": "none", "command": ["daemon", "-f"],
            "volumes": ["%s:/etc/vnet:ro" % cfg, "tsvc-data:/data"], "labels": {"vnet.service": "svc"},
            "reload": ["reload-it"], "wait_path": "/run/ready"}
    spec.update(changes)
    return spec


FILES = [
    {"path": "main.conf", "content": "a = 1\n"},
    {"path": "zones/db.test", "content": ZONE},
    {"path": "secret.key", "content": "hunter2\n", "secret": True},
]


def inputs(cfg, files=None, containers=None, **changes):
    args = {"config_dir": str(cfg), "files": copy.deepcopy(FILES if files is None else files),
            "validate": {"image": IMAGE, "argv": ["check", "/etc/vnet/main.conf"]},
            "volumes": [{"name": "tsvc-data", "labels": {"vnet.service": "svc"}}],
            "containers": [daemon(cfg)] if containers is None else containers,
            "remove": {"vnet.service": "svc"}}
    args.update(changes)
    return args


def with_file(path, content, files=None):
    files = copy.deepcopy(FILES if files is None else files)
    for entry in files:
        if entry["path"] == path:
            entry["content"] = content
            return files
    return files + [{"path": path, "content": content}]


def disk(cfg):
    """{relative path: (content, mode)} of every file under cfg."""
    return {os.path.relpath(os.path.join(root, name), cfg):
            S.read_file(os.path.join(root, name)) for root, _dirs, names in os.walk(cfg) for name in names}


def converge(engine, args, check_mode=False):
    """A fresh Service's present(); returns (changed, containers, service)."""
    manager = service(engine, check_mode)
    changed, containers = manager.present(**args)
    return changed, containers, manager


def first_actions(cfg):
    return ["write %s/.vnet-serials.json" % cfg, "write %s/main.conf" % cfg, "write %s/secret.key" % cfg,
            "write %s/zones/db.test" % cfg, "create volume tsvc-data", "create container tsvc-daemon"]


# --- Service: create, keep ------------------------------------------------------------------------

def test_first_run_creates_files_volume_and_container(engine, cfg):
    changed, containers, manager = converge(engine, inputs(cfg))
    serial = today() * 100
    assert changed and manager.actions == first_actions(cfg)
    assert containers == {"tsvc-daemon": {"action": "create", "pid": 101, "id": "id-tsvc-daemon"}}
    serials = json.dumps({"zones/db.test": {"serial": serial, "hash": digest(ZONE)}}, sort_keys=True, indent=1) + "\n"
    assert disk(cfg) == {"main.conf": ("a = 1\n", 0o644), "secret.key": ("hunter2\n", 0o600),
                         "zones/db.test": (ZONE.replace("@SERIAL@", str(serial)), 0o644),
                         ".vnet-serials.json": (serials, 0o644)}
    assert engine.api.calls == [("create volume", "tsvc-data"), ("create", "tsvc-daemon"), ("start", "tsvc-daemon")]
    assert engine.api.volumes_ == {"tsvc-data": {"vnet.service": "svc"}}
    created = engine.api.containers_["tsvc-daemon"]
    assert created["Image"] == IMAGE_ID
    assert created["Config"]["Labels"] == {"vnet.service": "svc", S.LABEL_CONFIG: S.config_hash(daemon(cfg)),
                                           S.LABEL_READY: '["test","-e","/run/ready"]'}
    assert created["Config"]["Cmd"] == ["daemon", "-f"] and created["Config"]["Env"] is None
    assert created["HostConfig"] == {
        "init": True, "cap_drop": ["ALL"], "cap_add": None, "network_mode": "none", "NetworkMode": "none",
        "binds": ["%s:/etc/vnet:ro" % cfg, "tsvc-data:/data"], "devices": None, "tmpfs": None,
        "restart_policy": {"Name": "unless-stopped"}, "log_config": None}
    [validation] = engine.validations
    assert validation["staged"] == {"/etc/vnet": {path: content for path, (content, _mode) in disk(cfg).items()}}
    assert validation["modes"] == {"ro"} and validation["removed"] is True
    assert (validation["image"], validation["command"], validation["network_mode"], validation["cap_drop"],
            validation["labels"]) == (IMAGE, ["check", "/etc/vnet/main.conf"], "none", ["ALL"],
                                      {"vnet.validate": "svc"})
    assert os.listdir(cfg.parent) == ["svc"]


def test_second_run_changes_nothing(engine, cfg):
    converge(engine, inputs(cfg))
    calls, on_disk = list(engine.api.calls), disk(cfg)
    changed, containers, manager = converge(engine, inputs(cfg))
    assert not changed and manager.actions == [] and manager.diff == []
    assert containers == {"tsvc-daemon": {"action": "keep", "pid": 101, "id": "id-tsvc-daemon"}}
    assert engine.api.calls == calls and disk(cfg) == on_disk and len(engine.validations) == 1


def test_container_options_reach_the_engine(engine, cfg):
    spec = daemon(cfg, capabilities=["cap_net_bind_service", "SETUID"], env={"A": 1}, devices=["/dev/net/tun"],
                  tmpfs=["/run/x"], restart_policy="no", init=False, user="bind", entrypoint=["/init"],
                  log_options={"max-size": "1m", "max-file": 2})
    converge(engine, inputs(cfg, containers=[spec]))
    created = engine.api.containers_["tsvc-daemon"]
    assert created["Config"]["Env"] == {"A": "1"} and created["Config"]["User"] == "bind"
    assert created["Config"]["Entrypoint"] == ["/init"]
    host = created["HostConfig"]
    assert host["cap_add"] == ["NET_BIND_SERVICE", "SETUID"] and host["init"] is False
    assert host["devices"] == ["/dev/net/tun"] and host["tmpfs"] == {"/run/x": ""} and host["restart_policy"] is None
    assert host["log_config"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}


# --- Service: what a changed file does ------------------------------------------------------------

@pytest.mark.parametrize("change, actions, calls", [
    ({}, ["reload container tsvc-daemon (main.conf changed)"], [("exec", "tsvc-daemon", ("reload-it",))]),
    ({"reload": None}, ["restart container tsvc-daemon (main.conf changed)"], [("restart", "tsvc-daemon")]),
    ({"restart_on": ["./main.conf"]}, ["restart container tsvc-daemon (main.conf changed)"],
     [("restart", "tsvc-daemon")]),
    ({"restart_on": ["zones/db.test"]}, ["reload container tsvc-daemon (main.conf changed)"],
     [("exec", "tsvc-daemon", ("reload-it",))]),
], ids=["reload", "no-reload", "restart-on", "restart-on-other"])
def test_a_changed_file_reloads_or_restarts(engine, cfg, change, actions, calls):
    converge(engine, inputs(cfg, containers=[daemon(cfg, **change)]))
    before = len(engine.api.calls)
    changed, containers, manager = converge(engine, inputs(cfg, files=with_file("main.conf", "a = 2\n"),
                                                           containers=[daemon(cfg, **change)]))
    assert changed and manager.actions == ["write %s/main.conf" % cfg] + actions
    assert engine.api.calls[before:] == calls
    assert disk(cfg)["main.conf"] == ("a = 2\n", 0o644)
    assert containers["tsvc-daemon"]["action"] == actions[0].split()[0]
    assert not converge(engine, inputs(cfg, files=with_file("main.conf", "a = 2\n"),
                                       containers=[daemon(cfg, **change)]))[0]


def test_a_file_the_container_does_not_mount_keeps_it(engine, cfg):
    spec = daemon(cfg, volumes=["%s/zones:/etc/zones:ro" % cfg])
    converge(engine, inputs(cfg, containers=[spec]))
    before = len(engine.api.calls)
    changed, containers, manager = converge(engine, inputs(cfg, files=with_file("main.conf", "a = 2\n"),
                                                           containers=[spec]))
    assert changed and manager.actions == ["write %s/main.conf" % cfg]
    assert engine.api.calls[before:] == [] and containers["tsvc-daemon"]["action"] == "keep"


def test_a_changed_zone_gets_a_new_serial_and_reloads(engine, cfg):
    converge(engine, inputs(cfg))
    zone = ZONE.replace("3600", "7200")
    changed, _containers, manager = converge(engine, inputs(cfg, files=with_file("zones/db.test", zone)))
    assert manager.actions == ["write %s/.vnet-serials.json" % cfg, "write %s/zones/db.test" % cfg,
                               "reload container tsvc-daemon (zones/db.test, .vnet-serials.json changed)"]
    assert disk(cfg)["zones/db.test"][0] == zone.replace("@SERIAL@", str(today() * 100 + 1))


def test_a_mode_change_is_a_change(engine, cfg):
    converge(engine, inputs(cfg))
    files = copy.deepcopy(FILES)
    files[0]["mode"] = "0640"
    _changed, _containers, manager = converge(engine, inputs(cfg, files=files))
    assert manager.actions == ["write %s/main.conf" % cfg, "reload container tsvc-daemon (main.conf changed)"]
    assert disk(cfg)["main.conf"] == ("a = 1\n", 0o640)


def test_a_failing_reload_names_the_command(engine, cfg):
    converge(engine, inputs(cfg))
    engine.api.exec_codes[("reload-it",)] = [2]
    engine.api.exec_output[("reload-it",)] = b"rndc: connect failed\n"
    with pytest.raises(S.ServiceError,
                       match="^svc: reload-it in tsvc-daemon failed \\(exit 2\\):\nrndc: connect failed$"):
        converge(engine, inputs(cfg, files=with_file("main.conf", "a = 2\n")))


def test_unlisted_files_and_emptied_directories_are_removed(engine, cfg):
    files = with_file("zones/old/db.old", "old\n")
    converge(engine, inputs(cfg, files=files))
    make_tree(cfg, ["stray.conf", "state/leases"])
    changed, _containers, manager = converge(engine, inputs(cfg, keep=["state"]))
    assert manager.actions == [
        "remove %s/stray.conf" % cfg, "remove %s/zones/old/db.old" % cfg,
        "remove directory %s/zones/old (emptied)" % cfg,
        "reload container tsvc-daemon (stray.conf, zones/old/db.old changed)"]
    assert sorted(disk(cfg)) == [".vnet-serials.json", "main.conf", "secret.key", "state/leases", "zones/db.test"]
    assert not (cfg / "zones" / "old").exists()
    assert {"before_header": "%s/stray.conf" % cfg, "after_header": "%s/stray.conf" % cfg,
            "before": "(file)\n", "after": ""} in manager.diff


# --- Service: containers --------------------------------------------------------------------------

@pytest.mark.parametrize("upset, spec_change, action, calls", [
    (lambda api: None, {"command": ["daemon", "-d"]}, "recreate container tsvc-daemon (configuration changed)",
     [("remove", "tsvc-daemon"), ("create", "tsvc-daemon"), ("start", "tsvc-daemon")]),
    (lambda api: api.images.update({IMAGE: OTHER_IMAGE_ID}), {}, "recreate container tsvc-daemon (image changed)",
     [("remove", "tsvc-daemon"), ("create", "tsvc-daemon"), ("start", "tsvc-daemon")]),
    (lambda api: api.stop("tsvc-daemon"), {}, "start container tsvc-daemon", [("start", "tsvc-daemon")]),
    (lambda api: api.containers_["tsvc-daemon"]["State"].update(Paused=True), {}, "unpause container tsvc-daemon",
     [("unpause", "tsvc-daemon")]),
    (lambda api: api.remove_container("tsvc-daemon", force=True), {}, "create container tsvc-daemon",
     [("create", "tsvc-daemon"), ("start", "tsvc-daemon")]),
], ids=["config", "image", "stopped", "paused", "gone"])
def test_containers_are_recreated_started_or_created(engine, cfg, upset, spec_change, action, calls):
    converge(engine, inputs(cfg))
    upset(engine.api)
    before = len(engine.api.calls)
    changed, containers, manager = converge(engine, inputs(cfg, containers=[daemon(cfg, **spec_change)]))
    assert changed and manager.actions == [action] and engine.api.calls[before:] == calls
    assert containers["tsvc-daemon"]["action"] == action.split()[0]
    assert not converge(engine, inputs(cfg, containers=[daemon(cfg, **spec_change)]))[0]


def test_a_recreated_container_is_not_reloaded_too(engine, cfg):
    converge(engine, inputs(cfg))
    before = len(engine.api.calls)
    _changed, _containers, manager = converge(engine, inputs(
        cfg, files=with_file("main.conf", "a = 2\n"), containers=[daemon(cfg, command=["daemon", "-d"])]))
    assert manager.actions == ["write %s/main.conf" % cfg,
                               "recreate container tsvc-daemon (configuration changed)"]
    assert ("exec", "tsvc-daemon", ("reload-it",)) not in engine.api.calls[before:]


def test_a_container_in_an_old_namespace_is_restarted(engine, cfg):
    engine.api.add("tsvc-node", {"vnet.node": "n1"})
    spec = daemon(cfg, network_mode="container:tsvc-node")
    converge(engine, inputs(cfg, containers=[spec]))
    assert not converge(engine, inputs(cfg, containers=[spec]))[0]
    engine.api.restart("tsvc-node")
    before = len(engine.api.calls)
    _changed, _containers, manager = converge(engine, inputs(cfg, containers=[spec]))
    assert manager.actions == ["restart container tsvc-daemon (its network namespace is gone)"]
    assert engine.api.calls[before:] == [("restart", "tsvc-daemon")]
    assert not converge(engine, inputs(cfg, containers=[spec]))[0]
    engine.api.stop("tsvc-node")
    assert not converge(engine, inputs(cfg, containers=[spec]))[0]


def test_a_container_never_ready_is_reported_with_its_logs(engine, cfg):
    engine.api.never_ready.add("tsvc-daemon")
    with pytest.raises(S.ServiceError) as raised:
        converge(engine, inputs(cfg, wait_timeout=2))
    assert str(raised.value) == ("svc: container tsvc-daemon not ready after 2s (/run/ready); its last lines:\n"
                                 "starting\nno config")


def test_a_wait_command_is_run_until_it_succeeds(engine, cfg):
    spec = daemon(cfg, wait_path=None, wait_command=["probe"], wait_always=True)
    engine.api.exec_codes[("probe",)] = [1, 1, 0]
    converge(engine, inputs(cfg, containers=[spec]))
    assert [c for c in engine.api.calls if c[0] == "exec"] == [("exec", "tsvc-daemon", ("probe",))] * 3
    changed, _containers, manager = converge(engine, inputs(cfg, containers=[spec]))
    assert not changed and manager.actions == []
    assert [c for c in engine.api.calls if c[0] == "exec"] == [("exec", "tsvc-daemon", ("probe",))] * 4
    engine.api.exec_codes[("probe",)] = [1]
    with pytest.raises(S.ServiceError, match="^svc: container tsvc-daemon not ready after 1s \\(probe\\)"):
        converge(engine, inputs(cfg, containers=[dict(spec, wait_timeout=1)]))


def test_containers_together_restart_the_others(engine, cfg):
    files = [{"path": "a/a.conf", "content": "a\n"}, {"path": "b/b.conf", "content": "b\n"}]
    first = daemon(cfg, name="tsvc-a", volumes=["%s/a:/etc/a:ro" % cfg])
    second = daemon(cfg, name="tsvc-b", volumes=["%s/b:/etc/b:ro" % cfg], reload=None)

    def run(files, together=True):
        before = len(engine.api.calls)
        _changed, containers, manager = converge(engine, inputs(cfg, files=files, containers=[first, second],
                                                                volumes=[], together=together))
        return manager.actions[sum(1 for a in manager.actions if a.startswith("write")):], \
            engine.api.calls[before:], containers

    assert run(files)[0] == ["create container tsvc-a", "create container tsvc-b"]
    assert run(files)[:2] == ([], [])
    files = with_file("b/b.conf", "b2\n", files)
    actions, calls, containers = run(files)
    assert actions == ["restart container tsvc-a (restarted with the others)",
                       "restart container tsvc-b (b/b.conf changed)"]
    assert calls == [("restart", "tsvc-a"), ("restart", "tsvc-b")]
    assert {name: c["action"] for name, c in containers.items()} == {"tsvc-a": "restart", "tsvc-b": "restart"}
    files = with_file("a/a.conf", "a2\n", files)
    assert run(files)[:2] == (["reload container tsvc-a (a/a.conf changed)"], [("exec", "tsvc-a", ("reload-it",))])
    files = with_file("b/b.conf", "b3\n", with_file("a/a.conf", "a3\n", files))
    assert run(files)[0] == ["restart container tsvc-a (restarted with the others)",
                             "restart container tsvc-b (b/b.conf changed)"]
    engine.api.stop("tsvc-b")
    assert run(files)[:2] == (["restart container tsvc-a (restarted with the others)", "start container tsvc-b"],
                              [("restart", "tsvc-a"), ("start", "tsvc-b")])
    files = with_file("b/b.conf", "b4\n", files)
    assert run(files, together=False)[:2] == (["restart container tsvc-b (b/b.conf changed)"],
                                              [("restart", "tsvc-b")])


def test_remove_labels_remove_stale_containers_only(engine, cfg):
    labels = {"vnet.lab": "l1", "vnet.service": "svc"}
    engine.api.add("tsvc-old", labels)
    engine.api.add("tsvc-other", dict(labels, **{"vnet.service": "other"}))
    engine.api.add("tsvc-lab2", dict(labels, **{"vnet.lab": "l2"}))
    spec = daemon(cfg, labels=labels)
    _changed, _containers, manager = converge(engine, inputs(cfg, containers=[spec], remove=labels))
    assert manager.actions[-2:] == ["create container tsvc-daemon", "remove container tsvc-old (no longer wanted)"]
    assert engine.api.calls[-1] == ("remove", "tsvc-old")
    assert sorted(engine.api.containers_) == ["tsvc-daemon", "tsvc-lab2", "tsvc-other"]
    assert not converge(engine, inputs(cfg, containers=[spec], remove=labels))[0]


# --- Service: checks before any change ------------------------------------------------------------

def refuse(staged):
    return (1, "main.conf:1: unknown option 'a'\n") if "a = 2\n" in staged["/etc/vnet"].values() else (0, "")


def test_a_refused_validation_changes_nothing(engine, cfg):
    engine.validator = refuse
    with pytest.raises(S.ServiceError) as raised:
        converge(engine, inputs(cfg, files=with_file("main.conf", "a = 2\n")))
    assert str(raised.value) == ("svc: the new configuration was refused by check /etc/vnet/main.conf "
                                 "(nothing was written):\nmain.conf:1: unknown option 'a'")
    assert not cfg.exists() and os.listdir(cfg.parent) == []
    assert engine.api.calls == [] and engine.validations[0]["removed"] is True

    converge(engine, inputs(cfg))
    calls, on_disk = list(engine.api.calls), disk(cfg)
    with pytest.raises(S.ServiceError, match="refused by check /etc/vnet/main.conf"):
        converge(engine, inputs(cfg, files=with_file("main.conf", "a = 2\n")))
    assert engine.api.calls == calls and disk(cfg) == on_disk and os.listdir(cfg.parent) == ["svc"]


def test_a_refusal_names_the_entrypoint_and_mounts_what_it_says(engine, cfg):
    engine.validator = lambda staged: (3, "")
    validate = {"image": IMAGE, "entrypoint": ["sh", "-c"], "argv": ["named-checkzone x /z/db.test"],
                "mounts": {"zones": "/z", ".": "/etc/vnet"}, "capabilities": ["NET_BIND_SERVICE"],
                "network_mode": "container:tsvc-node"}
    with pytest.raises(S.ServiceError) as raised:
        converge(engine, inputs(cfg, validate=validate))
    assert str(raised.value) == ("svc: the new configuration was refused by sh -c named-checkzone x /z/db.test "
                                 "(nothing was written):\n(no output)")
    [validation] = engine.validations
    assert sorted(validation["staged"]) == ["/etc/vnet", "/z"]
    assert sorted(validation["staged"]["/z"]) == ["db.test"]
    assert (validation["entrypoint"], validation["network_mode"], validation["cap_add"]) == (
        ["sh", "-c"], "container:tsvc-node", ["NET_BIND_SERVICE"])
    assert not cfg.exists() and engine.api.calls == []


def test_a_missing_image_is_reported_before_anything_changes(engine, cfg):
    validate = {"image": "vnet/gone:latest", "argv": ["check"]}
    with pytest.raises(S.ServiceError) as raised:
        converge(engine, inputs(cfg, validate=validate, containers=[daemon(cfg, image="vnet/missing:latest")]))
    assert str(raised.value) == ("svc: no image vnet/gone:latest, vnet/missing:latest on the engine; "
                                 "build it with the vnet.lab.images role")
    assert not cfg.exists() and engine.api.calls == [] and engine.validations == []


@pytest.mark.parametrize("changes, error", [
    ({"containers": "twice"}, "svc: container tsvc-daemon given twice"),
    ({"files": [{"path": "../escape"}]}, "svc: file '../escape' is not a relative path inside the service's directory"),
], ids=["container-twice", "bad-file"])
def test_bad_inputs_change_nothing(engine, cfg, changes, error):
    if changes.get("containers") == "twice":
        changes["containers"] = [daemon(cfg), daemon(cfg)]
    with pytest.raises(S.ServiceError, match="^%s$" % error.replace("(", "\\(").replace(")", "\\)")):
        converge(engine, inputs(cfg, **changes))
    assert not cfg.exists() and engine.api.calls == [] and engine.validations == []


def test_a_serial_out_of_range_names_the_service_and_changes_nothing(engine, cfg):
    converge(engine, inputs(cfg))
    serials = cfg / S.SERIALS_FILE
    serials.write_text(json.dumps({"zones/db.test": {"serial": S.MAX_SERIAL, "hash": "0" * 16}}))
    calls, on_disk = list(engine.api.calls), disk(cfg)
    with pytest.raises(S.ServiceError, match="^svc: file zones/db.test: serial 4294967296 does not fit in 32 bits$"):
        converge(engine, inputs(cfg))
    assert engine.api.calls == calls and disk(cfg) == on_disk


# --- Service: check mode and the diff -------------------------------------------------------------

def test_check_mode_predicts_the_first_run(engine, cfg):
    changed, containers, check = converge(engine, inputs(cfg), check_mode=True)
    assert changed and check.actions == first_actions(cfg)
    assert containers == {"tsvc-daemon": {"action": "create", "pid": None, "id": None}}
    assert not cfg.exists() and engine.api.calls == [] and engine.validations == []
    assert engine.api.containers_ == {} and engine.api.volumes_ == {}
    _changed, _containers, real = converge(engine, inputs(cfg))
    assert real.actions == check.actions and real.diff == check.diff


def test_check_mode_predicts_a_change(engine, cfg):
    converge(engine, inputs(cfg))
    calls, on_disk = list(engine.api.calls), disk(cfg)
    changed_inputs = inputs(cfg, files=with_file("zones/db.test", ZONE + "www A 192.0.2.1\n"),
                            containers=[daemon(cfg, command=["daemon", "-d"])])
    changed, _containers, check = converge(engine, changed_inputs, check_mode=True)
    assert changed and check.actions == [
        "write %s/.vnet-serials.json" % cfg, "write %s/zones/db.test" % cfg,
        "recreate container tsvc-daemon (configuration changed)"]
    assert engine.api.calls == calls and disk(cfg) == on_disk and len(engine.validations) == 1
    _changed, _containers, real = converge(engine, changed_inputs)
    assert real.actions == check.actions and real.diff == check.diff


def test_the_diff_shows_files_and_container_hashes(engine, cfg):
    _changed, _containers, manager = converge(engine, inputs(cfg))
    old_hash = S.config_hash(daemon(cfg))
    assert manager.diff[0] == {"before_header": "%s/main.conf" % cfg, "after_header": "%s/main.conf" % cfg,
                               "before": "", "after": "a = 1\n"}
    assert manager.diff[-1] == {"before_header": "container tsvc-daemon", "after_header": "container tsvc-daemon",
                                "before": "(absent)\n", "after": "vnet.config=%s (create)\n" % old_hash}
    spec = daemon(cfg, command=["daemon", "-d"])
    _changed, _containers, manager = converge(engine, inputs(cfg, containers=[spec]))
    assert manager.diff == [{"before_header": "container tsvc-daemon", "after_header": "container tsvc-daemon",
                             "before": "vnet.config=%s\n" % old_hash,
                             "after": "vnet.config=%s (recreate)\n" % S.config_hash(spec)}]


def test_secret_files_never_appear_in_the_diff(engine, cfg):
    _changed, _containers, first = converge(engine, inputs(cfg))
    secret = next(d for d in first.diff if d["before_header"].endswith("secret.key"))
    assert (secret["before"], secret["after"]) == ("", S.SECRET_TEXT)
    _changed, _containers, changed = converge(engine, inputs(cfg, files=with_file("secret.key", "hunter3\n")))
    assert changed.diff[0] == {"before_header": "%s/secret.key" % cfg, "after_header": "%s/secret.key" % cfg,
                               "before": S.SECRET_TEXT, "after": S.SECRET_TEXT}
    _changed, _containers, removed = converge(engine, inputs(cfg, files=FILES[:2]))
    assert removed.diff[0]["before"] == "(file)\n"
    for manager in (first, changed, removed):
        assert "hunter" not in json.dumps(manager.diff) + json.dumps(manager.actions)


# --- Service.absent -------------------------------------------------------------------------------

def test_absent_removes_containers_volumes_and_the_directory(engine, cfg):
    converge(engine, inputs(cfg))
    engine.api.add("tsvc-old", {"vnet.service": "svc"})
    engine.api.add("tsvc-other", {"vnet.service": "other"})
    expected = ["remove container tsvc-daemon", "remove container tsvc-old", "remove volume tsvc-data",
                "remove %s" % cfg]
    check = service(engine, check_mode=True)
    calls = list(engine.api.calls)
    assert check.absent(str(cfg), ["tsvc-daemon", "tsvc-gone"], {"vnet.service": "svc"}, ["tsvc-data", "tsvc-none"],
                        stop_timeout=5)
    assert check.actions == expected and engine.api.calls == calls and cfg.exists()
    real = service(engine)
    assert real.absent(str(cfg), ["tsvc-daemon", "tsvc-gone"], {"vnet.service": "svc"}, ["tsvc-data", "tsvc-none"],
                       stop_timeout=5)
    assert real.actions == expected
    assert engine.api.calls[len(calls):] == [("stop", "tsvc-daemon", 5), ("remove", "tsvc-daemon"),
                                             ("stop", "tsvc-old", 5), ("remove", "tsvc-old"),
                                             ("remove volume", "tsvc-data")]
    assert not cfg.exists() and sorted(engine.api.containers_) == ["tsvc-other"] and engine.api.volumes_ == {}
    again = service(engine)
    assert not again.absent(str(cfg), ["tsvc-daemon"], {"vnet.service": "svc"}, ["tsvc-data"], stop_timeout=5)
    assert again.actions == []


def test_absent_without_stop_timeout_removes_at_once(engine, cfg):
    converge(engine, inputs(cfg))
    before = len(engine.api.calls)
    assert service(engine).absent(None, ["tsvc-daemon"])
    assert engine.api.calls[before:] == [("remove", "tsvc-daemon")] and cfg.exists()


# --- converge_all ---------------------------------------------------------------------------------

def params(name, cfg, image=IMAGE, content="a = 1\n"):
    """A service's options as the argument spec validates them (containers need no /proc)."""
    return {"name": name, "state": "present", "config_dir": str(cfg),
            "files": [{"path": "main.conf", "content": content, "mode": "0644"}],
            "secret_files": [{"path": "key", "content": "hunter2\n", "mode": "0600"}], "keep": [],
            "validate": {"image": IMAGE, "argv": ["check"], "entrypoint": None, "mounts": {".": "/etc/vnet"},
                         "network_mode": "none", "capabilities": []},
            "volumes": [], "remove": None, "together": False, "wait_timeout": 5.0, "docker_host": None,
            "containers": [{"name": "tsvc-" + name, "image": image, "network_mode": "none",
                            "volumes": ["%s:/etc/vnet:ro" % cfg], "labels": {"vnet.service": name},
                            "reload": ["reload-it"]}]}


def test_converge_all_converges_every_service(engine, tmp_path):
    services = [params("s1", tmp_path / "s1"), params("s2", tmp_path / "s2")]
    managers, results = S.converge_all(engine, services, workers=2)
    assert {n: m.actions for n, m in managers.items()} == {
        n: ["write %s/%s/key" % (tmp_path, n), "write %s/%s/main.conf" % (tmp_path, n), "create container tsvc-" + n]
        for n in ("s1", "s2")}
    assert {n: r["tsvc-" + n]["action"] for n, r in results.items()} == {"s1": "create", "s2": "create"}
    assert len(engine.validations) == 2
    assert S.read_file(str(tmp_path / "s1" / "key")) == ("hunter2\n", 0o600)
    managers, results = S.converge_all(engine, services)
    assert {n: m.actions for n, m in managers.items()} == {"s1": [], "s2": []}
    check, _results = S.converge_all(engine, [params("s1", tmp_path / "s1", content="a = 2\n")], check_mode=True)
    assert check["s1"].actions == ["write %s/s1/main.conf" % tmp_path, "reload container tsvc-s1 (main.conf changed)"]
    assert S.read_file(str(tmp_path / "s1" / "main.conf"))[0] == "a = 1\n"


@pytest.mark.parametrize("second, refuse_content, errors", [
    ({"image": "vnet/missing:latest"}, None,
     ["s2: no image vnet/missing:latest on the engine; build it with the vnet.lab.images role"]),
    ({"content": "bad\n"}, "bad\n",
     ["s2: the new configuration was refused by check (nothing was written):\nbad line"]),
], ids=["prepare", "validation"])
def test_converge_all_applies_nothing_when_one_service_fails(engine, tmp_path, second, refuse_content, errors):
    engine.validator = lambda staged: (1, "bad line") if refuse_content in staged["/etc/vnet"].values() else (0, "")
    services = [params("s1", tmp_path / "s1"), params("s2", tmp_path / "s2", **second)]
    with pytest.raises(S.ServiceError) as raised:
        S.converge_all(engine, services)
    assert raised.value.errors == errors
    assert not (tmp_path / "s1").exists() and not (tmp_path / "s2").exists()
    assert engine.api.calls == [] and engine.api.containers_ == {}


def test_converge_all_collects_every_error(engine, tmp_path):
    engine.api.fail_inspect["tsvc-s2"] = "500 Server Error: boom"
    services = [params("s1", tmp_path / "s1", image="vnet/missing:latest"), params("s2", tmp_path / "s2"),
                params("s3", tmp_path / "s3")]
    services[2]["files"][0]["path"] = "/etc/passwd"
    with pytest.raises(S.ServiceError) as raised:
        S.converge_all(engine, services)
    assert raised.value.errors == [
        "s1: no image vnet/missing:latest on the engine; build it with the vnet.lab.images role",
        "s2: Docker: 500 Server Error: boom",
        "s3: file '/etc/passwd' is not a relative path inside the service's directory"]
    assert engine.api.calls == [] and not any((tmp_path / n).exists() for n in ("s1", "s2", "s3"))


def test_converge_all_reports_what_was_applied_before_a_failure(engine, tmp_path):
    services = [params("s1", tmp_path / "s1"), params("s2", tmp_path / "s2")]
    S.converge_all(engine, services)
    engine.api.exec_codes[("reload-it",)] = [1]
    engine.api.exec_output[("reload-it",)] = b"no daemon"
    services = [params("s1", tmp_path / "s1", content="a = 2\n"), params("s2", tmp_path / "s2", content="a = 2\n")]
    # One worker: the fake engine is not thread-safe, and this test is about what is reported.
    with pytest.raises(S.ServiceError) as raised:
        S.converge_all(engine, services, workers=1)
    assert raised.value.errors == ["s1: reload-it in tsvc-s1 failed (exit 1):\nno daemon",
                                   "s2: reload-it in tsvc-s2 failed (exit 1):\nno daemon"]
    assert {n: m.actions for n, m in raised.value.managers.items()} == {
        n: ["write %s/%s/main.conf" % (tmp_path, n), "reload container tsvc-%s (main.conf changed)" % n]
        for n in ("s1", "s2")}


def test_converge_all_refuses_a_service_given_twice(engine, tmp_path):
    with pytest.raises(S.ServiceError, match="^service s1 given twice$"):
        S.converge_all(engine, [params("s1", tmp_path / "a"), params("s2", tmp_path / "b"),
                                params("s1", tmp_path / "c")])


def test_converge_all_with_no_service(engine):
    assert S.converge_all(engine, []) == ({}, {})


# --- Labels for the lab's keeper; a namespace owner re-created --------------------------------------

def test_keeper_labels_say_readiness_and_unit_rank():
    assert S.keeper_labels({"wait_path": "/run/x"}) == {"vnet.ready": '["test","-e","/run/x"]'}
    assert S.keeper_labels({"wait_path": "/run/x", "wait_command": ["probe", "1"]}, "svc", 2) == {
        "vnet.ready": '["probe","1"]', "vnet.unit": "svc:2"}
    assert S.keeper_labels({}) == {}


def test_together_containers_carry_their_unit_rank_outside_the_hash(engine, cfg):
    first = daemon(cfg, name="tsvc-a", wait_path=None)
    second = daemon(cfg, name="tsvc-b", wait_path=None, wait_command=["probe"])
    converge(engine, inputs(cfg, containers=[first, second], volumes=[], together=True))
    labels = {name: engine.api.containers_[name]["Config"]["Labels"] for name in ("tsvc-a", "tsvc-b")}
    assert labels["tsvc-a"][S.LABEL_UNIT] == "svc:0" and S.LABEL_READY not in labels["tsvc-a"]
    assert labels["tsvc-b"][S.LABEL_UNIT] == "svc:1" and labels["tsvc-b"][S.LABEL_READY] == '["probe"]'
    assert labels["tsvc-b"][S.LABEL_CONFIG] == S.config_hash(second)
    assert not converge(engine, inputs(cfg, containers=[first, second], volumes=[], together=True))[0]


def test_a_container_whose_namespace_owner_was_recreated_is_recreated(engine, cfg):
    engine.api.add("tnode", {"vnet.node": "n"})
    spec = daemon(cfg, network_mode="container:tnode")
    converge(engine, inputs(cfg, containers=[spec]))
    # Docker records the owner's id; here the owner is then re-created under the same name.
    engine.api.containers_["tsvc-daemon"]["HostConfig"]["NetworkMode"] = "container:id-tnode"
    assert not converge(engine, inputs(cfg, containers=[spec]))[0]
    engine.api.containers_["tnode"]["Id"] = "id-tnode-2"
    changed, containers, manager = converge(engine, inputs(cfg, containers=[spec]))
    assert manager.actions == ["recreate container tsvc-daemon (its network namespace's container was re-created)"]
    assert containers["tsvc-daemon"]["action"] == "recreate"


# --- checks of several services in one container ------------------------------------------------

GROUPED = {"image": IMAGE, "argv": ["check", "/etc/vnet/main.conf"], "entrypoint": ["checker"],
           "mounts": {".": "/etc/vnet"}, "network_mode": "none", "capabilities": []}


def grouped_validator(staged):
    """The group's script run by hand: each staged directory's check, between the script's markers."""
    out = []
    for index in range(len(staged)):
        files = staged["%s/%d/0" % (S.VALIDATE_ROOT, index)]
        code = 1 if "a = 2\n" in files.values() else 0
        text = "bad a" if code else ""
        out.append("%s %d begin\n%s\n%s %d rc=%d\n" % (S.VALIDATE_MARK, index, text, S.VALIDATE_MARK, index, code))
    return 0, "".join(out)


def test_services_whose_checks_differ_only_by_their_files_are_checked_in_one_container(engine, tmp_path):
    services = [dict(params(name, tmp_path / name, content=content), validate=dict(GROUPED))
                for name, content in (("s1", "a = 1\n"), ("s2", "a = 2\n"), ("s3", "a = 3\n"))]
    # A check with a network, or with the image's own entrypoint, runs alone.
    services.append(dict(params("s4", tmp_path / "s4"), validate=dict(GROUPED, network_mode="container:x")))
    services.append(params("s5", tmp_path / "s5"))
    engine.validator = lambda staged: grouped_validator(staged) if S.VALIDATE_ROOT + "/0/0" in staged else (0, "")
    with pytest.raises(S.ServiceError) as raised:
        S.converge_all(engine, services)
    assert raised.value.errors == ["s2: the new configuration was refused by checker check /etc/vnet/main.conf"
                                   " (nothing was written):\nbad a"]
    assert engine.api.calls == [] and not any((tmp_path / name).exists() for name in ("s1", "s2", "s3"))
    assert len(engine.validations) == 3
    group = [v for v in engine.validations if v["entrypoint"] == ["/bin/sh"]]
    assert len(group) == 1 and sorted(group[0]["staged"]) == ["%s/%d/0" % (S.VALIDATE_ROOT, i) for i in range(3)]
    assert group[0]["network_mode"] == "none" and group[0]["cap_drop"] == ["ALL"] and group[0]["removed"]
    assert {v["modes"] == {"ro"} for v in engine.validations} == {True}
    # The staged directories are gone.
    assert [p for p in os.listdir(tmp_path) if p.startswith(".vnet-validate-")] == []
    services[1]["files"][0]["content"] = "a = 4\n"
    managers, _results = S.converge_all(engine, services)
    assert all("create container tsvc-%s" % name in managers[name].actions for name in ("s1", "s2", "s3", "s4", "s5"))


def test_the_group_script_checks_each_directory_where_the_check_reads_it():
    script = S.validation_script(dict(GROUPED, mounts={".": "/etc/vnet", "zones": "/etc/vnet/zones"}), 2)
    lines = script.splitlines()
    assert lines[0] == "set -u" and len(lines) == 7
    # Parents first: the directory, then what is mounted inside it; the image's own copy moved aside once.
    assert lines[1].startswith("if [ -e /etc/vnet ] && [ ! -e /etc/vnet.vnet-image ]; then mv /etc/vnet /etc/vnet.vnet-image; fi;")
    assert lines[1].endswith("cp -a /vnet-validate/0/0/. /etc/vnet/")
    assert lines[2].endswith("cp -a /vnet-validate/0/1/. /etc/vnet/zones/")
    assert lines[3] == ("printf '@@vnet-validate 0 begin\\n'; ( checker check /etc/vnet/main.conf ) 2>&1;"
                        " printf '\\n@@vnet-validate 0 rc=%d\\n' \"$?\"")
    assert S.validation_results("@@vnet-validate 0 begin\nfine\n@@vnet-validate 0 rc=0\n"
                                "@@vnet-validate 1 begin\nline 1: no\n\n@@vnet-validate 1 rc=2\n", 2) == [
        (0, "fine"), (2, "line 1: no")]
    # A container that died before a check's end: that check is refused with what it printed.
    assert S.validation_results("oops", 1) == [(None, "oops")]
