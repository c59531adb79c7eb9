# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.vnet.lab.plugins.lookup.image_archive import archive_images, manifest_images

DOCKER = [{"Config": "1a2b.json", "RepoTags": ["vnet/base:bookworm"], "Layers": ["x/layer.tar"]},
          {"Config": "3c4d.json", "RepoTags": ["vnet/ospf:latest", "vnet/ospf:8.4"], "Layers": []},
          {"Config": "5e6f.json", "RepoTags": None, "Layers": []}]


def _archive(path, members, compress=False):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


def test_manifest_images_take_ids_from_the_configs_and_keep_the_tags():
    assert manifest_images(DOCKER) == [
        {"id": "sha256:1a2b", "tags": ["vnet/base:bookworm"]},
        {"id": "sha256:3c4d", "tags": ["vnet/ospf:latest", "vnet/ospf:8.4"]},
        {"id": "sha256:5e6f", "tags": []}]


def test_manifest_images_read_the_oci_layout_of_newer_engines():
    assert manifest_images([{"Config": "blobs/sha256/9f9f", "RepoTags": ["a:b"]}]) == [
        {"id": "sha256:9f9f", "tags": ["a:b"]}]


@pytest.mark.parametrize("manifest, error", [
    ({"Config": "x.json"}, "not a list"),
    ([{"RepoTags": ["a:b"]}], "has no Config"),
    (["x.json"], "has no Config"),
])
def test_manifest_images_refuse_what_docker_save_does_not_make(manifest, error):
    with pytest.raises(ValueError, match=error):
        manifest_images(manifest)


@pytest.mark.parametrize("compress", [False, True])
def test_archive_images_read_only_the_manifest(tmp_path, compress):
    path = _archive(tmp_path / "lab.tar", [("1a2b/layer.tar", b"x" * 4096), ("1a2b.json", b"{}"),
                                           ("manifest.json", json.dumps(DOCKER[:1]).encode())], compress)
    assert archive_images(path) == [{"id": "sha256:1a2b", "tags": ["vnet/base:bookworm"]}]


def test_archive_images_name_the_archive_that_is_not_an_image_archive(tmp_path):
    with pytest.raises(AnsibleLookupError, match="no manifest.json"):
        archive_images(_archive(tmp_path / "other.tar", [("README", b"hi")]))
    with pytest.raises(AnsibleLookupError, match="manifest.json is not JSON"):
        archive_images(_archive(tmp_path / "bad.tar", [("manifest.json", b"{")]))
    (tmp_path / "text.tar").write_text("not a tar")
    with pytest.raises(AnsibleLookupError, match="cannot read .*text.tar"):
        archive_images(str(tmp_path / "text.tar"))
