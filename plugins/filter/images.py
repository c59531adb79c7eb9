# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter of the images role: which images on the engine are current.

Documented in current_images.yml beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


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
        return {"current_images": current_images}
