# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Name-based virtual hosts of a node's web service, derived from the lab's plan.

The planner gives the web service of a node (``plan.nodes.<node>.services.web``) its DNS
``names`` (default ``[www]`` plus the service's ``vhosts`` option) under ``plan.domain``::

    domain: pilab.test
    nodes:
      rpi1:
        services:
          web: {interface: wlan0, ipv4: 192.168.0.5/24, ipv6: null,
                names: [www, web1, web2], vhosts: [web1, web2]}

Rules:

* the virtual hosts are the service's ``names``, then each entry of its ``vhosts`` option that
  ``names`` lacks (a name the DNS does not publish still gets its site), each once;
* a name is relative to ``plan.domain`` (``web1`` -> ``web1.pilab.test``) unless it already is
  the domain or ends with ``.<domain>``, or ends with a dot (absolute, the dot is dropped);
* a virtual host is named by its fully qualified name; a relative name is kept as its alias,
  so ``Host: web1`` reaches the same site;
* the title of a site's generated page is its name; ``overrides`` (a mapping of name, relative
  or fully qualified, to ``{title, root, aliases}``) sets a title, a folder of content on the
  controller (``root``) or other aliases - a topology holds names, not files;
* names are lower-case DNS names (letters, digits, hyphens; labels of 1-63 characters).

Every problem is collected, then raised together as one ``WebError``, one line each.

``vhosts(plan, node, overrides=None)`` returns, in that order::

    - {name: www.pilab.test, aliases: [www], title: www.pilab.test, root: null}
    - {name: web1.pilab.test, aliases: [web1], title: web1.pilab.test, root: null}
"""

from __future__ import annotations

import re

OVERRIDE_KEYS = frozenset(("title", "root", "aliases"))

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DNS_NAME = re.compile(r"(?=.{1,253}\Z)%s(?:\.%s)*\Z" % (_LABEL, _LABEL))


class WebError(ValueError):
    """One or more reasons why the plan gives no virtual hosts, one per line."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def qualify(name, domain):
    """(fully qualified name, alias or None) of a service name under the lab's domain."""
    if name.endswith("."):
        return name[:-1], None
    if name == domain or name.endswith("." + domain):
        return name, None
    return "%s.%s" % (name, domain), name


def _service(plan, node, errors):
    nodes = plan.get("nodes") or {}
    if node not in nodes:
        errors.append("node %s is not in the plan (nodes: %s)" % (node, ", ".join(sorted(nodes)) or "none"))
        return None
    web = (nodes[node].get("services") or {}).get("web")
    if not isinstance(web, dict):
        errors.append("node %s runs no web service (plan.nodes.%s.services.web)" % (node, node))
        return None
    return web


def _names(node, web, errors):
    names = web.get("names")
    extra = web.get("vhosts") or []
    if not isinstance(names, list):
        errors.append("node %s: the web service's names must be a list (the planner sets them)" % node)
        return []
    if not isinstance(extra, list):
        errors.append("node %s: the web service's vhosts must be a list of names" % node)
        return []
    ordered = []
    for name in names + extra:
        if not isinstance(name, str):
            errors.append("node %s: web name %r is not a string" % (node, name))
        elif name not in ordered:
            ordered.append(name)
    return ordered


def _overrides(overrides, errors):
    """The well-formed entries of ``overrides``; a line in ``errors`` for each other one."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        errors.append("overrides must be a mapping of name to {title, root, aliases}")
        return {}
    good = {}
    for name, override in overrides.items():
        if not isinstance(override, dict):
            errors.append("override %s must be a mapping with title, root or aliases" % name)
            continue
        unknown = sorted(set(override) - OVERRIDE_KEYS)
        aliases = override.get("aliases")
        if unknown:
            errors.append("override %s: unknown key(s) %s (known: %s)"
                          % (name, ", ".join(unknown), ", ".join(sorted(OVERRIDE_KEYS))))
        elif aliases is not None and (not isinstance(aliases, list)
                                      or not all(isinstance(a, str) for a in aliases)):
            errors.append("override %s: aliases must be a list of names" % name)
        else:
            good[name] = override
    return good


def vhosts(plan, node, overrides=None):
    """The virtual hosts of ``node``'s web service, see the module docstring."""
    errors = []
    domain = plan.get("domain")
    if not isinstance(domain, str) or not DNS_NAME.match(domain):
        errors.append("the plan's domain %r is not a DNS name (plan.domain)" % (domain,))
        raise WebError(errors)
    web = _service(plan, node, errors)
    if web is None:
        raise WebError(errors)
    names = _names(node, web, errors)
    overrides = _overrides(overrides, errors)

    result = {}
    for name in names:
        fqdn, alias = qualify(name, domain)
        if not DNS_NAME.match(fqdn):
            errors.append("node %s: web name %r is not a lower-case DNS name" % (node, name))
            continue
        entry = result.get(fqdn)
        if entry is None:
            override = overrides.get(fqdn) or overrides.get(name) or {}
            entry = result[fqdn] = {
                "name": fqdn,
                "aliases": [],
                "title": override.get("title") or fqdn,
                "root": override.get("root"),
            }
            for extra in override.get("aliases") or []:
                if not DNS_NAME.match(extra):
                    errors.append("node %s: alias %r of %s is not a lower-case DNS name" % (node, extra, fqdn))
                elif extra not in entry["aliases"]:
                    entry["aliases"].append(extra)
        if alias and alias not in entry["aliases"]:
            entry["aliases"].insert(0, alias)

    owner = {}
    for entry in result.values():
        for server_name in [entry["name"]] + entry["aliases"]:
            if owner.setdefault(server_name, entry["name"]) != entry["name"]:
                errors.append("node %s: %s names both %s and %s"
                              % (node, server_name, owner[server_name], entry["name"]))

    known = set(names) | set(result)
    for name in sorted(set(overrides) - known, key=str):
        errors.append("override %s names no virtual host of node %s (they are: %s)"
                      % (name, node, ", ".join(result) or "none"))
    if errors:
        raise WebError(errors)
    return list(result.values())
