#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: services
short_description: Several network services of a lab, converged at once in one call
version_added: 0.2.0
description:
  - Converges every service of O(services) as M(vnet.lab.service) converges one, in parallel, in three phases
    so that a problem anywhere stops the run before anything changes. First every service is prepared (its
    inputs checked, its images looked up, its files and containers compared; nothing is written). Then every
    service whose files change is checked by its C(validate) command in a throwaway container (one container for
    all services whose checks differ only by their files, i.e. same image, explicit entrypoint, argv and mounts, no
    network). Only when
    all of them passed are the changes applied, the services at once, each service's containers in its order.
  - The lab playbook C(playbooks/lab_up.yml) gathers the services that its roles would converge one by
    one (the action of M(vnet.lab.service) defers them when C(vnet_lab_service_defer) is true) and converges
    them all with one call of this module, so that the services of different nodes do not wait for each other.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
  - The module runs on the Docker host (the services' files are bind-mounted from it).
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The content of secret files is never shown.
  idempotent:
    support: full
options:
  services:
    description:
      - The services, each with the options of M(vnet.lab.service) (C(state=present) only), as validated by
        that module's argument specification.
    type: list
    elements: dict
    required: true
  workers:
    description: How many services are handled at the same time.
    type: int
    default: 8
  docker_host:
    description: Docker daemon to talk to; defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
seealso:
  - module: vnet.lab.service
"""

EXAMPLES = r"""
- name: Converge every service the roles deferred, at once
  vnet.lab.services:
    services: "{{ vnet_lab_service_deferred }}"
"""

RETURN = r"""
actions:
  description: Per service, what was done (or would be done in check mode), one sentence per action, in order.
  returned: always
  type: dict
  sample:
    pilab-rpi1-dns:
      - write /var/lib/vnet/labs/pilab/services/rpi1-dns/zones/db.pilab.test
      - reload container pilab-rpi1-dns (zones/db.pilab.test changed)
services:
  description: Per service, per container, the action taken (V(keep) when none), its ID and the PID of its init.
  returned: always
  type: dict
  sample:
    pilab-rpi1-dns:
      pilab-rpi1-dns: {action: reload, id: 4f1c..., pid: 4242}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vnet.lab.plugins.module_utils._service import (
    ServiceError,
    argument_spec,
    converge_all,
)

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="list", elements="dict", required=True),
            workers=dict(type="int", default=8),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    validator = ArgumentSpecValidator(argument_spec())
    services, errors = [], []
    for index, element in enumerate(module.params["services"]):
        validated = validator.validate(element)
        module.no_log_values.update(validated._no_log_values)
        name = element.get("name") or "services[%d]" % index
        errors.extend("%s: %s" % (name, message) for message in validated.error_messages)
        if validated.validated_parameters.get("state") != "present":
            errors.append("%s: only state=present services are converged together" % name)
        services.append(validated.validated_parameters)
    if errors:
        module.fail_json(msg="\n".join(errors))
    managers = {}
    try:
        options = dict(version="auto", max_pool_size=max(10, 2 * module.params["workers"]))
        client = docker.DockerClient(base_url=module.params["docker_host"], **options) \
            if module.params["docker_host"] else docker.from_env(**options)
        managers, results = converge_all(client, services, check_mode=module.check_mode,
                                         workers=module.params["workers"])
    except ServiceError as exc:
        managers = getattr(exc, "managers", {})
        actions = {name: manager.actions for name, manager in managers.items() if manager.actions}
        module.fail_json(msg=str(exc), actions=actions, changed=bool(actions))
    except DockerException as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())
    actions = {name: manager.actions for name, manager in managers.items() if manager.actions}
    for manager in managers.values():
        for warning in manager.warnings:
            module.warn(warning)
    result = {"changed": bool(actions), "actions": actions, "services": results}
    if module._diff:
        result["diff"] = [entry for name in sorted(managers) for entry in managers[name].diff]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
