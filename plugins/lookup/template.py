# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: template
short_description: A template rendered as ansible.builtin.template renders it, without copying every variable first
version_added: 0.2.0
description:
  - Renders each template with L(ansible.builtin.template,https://docs.ansible.com/ansible/latest/collections/ansible/builtin/template_lookup.html)
    itself (same search path, options and result), but hands it the variables as a layer over the task's
    variables instead of letting it make a deep copy of all of them for each call.
  - That copy was the largest single cost of rendering the service roles; it grows with every variable of the play (the lab's
    plan, the services rendered so far in a run), i.e. with the square of the lab
    (measured on the reference lab, 2 cores, 7.5 s of a 37 s profiled lab_up went to it).
  - What the template adds (C(template_vars), C(template_path) and the other C(template_*) variables) goes
    into the top layer only; the task's variables are never changed by a template.
options:
  _terms:
    description: The templates, found as M(ansible.builtin.template) finds them (a role's C(templates/) first).
    type: list
    elements: str
    required: true
  template_vars:
    description: Variables added for these templates only.
    type: dict
    default: {}
notes:
  - Every other option of the builtin lookup (C(variable_start_string), C(trim_blocks), ...) is passed to it unchanged.
seealso:
  - plugin: ansible.builtin.template
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Render a role's template with an extra variable
  ansible.builtin.set_fact:
    zone_text: "{{ lookup('vnet.lab.template', 'zone.j2', template_vars={'dns__zone': zone}) }}"
"""

RETURN = r"""
_raw:
  description: Each template's text, rendered.
  type: list
  elements: raw
"""

from collections import ChainMap

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader
from ansible.plugins.lookup import LookupBase


class SharedVariables(ChainMap):
    """The task's variables; their deep copy is a plain ChainMap, a new empty layer over the same maps.

    ansible.builtin.template deep-copies the variables it is given, only to add its own on top of them:
    a new empty layer gives it the same view at no cost and keeps the task's variables unchanged.
    (Ansible's templating takes a ChainMap, but not a subclass of it, as the variables.)
    """

    def __deepcopy__(self, memo):
        return ChainMap({}, *self.maps)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        builtin = lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)
        if builtin is None:
            raise AnsibleLookupError("vnet.lab.template: Ansible's own template lookup (ansible.builtin.template) is not found")
        return builtin.run(terms, SharedVariables(variables or {}), **kwargs)
