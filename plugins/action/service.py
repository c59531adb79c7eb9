# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action of vnet.lab.service: run the module, or defer the service to one vnet.lab.services call.

When the variable ``vnet_lab_service_defer`` names a batch (the lab playbooks set it while they
include the service roles of every node), a service with ``state: present`` is not converged now:
its options are checked here, on the controller, and appended to the batch in the fact
``vnet_lab_service_deferred`` (``{batch: [options, ...]}``, the current batch only), which the
playbook then hands to one ``vnet.lab.services`` call that converges every service at once.
Otherwise the module runs as any module does.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.vnet.lab.plugins.module_utils._service import argument_spec

DEFER_VARIABLE = "vnet_lab_service_defer"
DEFERRED_FACT = "vnet_lab_service_deferred"


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        batch = self._templar.template(task_vars.get(DEFER_VARIABLE) or "")
        if not batch or self._task.args.get("state", "present") != "present":
            result.update(self._execute_module(module_name="vnet.lab.service", module_args=self._task.args,
                                               task_vars=task_vars))
            return result
        validated = ArgumentSpecValidator(argument_spec()).validate(self._task.args)
        if validated.error_messages:
            raise AnsibleActionFail("%s: %s" % (self._task.args.get("name", "vnet.lab.service"),
                                                "; ".join(validated.error_messages)))
        batch = str(batch)
        previous = ((task_vars.get("ansible_facts") or {}).get(DEFERRED_FACT) or {}).get(batch) or []
        name = validated.validated_parameters["name"]
        deferred = [params for params in previous if params["name"] != name] + [validated.validated_parameters]
        # The options hold secrets (secret_files): the result is never shown.
        result.update(changed=False, deferred=True, _ansible_no_log=True,
                      ansible_facts={DEFERRED_FACT: {batch: deferred}})
        return result
