# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/callback_plugins/vnet_controller.py, loaded for every playbook of the checkout's
ansible.cfg: Ansible parses its DOCUMENTATION before any play (a YAML mistake there stops every
playbook), it lists the collections once under a Mitogen strategy only, and it freezes the objects
alive at each play's start."""

from __future__ import annotations

import gc
import importlib.util
import re
from pathlib import Path
from unittest import mock

import yaml

PLUGIN = Path(__file__).resolve().parents[3] / "playbooks" / "callback_plugins" / "vnet_controller.py"


def load():
    spec = importlib.util.spec_from_file_location("vnet_controller_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Play:
    def __init__(self, strategy):
        self.strategy = strategy


def test_documentation_is_yaml_and_names_the_callback():
    module = load()
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["name"] == module.CallbackModule.CALLBACK_NAME == PLUGIN.stem
    assert documentation["type"] == module.CallbackModule.CALLBACK_TYPE
    assert all(isinstance(line, str) for line in documentation["description"])
    assert not module.CallbackModule.CALLBACK_NEEDS_ENABLED


def test_collections_listed_once_under_mitogen_only_and_objects_frozen_at_each_play():
    module = load()
    callback = module.CallbackModule()
    with mock.patch("ansible.collections.list.list_collection_dirs", return_value=iter([b"/x"])) as listed, \
            mock.patch.object(module.gc, "freeze", wraps=gc.freeze) as freeze:
        callback.v2_playbook_on_play_start(Play("linear"))
        assert listed.call_count == 0 and freeze.call_count == 1
        callback.v2_playbook_on_play_start(Play("mitogen_linear"))
        callback.v2_playbook_on_play_start(Play("mitogen_free"))
        assert listed.call_count == 1 and freeze.call_count == 3
    gc.unfreeze()


def test_a_failed_listing_is_only_reported():
    module = load()
    callback = module.CallbackModule()
    with mock.patch("ansible.collections.list.list_collection_dirs", side_effect=OSError("gone")), \
            mock.patch.object(callback, "_display") as display, mock.patch.object(module.gc, "freeze"):
        callback.v2_playbook_on_play_start(Play("mitogen_linear"))
    assert re.search("not listed ahead.*gone", display.vvv.call_args[0][0])
