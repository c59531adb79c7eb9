# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every molecule scenario (molecule/<name>/) as one test, so `pytest tests` is the whole suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
# Scenarios held out of the suite, each with its reason (run them by hand: molecule test -s NAME).
HELD_OUT = {}


def _playbook_shim(bindir, tmp_path_factory):
    """A directory whose ansible-playbook answers ``--version`` from one real answer and runs the
    venv's ansible-playbook for anything else: molecule asks ``ansible-playbook --version`` before
    every phase (~0.45 s of CPU each, 70 times a suite), to check what the first answer shows."""
    shim = tmp_path_factory.mktemp("playbook-shim")
    version = subprocess.run([os.path.join(bindir, "ansible-playbook"), "--version"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout
    (shim / "version").write_text(version, encoding="utf-8")
    script = shim / "ansible-playbook"
    script.write_text('#!/bin/sh\nif [ "$#" = 1 ] && [ "$1" = --version ]; then exec cat "%s"; fi\nexec "%s" "$@"\n'
                      % (shim / "version", os.path.join(bindir, "ansible-playbook")), encoding="utf-8")
    script.chmod(0o755)
    return str(shim)


@pytest.fixture(scope="module")
def playbook_shim(tmp_path_factory):
    return _playbook_shim(os.path.dirname(sys.executable), tmp_path_factory)


def _engine_answers():
    docker = shutil.which("docker")
    return docker is not None and subprocess.run(
        [docker, "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
        check=False).returncode == 0


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", [
    pytest.param(name, marks=pytest.mark.skip(reason=HELD_OUT[name])) if name in HELD_OUT else name
    for name in SCENARIOS])
def test_scenario(scenario, playbook_shim):
    if not _engine_answers():
        pytest.skip("no Docker Engine answers (make test starts one)")
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=os.pathsep.join([playbook_shim, bindir, os.environ.get("PATH", "")]),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    # VNET_TEST_LOG_DIR keeps every scenario's whole output there, each task timed (where its time goes).
    log_dir = os.environ.get("VNET_TEST_LOG_DIR")
    if log_dir:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    result = subprocess.run(
        [os.path.join(bindir, "molecule"), "test", "-s", scenario], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        Path(log_dir, "molecule-%s.log" % scenario).write_text(result.stdout, encoding="utf-8")
    assert result.returncode == 0, "molecule test -s %s failed:\n%s" % (scenario, result.stdout[-20000:])
