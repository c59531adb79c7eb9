# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn a lab's plan into the web role's data.

Each filter is documented in the YAML file of its name beside this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._web import WebError, vhosts


def web_vhosts(plan, node, overrides=None):
    try:
        return vhosts(plan, node, overrides)
    except WebError as exc:
        raise AnsibleFilterError("vnet.lab.web_vhosts: %s" % exc) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.web_vhosts: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from exc


class FilterModule:
    def filters(self):
        return {"web_vhosts": web_vhosts}
