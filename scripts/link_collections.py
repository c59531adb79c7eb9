# SPDX-License-Identifier: GPL-3.0-or-later
"""Link into .collections/ the collections of the ansible package that the checkout uses, and no other.

ansible.cfg turns off the scan of Python's path for collections (collections_scan_sys_path), so
Ansible sees the checkout (vnet.lab), galaxy.yml's dependencies with theirs (each collection's
MANIFEST.json), and the development-only collections named on the command line. That is what a
user's install of the collection sees, and it is cheaper: under Mitogen every task's worker lists
and imports every collection it can see (the ansible package brings about ninety).

Usage: python scripts/link_collections.py COLLECTIONS_DIR [EXTRA_COLLECTION ...]
(run by `make venv` with the venv's Python, which finds the ansible package's collections).
"""

from __future__ import annotations

import json
import os
import sys

import ansible_collections
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWN = "vnet.lab"


def bundled(name):
    """The directory of collection `name` in the ansible package, or None."""
    namespace, collection = name.split(".")
    for base in ansible_collections.__path__:
        path = os.path.join(base, namespace, collection)
        if os.path.isfile(os.path.join(path, "MANIFEST.json")):
            return path
    return None


def closure(names):
    """`names` and every collection they depend on (MANIFEST.json), each with its directory."""
    found, todo = {}, list(names)
    while todo:
        name = todo.pop()
        if name in found or name == OWN:
            continue
        path = bundled(name)
        if path is None:
            sys.exit("link_collections: %s is not in the ansible package of %s" % (name, sys.executable))
        found[name] = path
        with open(os.path.join(path, "MANIFEST.json"), encoding="utf-8") as manifest:
            todo.extend(json.load(manifest)["collection_info"].get("dependencies") or {})
    return found


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    top = os.path.join(os.path.abspath(argv[1]), "ansible_collections")
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as galaxy:
        wanted = list(yaml.safe_load(galaxy).get("dependencies") or {}) + argv[2:]
    links = closure(wanted)
    # Links left by an earlier list go, the checkout's own link stays.
    for namespace in os.listdir(top) if os.path.isdir(top) else []:
        for collection in os.listdir(os.path.join(top, namespace)):
            link = os.path.join(top, namespace, collection)
            if "%s.%s" % (namespace, collection) not in links and os.path.islink(link) \
                    and "%s.%s" % (namespace, collection) != OWN:
                os.unlink(link)
    for name, path in sorted(links.items()):
        link = os.path.join(top, *name.split("."))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        target = os.path.relpath(path, os.path.dirname(link))
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
    print("vnet.lab: collections seen besides the checkout: %s" % ", ".join(sorted(links)))


if __name__ == "__main__":
    main(sys.argv)
