# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.service_specs renders each service exactly as its role does, through ansible-playbook.

For every example lab, in one run, every (node, role) of the lab is rendered by
vnet.lab.service_specs, in the background and at once, and by including the role on its node
(playbooks/tasks/service.yml, deferred): the options must be equal. Then its refusals, at once and
in the background: a role's own problem (an FTP user without a password) and an unknown node,
named before anything runs. Nothing touches the Docker engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLAYBOOK = HERE / "playbooks" / "service_specs.yml"
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.yml"))


def playbook(tmp_path, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", json.dumps({"ansible_python_interpreter": sys.executable,
                                 "vnet_lab_state_root": str(tmp_path / "state")}), *extra, str(PLAYBOOK)]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_each_service_is_rendered_as_its_role_renders_it(tmp_path):
    examples = [str(ROOT / "examples" / name) for name in EXAMPLES]
    proc = playbook(tmp_path, "-e", json.dumps({"test_examples": examples}))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for name in EXAMPLES:
        assert "Compare the renderings of %s" % (ROOT / "examples" / name) in proc.stdout
    assert "failed=0" in proc.stdout


def test_a_site_with_a_folder_is_left_to_its_role(tmp_path):
    site = tmp_path / "www"
    site.mkdir()
    sites = {"www.pilab.test": {"root": str(site)}}
    proc = playbook(tmp_path, "-e", json.dumps({"test_examples": [str(ROOT / "examples" / "pilab.yml")],
                                                "vnet_lab_web_sites": sites}))
    # The comparison fails on own_tasks: the web service is not rendered, but named.
    assert proc.returncode != 0
    assert "test_rendered.own_tasks | length == 0" in proc.stdout, proc.stdout[-3000:]


@pytest.mark.parametrize("background", [False, True], ids=["at-once", "background"])
def test_problems_are_named_before_anything_runs(tmp_path, background):
    proc = playbook(tmp_path, "-e", json.dumps({"test_examples": [str(ROOT / "examples" / "pilab.yml")],
                                                "test_background_only": background,
                                                "vnet_lab_ftp_users": [{"name": "carol", "password": ""}]}))
    assert proc.returncode != 0
    assert "vnet.lab.service_specs: ftp: no password for carol" in proc.stdout, proc.stdout[-3000:]
    # The background rendering failed, not the task that started it: the one that waits for it.
    assert ("TASK [Take the rendering from the background]" in proc.stdout) == background, proc.stdout[-3000:]
    assert "Include each role" not in proc.stdout
