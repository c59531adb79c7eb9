# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the images role: each image's fingerprint, and which images on the engine are current.

Documented in image_fingerprints.yml and current_images.yml beside this file.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.lookup.image_context import context_files


def image_fingerprints(catalog, names, role_path, base_id, build_args):
    """{name: fingerprint} of the catalogue images ``names``: the SHA-256 of their base image's id,
    build arguments and build context (each file's SHA-1, as lookup vnet.lab.image_context lists
    them, the catalogue entry's module_utils included), read once on the controller."""
    unknown = [name for name in names if name not in catalog]
    if unknown:
        raise AnsibleFilterError("images: no image %s in images_catalog (known: %s)"
                                 % (", ".join(unknown), ", ".join(catalog)))
    fingerprints = {}
    for name in names:
        try:
            context = catalog[name]["context"]
            entry = catalog[name]
        except (KeyError, TypeError):
            raise AnsibleFilterError("images: catalogue entry %s has no context" % name) from None
        if not os.path.isabs(context):
            context = "%s/files/%s" % (role_path, context)
        extra = {"%s/../../plugins/module_utils/%s" % (role_path, module): module
                 for module in entry.get("module_utils") or []}
        text = json.dumps({"base": base_id, "args": dict(build_args), "files": context_files(context, extra)})
        fingerprints[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return fingerprints


def current_images(images, fingerprints, prefix, tag):
    """Catalogue names whose image ``<prefix><name>:<tag>`` is on the engine with the fingerprint."""
    try:
        current = []
        for name, fingerprint in fingerprints.items():
            wanted = "%s%s:%s" % (prefix, name, tag)
            for image in images:
                labels = (image.get("Config") or {}).get("Labels") or {}
                if wanted in (image.get("RepoTags") or []) and labels.get("vnet.lab.fingerprint") == fingerprint:
                    current.append(name)
                    break
        return current
    except (AttributeError, TypeError) as exc:
        raise AnsibleFilterError("vnet.lab.current_images: malformed input (%s)" % exc) from None


class FilterModule:
    def filters(self):
        return {"current_images": current_images, "image_fingerprints": image_fingerprints}
