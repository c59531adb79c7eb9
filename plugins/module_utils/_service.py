# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""One network service on a Docker engine, converged in one call (private to vnet.lab).

A service is a directory of files on the Docker host and the containers that mount it; every
service role of the collection hands its whole wanted state to one call of ``Service.present``:

``files``
    The complete content of the service's directory ``config_dir``, rendered on the controller:
    ``{path, content, mode, secret}`` with ``path`` relative to the directory (a secret's content is
    never shown in a diff). A file whose content
    and mode are as wanted is not touched; others are replaced atomically; files of the directory
    that are not listed are removed, except under the relative paths of ``keep``; a directory that
    this removal leaves empty is removed too (a site or interface no longer served leaves nothing).
``serial``
    A file may carry the token ``@SERIAL@`` (a zone's SOA serial): the module replaces it with a
    number that stays while the rest of the file is unchanged and increases when it changes
    (``max(previous + 1, YYYYMMDD00)`` of today, UTC); the numbers are kept in
    ``.vnet-serials.json`` of the directory.
``validate``
    When any file changes, the whole new directory is staged and checked by the daemon's own tool in
    a throwaway container (``argv`` in ``image``, the staged directory or its sub-directories
    mounted read-only where ``mounts`` says) before anything is written: a file the daemon would
    refuse never reaches the disk, and the running daemon keeps what it has. In ``converge_all``,
    services whose checks differ only by their files (the same image, explicit entrypoint, argv and
    mount points, no network, no capability: each router's FRR, say) are checked in one throwaway
    container, one directory after the other, each copied where its check reads it: a lab of 50
    routers starts one container for their checks, not 50.
``volumes``
    Named volumes (data that outlives containers: leases, homes, logs), created when missing.
``containers``
    Each container's wanted configuration is hashed into its ``vnet.config`` label: a container
    whose image or hash differs is re-created, a missing one created, a stopped one started.
    A running container that mounts a changed file (a bind mount whose source holds it) is
    reloaded with its ``reload`` command, or restarted when it has none or a changed file is in its
    ``restart_on``. A container that shares the namespace of another (``network_mode:
    container:<name>``) but not its *current* namespace (Docker keeps the old one when that
    container restarted) is restarted; one whose namespace owner was re-created since (Docker
    recorded the old container's id) is re-created. With ``together``, the containers are one unit: when one is
    created, re-created, started or restarted, the others are restarted too, in list order. After
    its action a container is waited for (``wait_path`` in its file system, or ``wait_command``
    until it succeeds) before the next one; with ``wait_always`` also when it was kept, so that
    every run checks its readiness (a DHCP client's leases). A container is created with the labels
    that the lab's keeper (``_keeper.py``) reads to bring it back in order without Ansible:
    ``vnet.ready`` (its readiness check as a JSON argv) and, with ``together``, ``vnet.unit``
    (``<service>:<rank in the list>``); they are not part of the hash.
``remove``
    Labels: containers carrying all of them that are not listed in ``containers`` are removed
    (their volumes stay).
``stop_timeout``
    With ``absent``: each container is first stopped (its stop signal, killed after these seconds)
    before it is removed, for a daemon that undoes what it set up as it ends (zebra withdraws its
    routes from a shared namespace); without it a container is killed and removed at once.

Every check (images present, names, paths) is made before the first change; the first change is
made only once the validation passed. In check mode the same decisions are recorded as actions and
nothing is changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

try:
    from docker.errors import APIError, ImageNotFound, NotFound
except ImportError:
    class APIError(Exception):
        """Stands in for docker.errors.APIError; the module fails first without the docker SDK."""

    class NotFound(APIError):
        """Stands in for docker.errors.NotFound."""

    class ImageNotFound(NotFound):
        """Stands in for docker.errors.ImageNotFound."""

LABEL_CONFIG = "vnet.config"
LABEL_READY = "vnet.ready"
LABEL_UNIT = "vnet.unit"
# Part of the hash: a change of what the hash covers re-creates every service container once.
HASH_FORMAT = 1
SECRET_TEXT = "(secret: not shown)\n"
SERIAL_TOKEN = "@SERIAL@"
SERIALS_FILE = ".vnet-serials.json"
MAX_SERIAL = 2 ** 32 - 1


class ServiceError(Exception):
    """Why the service cannot be converged; one reason per line."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------------------------
# Pure functions

def _mode(value, default):
    if value is None or value == "":
        return default
    return int(str(value), 8) if not isinstance(value, int) else value


def normalise_files(files):
    """``files`` as ``{relative path: (content, mode, secret)}``; problems raised together."""
    result, errors = {}, []
    for entry in files:
        path = os.path.normpath(entry["path"])
        if os.path.isabs(path) or path == "." or path == os.pardir or path.startswith(os.pardir + os.sep):
            errors.append("file %r is not a relative path inside the service's directory" % entry["path"])
            continue
        if path in result:
            errors.append("file %s is given twice" % path)
            continue
        secret = bool(entry.get("secret"))
        try:
            mode = _mode(entry.get("mode"), 0o600 if secret else 0o644)
        except ValueError:
            errors.append("file %s: mode %r is not octal" % (path, entry.get("mode")))
            continue
        result[path] = (entry.get("content") or "", mode, secret)
    if errors:
        raise ServiceError(errors)
    return result


def apply_serials(files, previous, today):
    """Replace SERIAL_TOKEN in ``files``; return the files and the serials to keep.

    ``previous``: ``{path: {serial, hash}}`` as kept before; ``today``: ``YYYYMMDD`` as an int.
    """
    serials, result = {}, {}
    for path, (content, mode, secret) in files.items():
        if SERIAL_TOKEN in content:
            digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
            before = previous.get(path) or {}
            if before.get("hash") == digest:
                serial = before["serial"]
            else:
                serial = max(int(before.get("serial") or 0) + 1, today * 100)
            if serial > MAX_SERIAL:
                raise ServiceError("file %s: serial %d does not fit in 32 bits" % (path, serial))
            serials[path] = {"serial": serial, "hash": digest}
            content = content.replace(SERIAL_TOKEN, str(serial))
        result[path] = (content, mode, secret)
    return result, serials


def wanted_container(spec):
    """The part of a container's spec that its hash covers (everything that needs a re-creation)."""
    keys = ("image", "command", "entrypoint", "env", "network_mode", "capabilities", "devices",
            "volumes", "tmpfs", "labels", "restart_policy", "init", "user", "log_options")
    wanted = {key: spec.get(key) for key in keys}
    wanted["capabilities"] = sorted({str(c).upper().replace("CAP_", "", 1) for c in spec.get("capabilities") or []})
    return wanted


def config_hash(spec):
    text = json.dumps([HASH_FORMAT, wanted_container(spec)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def keeper_labels(spec, unit=None, rank=0):
    """The labels by which the lab's keeper restarts a container in order (see the docstring)."""
    labels = {}
    if spec.get("wait_command"):
        labels[LABEL_READY] = json.dumps(list(spec["wait_command"]), separators=(",", ":"))
    elif spec.get("wait_path"):
        labels[LABEL_READY] = json.dumps(["test", "-e", spec["wait_path"]], separators=(",", ":"))
    if unit:
        labels[LABEL_UNIT] = "%s:%d" % (unit, rank)
    return labels


def bind_sources(spec):
    """Host paths bind-mounted into the container (absolute sources of ``volumes``)."""
    return [volume.split(":", 1)[0] for volume in spec.get("volumes") or [] if volume.startswith("/")]


def mounts_changed(spec, config_dir, changed_paths):
    """Changed files (relative to ``config_dir``) that the container sees through its binds."""
    seen = []
    for source in bind_sources(spec):
        source = os.path.normpath(source)
        for path in changed_paths:
            full = os.path.join(config_dir, path)
            if (full == source or full.startswith(source.rstrip("/") + "/")) and path not in seen:
                seen.append(path)
    return seen


def decide(attrs, spec, image_id):
    """What to do with one container: create, recreate, start or keep (and why)."""
    if attrs is None:
        return "create", None
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    if attrs.get("Image") != image_id:
        return "recreate", "image changed"
    if labels.get(LABEL_CONFIG) != config_hash(spec):
        return "recreate", "configuration changed"
    state = attrs.get("State") or {}
    if state.get("Paused"):
        return "unpause", None
    if not state.get("Running"):
        return "start", None
    return "keep", None


def _shown(text, secret):
    """A file's text as a diff shows it: a secret's never."""
    return SECRET_TEXT if secret and text is not None else text or ""


def file_diff(path, before, after):
    return {"before_header": path, "after_header": path, "before": before, "after": after}


# ---------------------------------------------------------------------------------------------
# Side effects

def read_file(path):
    """``(content, mode)`` of a file, or ``(None, None)``."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(), stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
    except (OSError, UnicodeDecodeError):
        return None, None


def write_atomically(path, text, mode):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def listed_files(config_dir, keep=()):
    """Files under ``config_dir`` (relative paths), those under ``keep`` excepted."""
    keep = [os.path.normpath(k) for k in keep]
    found = []
    for root, dirs, names in os.walk(config_dir):
        relative_root = os.path.relpath(root, config_dir)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(relative_root, d)) not in keep]
        for name in names:
            path = os.path.normpath(os.path.join(relative_root, name))
            if path not in keep:
                found.append(path)
    return sorted(found)


def emptied_dirs(config_dir, removed, wanted=()):
    """Directories (relative, deepest first) that hold nothing once the files ``removed`` are gone.

    Only directories above a removed file are candidates; one that holds anything else (a file of
    ``wanted``, a kept file, a link, a directory not emptied too) stays.
    """
    removed = set(removed)
    candidates = set()
    for path in removed:
        parent = os.path.dirname(path)
        while parent:
            candidates.add(parent)
            parent = os.path.dirname(parent)
    emptied = []
    for directory in sorted(candidates, key=lambda d: (-d.count(os.sep), d)):
        if any(p.startswith(directory + os.sep) for p in wanted):
            continue
        try:
            entries = os.listdir(os.path.join(config_dir, directory))
        except OSError:
            continue
        if all(os.path.join(directory, e) in removed or os.path.join(directory, e) in emptied for e in entries):
            emptied.append(directory)
    return emptied


class Service:
    """Brings one service (files, volumes, containers) to the wanted state; records its actions."""

    POLL = 0.05

    def __init__(self, client, name, check_mode=False, proc="/proc", clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.name = name
        self.check_mode = check_mode
        self.proc = proc
        self.clock = clock
        self.sleep = sleep
        self.actions = []
        self.warnings = []
        self.diff = []
        self.prepared = []

    def _act(self, text):
        self.actions.append(text)

    def _named(self, function, *args):
        """A pure function's result; its errors name this service (several are converged at once)."""
        try:
            return function(*args)
        except ServiceError as exc:
            raise ServiceError(["%s: %s" % (self.name, error) for error in exc.errors]) from None

    # -- reading
    def _inspect(self, name):
        try:
            return self.client.api.inspect_container(name)
        except NotFound:
            return None

    def _image_ids(self, images):
        ids, missing = {}, []
        for image in images:
            try:
                ids[image] = self.client.api.inspect_image(image)["Id"]
            except (ImageNotFound, NotFound):
                missing.append(image)
        if missing:
            raise ServiceError("%s: no image %s on the engine; build it with the vnet.lab.images role"
                               % (self.name, ", ".join(missing)))
        return ids

    def _file_changes(self, config_dir, files, keep):
        """Files to write ``{path: (content, mode, secret)}`` and files to remove."""
        write = {}
        for path, (content, mode, secret) in files.items():
            current, current_mode = read_file(os.path.join(config_dir, path))
            if current != content or current_mode != mode:
                write[path] = (content, mode, secret)
                self.diff.append(file_diff(os.path.join(config_dir, path), _shown(current, secret),
                                           _shown(content, secret)))
        remove = [p for p in listed_files(config_dir, keep) if p not in files] if os.path.isdir(config_dir) else []
        for path in remove:
            self.diff.append(file_diff(os.path.join(config_dir, path), "(file)\n", ""))
        return write, remove

    # -- validation
    def stage(self, config_dir, files):
        """The new directory, written whole beside ``config_dir`` for a check; the caller removes it."""
        parent = os.path.dirname(config_dir.rstrip("/")) or "/"
        os.makedirs(parent, mode=0o755, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".vnet-validate-", dir=parent)
        try:
            for path, (content, mode, _secret) in files.items():
                write_atomically(os.path.join(staging, path), content, mode)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging

    def _validate(self, config_dir, files, validate):
        """Stage the new directory, run the check in a throwaway container, fail on refusal."""
        staging = self.stage(config_dir, files)
        try:
            volumes = {}
            for relative, target in (validate.get("mounts") or {".": "/etc/vnet"}).items():
                source = os.path.normpath(os.path.join(staging, relative))
                os.makedirs(source, exist_ok=True)
                volumes[source] = {"bind": target, "mode": "ro"}
            argv = list(validate["argv"])
            container = self.client.containers.create(
                validate["image"], command=argv, entrypoint=validate.get("entrypoint") or None, volumes=volumes,
                network_mode=validate.get("network_mode") or "none", cap_drop=["ALL"],
                cap_add=validate.get("capabilities") or None, labels={"vnet.validate": self.name})
            try:
                container.start()
                status = container.wait(timeout=validate.get("timeout") or 60)
                output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace").strip()
            finally:
                container.remove(force=True)
            if status.get("StatusCode") != 0:
                raise ServiceError("%s: the new configuration was refused by %s (nothing was written):\n%s"
                                   % (self.name, " ".join(list(validate.get("entrypoint") or []) + argv),
                                      output or "(no output)"))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- containers
    def _create(self, spec, image_id, extra_labels=None):
        api = self.client.api
        labels = dict(spec.get("labels") or {}, **(extra_labels or {}))
        labels[LABEL_CONFIG] = config_hash(spec)
        log_config = None
        if spec.get("log_options"):
            log_config = {"Type": "json-file", "Config": {k: str(v) for k, v in spec["log_options"].items()}}
        host_config = api.create_host_config(
            init=spec.get("init", True), cap_drop=["ALL"], cap_add=wanted_container(spec)["capabilities"] or None,
            network_mode=spec.get("network_mode"), binds=list(spec.get("volumes") or []),
            devices=list(spec.get("devices") or []) or None,
            tmpfs={path: "" for path in spec.get("tmpfs") or []} or None,
            restart_policy={"Name": spec.get("restart_policy") or "unless-stopped"}
            if (spec.get("restart_policy") or "unless-stopped") != "no" else None,
            log_config=log_config)
        created = api.create_container(
            image_id, name=spec["name"], command=spec.get("command"), entrypoint=spec.get("entrypoint"),
            environment={k: str(v) for k, v in (spec.get("env") or {}).items()} or None,
            labels=labels, user=spec.get("user"), host_config=host_config)
        api.start(created["Id"])

    def _owner_recreated(self, attrs, spec):
        """Whether the container named by ``network_mode: container:<name>`` is no longer the one
        whose namespace this container joined (Docker recorded that one's id)."""
        wanted = spec.get("network_mode") or ""
        mode = (attrs.get("HostConfig") or {}).get("NetworkMode") or ""
        if not wanted.startswith("container:") or not mode.startswith("container:"):
            return False
        wanted, joined = wanted.split(":", 1)[1], mode.split(":", 1)[1]
        if joined == wanted:
            return False
        owner = self._inspect(wanted)
        return owner is not None and owner.get("Id") not in (None, joined) and (owner.get("Name") or "").lstrip("/") != joined

    def _namespace_stale(self, attrs):
        """Whether a running container joined another's network namespace that is no longer it."""
        mode = (attrs.get("HostConfig") or {}).get("NetworkMode") or ""
        if not mode.startswith("container:") or not attrs["State"].get("Running"):
            return False
        owner = self._inspect(mode.split(":", 1)[1])
        if owner is None or not owner["State"].get("Running"):
            return False
        try:
            mine = os.readlink(os.path.join(self.proc, str(attrs["State"]["Pid"]), "ns", "net"))
            theirs = os.readlink(os.path.join(self.proc, str(owner["State"]["Pid"]), "ns", "net"))
        except OSError:
            return False
        return mine != theirs

    def _wait(self, spec, timeout):
        deadline = self.clock() + timeout
        name = spec["name"]
        while True:
            attrs = self._inspect(name)
            state = (attrs or {}).get("State") or {}
            if state.get("Running"):
                if spec.get("wait_path"):
                    path = os.path.join(self.proc, str(state["Pid"]), "root", spec["wait_path"].lstrip("/"))
                    if os.path.exists(path):
                        return
                elif spec.get("wait_command"):
                    result = self.client.api.exec_create(name, spec["wait_command"])
                    self.client.api.exec_start(result["Id"])
                    if self.client.api.exec_inspect(result["Id"]).get("ExitCode") == 0:
                        return
                else:
                    return
            if self.clock() > deadline:
                logs = self.client.api.logs(name, tail=20).decode("utf-8", "replace").strip() if attrs else ""
                raise ServiceError("%s: container %s not ready after %ss (%s)%s" % (
                    self.name, name, timeout,
                    spec.get("wait_path") or " ".join(spec.get("wait_command") or []) or "running",
                    ("; its last lines:\n" + logs) if logs else ""))
            self.sleep(self.POLL if spec.get("wait_path") else 0.25)

    def _exec(self, name, argv):
        api = self.client.api
        created = api.exec_create(name, argv)
        output = api.exec_start(created["Id"]).decode("utf-8", "replace").strip()
        code = api.exec_inspect(created["Id"]).get("ExitCode")
        if code != 0:
            raise ServiceError("%s: %s in %s failed (exit %s):\n%s" % (self.name, " ".join(argv), name, code, output))

    def _plan_containers(self, containers, config_dir, changed, image_ids, together):
        """Per container: (spec, attrs, action, why), before anything changes."""
        plans = []
        for spec in containers:
            attrs = self._inspect(spec["name"])
            action, why = decide(attrs, spec, image_ids[spec["image"]])
            if action in ("keep", "start", "unpause") and self._owner_recreated(attrs, spec):
                action, why = "recreate", "its network namespace's container was re-created"
            if action == "keep":
                seen = mounts_changed(spec, config_dir, changed)
                restart_on = [os.path.normpath(p) for p in spec.get("restart_on") or []]
                if seen and (not spec.get("reload") or any(p in restart_on for p in seen)):
                    action, why = "restart", "%s changed" % ", ".join(seen)
                elif seen:
                    action, why = "reload", "%s changed" % ", ".join(seen)
                elif self._namespace_stale(attrs):
                    action, why = "restart", "its network namespace is gone"
            plans.append([spec, attrs, action, why])
        if together and any(p[2] not in ("keep", "reload") for p in plans):
            for plan in plans:
                if plan[2] in ("keep", "reload"):
                    plan[2], plan[3] = "restart", "restarted with the others"
        return plans

    def present(self, config_dir, files, keep=(), validate=None, volumes=(), containers=(),
                remove=None, together=False, wait_timeout=30):
        """Converge the service: ``prepare`` (reads only), ``check`` (the validation), ``apply``."""
        work = self.prepare(config_dir, files, keep, validate, volumes, containers, remove, together,
                            wait_timeout)
        self.check(work)
        return self.apply(work)

    def prepare(self, config_dir, files, keep=(), validate=None, volumes=(), containers=(),
                remove=None, together=False, wait_timeout=30):
        """Every input checked and every decision made, from one read of the engine and the files."""
        files = self._named(normalise_files, files)
        if files and not config_dir:
            raise ServiceError("%s: files are given but no config_dir to hold them" % self.name)
        names = [spec["name"] for spec in containers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ServiceError("%s: container %s given twice" % (self.name, ", ".join(duplicates)))
        images = sorted({spec["image"] for spec in containers} | ({validate["image"]} if validate else set()))
        image_ids = self._image_ids(images)

        if config_dir:
            previous, _mode_unused = read_file(os.path.join(config_dir, SERIALS_FILE))
            try:
                previous = json.loads(previous or "{}")
            except ValueError:
                # Serials only increase: a damaged record starts them again from today's number.
                self.warnings.append("%s: %s was damaged and is written anew" % (self.name, SERIALS_FILE))
                previous = {}
            files, serials = self._named(apply_serials, files, previous,
                                         int(time.strftime("%Y%m%d", time.gmtime())))
            if serials:
                files[SERIALS_FILE] = (json.dumps(serials, sort_keys=True, indent=1) + "\n", 0o644, False)
        write, delete = self._file_changes(config_dir, files, keep) if config_dir else ({}, [])
        changed_paths = list(write) + delete
        emptied = emptied_dirs(config_dir, delete, files) if delete else []
        plans = self._plan_containers(containers, config_dir, changed_paths, image_ids, together)
        stale = []
        if remove:
            filters = {"label": ["%s=%s" % item for item in sorted(remove.items())]}
            stale = sorted(c["Names"][0].lstrip("/") for c in self.client.api.containers(all=True, filters=filters)
                           if c["Names"][0].lstrip("/") not in names)
        existing_volumes = {v["Name"] for v in self.client.api.volumes().get("Volumes") or []} if volumes else set()
        return {"config_dir": config_dir, "files": files, "validate": validate, "write": write, "delete": delete,
                "emptied": emptied, "volumes": volumes, "existing_volumes": existing_volumes, "plans": plans,
                "image_ids": image_ids, "stale": stale, "wait_timeout": wait_timeout, "together": together}

    def check(self, work):
        """The daemon's own check of the new files, when any changes (not in check mode)."""
        if work["write"] and work["validate"] and not self.check_mode:
            self._validate(work["config_dir"], work["files"], work["validate"])

    def apply(self, work):
        """The changes decided by ``prepare``, in order: files, volumes, containers, stale containers."""
        config_dir, write, delete, emptied = work["config_dir"], work["write"], work["delete"], work["emptied"]
        volumes, existing_volumes, plans = work["volumes"], work["existing_volumes"], work["plans"]
        image_ids, stale, wait_timeout = work["image_ids"], work["stale"], work["wait_timeout"]

        for path in sorted(write):
            content, mode, _secret = write[path]
            self._act("write %s" % os.path.join(config_dir, path))
            if not self.check_mode:
                write_atomically(os.path.join(config_dir, path), content, mode)
        for path in delete:
            self._act("remove %s" % os.path.join(config_dir, path))
            if not self.check_mode:
                os.unlink(os.path.join(config_dir, path))
        for path in emptied:
            self._act("remove directory %s (emptied)" % os.path.join(config_dir, path))
            if not self.check_mode:
                os.rmdir(os.path.join(config_dir, path))
        if config_dir and not self.check_mode and not os.path.isdir(config_dir):
            os.makedirs(config_dir, mode=0o755)
        for volume in volumes:
            if volume["name"] not in existing_volumes:
                self._act("create volume %s" % volume["name"])
                if not self.check_mode:
                    self.client.api.create_volume(volume["name"], labels=volume.get("labels") or None)

        result = {}
        units = {}
        if work.get("together"):
            units = {plan[0]["name"]: (self.name, rank) for rank, plan in enumerate(plans)}
        for spec, attrs, action, why in plans:
            name = spec["name"]
            if action != "keep":
                self._act("%s container %s%s" % (action, name, " (%s)" % why if why else ""))
                labels = ((attrs or {}).get("Config") or {}).get("Labels") or {}
                self.diff.append(file_diff(
                    "container " + name,
                    "%s=%s\n" % (LABEL_CONFIG, labels.get(LABEL_CONFIG)) if attrs else "(absent)\n",
                    "%s=%s (%s)\n" % (LABEL_CONFIG, config_hash(spec), action)))
            if not self.check_mode:
                api = self.client.api
                if action == "recreate":
                    api.remove_container(name, force=True)
                if action in ("create", "recreate"):
                    self._create(spec, image_ids[spec["image"]], keeper_labels(spec, *units.get(name, (None, 0))))
                elif action == "start":
                    api.start(name)
                elif action == "unpause":
                    api.unpause(name)
                elif action == "restart":
                    api.restart(name, timeout=spec.get("stop_timeout", 10))
                elif action == "reload":
                    self._exec(name, spec["reload"])
                if action not in ("keep", "reload") or (action == "keep" and spec.get("wait_always")):
                    self._wait(spec, spec.get("wait_timeout") or wait_timeout)
                attrs = self._inspect(name)
            result[name] = {"action": action,
                            "pid": (attrs or {}).get("State", {}).get("Pid") or None,
                            "id": (attrs or {}).get("Id")}
        for name in stale:
            self._act("remove container %s (no longer wanted)" % name)
            if not self.check_mode:
                try:
                    self.client.api.remove_container(name, force=True)
                except NotFound:
                    pass
        return bool(self.actions), result

    def absent(self, config_dir=None, containers=(), remove=None, volumes=(), stop_timeout=None):
        """Remove the containers (stopped first within ``stop_timeout`` seconds when given), volumes, directory."""
        names = list(containers)
        if remove:
            filters = {"label": ["%s=%s" % item for item in sorted(remove.items())]}
            names += [c["Names"][0].lstrip("/") for c in self.client.api.containers(all=True, filters=filters)]
        for name in sorted(set(names)):
            if self._inspect(name) is None:
                continue
            self._act("remove container %s" % name)
            if not self.check_mode:
                try:
                    if stop_timeout is not None:
                        self.client.api.stop(name, timeout=stop_timeout)
                    self.client.api.remove_container(name, force=True)
                except NotFound:
                    pass
        existing = {v["Name"] for v in self.client.api.volumes().get("Volumes") or []} if volumes else set()
        for volume in volumes:
            if volume in existing:
                self._act("remove volume %s" % volume)
                if not self.check_mode:
                    self.client.api.remove_volume(volume, force=True)
        if config_dir and os.path.isdir(config_dir):
            self._act("remove %s" % config_dir)
            if not self.check_mode:
                shutil.rmtree(config_dir)
        return bool(self.actions)


def present_arguments(params):
    """``Service.present``'s arguments from a service's options (as validated by ``argument_spec``)."""
    return {"config_dir": params["config_dir"],
            "files": params["files"] + [dict(entry, secret=True) for entry in params["secret_files"]],
            "keep": params["keep"], "validate": params["validate"], "volumes": params["volumes"],
            "containers": params["containers"], "remove": params["remove"], "together": params["together"],
            "wait_timeout": params["wait_timeout"]}


VALIDATE_ROOT = "/vnet-validate"
VALIDATE_MARK = "@@vnet-validate"


def _validate_key(validate):
    """What services must share to be checked in one container, or None: an explicit entrypoint (an
    image's own may wait for a namespace), no network and no capability (nothing bound), the same
    image, command and mount points."""
    if not validate or not validate.get("entrypoint") or validate.get("capabilities"):
        return None
    if (validate.get("network_mode") or "none") != "none":
        return None
    mounts = validate.get("mounts") or {".": "/etc/vnet"}
    return json.dumps([validate["image"], validate["entrypoint"], validate["argv"], sorted(mounts.items())])


def validation_groups(works, check_mode=False):
    """``[(key, [service name...])]``: the services whose files change, each alone or, when their
    checks differ only by the files (``_validate_key``), together; in the order of ``works``."""
    groups = {}
    for name, work in works.items():
        if not (work["write"] and work["validate"]) or check_mode:
            continue
        key = _validate_key(work["validate"]) or "\0" + name
        groups.setdefault(key, []).append(name)
    return list(groups.items())


def validation_script(validate, count):
    """The shell script that checks ``count`` staged directories in turn in one container: each one's
    mounts (read-only under /vnet-validate/<i>/<k>) copied where the check reads them (the image's own
    directory moved aside once), the check run, its output and exit code between markers."""
    mounts = sorted((validate.get("mounts") or {".": "/etc/vnet"}).items(), key=lambda item: (len(item[1]), item[1]))
    command = " ".join(shlex.quote(word) for word in list(validate["entrypoint"]) + list(validate["argv"]))
    lines = ["set -u"]
    for index in range(count):
        for mount, (_relative, target) in enumerate(mounts):
            quoted = shlex.quote(target)
            source = "%s/%d/%d" % (VALIDATE_ROOT, index, mount)
            lines.append("if [ -e %s ] && [ ! -e %s.vnet-image ]; then mv %s %s.vnet-image; fi; rm -rf %s; mkdir -p %s; "
                         "cp -a %s/. %s/" % (quoted, quoted, quoted, quoted, quoted, quoted, source, quoted))
        lines.append("printf '%s %d begin\\n'; ( %s ) 2>&1; printf '\\n%s %d rc=%%d\\n' \"$?\""
                     % (VALIDATE_MARK, index, command, VALIDATE_MARK, index))
    return "\n".join(lines) + "\n"


def validation_results(output, count):
    """``[(exit code or None, output)]`` of each check, from the logs of ``validation_script``."""
    found = []
    for index in range(count):
        match = re.search(r"%s %d begin\n(.*?)\n%s %d rc=(\d+)\n" % (VALIDATE_MARK, index, VALIDATE_MARK, index),
                          output, re.S)
        found.append((int(match.group(2)), match.group(1).strip()) if match else (None, output.strip()))
    return found


def validate_together(client, members):
    """Check the new directories of several services whose checks differ only by their files
    (``validation_groups``) in one throwaway container instead of one each; each refusal is named
    as ``Service._validate`` names it. ``members``: ``[(Service, work)]``."""
    validate = members[0][1]["validate"]
    mounts = sorted((validate.get("mounts") or {".": "/etc/vnet"}).items(), key=lambda item: (len(item[1]), item[1]))
    stagings, volumes = [], {}
    try:
        for index, (manager, work) in enumerate(members):
            staging = manager.stage(work["config_dir"], work["files"])
            stagings.append(staging)
            for mount, (relative, _target) in enumerate(mounts):
                source = os.path.normpath(os.path.join(staging, relative))
                os.makedirs(source, exist_ok=True)
                volumes[source] = {"bind": "%s/%d/%d" % (VALIDATE_ROOT, index, mount), "mode": "ro"}
        container = client.containers.create(
            validate["image"], command=["-c", validation_script(validate, len(members))], entrypoint=["/bin/sh"],
            volumes=volumes, network_mode="none", cap_drop=["ALL"], cap_add=None,
            labels={"vnet.validate": ",".join(manager.name for manager, _work in members)})
        try:
            container.start()
            container.wait(timeout=60 + 10 * len(members))
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
    finally:
        for staging in stagings:
            shutil.rmtree(staging, ignore_errors=True)
    errors = []
    argv = " ".join(list(validate["entrypoint"]) + list(validate["argv"]))
    for (manager, _work), (code, text) in zip(members, validation_results(output, len(members))):
        if code != 0:
            errors.append("%s: the new configuration was refused by %s (nothing was written):\n%s"
                          % (manager.name, argv, text or "(no output)"))
    if errors:
        raise ServiceError(errors)


def converge_all(client, services, check_mode=False, workers=8):
    """Several services at once (validated options of each): every one prepared (reads only), then
    every one checked by its validation, then every one applied, each phase in parallel threads.

    Nothing is applied when any service fails to prepare or check; the errors of all are collected.
    Returns ``{name: Service}`` (actions, diff) and ``{name: containers}``.
    """
    names = [params["name"] for params in services]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ServiceError("service %s given twice" % ", ".join(twice))
    managers = {params["name"]: Service(client, params["name"], check_mode=check_mode) for params in services}
    works, results = {}, {}

    def run(function, items):
        errors = []
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
            for name, future in [(name, pool.submit(function, name, item)) for name, item in items]:
                try:
                    future.result()
                except ServiceError as exc:
                    errors.extend(exc.errors)
                except APIError as exc:
                    errors.append("%s: Docker: %s" % (name, exc))
                except OSError as exc:
                    errors.append("%s: %s" % (name, exc))
        if errors:
            raise ServiceError(errors)

    def prepare(name, params):
        works[name] = managers[name].prepare(**present_arguments(params))

    def apply(name, work):
        results[name] = managers[name].apply(work)[1]

    def check(key, members):
        if len(members) == 1:
            managers[members[0]].check(works[members[0]])
        else:
            validate_together(client, [(managers[name], works[name]) for name in members])

    try:
        run(prepare, [(params["name"], params) for params in services])
        run(check, validation_groups(works, check_mode))
        run(apply, list(works.items()))
    except ServiceError as exc:
        exc.managers = managers
        raise
    return managers, results


# ---------------------------------------------------------------------------------------------
# The options of one service (module vnet.lab.service, each element of vnet.lab.services' services)

CONTAINER_OPTIONS = dict(
    name=dict(type="str", required=True),
    image=dict(type="str", required=True),
    command=dict(type="list", elements="str"),
    entrypoint=dict(type="list", elements="str"),
    env=dict(type="dict", default={}),
    network_mode=dict(type="str", required=True),
    capabilities=dict(type="list", elements="str", default=[]),
    devices=dict(type="list", elements="str", default=[]),
    volumes=dict(type="list", elements="str", default=[]),
    tmpfs=dict(type="list", elements="str", default=[]),
    labels=dict(type="dict", default={}),
    restart_policy=dict(type="str", default="unless-stopped",
                        choices=["no", "on-failure", "always", "unless-stopped"]),
    init=dict(type="bool", default=True),
    user=dict(type="str"),
    log_options=dict(type="dict", default={}),
    reload=dict(type="list", elements="str"),
    restart_on=dict(type="list", elements="str", default=[]),
    wait_path=dict(type="str"),
    wait_command=dict(type="list", elements="str"),
    wait_timeout=dict(type="float"),
    wait_always=dict(type="bool", default=False),
    stop_timeout=dict(type="int", default=10),
)


def argument_spec():
    """A fresh copy of the options of one service."""
    return dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        config_dir=dict(type="path"),
        files=dict(type="list", elements="dict", default=[], options=dict(
            path=dict(type="str", required=True),
            content=dict(type="str", default="", no_log=False),
            mode=dict(type="raw", default="0644"),
        )),
        secret_files=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
            path=dict(type="str", required=True),
            content=dict(type="str", required=True, no_log=True),
            mode=dict(type="raw", default="0600"),
        )),
        keep=dict(type="list", elements="str", default=[], no_log=False),
        validate=dict(type="dict", options=dict(
            image=dict(type="str", required=True),
            argv=dict(type="list", elements="str", required=True),
            entrypoint=dict(type="list", elements="str"),
            mounts=dict(type="dict", default={".": "/etc/vnet"}),
            network_mode=dict(type="str", default="none"),
            capabilities=dict(type="list", elements="str", default=[]),
        )),
        volumes=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            labels=dict(type="dict", default={}),
        )),
        containers=dict(type="list", elements="dict", default=[], options=copy.deepcopy(CONTAINER_OPTIONS)),
        together=dict(type="bool", default=False),
        remove=dict(type="dict"),
        remove_volumes=dict(type="list", elements="str", default=[]),
        stop_timeout=dict(type="int"),
        wait_timeout=dict(type="float", default=30),
        docker_host=dict(type="str"),
    )


def specs_argument_spec():
    """The options of vnet.lab.service_specs (the services of a lab to render, by node and role; or
    the job of a rendering in the background to wait for)."""
    return dict(
        services=dict(type="list", elements="dict", options=dict(
            node=dict(type="str", required=True),
            role=dict(type="str", required=True),
            vars=dict(type="dict", default={}),
        )),
        plan=dict(type="dict"),
        inputs=dict(type="dict", default={}),
        background=dict(type="bool", default=False),
        job=dict(type="dict", options=dict(
            path=dict(type="path", required=True),
            pid=dict(type="int", required=True),
        )),
        timeout=dict(type="float", default=600),
    )


# How vnet.lab.service_specs's options go together (its action and its module's stub).
SPECS_OPTIONS = dict(
    required_one_of=[["services", "job"]],
    mutually_exclusive=[["services", "job"], ["background", "job"]],
    required_together=[["services", "plan"]],
)
