# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter of playbooks/measure.yml: the probes of a bounded traffic phase from a lab's plan.

Documented in measure_probes.yml beside this file; the logic is plugins/module_utils/_traffic.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _traffic


def measure_probes(plan, options=None):
    try:
        return _traffic.probes(plan, options)
    except ValueError as exc:
        raise AnsibleFilterError("vnet.lab.measure_probes: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.measure_probes: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from exc


class FilterModule:
    def filters(self):
        return {"measure_probes": measure_probes}
