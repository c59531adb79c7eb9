# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""What lab_up needs to know of the engine before it changes anything, read in one call (private to
vnet.lab): its images (as ``docker_image_info`` gives them, so that the images role needs no look of
its own), containers and volumes by label, and the kernel it runs on.

Plain Python over a Docker SDK client's low-level API (``client.api``): the unit tests give a fake.
"""

from __future__ import annotations


def image_view(summary):
    """An image of ``/images/json`` in the shape of ``docker image inspect`` that the images role
    reads: its id, its tags and its labels."""
    return {"Id": summary.get("Id"), "RepoTags": list(summary.get("RepoTags") or []),
            "Config": {"Labels": dict(summary.get("Labels") or {})}}


def container_view(summary):
    """A container of ``/containers/json``: id, names, labels, state."""
    return {"Id": summary.get("Id"), "Names": list(summary.get("Names") or []),
            "Labels": dict(summary.get("Labels") or {}), "State": summary.get("State"),
            "Image": summary.get("Image")}


def volume_view(volume):
    return {"Name": volume.get("Name"), "Labels": dict(volume.get("Labels") or {})}


def engine_info(api, images=False, container_labels=None, volume_labels=None):
    """The engine as lab_up needs it: ``kernel`` (the engine's kernel version), and when asked, every
    ``images``, the ``containers`` (any state) with every label of ``container_labels`` and the
    ``volumes`` with every label of ``volume_labels`` (each ``key`` or ``key=value``)."""
    result = {"kernel": (api.version() or {}).get("KernelVersion") or ""}
    if images:
        result["images"] = [image_view(s) for s in api.images() or []]
    if container_labels is not None:
        found = api.containers(all=True, filters={"label": list(container_labels)}) if container_labels else []
        result["containers"] = [container_view(s) for s in found or []]
    if volume_labels is not None:
        found = (api.volumes(filters={"label": list(volume_labels)}) or {}).get("Volumes") if volume_labels else []
        result["volumes"] = sorted((volume_view(v) for v in found or []), key=lambda v: v["Name"] or "")
    return result
