# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import hashlib
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.filter.images import current_images, image_fingerprints


def _image(tag, fingerprint):
    return {"RepoTags": [tag], "Config": {"Labels": {"vnet.lab.fingerprint": fingerprint} if fingerprint else None}}


def test_current_images_need_the_tag_and_the_fingerprint():
    images = [_image("vnet/node:latest", "f1"), _image("vnet/dns:latest", "old"), _image("other/web:latest", "f3"),
              _image("vnet/ftp:latest", None)]
    fingerprints = {"node": "f1", "dns": "f2", "web": "f3", "ftp": "f4", "voip": "f5"}
    assert current_images(images, fingerprints, "vnet/", "latest") == ["node"]


def test_fingerprints_digest_the_base_the_arguments_and_the_context(tmp_path):
    role = tmp_path / "roles" / "images"
    (role / "files" / "web" / "conf").mkdir(parents=True)
    (role / "files" / "web" / "Dockerfile").write_text("FROM base\n")
    (role / "files" / "web" / "conf" / "site").write_text("x\n")
    (tmp_path / "plugins" / "module_utils").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils" / "_x.py").write_text("y = 1\n")
    catalog = {"web": {"context": "web", "module_utils": ["_x.py"]}, "dns": {"context": "web"}}
    got = image_fingerprints(catalog, ["web"], str(role), "sha256:b", {"BASE": "vnet/base"})
    sha1 = {text: hashlib.sha1(text.encode()).hexdigest() for text in ("FROM base\n", "x\n", "y = 1\n")}
    # As the role computed it in Jinja before: {'base', 'args', 'files'} | to_json | hash('sha256').
    files = [["Dockerfile", sha1["FROM base\n"]], ["_x.py", sha1["y = 1\n"]], ["conf/site", sha1["x\n"]]]
    text = json.dumps({"base": "sha256:b", "args": {"BASE": "vnet/base"}, "files": files})
    assert got == {"web": hashlib.sha256(text.encode()).hexdigest()}
    # Any input changes it.
    assert image_fingerprints(catalog, ["web"], str(role), "sha256:c", {"BASE": "vnet/base"}) != got
    (role / "files" / "web" / "conf" / "site").write_text("z\n")
    assert image_fingerprints(catalog, ["web"], str(role), "sha256:b", {"BASE": "vnet/base"}) != got


def test_fingerprints_name_every_image_not_in_the_catalogue():
    with pytest.raises(AnsibleFilterError) as err:
        image_fingerprints({"node": {"context": "node"}, "dns": {"context": "dns"}}, ["node", "web", "ftp"], "/r", "b", {})
    assert str(err.value) == "images: no image web, ftp in images_catalog (known: node, dns)"
