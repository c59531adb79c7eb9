# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.probes' logic against a fake Docker client: validation, concurrency, until, stdin,
steps, after, and what a Docker error or a crash becomes."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from docker.errors import NotFound

from ansible_collections.vnet.lab.plugins.module_utils import _probes


class FakeAPI:
    """Runs ``handler(container, argv, stdin) -> (rc, stdout, stderr)`` for each exec."""

    def __init__(self, handler, running_polls=0):
        self.handler = handler
        self.running_polls = running_polls
        self.execs = {}
        self.started = []
        self.lock = threading.Lock()

    def exec_create(self, container, cmd, stdin=False):
        if container == "missing":
            raise NotFound('No such container: missing')
        with self.lock:
            exec_id = "exec%d" % len(self.execs)
            self.execs[exec_id] = {"container": container, "argv": list(cmd), "stdin": stdin, "polls": 0}
        return {"Id": exec_id}

    def _run(self, exec_id, stdin=None):
        spec = self.execs[exec_id]
        with self.lock:
            self.started.append((spec["container"], spec["argv"], time.monotonic()))
        spec["rc"], out, err = self.handler(spec["container"], spec["argv"], stdin)
        return out.encode() or None, err.encode() or None

    def exec_start(self, exec_id, detach=False, demux=False, socket=False):  # pylint: disable=redefined-outer-name
        if detach:
            self._run(exec_id)
            return b""
        if socket:
            return self._socket(exec_id)
        assert demux
        return self._run(exec_id)

    def _socket(self, exec_id):
        """A socket pair: the other end reads the exec's stdin to its end, then answers in frames."""
        mine, theirs = socket.socketpair()

        def serve():
            data = b""
            while True:
                chunk = theirs.recv(4096)
                if not chunk:
                    break
                data += chunk
            out, err = self._run(exec_id, data.decode())
            for stream, payload in ((1, out), (2, err)):
                if payload:
                    theirs.sendall(struct.pack(">BxxxL", stream, len(payload)) + payload)
            theirs.close()

        threading.Thread(target=serve, daemon=True).start()
        return mine

    def exec_inspect(self, exec_id):
        spec = self.execs[exec_id]
        spec["polls"] += 1
        if spec["polls"] <= self.running_polls:
            return {"Running": True, "ExitCode": None}
        return {"Running": False, "ExitCode": spec.get("rc")}


class FakeClient:
    def __init__(self, handler, **options):
        self.api = FakeAPI(handler, **options)


class FakeClock:
    """Time that only moves when the runner sleeps (or an exec takes ``step`` seconds)."""

    def __init__(self, step=0.0):
        self.now = 0.0
        self.step = step

    def __call__(self):
        self.now += self.step
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def echo(_container, argv, _stdin):
    return 0, " ".join(argv[1:]) + "\n", ""


def runner(handler=echo, clock=None, **options):
    clock = clock or FakeClock()
    return _probes.Runner(FakeClient(handler, **options), clock=clock, sleep=clock.sleep)


# -- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("probes, errors", [
    ([{"name": "a", "argv": ["true"]}], ["probe 'a': no container"]),
    ([{"name": "a", "container": "c"}], ["probe 'a': no argv"]),
    ([{"container": "c", "argv": ["true"]}], ["probe 1: no name"]),
    ([{"name": "a", "container": "c", "argv": ["x"]}, {"name": "a", "container": "c", "argv": ["y"]}],
     ["probe 'a': given 2 times"]),
    ([{"name": "a", "container": "c", "argv": ["x"], "steps": [{"container": "c", "argv": ["y"]}]}],
     ["probe 'a': either steps or container and argv, not both"]),
    ([{"name": "a", "steps": [{"container": "c", "argv": ["y"]}, {"container": "c"}]}],
     ["probe 'a' step 2: no argv"]),
    ([{"name": "a", "container": "c", "argv": ["x"], "detach": True, "until": {"rc": 0}}],
     ["probe 'a': a detached exec has no output to wait for and takes no stdin"]),
    ([{"name": "a", "container": "c", "argv": ["x"], "until": {"patterns": [{"regex": "("}], "timeout": 0}}],
     ["probe 'a': until pattern 1 '(': missing ), unterminated subpattern at position 0",
      "probe 'a': until timeout must be above 0, not 0"]),
    ([{"name": "a", "container": "c", "argv": ["x"], "after": ["b"]}], ["probe 'a': after 'b', which is not a probe"]),
    ([{"name": "a", "container": "c", "argv": ["x"], "after": ["b"]},
      {"name": "b", "container": "c", "argv": ["x"], "after": ["a"]}],
     ["probes wait for each other: a -> b -> a"]),
], ids=["no container", "no argv", "no name", "twice", "steps and argv", "step without argv", "detach until",
        "bad until", "after", "cycle"])
def test_a_bad_probe_list_fails_with_every_problem(probes, errors):
    with pytest.raises(_probes.ProbeError) as caught:
        runner().run(probes)
    assert caught.value.errors == errors


