# SPDX-License-Identifier: GPL-3.0-or-later
"""The one state root: _lab.state_dir and the vnet.lab.state_dir lookup that roles and playbooks use."""

from __future__ import annotations

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _lab


@pytest.mark.parametrize("root, parts, expected", [
    (None, (), "/var/lib/vnet/labs"),
    ("", ("pilab",), "/var/lib/vnet/labs/pilab"),
    (None, ("pilab", "services", "rpi1-dns"), "/var/lib/vnet/labs/pilab/services/rpi1-dns"),
    ("/srv/labs/", ("pilab", "ipsec/pki"), "/srv/labs/pilab/ipsec/pki"),
    ("/srv//labs", ("pilab", "report.md"), "/srv/labs/pilab/report.md"),
])
def test_state_dir_joins_under_the_root(root, parts, expected):
    assert _lab.state_dir(root, *parts) == expected


@pytest.mark.parametrize("root, parts, message", [
    ("srv/labs", ("pilab",), "the state root must be an absolute path, not 'srv/labs'"),
    (None, ("pilab", ""), "'' is not a relative path inside the state root (parts: 'pilab', '')"),
    (None, ("/etc",), "'/etc' is not a relative path inside the state root (parts: '/etc')"),
    (None, ("pilab", "../other"), "'../other' is not a relative path inside the state root"),
    (None, ("pilab/./x",), "'pilab/./x' is not a relative path inside the state root"),
    (None, (3,), "3 is not a relative path inside the state root"),
])
def test_state_dir_refuses_paths_that_leave_the_root(root, parts, message):
    with pytest.raises(ValueError) as exc:
        _lab.state_dir(root, *parts)
    assert str(exc.value).startswith(message)


def test_state_dir_default_is_documented_where_users_read_it():
    """The module that writes plans and removes a lab's directory, and the lookup every role takes its
    paths from (tests/integration/test_collection_package.py runs it), state the same default root."""
    from ansible_collections.vnet.lab.plugins.lookup import state_dir
    from ansible_collections.vnet.lab.plugins.modules import nodes
    assert "default: %s" % _lab.STATE_ROOT in nodes.DOCUMENTATION
    assert "takes V(%s)" % _lab.STATE_ROOT in state_dir.DOCUMENTATION
