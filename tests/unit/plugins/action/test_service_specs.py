# SPDX-License-Identifier: GPL-3.0-or-later
"""The background half of vnet.lab.service_specs's action: the outcome a forked rendering leaves is
waited for, replayed (messages included) and removed; a rendering that ended without one is named.
The rendering itself, both ways, is tests/integration/test_service_specs.py."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vnet.lab.plugins.action import service_specs
from ansible_collections.vnet.lab.plugins.action.service_specs import JOB_PREFIX, ActionModule, _alive, _Recorder


def action():
    """The action without a task: _wait uses none of ActionBase's state."""
    return object.__new__(ActionModule)


def outcome_file(path, outcome):
    with open(path, "wb") as handle:
        pickle.dump(outcome, handle)


def test_alive_tells_a_running_process_from_an_ended_one():
    assert _alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not _alive(child.pid)


def test_the_outcome_is_returned_once_there_and_removed(tmp_path):
    path = tmp_path / (JOB_PREFIX + "1")
    services = [{"name": "lab-r1-dns"}]
    writer = threading.Timer(0.2, outcome_file, [path, {"result": {"changed": False, "services": services,
                                                                   "own_tasks": [], "_ansible_no_log": True},
                                                        "display": []}])
    writer.start()
    result = action()._wait({}, {"path": str(path), "pid": os.getpid()}, 10)
    writer.join()
    assert result == {"changed": False, "services": services, "own_tasks": [], "_ansible_no_log": True}
    assert not path.exists()


def test_the_renderings_messages_are_shown_by_the_task_that_waits(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(service_specs.display, "warning", lambda *args, **kwargs: shown.append((args, kwargs)))
    path = tmp_path / (JOB_PREFIX + "2")
    recorder = _Recorder()
    recorder.send_display("warning", "dns: zone pilab.test has no NS record", formatted=False)
    outcome_file(path, {"result": {"changed": False, "services": [], "own_tasks": []}, "display": recorder.calls})
    action()._wait({}, {"path": str(path), "pid": os.getpid()}, 10)
    assert shown == [(("dns: zone pilab.test has no NS record",), {"formatted": False})]


def test_a_failed_rendering_fails_the_task_that_waits(tmp_path):
    path = tmp_path / (JOB_PREFIX + "3")
    outcome_file(path, {"failed": "vnet.lab.service_specs: ftp: no password for carol", "display": []})
    result = action()._wait({}, {"path": str(path), "pid": os.getpid()}, 10)
    assert result == {"failed": True, "msg": "vnet.lab.service_specs: ftp: no password for carol"}


def test_a_rendering_that_ended_without_an_outcome_is_named(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    path = tmp_path / (JOB_PREFIX + "4")
    with pytest.raises(AnsibleActionFail, match=r"background rendering \(pid %d\) ended without" % child.pid):
        action()._wait({}, {"path": str(path), "pid": child.pid}, 10)


def test_a_rendering_that_takes_too_long_is_given_up(tmp_path):
    path = tmp_path / (JOB_PREFIX + "5")
    with pytest.raises(AnsibleActionFail, match="no outcome of the background rendering after 0.1s"):
        action()._wait({}, {"path": str(path), "pid": os.getpid()}, 0.1)


def test_only_a_rendering_job_is_waited_for(tmp_path):
    with pytest.raises(AnsibleActionFail, match="job must be the job a background rendering returned"):
        action()._wait({}, {"path": str(tmp_path / "secrets.json"), "pid": os.getpid()}, 1)


def test_the_recorder_refuses_to_prompt():
    with pytest.raises(AnsibleActionFail, match="cannot prompt"):
        _Recorder().send_prompt(prompt="Password:")
