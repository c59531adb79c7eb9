# SPDX-License-Identifier: GPL-3.0-or-later
"""A digest of what a lab run is computed from (documented in fingerprint.yml beside this file)."""

from __future__ import annotations

import hashlib
import json
import os

from ansible.errors import AnsibleFilterError

# The collection's own files that shape a run: its roles (tasks, templates, images' contexts),
# plugins and playbooks. Computed once per controller process.
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARTS = ("roles", "plugins", "playbooks")
_collection_digest = None


def collection_digest(root=COLLECTION):
    digest = hashlib.sha256()
    for part in PARTS:
        for folder, dirs, files in os.walk(os.path.join(root, part)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                try:
                    with open(path, "rb") as handle:
                        digest.update(handle.read())
                except OSError:
                    digest.update(b"(unreadable)")
                digest.update(b"\0")
    return digest.hexdigest()


def fingerprint(data):
    global _collection_digest
    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("vnet.lab.fingerprint: %s" % exc) from None
    if _collection_digest is None:
        _collection_digest = collection_digest()
    return hashlib.sha256((_collection_digest + "\0" + text).encode()).hexdigest()


class FilterModule:
    def filters(self):
        return {"fingerprint": fingerprint}
