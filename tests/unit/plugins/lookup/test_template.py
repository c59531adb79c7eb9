# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.template: ansible.builtin.template's result, without a deep copy of the task's variables."""

from __future__ import annotations

import copy

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar

from ansible_collections.vnet.lab.plugins.lookup.template import LookupModule, SharedVariables

TEMPLATE = """{% set local = {} %}{% set _ = local.update({'k': 1}) %}zone {{ zone.name }}
{% for record in zone.records %}{{ record }} {{ ttl }}
{% endfor %}{{ template_path | basename }} {{ local.k }}
"""


def render(plugin, tmp_path, variables, **kwargs):
    loader = DataLoader()
    lookup = plugin(loader=loader, templar=Templar(loader=loader)) if isinstance(plugin, type) else \
        lookup_loader.get(plugin, loader=loader, templar=Templar(loader=loader))
    return lookup.run([str(tmp_path / "zone.j2")], variables, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def plugin_loader():
    """As ansible-playbook does before any plugin runs (the lookup loads the builtin one by name)."""
    init_plugin_loader()


@pytest.fixture
def variables(tmp_path):
    (tmp_path / "zone.j2").write_text(TEMPLATE)
    return {"ttl": 60, "zone": {"name": "lab.test", "records": ["ns1 A 192.0.2.1", "www A 192.0.2.2"]},
            "ansible_search_path": [str(tmp_path)]}


def test_renders_as_the_builtin_lookup(tmp_path, variables):
    expected = render("ansible.builtin.template", tmp_path, copy.deepcopy(variables))
    assert render(LookupModule, tmp_path, variables) == expected
    assert expected == ["zone lab.test\nns1 A 192.0.2.1 60\nwww A 192.0.2.2 60\nzone.j2 1\n"]


def test_template_vars_shadow_the_task_variables_for_the_template_only(tmp_path, variables):
    before = copy.deepcopy(variables)
    result = render(LookupModule, tmp_path, variables, template_vars={"ttl": 300})
    assert result == ["zone lab.test\nns1 A 192.0.2.1 300\nwww A 192.0.2.2 300\nzone.j2 1\n"]
    assert variables == before, "the task's variables were changed"


def test_the_copy_is_a_new_layer_over_the_same_variables():
    task_vars = {"plan": {"nodes": list(range(1000))}}
    shared = SharedVariables(task_vars)
    copied = copy.deepcopy(shared)
    assert type(copied).__name__ == "ChainMap" and copied.maps[1] is task_vars
    copied["template_path"] = "zone.j2"
    assert "template_path" not in task_vars and copied["plan"] is task_vars["plan"]
