# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter of the docker_engine role: which image archives the engine still needs.

Documented in archives_to_load.yml beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def archives_to_load(archives, images):
    """Paths of the ``archives`` (vnet.lab.image_archive) holding an image whose ID is not among
    ``images`` (community.docker.docker_image_info, asked for the archives' IDs).

    By ID only: an image rebuilt on the target since (the images role builds when the collection
    changed) takes the tag, and loading the old archive again would only move the tag back."""
    try:
        present = {image["Id"] for image in images}
        return [archive["path"] for archive in archives
                if any(entry["id"] not in present for entry in archive["images"])]
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.archives_to_load: malformed input (%s: %s)"
                                 % (type(exc).__name__, exc)) from None


class FilterModule:
    def filters(self):
        return {"archives_to_load": archives_to_load}
