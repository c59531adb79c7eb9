# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that derive a node's IPsec connections, and how to check each tunnel, from a lab's plan.

Each filter is documented in the YAML file of its name beside this one; the logic is
plugins/module_utils/_ipsec.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._ipsec import IpsecError, connections, probes


def ipsec_connections(plan, vpn, node):
    try:
        return connections(plan, vpn, node)
    except IpsecError as exc:
        raise AnsibleFilterError("vnet.lab.ipsec_connections: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.ipsec_connections: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from exc


def ipsec_probes(plan, vpn):
    try:
        return probes(plan, vpn)
    except IpsecError as exc:
        raise AnsibleFilterError("vnet.lab.ipsec_probes: %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"ipsec_connections": ipsec_connections, "ipsec_probes": ipsec_probes}
