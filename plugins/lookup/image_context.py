# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: image_context
short_description: The files of an image's build context on the controller, with their checksums
version_added: 0.1.0
description:
  - Lists every file of a build context directory on the controller (recursively, hidden files included,
    C(__pycache__) and C(*.pyc) left out) and the extra files added to it, each as C([path in the context, sha1]),
    sorted by path.
  - The vnet.lab.images role hashes this list with the base image and the build arguments into an image's
    fingerprint, so that an unchanged image is recognised without copying its context to the target.
options:
  _terms:
    description: The context directory.
    required: true
    type: list
    elements: path
  extra:
    description: "Files added to the context, C({path on the controller: name in the context})."
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Show the node image's context
  ansible.builtin.debug:
    msg: "{{ lookup('vnet.lab.image_context', role_path ~ '/files/node', extra={'/path/_interfaces.py': '_interfaces.py'}) }}"
"""

RETURN = r"""
_raw:
  description: One list of C([path, sha1]) pairs per context directory.
  type: list
  elements: list
"""

import hashlib
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def _sha1(path):
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def context_files(directory, extra=None):
    """``[[relative path, sha1], ...]`` of a context directory plus extra files, sorted."""
    if not os.path.isdir(directory):
        raise AnsibleLookupError("image_context: no directory %s on the controller" % directory)
    files = {}
    for top, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in names:
            if name.endswith(".pyc"):
                continue
            path = os.path.join(top, name)
            files[os.path.relpath(path, directory)] = _sha1(path)
    for source, name in (extra or {}).items():
        if not os.path.isfile(source):
            raise AnsibleLookupError("image_context: no file %s on the controller" % source)
        files[name] = _sha1(source)
    return [[path, files[path]] for path in sorted(files)]


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        extra = self.get_option("extra")
        return [context_files(term, extra) for term in terms]
