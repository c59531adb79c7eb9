# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import copy

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _web

PLAN = {
    "name": "demo",
    "domain": "pilab.test",
    "routing": "none",
    "nodes": {
        "rpi1": {
            "kind": "router",
            "loopback": {"ipv4": "10.0.0.1/32", "ipv6": None},
            "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": {
                "wlan0": {"segment": "wlan", "ipv4": "192.168.0.1/24", "ipv6": None, "dhcp": False,
                          "mtu": None, "secondary": ["192.168.0.5/24"]},
            },
            "routes": [],
            "services": {
                "web": {"interface": "wlan0", "ipv4": "192.168.0.5/24", "ipv6": None,
                        "names": ["www", "web1", "web2"], "vhosts": ["web1", "web2"]},
            },
        },
        "h1": {
            "kind": "host",
            "loopback": None,
            "gateway": {"ipv4": "192.168.0.1", "ipv6": None},
            "interfaces": {},
            "routes": [],
            "services": {},
        },
    },
    "segments": {},
}


def plan_with(**web):
    plan = copy.deepcopy(PLAN)
    plan["nodes"]["rpi1"]["services"]["web"].update(web)
    return plan


def site(name, aliases, title=None, root=None):
    return {"name": name, "aliases": aliases, "title": title or name, "root": root}


def test_reference_vhosts_are_qualified_with_the_domain_in_name_order():
    assert _web.vhosts(PLAN, "rpi1") == [
        site("www.pilab.test", ["www"]),
        site("web1.pilab.test", ["web1"]),
        site("web2.pilab.test", ["web2"]),
    ]


@pytest.mark.parametrize("web, expected", [
    ({"names": ["www"], "vhosts": None}, [site("www.pilab.test", ["www"])]),
    # A vhost the DNS names lack still gets its site, after the names.
    ({"names": ["www"], "vhosts": ["intranet"]},
     [site("www.pilab.test", ["www"]), site("intranet.pilab.test", ["intranet"])]),
    # Already in the domain, or absolute: no alias.
    ({"names": ["www.pilab.test", "portal.example.org."], "vhosts": []},
     [site("www.pilab.test", []), site("portal.example.org", [])]),
    # The same host relative and qualified is one site.
    ({"names": ["www", "www.pilab.test"], "vhosts": ["www"]}, [site("www.pilab.test", ["www"])]),
    ({"names": ["pilab.test"], "vhosts": []}, [site("pilab.test", [])]),
    ({"names": [], "vhosts": []}, []),
])
def test_names_and_vhosts(web, expected):
    assert _web.vhosts(plan_with(**web), "rpi1") == expected


def test_overrides_set_title_root_and_aliases_by_either_name():
    overrides = {
        "web1": {"title": "Web one", "aliases": ["one.pilab.test"]},
        "web2.pilab.test": {"root": "/srv/sites/web2"},
    }
    assert _web.vhosts(PLAN, "rpi1", overrides) == [
        site("www.pilab.test", ["www"]),
        site("web1.pilab.test", ["web1", "one.pilab.test"], title="Web one"),
        site("web2.pilab.test", ["web2"], root="/srv/sites/web2"),
    ]


def test_the_plan_is_not_changed():
    plan = copy.deepcopy(PLAN)
    _web.vhosts(plan, "rpi1", {"www": {"aliases": ["home"]}})
    assert plan == PLAN


@pytest.mark.parametrize("plan, node, overrides, errors", [
    (PLAN, "r9", None, ["node r9 is not in the plan (nodes: h1, rpi1)"]),
    (PLAN, "h1", None, ["node h1 runs no web service (plan.nodes.h1.services.web)"]),
    (dict(PLAN, domain=None), "rpi1", None, ["the plan's domain None is not a DNS name (plan.domain)"]),
    (dict(PLAN, domain="Pi Lab"), "rpi1", None, ["the plan's domain 'Pi Lab' is not a DNS name (plan.domain)"]),
    (plan_with(names="www"), "rpi1", None,
     ["node rpi1: the web service's names must be a list (the planner sets them)"]),
    (plan_with(vhosts="web1"), "rpi1", None, ["node rpi1: the web service's vhosts must be a list of names"]),
    (plan_with(names=["www", "Web1", "web_2", 3]), "rpi1", None, [
        "node rpi1: web name 3 is not a string",
        "node rpi1: web name 'Web1' is not a lower-case DNS name",
        "node rpi1: web name 'web_2' is not a lower-case DNS name",
    ]),
    (PLAN, "rpi1", {"web3": {"title": "Three"}},
     ["override web3 names no virtual host of node rpi1 (they are: www.pilab.test, web1.pilab.test, web2.pilab.test)"]),
    (PLAN, "rpi1", {"www": {"titel": "Home"}, "web1": "Web one", "web2": {"aliases": "two"}}, [
        "override www: unknown key(s) titel (known: aliases, root, title)",
        "override web1 must be a mapping with title, root or aliases",
        "override web2: aliases must be a list of names",
    ]),
    (PLAN, "rpi1", ["www"], ["overrides must be a mapping of name to {title, root, aliases}"]),
    (PLAN, "rpi1", {"www": {"aliases": ["web1", "Bad Name"]}}, [
        "node rpi1: alias 'Bad Name' of www.pilab.test is not a lower-case DNS name",
        "node rpi1: web1 names both www.pilab.test and web1.pilab.test",
    ]),
])
def test_errors_are_collected_and_name_the_value(plan, node, overrides, errors):
    with pytest.raises(_web.WebError) as exc:
        _web.vhosts(plan, node, overrides)
    assert exc.value.errors == errors
    assert str(exc.value) == "\n".join(errors)


@pytest.mark.parametrize("name, expected", [
    ("www", ("www.pilab.test", "www")),
    ("a.b", ("a.b.pilab.test", "a.b")),
    ("www.pilab.test", ("www.pilab.test", None)),
    ("pilab.test", ("pilab.test", None)),
    ("host.example.org.", ("host.example.org", None)),
    ("xpilab.test", ("xpilab.test.pilab.test", "xpilab.test")),
])
def test_qualify(name, expected):
    assert _web.qualify(name, "pilab.test") == expected
