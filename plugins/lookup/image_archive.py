# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: image_archive
short_description: The images an image archive (docker save) on the controller holds
version_added: 0.2.0
description:
  - Reads the C(manifest.json) of each archive made by C(docker save) (plain or gzip-compressed tar) on the
    controller, without unpacking it, and returns the images it holds, each with its ID and its tags.
  - The vnet.lab.docker_engine role compares them with the target's engine, so that an archive is copied and
    loaded only when the engine lacks one of its images (a second run changes nothing).
options:
  _terms:
    description: Archives on the controller; a relative path is looked for as M(ansible.builtin.copy) looks for C(src).
    required: true
    type: list
    elements: path
"""

EXAMPLES = r"""
- name: Show what an archive holds
  ansible.builtin.debug:
    msg: "{{ lookup('vnet.lab.image_archive', '/srv/vnet/images/lab.tar') }}"
"""

RETURN = r"""
_raw:
  description: One entry per archive.
  type: list
  elements: dict
  contains:
    path:
      description: The archive's path on the controller.
      type: str
    images:
      description: The images in the archive, in manifest order.
      type: list
      elements: dict
      contains:
        id:
          description: The image's ID (C(sha256:...), the digest of its configuration).
          type: str
        tags:
          description: The image's repository tags (C(name:tag)); empty for an image saved by ID.
          type: list
          elements: str
"""

import json
import posixpath
import tarfile

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def manifest_images(manifest):
    """``[{id, tags}]`` of a ``docker save`` manifest (the parsed ``manifest.json``)."""
    if not isinstance(manifest, list):
        raise ValueError("manifest.json is not a list")
    images = []
    for entry in manifest:
        config = entry.get("Config") if isinstance(entry, dict) else None
        if not isinstance(config, str) or not config:
            raise ValueError("a manifest entry has no Config: %r" % (entry,))
        # Docker's own format names the configuration <hex>.json; the OCI layout blobs/sha256/<hex>.
        digest = posixpath.basename(config)
        if digest.endswith(".json"):
            digest = digest[:-len(".json")]
        images.append({"id": "sha256:" + digest, "tags": list(entry.get("RepoTags") or [])})
    return images


def archive_images(path):
    """``[{id, tags}]`` of the archive at ``path`` (tar, possibly compressed)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            try:
                member = archive.getmember("manifest.json")
            except KeyError:
                raise AnsibleLookupError("image_archive: %s has no manifest.json (not made by docker save)" % path)
            handle = archive.extractfile(member)
            manifest = json.load(handle)
    except (OSError, tarfile.TarError) as exc:
        raise AnsibleLookupError("image_archive: cannot read %s: %s" % (path, exc))
    except ValueError as exc:
        raise AnsibleLookupError("image_archive: %s: manifest.json is not JSON: %s" % (path, exc))
    try:
        return manifest_images(manifest)
    except ValueError as exc:
        raise AnsibleLookupError("image_archive: %s: %s" % (path, exc))


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        result = []
        for term in terms:
            path = self.find_file_in_search_path(variables, "files", term, ignore_missing=True)
            if path is None:
                raise AnsibleLookupError("image_archive: no archive %s on the controller" % term)
            result.append({"path": path, "images": archive_images(path)})
        return result
