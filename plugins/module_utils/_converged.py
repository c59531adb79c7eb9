# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a lab exactly as its last converged run left it? (private to vnet.lab)

The no-op run of ``playbooks/lab_up.yml`` reads the lab's state once and compares it with the
record that the last successful run wrote; when nothing differs it converges nothing (issue 8:
a second run with nothing to change costs one module call instead of one per node and role).

The record (``<state dir>/<lab>/converged.json``) holds:

- ``inputs``: a digest of everything the run was computed from (the plan, the run's variables,
  the collection's roles, plugins and playbooks), computed on the controller by the filter
  ``vnet.lab.fingerprint``;
- ``containers``: each container of the lab (label ``vnet.lab``): id, image id, start time,
  running, and the id its image's tag had;
- ``networks``: each segment of the lab: id;
- ``files``: the SHA-256 of each file under the lab's directory (plans and services' files),
  reports left out.

The lab is current when the inputs digest is the recorded one, the same containers run since the
same start (a container that restarted, stopped or was re-created is a difference: a restarted
node has a new namespace), every image tag still names the image its containers run, the same
segments exist, every file is unchanged and no file was added, and every node's interfaces,
read in its namespace, still match its plan (the check of ``vnet.lab.interfaces``). Anything else
is a reason, and the playbook converges the whole lab as usual.

Plain Python and the Docker SDK's client: unit tests call it with a fake client.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vnet.lab.plugins.module_utils import _interfaces

RECORD_FILE = "converged.json"
LABEL_LAB = "vnet.lab"
LABEL_NODE = "vnet.node"
LABEL_SERVICE = "vnet.service"
# Written by verify/measure, not by a converge: not part of the lab's state.
IGNORED = ("reports", "verify", "report.md", "report.json", RECORD_FILE)
NETPLAN = os.path.join("nodes", "%s", "netplan.json")
FORMAT = 1


def record_path(state_dir, lab):
    return os.path.join(state_dir, lab, RECORD_FILE)


def file_digests(lab_dir):
    """{relative path: sha256} of the files under ``lab_dir``, IGNORED left out."""
    digests = {}
    if not os.path.isdir(lab_dir):
        return digests
    for root, dirs, files in os.walk(lab_dir):
        relroot = os.path.relpath(root, lab_dir)
        if relroot == ".":
            dirs[:] = [d for d in dirs if d not in IGNORED]
            files = [f for f in files if f not in IGNORED]
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 16), b""):
                    digest.update(chunk)
            digests[os.path.normpath(os.path.join(relroot, name))] = digest.hexdigest()
    return digests


def _container_entry(attrs, tag_ids):
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    labels = config.get("Labels") or {}
    tag = config.get("Image")
    return {
        "id": attrs.get("Id"),
        "image": attrs.get("Image"),
        "tag": tag,
        "tag_image": tag_ids.get(tag),
        "started": state.get("StartedAt"),
        "running": bool(state.get("Running")) and not state.get("Paused"),
        "node": labels.get(LABEL_NODE),
        "service": labels.get(LABEL_SERVICE),
        "pid": state.get("Pid") or None,
    }


def snapshot(client, lab, state_dir, workers=8):
    """The lab's state as the record keeps it, read once (containers and images in threads)."""
    api = client.api
    listed = api.containers(all=True, filters={"label": "%s=%s" % (LABEL_LAB, lab)})
    names = sorted(c["Names"][0].lstrip("/") for c in listed)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        inspected = dict(zip(names, pool.map(_inspect_or_none(api.inspect_container), names)))
        tags = sorted({(a.get("Config") or {}).get("Image") for a in inspected.values() if a} - {None})
        images = dict(zip(tags, pool.map(_inspect_or_none(api.inspect_image), tags)))
    tag_ids = {tag: (attrs or {}).get("Id") for tag, attrs in images.items()}
    containers = {name: _container_entry(attrs, tag_ids) for name, attrs in inspected.items() if attrs}
    networks = {n["Name"]: n["Id"] for n in api.networks(filters={"label": "%s=%s" % (LABEL_LAB, lab)})}
    return {
        "format": FORMAT,
        "lab": lab,
        "containers": containers,
        "networks": networks,
        "files": file_digests(os.path.join(state_dir, lab)),
    }


