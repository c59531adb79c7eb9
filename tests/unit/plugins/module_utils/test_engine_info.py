# SPDX-License-Identifier: GPL-3.0-or-later
"""_engine_info: the engine read once, in the shapes its readers expect."""

from __future__ import annotations

from ansible_collections.vnet.lab.plugins.module_utils import _engine_info as E


class FakeAPI:
    def __init__(self):
        self.calls = []

    def version(self):
        self.calls.append("version")
        return {"KernelVersion": "6.1.0-27-arm64"}

    def images(self):
        self.calls.append("images")
        return [{"Id": "sha256:a", "RepoTags": ["vnet/node:latest"], "Labels": {"vnet.lab.fingerprint": "f"}},
                {"Id": "sha256:b", "RepoTags": None, "Labels": None}]

    def containers(self, all=False, filters=None):
        self.calls.append(("containers", all, tuple(filters["label"])))
        return [{"Id": "c1", "Names": ["/lab-r1-ipsec"], "Labels": {"vnet.ipsec.backend": "libipsec"},
                 "State": "running", "Image": "vnet/strongswan:latest", "Ports": []}]

    def volumes(self, filters=None):
        self.calls.append(("volumes", tuple(filters["label"])))
        return {"Volumes": [{"Name": "vnet-esp-b", "Labels": {"vnet.esp.backend": "kernel"}, "Driver": "local"},
                            {"Name": "vnet-esp-a", "Labels": None}]}


def test_only_the_kernel_unless_asked():
    api = FakeAPI()
    assert E.engine_info(api) == {"kernel": "6.1.0-27-arm64"}
    assert api.calls == ["version"]


def test_images_in_the_shape_the_images_role_reads():
    info = E.engine_info(FakeAPI(), images=True)
    assert info["images"] == [
        {"Id": "sha256:a", "RepoTags": ["vnet/node:latest"], "Config": {"Labels": {"vnet.lab.fingerprint": "f"}}},
        {"Id": "sha256:b", "RepoTags": [], "Config": {"Labels": {}}}]


def test_containers_and_volumes_by_label():
    api = FakeAPI()
    info = E.engine_info(api, container_labels=["vnet.lab=l", "vnet.service=ipsec"], volume_labels=["vnet.esp.backend"])
    assert info["containers"] == [{"Id": "c1", "Names": ["/lab-r1-ipsec"], "Labels": {"vnet.ipsec.backend": "libipsec"},
                                   "State": "running", "Image": "vnet/strongswan:latest"}]
    assert [v["Name"] for v in info["volumes"]] == ["vnet-esp-a", "vnet-esp-b"]
    assert info["volumes"][0]["Labels"] == {}
    assert ("containers", True, ("vnet.lab=l", "vnet.service=ipsec")) in api.calls


def test_no_label_lists_nothing():
    api = FakeAPI()
    info = E.engine_info(api, container_labels=[], volume_labels=[])
    assert info == {"kernel": "6.1.0-27-arm64", "containers": [], "volumes": []}
    assert api.calls == ["version"]
