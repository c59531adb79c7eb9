# SPDX-License-Identifier: GPL-3.0-or-later
"""The node entrypoint's resolver file (_node_init): the lab's DNS service, written in place."""

from __future__ import annotations

import os

from ansible_collections.vnet.lab.plugins.module_utils import _node_init as NI

DNS = {"servers": ["192.168.0.2", "192.168.4.2"], "search": ["pilab.test"]}


def test_resolver_text():
    assert NI.resolver_text({"dns": DNS}) == (
        "# Written by vnet-node-init from the node's network plan: the lab's DNS service.\n"
        "search pilab.test\nnameserver 192.168.0.2\nnameserver 192.168.4.2\n")
    assert NI.resolver_text({"dns": {"servers": ["10.0.0.2"], "search": []}}).splitlines()[1:] == ["nameserver 10.0.0.2"]
    assert NI.resolver_text({}) is None and NI.resolver_text({"dns": {"servers": []}}) is None


def test_write_resolver_rewrites_in_place_only_when_it_differs(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 127.0.0.11\noptions ndots:0\n")
    inode = os.stat(path).st_ino
    assert NI.write_resolver({"dns": DNS}, str(path)) == "resolver 192.168.0.2, 192.168.4.2 in %s" % path
    assert path.read_text() == NI.resolver_text({"dns": DNS})
    assert os.stat(path).st_ino == inode, "rewritten in place (Docker bind-mounts it)"
    assert NI.write_resolver({"dns": DNS}, str(path)) is None
    assert NI.write_resolver({}, str(path)) is None
