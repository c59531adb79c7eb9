# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn a lab's plan into a router's FRRouting OSPF configuration: frr.conf, and the
daemons file that goes with it.

Documented in ospf_config.yml and ospf_daemons.yml beside this file; the logic is
plugins/module_utils/_ospf.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._ospf import OspfError, daemons_file, frr_config


def ospf_config(plan, node, area="0.0.0.0", profile="lab", router_id=None):
    try:
        return frr_config(plan, node, area=area, profile=profile, router_id=router_id)
    except OspfError as exc:
        raise AnsibleFilterError("vnet.lab.ospf_config: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        # Not chained: Ansible would repeat the cause's text after the message.
        raise AnsibleFilterError("vnet.lab.ospf_config: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from None


def ospf_daemons(config, node, lab):
    if not isinstance(config, str):
        raise AnsibleFilterError("vnet.lab.ospf_daemons: the input must be the text of frr.conf, got %s"
                                 % type(config).__name__)
    return daemons_file(config, node, lab)


class FilterModule:
    def filters(self):
        return {"ospf_config": ospf_config, "ospf_daemons": ospf_daemons}
