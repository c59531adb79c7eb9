# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: service_roles
short_description: The collection's table of service roles, or what the playbooks derive from it
version_added: 0.2.0
description:
  - The service roles of vnet.lab are listed in one place, C(SERVICE_ROLES) of C(plugins/module_utils/_registry.py)
    (their order, how a lab deploys each, its DNS names and options in a topology, its image, its variables in a lab).
    This lookup gives it to playbooks and roles, so that none of them lists the roles again.
  - "Without a term, the table itself (C({role: entry}), in bring-up order)."
  - V(names) gives the names of the roles (those a lab deploys), in bring-up order.
  - "V(images) gives the images role's catalogue entries of their images, C({image: {context, description}})."
options:
  _terms:
    description: Nothing, V(names) or V(images).
    required: false
    type: list
    elements: str
notes:
  - C(docs/contributing.md) says how to add a service role.
seealso:
  - plugin: vnet.lab.service_role_vars
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Show the service roles in the order a lab brings them up
  ansible.builtin.debug:
    msg: "{{ lookup('vnet.lab.service_roles', 'names') }}"
"""

RETURN = r"""
_raw:
  description: One item, the table (a dict), the names (a list) or the catalogue entries (a dict).
  type: list
  elements: raw
"""

import copy

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.vnet.lab.plugins.module_utils import _lab, _registry


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not terms:
            return [copy.deepcopy(_registry.SERVICE_ROLES)]
        if terms == ["names"]:
            return [[name for name, entry in _registry.SERVICE_ROLES.items() if entry["deploy"]]]
        if terms == ["images"]:
            return [_lab.service_images()]
        raise AnsibleLookupError("vnet.lab.service_roles: expected no term, 'names' or 'images', not %r" % (terms,))
