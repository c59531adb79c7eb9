# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.modules import address_plan

TOPOLOGY = {
    "name": "demo",
    "routing": "static",
    "nodes": {"r1": {"kind": "router"}, "r2": {"kind": "router"}, "h1": {"kind": "host"}},
    "links": [
        {"endpoints": ["r1:eth1", "r2:eth1"]},
        {"endpoints": ["r1:eth2", "h1:eth0"], "ipv4": "192.168.1.0/24"},
    ],
}

BAD = {
    "name": "demo",
    "nodes": {"r1": {"kind": "router"}, "h1": {"kind": "host"}},
    "links": [
        {"endpoints": ["r1:eth1", "h9:eth0"]},
        {"endpoints": ["r1:eth2", {"node": "h1", "ifname": "eth0", "ipv4": "192.168.2.5/24"}],
         "ipv4": "192.168.1.0/24"},
    ],
}


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            address_plan.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def test_returns_the_plan_unchanged(capsys):
    code, result = run_module(capsys, {"topology": TOPOLOGY})
    assert code == 0
    assert result["changed"] is False
    assert result["plan"] == make_plan(TOPOLOGY)
    assert result["plan"]["nodes"]["h1"]["gateway"]["ipv4"] == "192.168.1.1"


@pytest.fixture
def warned(monkeypatch):
    """What the module warns about. (Ansible keeps warnings per process, and shows them
    instead once a test has loaded controller code: the module's call is what counts.)"""
    seen = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: seen.append(warning))
    return seen


def test_routing_notes_are_also_warnings(capsys, warned):
    topology = dict(TOPOLOGY, nodes=dict(TOPOLOGY["nodes"], r3={"kind": "router"}, h3={"kind": "host"}),
                    links=TOPOLOGY["links"] + [{"endpoints": ["r2:eth2", "r3:eth1"]},
                                               {"endpoints": ["r3:eth2", "h3:eth0"], "ipv4": "192.168.1.0/24"}])
    code, result = run_module(capsys, {"topology": topology})
    assert code == 0
    assert result["plan"]["routing_notes"] == [
        "routing: prefix 192.168.1.0/24 is reachable at 2 sites (segments h1-eth0 and h3-eth0) from r2: "
        "left out of its static routes; pin distinct prefixes or route it yourself",
    ]
    assert warned == result["plan"]["routing_notes"]


def test_no_notes_no_warnings(capsys, warned):
    code, result = run_module(capsys, {"topology": TOPOLOGY})
    assert code == 0
    assert result["plan"]["routing_notes"] == []
    assert warned == []


def test_check_mode_gives_the_same_plan(capsys):
    code, result = run_module(capsys, {"topology": TOPOLOGY, "_ansible_check_mode": True})
    assert code == 0
    assert result["changed"] is False
    assert result["plan"] == make_plan(TOPOLOGY)


def test_a_bad_topology_fails_once_with_every_problem(capsys):
    code, result = run_module(capsys, {"topology": BAD})
    assert code == 1
    assert result["failed"] is True
    assert result["errors"] == [
        "link 1 (r1:eth1, h9:eth0): unknown node h9",
        "link 2 (r1:eth2, h1:eth0): address 192.168.2.5/24 of h1:eth0 is outside the prefix 192.168.1.0/24",
    ]
    assert result["msg"] == "\n".join(result["errors"])
    assert "plan" not in result


def test_topology_is_required(capsys):
    code, result = run_module(capsys, {})
    assert code == 1
    assert result["msg"] == "missing required arguments: topology"


def test_topology_must_be_a_dict(capsys):
    code, result = run_module(capsys, {"topology": "name: demo"})
    assert code == 1
    assert "topology" in result["msg"] and "dict" in result["msg"]


def test_without_netaddr_the_module_says_so(capsys, monkeypatch):
    monkeypatch.setattr(address_plan, "HAS_NETADDR", False)
    monkeypatch.setattr(address_plan, "NETADDR_IMPORT_ERROR", "ImportError: no netaddr")
    code, result = run_module(capsys, {"topology": TOPOLOGY})
    assert code == 1
    assert "netaddr" in result["msg"]


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(address_plan.DOCUMENTATION)
    assert doc["module"] == "address_plan"
    assert doc["options"] == {"topology": {"description": doc["options"]["topology"]["description"],
                                           "type": "dict", "required": True}}
    assert doc["extends_documentation_fragment"] == ["vnet.lab.attributes"]
    assert {k: v["support"] for k, v in doc["attributes"].items()} == {
        "check_mode": "full", "diff_mode": "none", "idempotent": "full"}
    returned = yaml.safe_load(address_plan.RETURN)
    assert set(returned) == {"plan", "errors"}
    assert set(returned["plan"]["contains"]) == set(make_plan(TOPOLOGY))
    examples = yaml.safe_load(address_plan.EXAMPLES)
    assert all("name" in task for task in examples)


def test_without_pyyaml_the_module_says_so(capsys, monkeypatch):
    monkeypatch.setattr(address_plan, "HAS_YAML", False)
    code, result = run_module(capsys, {"topology": TOPOLOGY})
    assert code == 1
    assert "PyYAML" in result["msg"]
