# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of playbooks/verify.yml: a lab's checks as probes for vnet.lab.probes, the clients'
leases, and the checks' lines from the probes' results.

Each filter is documented in the YAML file of its name beside this one; the logic is
plugins/module_utils/_verify.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _verify

STAGES = ("waits", "checks")


def verify_probes(plan, checks, stage, waited=None):
    if stage not in STAGES:
        raise ValueError("stage must be one of %s, not %r" % (", ".join(STAGES), stage))
    if stage == "waits":
        return _verify.wait_probes(plan, checks)
    return _verify.check_probes(plan, checks, waited or {})


def verify_leases(results, plan, clients):
    return _verify.leases(results or {}, plan, clients or [])


def verify_lines(results, plan, checks, captures=None, volumes=None):
    return _verify.lines(results or {}, plan, checks, captures, volumes)


def _wrap(function):
    def filter_(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise AnsibleFilterError("vnet.lab.%s: %s (%s)" % (function.__name__, exc, type(exc).__name__)) from exc
    filter_.__name__ = function.__name__
    return filter_


class FilterModule:
    def filters(self):
        return {function.__name__: _wrap(function)
                for function in (verify_probes, verify_leases, verify_lines)}
