#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: service_specs
short_description: The services of every node of a lab, rendered by their roles at once, for one vnet.lab.services call
version_added: 0.3.0
description:
  - Renders, on the controller, what each service role of O(services) would hand to M(vnet.lab.service) on its
    node, without running the role. Its variables are the role's C(defaults/main.yml), the controller's variables, the role's
    C(vars/main.yml) and the role's variables in the lab (the collection's table of service roles, as
    C(playbooks/tasks/service.yml) gives them), in that order of precedence, extra variables above all,
    as Ansible would; then the role's C(<role>__problems) (what its first task asserts) and its
    C(<role>__service) (the options of its one M(vnet.lab.service) call), templated from those layers with the
    role's C(templates/) on the search path.
  - One task renders a lab's services whatever their number, where including each role on each node cost
    several tasks per (node, role); the result goes to one M(vnet.lab.services) call.
  - A role that needs more than its one call on some node (C(<role>__batchable) false, for example a web site
    with a folder to copy) is left to its own tasks, and named in RV(own_tasks).
  - Every problem of every service is reported at once, before anything changes. Nothing runs on a target.
  - With O(background=true) the rendering runs in a process of its own on the controller and the task returns at
    once with RV(job); a later task with O(job) waits for it and returns what the rendering returned (its
    RV(services) and RV(own_tasks), or its failure, and the warnings it gave). The controller renders while the
    target works, for example while the engine makes a lab's nodes.
author:
  - vnet.lab developers (!UNKNOWN)
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details: Nothing is ever changed.
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    support: full
    description: Runs on the controller only, as an action plugin; nothing runs on a target.
options:
  services:
    description:
      - The services to render, as the C(vnet.lab.lab_services) filter lists them.
      - Required unless O(job) is given; with O(plan).
    type: list
    elements: dict
    suboptions:
      node:
        description: The node of the lab that runs the service.
        type: str
        required: true
      role:
        description: The collection's service role (C(dns), C(dhcp), C(web), ...).
        type: str
        required: true
      vars:
        description:
          - Variables of the role on this node, above those the collection's table of service roles gives it (for a
            role the table does not deploy on nodes, such as C(ipsec), all of them).
        type: dict
        default: {}
  plan:
    description: The lab's plan (M(vnet.lab.address_plan)). Required with O(services).
    type: dict
  inputs:
    description:
      - The lab's inputs that roles take (C(ftp_users), C(voip_extensions), C(web_sites), C(network_mode)); a
        missing or null one leaves the role's default.
    type: dict
    default: {}
  background:
    description:
      - Render in a process forked on the controller and return at once with RV(job), to be waited for with
        O(job). Its outcome, which holds the services' secrets, is kept until then in the run's private
        temporary directory (mode 600), and removed by the task that waits or when the run ends.
    type: bool
    default: false
  job:
    description:
      - The RV(job) of an earlier task with O(background=true) of the same run; the task waits for its outcome.
      - Mutually exclusive with O(services) and O(background).
    type: dict
    suboptions:
      path:
        description: Where the rendering leaves its outcome.
        type: path
        required: true
      pid:
        description: The rendering's process, watched while waiting.
        type: int
        required: true
  timeout:
    description: Seconds to wait for the outcome of O(job).
    type: float
    default: 600
notes:
  - The result holds the services' secret files (FTP users, SIP digests), so it is never shown.
seealso:
  - module: vnet.lab.service
  - module: vnet.lab.services
"""

EXAMPLES = r"""
- name: Render every node's services
  vnet.lab.service_specs:
    services: "{{ topology_plan | vnet.lab.lab_services }}"
    plan: "{{ topology_plan }}"
    inputs:
      ftp_users: "{{ vnet_lab_ftp_users }}"
  register: rendered

- name: Run them at once
  vnet.lab.services:
    services: "{{ rendered.services }}"

- name: Render in the background ...
  vnet.lab.service_specs:
    services: "{{ topology_plan | vnet.lab.lab_services }}"
    plan: "{{ topology_plan }}"
    background: true
  register: rendering

- name: ... while the target works
  ansible.builtin.include_role:
    name: vnet.lab.topology

- name: Take the rendered services
  vnet.lab.service_specs:
    job: "{{ rendering.job }}"
  register: rendered
"""

RETURN = r"""
services:
  description: The options of M(vnet.lab.service) for each rendered service, validated by its argument specification.
  returned: unless O(background=true)
  type: list
  elements: dict
own_tasks:
  description: The services left to their role's own tasks (C({node, role, vars})), in the order given.
  returned: unless O(background=true)
  type: list
  elements: dict
  sample: [{node: rpi1, role: web, vars: {}}]
job:
  description: The background rendering, to give to O(job).
  returned: with O(background=true)
  type: dict
  sample: {path: /root/.ansible/tmp/ansible-local-4242xyz/vnet-service-specs-1f0e..., pid: 4243}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vnet.lab.plugins.module_utils._service import SPECS_OPTIONS, specs_argument_spec


def main():
    module = AnsibleModule(argument_spec=specs_argument_spec(), supports_check_mode=True, **SPECS_OPTIONS)
    module.fail_json(msg="vnet.lab.service_specs runs on the controller, through its action plugin")


if __name__ == "__main__":
    main()