def test_nothing_to_run_gives_nothing():
    assert runner().run([]) == {}


# -- running ----------------------------------------------------------------------------------

def test_results_by_name_in_the_order_given():
    results = runner().run([{"name": "b", "container": "c", "argv": ["echo", "two"]},
                            {"name": "a", "container": "c", "argv": ["echo", "one"]}])
    assert list(results) == ["b", "a"]
    assert results["a"] == {"rc": 0, "stdout": "one\n", "stderr": "", "error": None, "ok": True, "attempts": 1,
                            "duration": 0.0, "skipped": False}


def test_probes_run_at_once():
    def slow(_container, _argv, _stdin):
        time.sleep(0.3)
        return 0, "", ""

    started = time.monotonic()
    results = _probes.Runner(FakeClient(slow)).run(
        [{"name": str(n), "container": "c", "argv": ["sleep"]} for n in range(8)])
    assert time.monotonic() - started < 1.2
    assert all(result["ok"] for result in results.values())


def test_a_failed_exit_code_is_returned_not_raised():
    result = runner(lambda *_: (3, "", "boom\n")).run([{"name": "a", "container": "c", "argv": ["false"]}])["a"]
    assert (result["ok"], result["rc"], result["stderr"]) == (False, 3, "boom\n")


def test_a_docker_error_is_the_probes_error():
    result = runner().run([{"name": "a", "container": "missing", "argv": ["true"]}])["a"]
    assert result["ok"] is False and result["rc"] is None
    assert result["error"].startswith("missing: ") and "No such container: missing" in result["error"]


def test_the_exit_code_is_waited_for_when_docker_still_says_running():
    result = runner(lambda *_: (7, "", ""), running_polls=3).run([{"name": "a", "container": "c", "argv": ["x"]}])
    assert result["a"]["rc"] == 7


def test_stdin_is_written_and_closed_and_the_streams_kept_apart():
    def script(_container, argv, stdin):
        assert argv == ["lftp"]
        return 1, stdin.upper(), "530 Login incorrect.\n"

    result = runner(script).run([{"name": "ftp", "container": "c", "argv": ["lftp"], "stdin": "open ftp\nls\n"}])
    assert result["ftp"]["stdout"] == "OPEN FTP\nLS\n"
    assert (result["ftp"]["rc"], result["ftp"]["stderr"]) == (1, "530 Login incorrect.\n")


def test_a_detached_exec_succeeds_once_started():
    api_runner = runner(lambda *_: (None, "", ""))
    result = api_runner.run([{"name": "cap", "container": "c", "argv": ["dumpcap"], "detach": True}])["cap"]
    assert (result["ok"], result["rc"], result["stdout"]) == (True, None, "")


# -- until ------------------------------------------------------------------------------------

@pytest.mark.parametrize("until, rc, stdout, met", [
    ({}, 0, "", True),
    ({}, 1, "", False),
    ({"rc": 1}, 1, "", True),
    ({"rc": 0}, None, "", False),
    ({"patterns": [{"regex": "ESTABLISHED"}, {"regex": "INSTALLED"}]}, 0, "ESTABLISHED, INSTALLED", True),
    ({"patterns": [{"regex": "ESTABLISHED"}, {"regex": "INSTALLED"}]}, 0, "ESTABLISHED, CONNECTING", False),
    ({"patterns": [{"regex": r'"state":\s*"Full', "min": 2}]}, 0, '"state":"Full\\/-"\n"state": "Full\\/DR"', True),
    ({"patterns": [{"regex": r'"state":\s*"Full', "min": 2}]}, 0, '"state":"Full\\/-"\n"nbrState":"Full"', False),
    ({"patterns": [{"regex": "^O>\\* ", "min": 0}]}, 0, "", True),
])
def test_condition(until, rc, stdout, met):
    assert _probes.condition_met(until, rc, stdout) is met


def test_until_repeats_the_exec_until_the_condition_holds():
    answers = iter(["CONNECTING", "CONNECTING", "ESTABLISHED INSTALLED"])
    clock = FakeClock()
    result = runner(lambda *_: (0, next(answers), ""), clock=clock).run(
        [{"name": "sa", "container": "c", "argv": ["swanctl"],
          "until": {"patterns": [{"regex": "INSTALLED"}], "timeout": 20, "interval": 0.5}}])["sa"]
    assert (result["ok"], result["attempts"], result["stdout"]) == (True, 3, "ESTABLISHED INSTALLED")
    assert result["duration"] == 1.0


def test_until_gives_up_after_its_timeout_with_the_last_attempt():
    clock = FakeClock()
    result = runner(lambda *_: (0, "CONNECTING", ""), clock=clock).run(
        [{"name": "sa", "container": "c", "argv": ["swanctl"],
          "until": {"patterns": [{"regex": "INSTALLED"}], "timeout": 2, "interval": 0.5}}])["sa"]
    assert (result["ok"], result["attempts"], result["stdout"]) == (False, 5, "CONNECTING")


