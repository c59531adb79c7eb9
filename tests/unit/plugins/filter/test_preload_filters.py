# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.forward import forward_interfaces
from ansible_collections.vnet.lab.plugins.filter.preload import archives_to_load

ARCHIVES = [
    {"path": "/srv/rpi1.tar", "images": [{"id": "sha256:base", "tags": ["vnet/base:bookworm"]},
                                         {"id": "sha256:ospf", "tags": ["vnet/ospf:latest"]}]},
    {"path": "/srv/untagged.tar", "images": [{"id": "sha256:raw", "tags": []}]},
]


@pytest.mark.parametrize("images, wanted", [
    # Everything there, tagged as in the archives: nothing to load (a second run).
    ([{"Id": "sha256:base", "RepoTags": ["vnet/base:bookworm", "extra:tag"]},
      {"Id": "sha256:ospf", "RepoTags": ["vnet/ospf:latest"]}, {"Id": "sha256:raw", "RepoTags": []}], []),
    # A fresh engine: both.
    ([], ["/srv/rpi1.tar", "/srv/untagged.tar"]),
    # One image of an archive missing.
    ([{"Id": "sha256:base", "RepoTags": ["vnet/base:bookworm"]}, {"Id": "sha256:raw", "RepoTags": None}],
     ["/srv/rpi1.tar"]),
    # The image is there but its tag names another image now (rebuilt on the board): not loaded
    # again, which would move the tag back and make the images role rebuild it at every run.
    ([{"Id": "sha256:base", "RepoTags": ["vnet/base:bookworm"]}, {"Id": "sha256:ospf", "RepoTags": []},
      {"Id": "sha256:raw", "RepoTags": []}], []),
])
def test_archives_to_load_keep_those_with_an_image_the_engine_lacks(images, wanted):
    assert archives_to_load(ARCHIVES, images) == wanted


def test_archives_to_load_refuse_malformed_input():
    with pytest.raises(AnsibleFilterError, match="malformed input"):
        archives_to_load([{"images": []}], [{"RepoTags": []}])


PLAN = {"nodes": {"r1": {"interfaces": {"eth3": {}, "eth1": {}, "wlan0": {}}},
                  "r2": {"interfaces": {"eth1": {}}}, "r3": {"interfaces": {"eth0": {}}}},
        "vpn": {"t": {"peers": ["r1", "r2:eth1"]}}}


@pytest.mark.parametrize("node, wanted", [
    ("r1", ["eth1", "eth3", "wlan0", "ipsec0"]),
    ("r2", ["eth1", "ipsec0"]),
    ("r3", ["eth0"]),
])
def test_forward_interfaces_are_the_planned_ones_then_the_tunnel_devices_of_a_peer(node, wanted):
    assert forward_interfaces(PLAN, node) == wanted


def test_forward_interfaces_without_vpn_and_with_other_devices():
    assert forward_interfaces({"nodes": {"r1": {"interfaces": {"eth1": {}}}}}, "r1") == ["eth1"]
    assert forward_interfaces(PLAN, "r2", ["tun0", "eth1"]) == ["eth1", "tun0"]


def test_forward_interfaces_name_a_node_that_is_not_in_the_plan():
    with pytest.raises(AnsibleFilterError, match="node r9 is not in the plan .nodes: r1, r2, r3."):
        forward_interfaces(PLAN, "r9")
