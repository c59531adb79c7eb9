# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: state_dir
short_description: A path under the one directory that holds every lab's files on a target
version_added: 0.2.0
description:
  - Joins the state root with the given parts, e.g. V(/var/lib/vnet/labs/pilab/services/rpi1-dns).
  - Every role and playbook of the collection takes the directories it writes on a target from this lookup
    (the lab's plan and node plans, each service's configuration, FTP users, IPsec keys and PKI, reports),
    so one variable, O(root) (C(vnet_lab_state_root)), moves all of them, and taking a lab down
    (M(vnet.lab.nodes) with O(vnet.lab.nodes#module:state=absent)) removes C(<root>/<lab>) whole.
  - The path is not created nor looked at; it is a path on the target, computed on the controller.
options:
  _terms:
    description: Relative parts joined under the root, e.g. the lab's name, V(services), V(rpi1-dns); none gives the root.
    type: list
    elements: str
    required: false
  root:
    description:
      - The state root, an absolute path on the target. Empty or unset takes V(/var/lib/vnet/labs).
    type: str
    vars:
      - name: vnet_lab_state_root
notes:
  - A part that is empty, absolute, or holds V(.) or V(..) is refused, so no role writes outside the root.
seealso:
  - module: vnet.lab.nodes
"""

EXAMPLES = r"""
- name: Serve a zone, its configuration under the lab's directory
  ansible.builtin.include_role:
    name: vnet.lab.dns
  vars:
    dns_lab: demo
    dns_node: ns1
    # The role's default, shown here: /var/lib/vnet/labs/demo/services/ns1-dns
    dns_config_dir: "{{ lookup('vnet.lab.state_dir', 'demo', 'services', 'ns1-dns') }}"

- name: Keep every lab's files under /srv/labs instead (for the whole play)
  ansible.builtin.import_playbook: vnet.lab.lab_up
  vars:
    vnet_lab_state_root: /srv/labs
"""

RETURN = r"""
_raw:
  description: The path, one string.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.vnet.lab.plugins.module_utils import _lab


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        root = self.get_option("root")
        # A variable reaches a lookup's options as written: "{{ playbook_dir }}/labs" is templated here.
        if isinstance(root, str) and self._templar is not None:
            root = self._templar.template(root)
        try:
            return [_lab.state_dir(root, *terms)]
        except ValueError as exc:
            raise AnsibleLookupError("vnet.lab.state_dir: %s" % exc) from exc
