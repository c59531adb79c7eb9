# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action of vnet.lab.service_specs: each (node, role) of a lab rendered as its role would, in one task.

A service role is its defaults, its vars (what it derives, ``<role>__problems`` and ``<role>__service``
among them) and one ``vnet.lab.service`` call whose options are ``<role>__service``. Rendering that
variable with the role's variables layered as Ansible layers them gives the same options as including
the role, without the includes, set_facts and tasks that cost ~0.5 s per (node, role).
"""

from __future__ import annotations

import os
from collections import ChainMap

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.vars import load_extra_vars

from ansible_collections.vnet.lab.plugins.module_utils import _lab, _registry
from ansible_collections.vnet.lab.plugins.module_utils._service import argument_spec, specs_argument_spec

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _role_files(self, role, cache):
        """The role's directory, defaults and vars (its templates trusted, as Ansible loads them)."""
        if role not in cache:
            role_dir = os.path.join(ROLES_DIR, role)
            layers = []
            for name in ("defaults", "vars"):
                path = os.path.join(role_dir, name, "main.yml")
                data = self._loader.load_from_file(path, trusted_as_template=True) if os.path.exists(path) else None
                layers.append(dict(data or {}))
            cache[role] = (role_dir, layers[0], layers[1])
        return cache[role]

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(specs_argument_spec()).validate(self._task.args)
        if validated.error_messages:
            raise AnsibleActionFail("vnet.lab.service_specs: %s" % "; ".join(validated.error_messages))
        args = validated.validated_parameters
        plan, inputs = args["plan"], args["inputs"] or {}
        extra_vars = load_extra_vars(self._loader)
        service_spec = argument_spec()
        cache, specs, own, problems = {}, [], [], []
        for entry in args["services"]:
            node, role = entry["node"], entry["role"]
            if role not in _registry.SERVICE_ROLES or not os.path.isdir(os.path.join(ROLES_DIR, role)):
                problems.append("%s: no service role %s in vnet.lab" % (node, role))
                continue
            if node not in plan.get("nodes", {}):
                problems.append("%s %s: no node %s in lab %s" % (node, role, node, plan.get("name")))
                continue
            role_dir, defaults, role_vars = self._role_files(role, cache)
            where = {"role_path": role_dir, "role_name": "vnet.lab." + role, "ansible_role_name": "vnet.lab." + role,
                     "ansible_search_path": [role_dir]}
            variables = ChainMap(extra_vars, entry["vars"] or {}, _lab.role_vars(plan, node, role, inputs), role_vars,
                                 where, task_vars, defaults)
            templar = self._templar.copy_with_new_env(available_variables=variables)
            if "%s__batchable" % role in role_vars and not templar.resolve_variable_expression("%s__batchable" % role):
                own.append({"node": node, "role": role, "vars": entry["vars"] or {}})
                continue
            if "%s__problems" % role in role_vars:
                problems.extend(templar.resolve_variable_expression("%s__problems" % role))
            options = templar.resolve_variable_expression("%s__service" % role)
            checked = ArgumentSpecValidator(service_spec).validate(options)
            if checked.error_messages:
                problems.append("%s %s: %s" % (node, role, "; ".join(checked.error_messages)))
                continue
            specs.append(checked.validated_parameters)
        if problems:
            raise AnsibleActionFail("vnet.lab.service_specs: " + " ".join(str(problem) for problem in problems))
        # The options hold secrets (secret_files): the result is never shown.
        result.update(changed=False, services=specs, own_tasks=own, _ansible_no_log=True)
        return result
