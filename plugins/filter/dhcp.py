# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter that turns a lab's plan into the DHCP scopes of one node.

Documented in dhcp_scopes.yml beside this file; the logic is plugins/module_utils/_dhcp.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _dhcp


def dhcp_scopes(plan, node):
    try:
        return _dhcp.scopes(plan, node)
    except _dhcp.DhcpError as exc:
        raise AnsibleFilterError("vnet.lab.dhcp_scopes: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("vnet.lab.dhcp_scopes: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from exc


class FilterModule:
    def filters(self):
        return {"dhcp_scopes": dhcp_scopes}
