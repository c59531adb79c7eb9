#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: firewall
short_description: Accept a lab's routed traffic in a board's firewall, and only that
version_added: 0.2.0
description:
  - Docker Engine, when it starts and finds IPv4 forwarding off (a board at boot, or right after the engine's
    installation, before the lab's plan turns forwarding on), sets the FORWARD policy to DROP, and the lab's
    routed traffic is dropped. This module accepts it, between the lab's interfaces and nowhere else, in one
    call.
  - A chain of its own (O(chain)) holds one C(ACCEPT) per pair (in, out) of O(interfaces); O(parent) (Docker's
    C(DOCKER-USER), which FORWARD jumps to first) jumps to it as its first rule, and is made when missing (before
    the engine's first start). Traffic from or to any other interface (the management port, Docker's bridges)
    is left to the rules after it.
  - The chain is written with C(iptables-restore --noflush), one atomic change; rules are compared with what
    C(iptables -S) prints, so an unchanged rule set changes nothing.
  - With O(save), the spec is also written as JSON to that file, which C(python3 _firewall.py FILE) (this
    collection's C(plugins/module_utils/_firewall.py), standard library only) applies at boot, before the
    engine starts; the vnet.lab.board_network role installs both and the unit that runs them.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - C(iptables) and C(iptables-restore) (C(ip6tables) for IPv6) on the host running the module, and root there.
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  interfaces:
    description:
      - The lab's interfaces between which routed traffic is accepted (the node's planned interfaces and its
        tunnel devices, see P(vnet.lab.forward_interfaces#filter)). Required with O(state=present).
    type: list
    elements: str
    default: []
  chain:
    description: The chain of this module's rules (flushed and rewritten when they differ).
    type: str
    default: VNET-LAB
  parent:
    description: The chain that jumps to O(chain) first.
    type: str
    default: DOCKER-USER
  families:
    description:
      - Address families to configure. A family whose tool is missing or whose table does not answer is skipped
        with a warning (Docker 20.10 leaves IPv6 forwarding alone; later versions with C(ip6tables) do not).
    type: list
    elements: str
    choices: [ipv4, ipv6]
    default: [ipv4, ipv6]
  save:
    description:
      - File to write the spec to (JSON, mode 0644, its directory made when missing), for the boot unit that
        applies it again before the engine starts. Not written when absent, removed with O(state=absent).
    type: path
  state:
    description: V(present) writes the rules; V(absent) removes the jump and the chain.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - plugin: vnet.lab.forward_interfaces
    plugin_type: filter
  - module: vnet.lab.interfaces
"""

EXAMPLES = r"""
- name: Accept the lab's routed traffic between the board's lab ports and its tunnel
  vnet.lab.firewall:
    interfaces: [eth1, eth2, eth3, wlan0, ipsec0]
    save: /etc/vnet/firewall.json

- name: Accept it between the ports the plan gives this board
  vnet.lab.firewall:
    interfaces: "{{ plan | vnet.lab.forward_interfaces(inventory_hostname) }}"
"""

RETURN = r"""
actions:
  description: What was done (or would be done in check mode), one sentence per action, in order.
  returned: always
  type: list
  elements: str
  sample:
    - "ipv4: write chain VNET-LAB: accept routed traffic between eth1 eth2 (4 rules)"
    - "ipv4: jump from DOCKER-USER to VNET-LAB first"
rules:
  description: The rules of O(chain) (as C(iptables -S) prints them) with O(state=present), else none.
  returned: always
  type: list
  elements: str
  sample:
    - -A VNET-LAB -i eth1 -o eth2 -j ACCEPT
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vnet.lab.plugins.module_utils._firewall import (
    FirewallError,
    Runner,
    apply,
    chain_rules,
    normalize,
)


class Firewall:
    def __init__(self, module):
        self.module = module

    def saved(self, path, spec):
        """Bring the saved spec file to ``spec`` (None: absent); return the action's text or None."""
        try:
            with open(path) as handle:
                current = json.load(handle)
        except FileNotFoundError:
            current = None
        except (OSError, ValueError):
            current = False
        if current == spec:
            return None
        if spec is None:
            if not self.module.check_mode:
                os.remove(path)
            return "remove %s" % path
        if not self.module.check_mode:
            directory = os.path.dirname(path) or "."
            os.makedirs(directory, mode=0o755, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=directory, prefix=".vnet-firewall.")
            with os.fdopen(handle, "w") as out:
                json.dump(spec, out, indent=2, sort_keys=True)
                out.write("\n")
            os.chmod(temporary, 0o644)
            self.module.atomic_move(temporary, path)
        return "write %s" % path

    def run(self):
        params = self.module.params
        spec = {key: params[key] for key in ("interfaces", "chain", "parent", "families", "state")}
        try:
            spec = normalize(spec)
            result = apply(Runner(), spec, check_mode=self.module.check_mode)
        except FirewallError as exc:
            self.module.fail_json(msg=str(exc))
        for text in result["warnings"]:
            self.module.warn(text)
        actions = list(result["actions"])
        if params["save"]:
            text = self.saved(params["save"], spec if spec["state"] == "present" else None)
            if text:
                actions.append(text)
        output = {"changed": bool(actions), "actions": actions,
                  "rules": chain_rules(spec) if spec["state"] == "present" else []}
        if self.module._diff:
            output["diff"] = {"before": result["before"], "after": result["after"]}
        self.module.exit_json(**output)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interfaces=dict(type="list", elements="str", default=[]),
            chain=dict(type="str", default="VNET-LAB"),
            parent=dict(type="str", default="DOCKER-USER"),
            families=dict(type="list", elements="str", choices=["ipv4", "ipv6"], default=["ipv4", "ipv6"]),
            save=dict(type="path"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    Firewall(module).run()


if __name__ == "__main__":
    main()
