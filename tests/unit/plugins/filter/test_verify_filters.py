# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters of playbooks/verify.yml: names, and errors that name the filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.verify import FilterModule

FILTERS = FilterModule().filters()
PLAN = {"name": "demo", "nodes": {"h1": {"kind": "host", "interfaces": {"eth0": {"segment": "lan", "dhcp": True}}}},
        "segments": {"lan": {"ipv4": "192.168.1.0/24"}}}


def test_the_filters():
    assert sorted(FILTERS) == ["verify_leases", "verify_lines", "verify_probes"]


def test_an_unknown_stage_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"^vnet.lab.verify_probes: stage must be one of waits, checks, not 'all'"):
        FILTERS["verify_probes"](PLAN, {}, "all")


def test_malformed_input_names_the_filter():
    with pytest.raises(AnsibleFilterError, match=r"^vnet.lab.verify_leases: 'nodes' \(KeyError\)"):
        FILTERS["verify_leases"]({}, {}, ["h1"])


def test_leases_from_the_first_stage():
    results = {"client h1": {"stdout": "lease eth0 192.168.1.10/24\nrouter 192.168.1.1\n"}}
    assert FILTERS["verify_leases"](results, PLAN, ["h1"]) == {"h1": "192.168.1.10/24"}
    assert FILTERS["verify_leases"](None, PLAN, ["h1"]) == {"h1": ""}
