# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn a lab's plan into an inspect table, a picture, and the lists the playbooks walk.

Each filter is documented in the YAML file of its name beside this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _lab, _voip, _web


def _wrap(function):
    def filter_(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (KeyError, TypeError) as exc:
            raise AnsibleFilterError("vnet.lab.%s: the plan does not have %s" % (function.__name__, exc))
    return filter_


def inspect_table(plan, states=None):
    return _lab.format_table(_lab.inspect_rows(plan, states))


def service_role_vars(plan, node, role, inputs=None):
    # The inputs may hold secrets (FTP users, SIP extensions): no error quotes them.
    try:
        return _lab.role_vars(plan, node, role, inputs)
    except _web.WebError as exc:
        raise AnsibleFilterError("vnet.lab.web_vhosts: %s" % exc) from exc
    except _voip.VoipError as exc:
        raise AnsibleFilterError("vnet.lab.voip_server: %s" % exc) from exc
    except KeyError as exc:
        raise AnsibleFilterError("vnet.lab.service_role_vars: no service role, node or plan entry %s" % exc) from None


class FilterModule:
    def filters(self):
        return {
            "inspect_table": _wrap(inspect_table),
            "topology_dot": _wrap(_lab.topology_dot),
            "node_states": _wrap(_lab.node_states),
            "lab_services": _wrap(_lab.lab_services),
            "lab_images": _wrap(_lab.lab_images),
            "service_addresses": _wrap(_lab.service_addresses),
            "ospf_expectations": _wrap(_lab.ospf_expectations),
            "name_lookups": _wrap(_lab.name_lookups),
            "service_role_vars": service_role_vars,
        }
