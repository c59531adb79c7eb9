# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of a lab placed over several engines (Docker hosts): each engine's view of the plan and
what that view runs. Each filter is documented in the YAML file of its name beside this one; the
logic is plugins/module_utils/_placement.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _placement


def engine_plan(plan, engine, underlay=None):
    try:
        return _placement.engine_plan(plan, engine, dict(underlay or {}))
    except _placement.PlacementError as exc:
        raise AnsibleFilterError("%d problem%s stop%s engine %s's part of lab %s before anything changes:\n%s" % (
            len(exc.errors), "" if len(exc.errors) == 1 else "s", "s" if len(exc.errors) == 1 else "",
            engine, plan.get("name"), "\n".join(exc.errors))) from None


def _wrap(function):
    def filter_(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (KeyError, TypeError, AttributeError) as exc:
            raise AnsibleFilterError("vnet.lab.%s: the plan does not have %s" % (function.__name__, exc)) from exc
    filter_.__name__ = function.__name__
    return filter_


class FilterModule:
    def filters(self):
        return {
            "engine_plan": _wrap(engine_plan),
            "engine_nodes": _wrap(_placement.engine_nodes),
            "engine_segments": _wrap(_placement.engine_segments),
            "engine_vpn_peers": _wrap(_placement.vpn_peers),
        }
