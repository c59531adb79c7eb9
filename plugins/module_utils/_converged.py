# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a lab exactly as its last converged run left it? (private to vnet.lab)

The no-op run of ``playbooks/lab_up.yml`` reads the lab's state once and compares it with the
record that the last successful run wrote; when nothing differs it converges nothing (issue 8:
a second run with nothing to change costs one module call instead of one per node and role).

The record (``<state dir>/<lab>/converged.json``) holds:

- ``inputs``: a digest of everything the run was computed from (the plan, the run's variables,
  the collection's roles, plugins and playbooks), computed on the controller by the filter
  ``vnet.lab.fingerprint``; with ``input_parts`` ({name: digest} of each input), a changed digest
  is explained by the names of the parts that changed;
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

A board converged by ``site.yml`` is a lab node in the host's own namespace, set up by roles that
also change the host (its engine, packages, units): its record also names what else to watch, in
``watch``, and holds what was found there (``paths``, ``images``):

- ``paths``: files or directories outside the lab's directory (a file's SHA-256, a link's target,
  a directory's names and contents; a missing one is recorded as missing);
- ``images``: whether the engine's images are watched: one that the converged run left there
  and is gone since is a difference (images added by anyone else are not);
- ``host_plan``: a node plan (JSON) the host's own interfaces must still match;
- ``host_firewall``: a rule set saved by ``vnet.lab.firewall`` the host's firewall must still hold.

Plain Python and the Docker SDK's client: unit tests call it with a fake client.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vnet.lab.plugins.module_utils import _firewall, _interfaces

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


def path_digest(path):
    """SHA-256 of what is at ``path``: a file's content, a link's target, a directory's entries
    (names, kinds and contents, recursively); None when nothing is there."""
    if os.path.islink(path):
        return "link:" + os.readlink(path)
    if os.path.isfile(path):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
        return digest.hexdigest()
    if os.path.isdir(path):
        digest = hashlib.sha256(b"dir\0")
        for name in sorted(os.listdir(path)):
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
            digest.update((path_digest(os.path.join(path, name)) or "missing").encode() + b"\0")
        return digest.hexdigest()
    return None


def watch_of(paths=(), images=False, host_plan=None, host_firewall=None):
    """What a record watches besides the lab's containers, segments and files."""
    return {"paths": sorted(set(paths or ())), "images": bool(images),
            "host_plan": host_plan or None, "host_firewall": host_firewall or None}


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


def snapshot(client, lab, state_dir, workers=8, watch=None):
    """The lab's state as the record keeps it, read once (containers and images in threads);
    with ``watch`` (``watch_of``), what it names too."""
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
    snap = {
        "format": FORMAT,
        "lab": lab,
        "containers": containers,
        "networks": networks,
        "files": file_digests(os.path.join(state_dir, lab)),
    }
    if watch:
        snap["watch"] = watch
        snap["paths"] = {path: path_digest(path) for path in watch["paths"]}
        if watch["images"]:
            snap["images"] = sorted({image["Id"] for image in api.images(all=False) or []})
    return snap


def _inspect_or_none(inspect):
    def run(name):
        try:
            return inspect(name)
        except Exception as exc:  # a container or tag removed in between: recorded as missing
            if getattr(exc, "status_code", None) == 404 or type(exc).__name__ == "NotFound":
                return None
            raise
    return run


def record_of(snap, inputs, input_parts=None):
    """What is written: the snapshot without what changes on its own (pids)."""
    record = dict(snap, inputs=inputs)
    if input_parts:
        record["input_parts"] = dict(input_parts)
    record["containers"] = {name: {k: v for k, v in entry.items() if k != "pid"}
                            for name, entry in snap["containers"].items()}
    return record


def input_reason(record, input_parts=None):
    """Why the inputs differ, naming the parts that changed when both sides have them."""
    before = record.get("input_parts") or {}
    if not before or not input_parts:
        return "the inputs changed (plan, variables or the collection)"
    changed = sorted(name for name in set(before) | set(input_parts) if before.get(name) != input_parts.get(name))
    if not changed:
        return "the inputs changed (the collection or Ansible)"
    return "the inputs changed: %s" % ", ".join(changed)


def differences(record, snap, inputs, input_parts=None):
    """Reasons (sentences) why the lab is not as recorded; [] when it is."""
    if not record:
        return ["no record of a converged run"]
    if record.get("format") != FORMAT:
        return ["the record has another format"]
    if record.get("inputs") != inputs:
        return [input_reason(record, input_parts)]
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
    recorded, present = record.get("paths") or {}, snap.get("paths") or {}
    for path in sorted(set(recorded) | set(present)):
        was, now = recorded.get(path), present.get(path)
        if was != now:
            reasons.append("%s is %s" % (path, "gone" if now is None else "new" if was is None else "changed"))
    # An image the converged run left on the engine and removed since (one it loaded from an
    # archive and no container runs, the base image); images added by anyone else are no concern.
    gone = sorted(set(record.get("images") or ()) - set(snap.get("images") or ()))
    if gone:
        reasons.append("%d image%s of the converged run %s gone from the engine (%s)" % (
            len(gone), "s" if len(gone) > 1 else "", "are" if len(gone) > 1 else "is",
            ", ".join(image.split(":")[-1][:12] for image in gone)))
    return reasons


def host_differences(watch, interfaces_runner=None, firewall_runner=None):
    """Reasons why the host's own interfaces or firewall differ from the plan and rule set the
    record watches (read in the namespace this runs in: ``netns: host``)."""
    reasons = []
    if watch.get("host_plan"):
        try:
            with open(watch["host_plan"]) as handle:
                netplan = json.load(handle)
            result = _interfaces.apply(interfaces_runner or _interfaces.Runner(None), netplan, check_mode=True)
        except (OSError, ValueError) as exc:
            reasons.append("host: cannot read its plan %s: %s" % (watch["host_plan"], exc))
        except _interfaces.InterfacesError as exc:
            reasons.append("host: %s" % exc)
        else:
            reasons += ["host: would %s" % action for action in result["actions"]]
    if watch.get("host_firewall"):
        try:
            with open(watch["host_firewall"]) as handle:
                spec = json.load(handle)
            result = _firewall.apply(firewall_runner or _firewall.Runner(), spec, check_mode=True)
        except (OSError, ValueError) as exc:
            reasons.append("host: cannot read its rule set %s: %s" % (watch["host_firewall"], exc))
        except _firewall.FirewallError as exc:
            reasons.append("host: %s" % exc)
        else:
            reasons += ["host firewall: would %s" % action for action in result["actions"]]
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
    # Root's only: the digests of the inputs' parts come from secrets too (PSK, passwords).
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return True


def compare(client, lab, state_dir, inputs, runner_for=None, host_runners=(None, None), input_parts=None):
    """(current, reasons, snapshot); no snapshot (None) when there is no record to compare with.
    ``client`` may be a function returning the client: it is called only when there is a record
    made from the same inputs (a board without the Docker SDK or an engine yet has none)."""
    record = read_record(record_path(state_dir, lab))
    if not record or record.get("inputs") != inputs:
        return False, differences(record, None, inputs, input_parts), None
    if callable(client):
        client = client()
    snap = snapshot(client, lab, state_dir, watch=record.get("watch"))
    reasons = differences(record, snap, inputs)
    if not reasons:
        reasons = interface_differences(snap, state_dir, runner_for)
    if not reasons and record.get("watch"):
        reasons = host_differences(record["watch"], *host_runners)
    return not reasons, reasons, snap
