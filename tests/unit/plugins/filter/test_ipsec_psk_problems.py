# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.ipsec_psk_problems: the lab's pre-shared key check (_preflight.psk_problems) applied
to one node's connections, for the vnet.lab.ipsec role used alone."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.ipsec import FilterModule
from ansible_collections.vnet.lab.plugins.module_utils import _preflight

PROBLEMS = FilterModule().filters()["ipsec_psk_problems"]
CONNECTIONS = [{"name": "h2h", "auth": "psk"}, {"name": "s2s", "auth": "pubkey"}]


@pytest.mark.parametrize("psk, expected", [
    ("k" * 16, []),
    ("k" * 15, ["ipsec_psk: the key of tunnel h2h has 15 characters; a pre-shared key needs at least 16"]),
    ({"h2h": "k" * 16}, []),
    # A mapping may hold the keys of other nodes' tunnels (one mapping for the whole lab).
    ({"h2h": "k" * 16, "elsewhere": "k" * 16}, []),
    ({"h2h": "short"}, ["ipsec_psk: the key of tunnel h2h has 5 characters; a pre-shared key needs at least 16"]),
    ({"h2h": 12345678901234567}, ["ipsec_psk: the key of tunnel h2h must be a string, not an integer"]),
    ({"other": "k" * 16}, ["ipsec_psk: no key for tunnel h2h"]),
    (["k" * 16], ["ipsec_psk must be a string, or a mapping of tunnel name to key, not a list"]),
])
def test_problems_name_the_variable_and_the_tunnel_never_the_key(psk, expected):
    assert PROBLEMS(CONNECTIONS, psk) == expected
    for line in PROBLEMS(CONNECTIONS, psk):
        assert "kkkk" not in line and "short" not in line


def test_the_same_rule_as_the_lab_check():
    assert _preflight.PSK_MIN_LENGTH == 16
    assert PROBLEMS(CONNECTIONS, "k" * 9, "vnet_lab_ipsec_psk") == _preflight.psk_problems({"h2h": {}}, "k" * 9)


def test_pubkey_connections_need_no_key():
    assert PROBLEMS([{"name": "s2s", "auth": "pubkey"}], None) == []
    assert PROBLEMS([], "short") == []
    # A connection without auth counts as psk.
    assert PROBLEMS([{"name": "h2h"}], "short") == [
        "ipsec_psk: the key of tunnel h2h has 5 characters; a pre-shared key needs at least 16"]


def test_the_input_must_be_connections():
    with pytest.raises(AnsibleFilterError, match="must be a list of connections, each with a name"):
        PROBLEMS({"h2h": {}}, "k" * 16)
