# SPDX-License-Identifier: GPL-3.0-or-later
"""Everything a lab run checks on the controller before it changes anything (the logic is in
plugins/module_utils/_preflight.py). Documented in lab_check.yml beside this file.
"""

from __future__ import annotations

import functools
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.yaml import yaml_load
from yaml import YAMLError

from ansible_collections.vnet.lab.plugins.module_utils._preflight import check

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


@functools.lru_cache(maxsize=1)
def role_specs(roles=ROLES):
    """{role: {option: spec}} of every role's main entry point in this collection.

    A spec that does not read is left out: the role's own validation at its start says why."""
    specs = {}
    for role in sorted(os.listdir(roles)):
        path = os.path.join(roles, role, "meta", "argument_specs.yml")
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml_load(handle) or {}
            specs[role] = ((data.get("argument_specs") or {}).get("main") or {}).get("options") or {}
        except (OSError, YAMLError, AttributeError):
            continue
    return specs


def lab_check(topology, inputs=None, variables=None, file=None):
    if inputs is not None and not isinstance(inputs, dict):
        raise AnsibleFilterError("vnet.lab.lab_check: inputs must be a mapping, not %s" % type(inputs).__name__)
    return check(topology, inputs or {}, variables if variables is not None else {}, role_specs(), file=file)


class FilterModule:
    def filters(self):
        return {"lab_check": lab_check}
