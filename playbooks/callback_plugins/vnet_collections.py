# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: vnet_collections
type: aggregate
short_description: Under Mitogen, the installed collections are listed once in the controller, not at each module call
description:
  - Mitogen's planner lists every installed collection (importing each one and parsing its C(meta/runtime.yml))
    before it runs a module of a collection, in the worker process of that task. A worker is a fresh fork of
    the controller for each task, so the whole list was made again at every call of a C(vnet.lab) or
    C(community.docker) module (the C(ansible) package brings about ninety collections; measured here
    0.23 s a call, 0.04 s once they are imported).
  - This callback lists them once in the controller when a play that runs under a Mitogen strategy starts,
    so every worker forked after it inherits them. It changes nothing else, prints nothing, and does nothing
    under another strategy (C(ANSIBLE_STRATEGY=linear)).
  - It sits beside the collection's playbooks (C(playbooks/callback_plugins/)), where ansible-playbook loads
    it by itself for them.
"""

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "vnet_collections"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listed = False

    def v2_playbook_on_play_start(self, play):
        if self._listed or not str(getattr(play, "strategy", "") or "").startswith("mitogen"):
            return
        self._listed = True
        try:
            from ansible.collections.list import list_collection_dirs

            for _path in list_collection_dirs():
                pass
        except Exception as exc:  # only an optimisation: the workers list them as before
            self._display.vvv("vnet_collections: the collections were not listed ahead (%s)" % exc)
