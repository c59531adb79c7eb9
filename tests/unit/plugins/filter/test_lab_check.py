# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.lab_check, the checks of playbooks/tasks/check.yml: every bad input of
tests/golden/errors/ gives its lines, and nothing it holds is a secret.

A golden error file is one bad input of a lab run:

* ``topology``: the topology; absent, that of ``tests/golden/plans/badlab.yml`` (the lab that
  tests/integration/test_bad_input.py keeps running while it runs every case through lab_up.yml);
* ``topology_text``: instead, the text of the topology file (null: there is no such file), named
  ``<case>.yml``;
* ``vars``: inventory variables over badlab's ``vars`` (secrets, role variables); ``unset``: the
  names of those removed; ``boards``: the interfaces of real boards (site.yml's facts);
* ``stage``: who names the problem. ``plan`` (the default): the planner
  (tests/unit/plugins/module_utils/test_addressing.py checks those too); ``check``: the other checks
  of check.yml; ``engine``: vnet.lab.segments, on the Docker host, before it makes anything
  (only the integration test sees those lines; here the controller's checks must let it pass);
* ``errors``: the lines, in order.

After a deliberate change, ``VNET_UPDATE_GOLDEN=1 pytest tests/unit/plugins/filter/test_lab_check.py``
rewrites ``errors``; review the diff.
"""

from __future__ import annotations

import ast
import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.vnet.lab.plugins.filter.lab_check import FilterModule, role_specs
from ansible_collections.vnet.lab.plugins.module_utils import _preflight

ROOT = Path(__file__).resolve().parents[4]
GOLDEN = ROOT / "tests" / "golden"
BASE = yaml.safe_load((GOLDEN / "plans" / "badlab.yml").read_text())
CASES = sorted((GOLDEN / "errors").glob("*.yml"))
UPDATE = os.environ.get("VNET_UPDATE_GOLDEN") == "1"
lab_check = FilterModule().filters()["lab_check"]


def load(path):
    return yaml.safe_load(path.read_text())


def run_case(path):
    """(problems, plan) of a golden case, given as check.yml gives it."""
    data = load(path)
    variables = copy.deepcopy(BASE["vars"])
    variables.update(data.get("vars") or {})
    for name in data.get("unset") or []:
        variables.pop(name)
    inputs = {name: variables.get(name) for name in _preflight.INPUTS}
    inputs["boards"] = data.get("boards")
    if "topology_text" in data:
        result = lab_check(data["topology_text"], inputs, variables, file="%s.yml" % path.stem)
    else:
        result = lab_check(copy.deepcopy(data.get("topology", BASE["topology"])), inputs, variables)
    return result["problems"], result["plan"]


class _Dumper(yaml.SafeDumper):
    """A file's text as a literal block, so that a golden case shows it as it is."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def _dump(data):
    """As the planner's golden files: compact leaves, error lines one per line, unwrapped."""
    parts = []
    for key, value in data.items():
        flow = None if isinstance(value, dict) else False
        parts.append(yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, default_flow_style=flow,
                               width=110 if flow is None else 10000, allow_unicode=True))
    return "".join(parts)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_bad_input(path):
    data = load(path)
    problems, plan = run_case(path)
    if data.get("stage") == "engine":
        # The controller cannot tell: vnet.lab.segments must, before it makes anything.
        assert (problems, plan is not None) == ([], True)
        assert data.get("errors"), "%s: an engine case says its lines (the integration test checks them)" % path
        return
    if UPDATE:
        data["errors"] = problems
        path.write_text(_dump(data))
        return
    assert problems == data["errors"]
    assert plan is None


def test_the_lab_that_keeps_running_has_no_problem():
    problems, plan = [], None
    variables = BASE["vars"]
    result = lab_check(BASE["topology"], {name: variables.get(name) for name in _preflight.INPUTS}, variables)
    problems, plan = result["problems"], result["plan"]
    assert problems == []
    assert plan == load(GOLDEN / "plans" / "badlab.yml")["plan"]


def test_at_least_forty_cases_each_described():
    assert len(CASES) >= 40
    for path in CASES:
        data = load(path)
        assert data.get("description") and data.get("errors"), path
        assert data.get("stage", "plan") in ("plan", "check", "engine"), path
        assert not set(data) - {"description", "stage", "topology", "topology_text", "vars", "unset", "boards",
                                "errors"}, path


def _templates():
    """The text of every problem the planner can report, as regular expressions."""
    sources = ["_topology.py", "_addressing.py", "_ipsec.py"]
    found = []
    for name in sources:
        tree = ast.parse((ROOT / "plugins" / "module_utils" / name).read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("add", "append") and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("problems", "errors") and node.args):
                arg = node.args[0]
                text = arg.left if isinstance(arg, ast.BinOp) else arg
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    pattern = ".+".join(re.escape(part) for part in re.split(r"%[srd]", text.value))
                    found.append(("%s:%d" % (name, node.lineno), text.value, re.compile(pattern + r"\Z")))
    return found


def test_every_planner_problem_has_a_golden_case():
    lines = [line for path in CASES for line in load(path).get("errors") or []]
    templates = _templates()
    assert len(templates) > 80
    missing = ["%s %r" % (where, text) for where, text, pattern in templates
               if not any(pattern.match(line) for line in lines)]
    assert missing == []


def _secrets(value, key=""):
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _secrets(item, str(name) if key == "" else key)
            if re.search("psk|password", key):
                yield from _secrets(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _secrets(item, key)
    elif re.search("psk|password", key) and value not in (None, ""):
        yield str(value)


def test_no_problem_quotes_a_secret():
    for path in CASES:
        data = load(path)
        secrets = set(_secrets(data.get("vars") or {})) | set(_secrets(BASE["vars"]))
        for line in data.get("errors") or []:
            assert not [s for s in secrets if len(s) > 3 and s in line], (path, line)


def test_each_role_variable_case_names_its_role():
    cases = [p for p in CASES if p.stem.startswith("role-")]
    specs = role_specs()
    roles_with_options = {role.replace("_", "-") for role, options in specs.items() if options}
    assert {p.stem[len("role-"):] for p in cases} == roles_with_options
    for path in cases:
        assert load(path)["errors"][0].startswith("role vnet.lab.%s: " % path.stem[len("role-"):].replace("-", "_"))


class Late(dict):
    """Variables of which one refers to a fact of the run (it cannot be templated yet)."""

    def __getitem__(self, name):
        if name == "ftp_ipv4":
            raise RuntimeError("'topology_plan' is undefined")
        return super().__getitem__(name)


def test_a_variable_that_cannot_be_templated_yet_is_left_to_its_role():
    variables = Late(BASE["vars"], ftp_ipv4="{{ topology_plan.x }}", dns_ttl="1h")
    result = lab_check(BASE["topology"], dict(BASE["vars"]), variables)
    assert [line.split(":")[0] for line in result["problems"]] == ["role vnet.lab.dns"]


def test_role_specs_are_every_roles_main_options():
    specs = role_specs()
    assert {"client", "dhcp", "dns", "ftp", "images", "ipsec", "ospf", "topology", "voip", "web"} <= set(specs)
    assert specs["dns"]["dns_ttl"]["type"] == "int"
    assert specs["ftp"]["ftp_users"]["options"]["password"]["no_log"] is True


def test_check_yml_gives_every_input():
    tasks = yaml.safe_load((ROOT / "playbooks" / "tasks" / "check.yml").read_text())
    given = tasks[0]["vars"]["vnet_lab_check_inputs"]
    assert tuple(given) == _preflight.INPUTS


def test_the_inputs_must_be_a_mapping():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="inputs must be a mapping"):
        lab_check(BASE["topology"], ["vnet_lab_ftp_users"])


@pytest.mark.parametrize("psk, expected", [
    ("k" * 16, []),
    ("k" * 15, ["vnet_lab_ipsec_psk: the key of tunnel t has 15 characters; a pre-shared key needs at least 16"]),
    ({"t": "k" * 16}, []),
    ({"t": None}, ["vnet_lab_ipsec_psk: no key for tunnel t"]),
    (None, ["vnet_lab_ipsec_psk: not set or empty, and tunnel t authenticates with a pre-shared key: give one"
            " from a vault (make lab generates one); there is no default"]),
    (42, ["vnet_lab_ipsec_psk must be a string, or a mapping of tunnel name to key, not an integer"]),
])
def test_psk(psk, expected):
    assert _preflight.psk_problems({"t": {"mode": "host-to-host"}}, psk) == expected
    assert _preflight.psk_problems({"t": {"auth": "pubkey"}}, psk) == []


def test_the_placeholder_pool_is_the_topology_roles_and_real_boards_have_none():
    defaults = yaml.safe_load((ROOT / "roles" / "topology" / "defaults" / "main.yml").read_text())
    assert _preflight.DEFAULT_PLACEHOLDER_POOL == defaults["topology_placeholder_pool"]
    topology = dict(BASE["topology"], links=BASE["topology"]["links"] + [{"endpoints": ["r1:eth2"], "ipv4": "100.64.9.0/24"}])
    inputs = {name: BASE["vars"].get(name) for name in _preflight.INPUTS}
    assert [line.split(":")[0] for line in lab_check(topology, inputs)["problems"]] == ["segment r1-eth2"]
    assert lab_check(topology, dict(inputs, topology_placeholder_pool="198.18.0.0/15"))["problems"] == []
    # On real boards (site.yml), segments are the boards' own ports: no placeholder.
    boards = {"r1": ["eth1", "eth2", "lo"], "h1": None}
    assert lab_check(topology, dict(inputs, boards=boards))["problems"] == []


def test_a_refused_secret_option_is_not_quoted():
    specs = {"demo": {"demo_token": {"type": "int", "no_log": True},
                      "demo_users": {"type": "list", "elements": "dict",
                                     "options": {"pin": {"type": "int", "no_log": True}}}}}
    problems = _preflight.role_variable_problems({"demo_token": "hunter2-token", "demo_users": [{"pin": "12ab34"}]},
                                                 specs)
    assert len(problems) == 2 and all(p.startswith("role vnet.lab.demo: ") for p in problems)
    assert not [p for p in problems if "hunter2" in p or "12ab34" in p], problems


def test_the_ftp_user_rules_are_the_ftp_roles():
    role_vars = yaml.safe_load((ROOT / "roles" / "ftp" / "vars" / "main.yml").read_text())
    assert set(role_vars["ftp__system_accounts"]) == _preflight.FTP_SYSTEM_ACCOUNTS
    assert role_vars["ftp__user_name"] == "^%s$" % _preflight.FTP_USER_NAME.pattern[:-2]
