# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that derive a node's IPsec connections, and how to check each tunnel, from a lab's plan;
and the check of a node's pre-shared keys for the ipsec role used alone.

Each filter is documented in the YAML file of its name beside this one; the logic is
plugins/module_utils/_ipsec.py, and for the keys the lab's own check (_preflight.psk_problems).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._ipsec import IpsecError, connections, probes
from ansible_collections.vnet.lab.plugins.module_utils._preflight import psk_problems


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


def ipsec_psk_problems(connections_, psk, where="ipsec_psk"):
    if not isinstance(connections_, list) or not all(isinstance(c, dict) and "name" in c for c in connections_):
        raise AnsibleFilterError("vnet.lab.ipsec_psk_problems: the input must be a list of connections, each with a name")
    tunnels = {c["name"]: {"auth": c.get("auth", "psk")} for c in connections_}
    return psk_problems(tunnels, psk, where=where, whole_lab=False)


class FilterModule:
    def filters(self):
        return {"ipsec_connections": ipsec_connections, "ipsec_probes": ipsec_probes,
                "ipsec_psk_problems": ipsec_psk_problems}
