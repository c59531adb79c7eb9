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
    description: The services to render, as the C(vnet.lab.lab_services) filter lists them.
    type: list
    elements: dict
    required: true
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
    description: The lab's plan (M(vnet.lab.address_plan)).
    type: dict
    required: true
  inputs:
    description:
      - The lab's inputs that roles take (C(ftp_users), C(voip_extensions), C(web_sites), C(network_mode)); a
        missing or null one leaves the role's default.
    type: dict
    default: {}
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
"""

RETURN = r"""
services:
  description: The options of M(vnet.lab.service) for each rendered service, validated by its argument specification.
  returned: always
  type: list
  elements: dict
own_tasks:
  description: The services left to their role's own tasks (C({node, role, vars})), in the order given.
  returned: always
  type: list
  elements: dict
  sample: [{node: rpi1, role: web, vars: {}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vnet.lab.plugins.module_utils._service import specs_argument_spec


def main():
    module = AnsibleModule(argument_spec=specs_argument_spec(), supports_check_mode=True)
    module.fail_json(msg="vnet.lab.service_specs runs on the controller, through its action plugin")


if __name__ == "__main__":
    main()
