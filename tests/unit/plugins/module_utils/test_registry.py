# SPDX-License-Identifier: GPL-3.0-or-later
"""The one table of service roles (_registry.SERVICE_ROLES) and what is derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.vnet.lab.plugins.module_utils import _keeper, _lab, _registry, _topology, _voip, _web
from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan

ROOT = Path(__file__).resolve().parents[4]
PILAB = make_plan(yaml.safe_load((ROOT / "examples" / "pilab.yml").read_text()))
ROLES = [name for name, entry in _registry.SERVICE_ROLES.items() if entry["deploy"]]


def test_the_orders_follow_the_table():
    assert _lab.SERVICE_ORDER == ("ospf", "dns", "dhcp", "web", "ftp", "voip")
    assert _lab.HOST_ROLES == ("client",)
    assert _lab.USER_SERVICES == frozenset(("dns", "dhcp", "web", "ftp", "voip"))
    # The keeper runs alone in the node image (standard library only): its copy of the order.
    assert _keeper.SERVICE_ORDER == _registry.roles("node", "vpn")
    assert _keeper.LAST == _registry.roles("hosts")


def test_a_topology_declares_the_services_of_the_table():
    assert _topology.SERVICES == {"dhcp": ["dhcp"], "dns": ["ns1"], "ftp": ["ftp"], "ipsec": [],
                                  "monitor": ["monitor"], "ospf": [], "voip": ["voip"], "web": ["www"]}
    assert _topology.SERVICE_OPTIONS == {
        "dhcp": ("default_lease_time", "max_lease_time", "min_lease_time", "range", "serve"), "web": ("vhosts",)}
    # A table's list is not the planner's: a plan's names never change the table.
    _topology.SERVICES["dns"].append("x")
    try:
        assert _registry.SERVICE_ROLES["dns"]["names"] == ["ns1"]
    finally:
        _topology.SERVICES["dns"].pop()


def test_the_images_of_the_service_roles():
    assert sorted(_lab.service_images()) == ["client", "dhcp", "dns", "ftp", "ospf", "strongswan", "voip", "web"]
    assert _lab.service_images()["strongswan"]["context"] == "strongswan"
    assert _lab.lab_images({"nodes": {"r1": {"kind": "router", "services": {"dns": {}}}, "h1": {"kind": "host"}},
                            "vpn": {"t": {}}}) == ["node", "strongswan", "dns", "client"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_of_the_table_exists_with_its_image_and_its_variables(role):
    """A role of the table has its directory, its image's build context, and declares every variable
    the table gives it in a lab."""
    entry = _registry.SERVICE_ROLES[role]
    assert (ROOT / "roles" / role / "tasks" / "main.yml").is_file()
    assert (ROOT / "roles" / "images" / "files" / entry["image"] / "Dockerfile").is_file()
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    declared = {name for spec in specs["argument_specs"].values() for name in spec.get("options") or {}}
    assert {"%s_%s" % (role, key) for key in entry["vars"]} <= declared


# What playbooks/tasks/service.yml gave each role before the table, written out (each role's only).
def _before(plan, node, role, ftp_users=(), extensions=(), sites=None):
    svc = plan["nodes"][node].get("services", {}).get(role) or {}
    return {
        "ospf": lambda: {"ospf_lab": plan["name"], "ospf_node": node, "ospf_plan": plan},
        "dns": lambda: {"dns_lab": plan["name"], "dns_node": node, "dns_plan": plan},
        "dhcp": lambda: {"dhcp_lab": plan["name"], "dhcp_node": node, "dhcp_plan": plan},
        "web": lambda: {"web_lab": plan["name"], "web_node": node, "web_ipv4": svc.get("ipv4"),
                        "web_ipv6": svc.get("ipv6"), "web_vhosts": _web.vhosts(plan, node, sites or {})},
        "ftp": lambda: {"ftp_lab": plan["name"], "ftp_node": node, "ftp_ipv4": svc.get("ipv4"),
                        "ftp_ipv6": svc.get("ipv6"), "ftp_users": list(ftp_users)},
        "voip": lambda: {"voip_lab": plan["name"], "voip_node": node, "voip_server": _voip.server(plan, node),
                         "voip_extensions": list(extensions), "voip_verify_phones": {}},
        "client": lambda: {"client_lab": plan["name"], "client_node": node, "client_plan": plan},
    }[role]()


@pytest.mark.parametrize("deployment", _lab.lab_services(PILAB), ids=lambda d: "%s-%s" % (d["node"], d["role"]))
def test_role_vars_are_what_service_yml_gave_each_role(deployment):
    node, role = deployment["node"], deployment["role"]
    users = [{"name": "student", "password": "s3cret"}]
    extensions = [{"number": "2001", "password": "p"}]
    sites = {"web2": {"root": "/srv/web2"}} if role == "web" else None
    inputs = {"ftp_users": users, "voip_extensions": extensions, "web_sites": sites or {}, "network_mode": None}
    assert _lab.role_vars(PILAB, node, role, inputs) == _before(PILAB, node, role, users, extensions, sites)


def test_an_input_the_lab_does_not_give_is_left_to_the_role():
    assert "ftp_users" not in _lab.role_vars(PILAB, "rpi1", "ftp", {})
    assert _lab.role_vars(PILAB, "rpi1", "dns", {"network_mode": "host"})["dns_network_mode"] == "host"
    assert "dns_network_mode" not in _lab.role_vars(PILAB, "rpi1", "dns", {"network_mode": None})
