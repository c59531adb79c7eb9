# SPDX-License-Identifier: GPL-3.0-or-later
"""The address plan of a lab, on the controller: the same computation as the module
vnet.lab.address_plan, without a module call. Documented in address_plan.yml beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.module_utils._topology import TopologyError


def address_plan(topology):
    if not isinstance(topology, dict):
        raise AnsibleFilterError("vnet.lab.address_plan: the topology must be a mapping, not %s"
                                 % type(topology).__name__)
    try:
        plan = make_plan(topology)
    except TopologyError as exc:
        raise AnsibleFilterError("the topology has %d problem%s:\n%s" % (
            len(exc.errors), "" if len(exc.errors) == 1 else "s", "\n".join(exc.errors))) from None
    for note in plan.get("routing_notes") or []:
        Display().warning(note)
    return plan


class FilterModule:
    def filters(self):
        return {"address_plan": address_plan}