def test_until_keeps_trying_while_the_container_is_missing():
    clock = FakeClock()
    result = runner(clock=clock).run(
        [{"name": "sa", "container": "missing", "argv": ["x"], "until": {"timeout": 1, "interval": 0.5}}])["sa"]
    assert result["attempts"] == 3 and result["ok"] is False and "No such container" in result["error"]


# -- steps and after --------------------------------------------------------------------------

def test_steps_run_in_order_and_stop_at_the_first_failure():
    def script(_container, argv, _stdin):
        return (1 if argv[0] == "fail" else 0), argv[0] + "\n", ""

    api_runner = runner(script)
    results = api_runner.run([
        {"name": "good", "steps": [{"container": "c", "argv": ["one"]}, {"container": "c", "argv": ["two"]}]},
        {"name": "bad", "steps": [{"container": "c", "argv": ["fail"]}, {"container": "c", "argv": ["never"]}]},
    ])
    assert results["good"]["ok"] and results["good"]["stdout"] == "two\n"
    assert [step["stdout"] for step in results["good"]["steps"]] == ["one\n", "two\n"]
    assert not results["bad"]["ok"] and len(results["bad"]["steps"]) == 1
    assert "never" not in [argv[0] for _container, argv, _at in api_runner.api.started]


def test_after_waits_for_its_predecessors_and_skips_when_one_failed():
    def script(_container, argv, _stdin):
        time.sleep(0.2 if argv[0] == "slow" else 0)
        return (1 if argv[0] == "fail" else 0), "", ""

    api_runner = _probes.Runner(FakeClient(script))
    results = api_runner.run([
        {"name": "call", "container": "c", "argv": ["call"], "after": ["registered", "capture"]},
        {"name": "registered", "container": "c", "argv": ["slow"]},
        {"name": "capture", "container": "c", "argv": ["fast"]},
        {"name": "stats", "container": "c", "argv": ["stats"], "after": ["broken"]},
        {"name": "broken", "container": "c", "argv": ["fail"]},
    ])
    started = {argv[0]: at for _container, argv, at in api_runner.api.started}
    assert started["call"] >= started["slow"] + 0.2
    assert results["call"]["ok"]
    assert results["stats"] == {"rc": None, "stdout": "", "stderr": "", "error": "not run: broken failed",
                                "ok": False, "skipped": True, "attempts": 0, "duration": 0.0}
    assert "stats" not in started


def test_a_crash_in_a_probe_is_raised_once_all_have_ended():
    def script(_container, argv, _stdin):
        if argv[0] == "crash":
            raise RuntimeError("bug")
        return 0, "", ""

    with pytest.raises(RuntimeError, match="bug"):
        runner(script).run([{"name": "a", "container": "c", "argv": ["crash"]},
                            {"name": "b", "container": "c", "argv": ["ok"], "after": ["a"]}])


class VolumesAPI:
    def __init__(self, volumes):
        self.volumes_listed = volumes
        self.filters = None

    def volumes(self, filters=None):
        self.filters = filters
        return {"Volumes": self.volumes_listed}


class Stat:
    def __init__(self, blocks, available, size=4096):
        self.f_blocks, self.f_bavail, self.f_frsize = blocks, available, size


def test_volume_space_reads_each_volume_of_the_lab_and_calls_a_nearly_full_one_full():
    api = VolumesAPI([{"Name": "lab-b", "Mountpoint": "/v/b"}, {"Name": "lab-a", "Mountpoint": "/v/a"},
                      {"Name": "lab-c", "Mountpoint": "/elsewhere"}])
    stats = {"/v/a": Stat(1000000, 500000), "/v/b": Stat(1000000, 3000)}

    def statvfs(path):
        if path not in stats:
            raise FileNotFoundError(path)
        return stats[path]

    space = _probes.volume_space(api, "lab", statvfs=statvfs)
    assert api.filters == {"label": "vnet.lab=lab"}
    assert list(space) == ["lab-a", "lab-b", "lab-c"]
    assert space["lab-a"] == {"mountpoint": "/v/a", "size": 4096000000, "free": 2048000000, "full": False}
    # 12 MB left of 4 GB: under 16 MiB (the smaller of the two bounds) is full.
    assert space["lab-b"]["full"] is True
    assert space["lab-c"] == {"mountpoint": "/elsewhere", "size": None, "free": None, "full": False}


def test_a_small_volume_is_full_under_five_percent():
    space = _probes.volume_space(VolumesAPI([{"Name": "v", "Mountpoint": "/v"}]), "lab",
                                 statvfs=lambda path: Stat(1000, 49))
    assert space["v"]["full"] is True
    space = _probes.volume_space(VolumesAPI([{"Name": "v", "Mountpoint": "/v"}]), "lab",
                                 statvfs=lambda path: Stat(1000, 51))
    assert space["v"]["full"] is False