def _inspect_or_none(inspect):
    def run(name):
        try:
            return inspect(name)
        except Exception as exc:  # a container or tag removed in between: recorded as missing
            if getattr(exc, "status_code", None) == 404 or type(exc).__name__ == "NotFound":
                return None
            raise
    return run


def record_of(snap, inputs):
    """What is written: the snapshot without what changes on its own (pids)."""
    record = dict(snap, inputs=inputs)
    record["containers"] = {name: {k: v for k, v in entry.items() if k != "pid"}
                            for name, entry in snap["containers"].items()}
    return record


def differences(record, snap, inputs):
    """Reasons (sentences) why the lab is not as recorded; [] when it is."""
    if not record:
        return ["no record of a converged run"]
    if record.get("format") != FORMAT:
        return ["the record has another format"]
    if record.get("inputs") != inputs:
        return ["the inputs changed (plan, variables or the collection)"]
    reasons = []
    recorded, present = record.get("containers") or {}, snap["containers"]
    for name in sorted(set(recorded) | set(present)):
        was, now = recorded.get(name), present.get(name)
        if now is None:
            reasons.append("container %s is gone" % name)
        elif was is None:
            reasons.append("container %s is new" % name)
        elif now["id"] != was["id"]:
            reasons.append("container %s was re-created" % name)
        elif not now["running"]:
            reasons.append("container %s is not running" % name)
        elif now["started"] != was["started"]:
            reasons.append("container %s restarted" % name)
        elif now["tag_image"] != now["image"]:
            reasons.append("container %s runs %s, no longer the image tagged %s"
                           % (name, (now["image"] or "?")[:19], now["tag"]))
    recorded, present = record.get("networks") or {}, snap["networks"]
    for name in sorted(set(recorded) | set(present)):
        if recorded.get(name) != present.get(name):
            reasons.append("segment %s is %s" % (
                name, "gone" if name not in present else "new" if name not in recorded else "re-created"))
    recorded, present = record.get("files") or {}, snap["files"]
    for path in sorted(set(recorded) | set(present)):
        if recorded.get(path) != present.get(path):
            reasons.append("file %s is %s" % (
                path, "gone" if path not in present else "new" if path not in recorded else "changed"))
    return reasons


def interface_differences(snap, state_dir, runner_for=None, workers=8):
    """Reasons why a running node's interfaces differ from its plan (read in its namespace)."""
    runner_for = runner_for or (lambda pid: _interfaces.Runner(_interfaces.netns_path(pid=pid)))
    nodes = {entry["node"]: entry for entry in snap["containers"].values()
             if entry["node"] and not entry["service"] and entry["running"] and entry["pid"]}
    lab_dir = os.path.join(state_dir, snap["lab"])

    def check(node):
        path = os.path.join(lab_dir, NETPLAN % node)
        try:
            with open(path) as handle:
                netplan = json.load(handle)
        except (OSError, ValueError) as exc:
            return ["node %s: cannot read its plan %s: %s" % (node, path, exc)]
        try:
            result = _interfaces.apply(runner_for(nodes[node]["pid"]), netplan, check_mode=True)
        except _interfaces.InterfacesError as exc:
            return ["node %s: %s" % (node, exc)]
        return ["node %s: would %s" % (node, action) for action in result["actions"]]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(check, sorted(nodes)))
    return [reason for reasons in found for reason in reasons]


def read_record(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def record_text(record):
    return json.dumps(record, sort_keys=True, indent=1) + "\n"


def write_record(path, record):
    """Write the record atomically; True when its content changed."""
    text = record_text(record)
    try:
        with open(path) as handle:
            if handle.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return True


def compare(client, lab, state_dir, inputs, runner_for=None):
    """(current, reasons, snapshot); no snapshot (None) when there is no record to compare with."""
    record = read_record(record_path(state_dir, lab))
    if not record or record.get("inputs") != inputs:
        return False, differences(record, None, inputs), None
    snap = snapshot(client, lab, state_dir)
    reasons = differences(record, snap, inputs)
    if not reasons:
        reasons = interface_differences(snap, state_dir, runner_for)
    return not reasons, reasons, snap
