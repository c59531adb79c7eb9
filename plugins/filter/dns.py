# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn a lab's plan into DNS zones and name-server settings.

Each filter is documented in the YAML file of its name beside this one; the logic is
plugins/module_utils/_dns.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _dns


def _wrap(name, function):
    def filter_(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except _dns.DnsError as exc:
            raise AnsibleFilterError("vnet.lab.%s: %s" % (name, exc)) from exc
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise AnsibleFilterError("vnet.lab.%s: malformed input (%s: %s)"
                                     % (name, type(exc).__name__, exc)) from exc
    return filter_


class FilterModule:
    def filters(self):
        return {
            "dns_zones": _wrap("dns_zones", _dns.zones),
            "dns_server": _wrap("dns_server", _dns.server),
        }
