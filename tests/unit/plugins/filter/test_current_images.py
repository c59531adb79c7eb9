# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.vnet.lab.plugins.filter.images import current_images


def _image(tag, fingerprint):
    return {"RepoTags": [tag], "Config": {"Labels": {"vnet.lab.fingerprint": fingerprint} if fingerprint else None}}


def test_current_images_need_the_tag_and_the_fingerprint():
    images = [_image("vnet/node:latest", "f1"), _image("vnet/dns:latest", "old"), _image("other/web:latest", "f3"),
              _image("vnet/ftp:latest", None)]
    fingerprints = {"node": "f1", "dns": "f2", "web": "f3", "ftp": "f4", "voip": "f5"}
    assert current_images(images, fingerprints, "vnet/", "latest") == ["node"]
