# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Named probes run at once in a lab's containers (private to vnet.lab).

A probe is a ``docker exec`` of an argv in a running container, as a user of the lab would type it:
``{name, container, argv, stdin, detach, until, after}``, or a small sequence of such execs
(``steps``) that stops at the first one that fails. Probes only look: they run in check mode too.

``until``
    The exec is repeated, every ``interval`` seconds for at most ``timeout`` seconds, until its exit
    code is ``rc`` (0 unless given) and each of its ``patterns`` is found at least ``min`` times in
    its standard output (a regular expression, multi-line); for what is not ready yet, such as an
    OSPF adjacency or a security association. The last attempt is what the probe returns.
``after``
    Names of probes that must have ended, and succeeded, before this one starts (the phones must
    be registered before the call); a probe whose predecessor failed is not run.
``detach``
    The exec is started and left running (a capture that a later step stops); it has no output.

All probes start at once, each in a thread of its own, so that the whole set takes as long as its
slowest probe instead of the sum of all. A probe succeeds (``ok``) when its exec ran and exited 0
(or as ``until`` wants); every probe is returned, failed or not: what a failure means is for the
caller to judge (a refused wrong password is a success of the lab).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time

try:
    from docker.errors import DockerException
    from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter
except ImportError:
    class DockerException(Exception):
        """Stands in for docker.errors.DockerException; the module fails first without the SDK."""

    consume_socket_output = demux_adaptor = frames_iter = None

# A volume is full below either: a DHCP server or a client cannot write its leases, FTP uploads fail.
FULL_FRACTION = 0.05
FULL_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 20.0
DEFAULT_INTERVAL = 0.5
# Docker may answer that an exec whose output has ended is still running: its exit code follows.
EXIT_CODE_WAIT = 5.0


class ProbeError(Exception):
    """Why the probes cannot run; one problem per line, each naming its probe."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


def _exec_errors(where, spec):
    errors = []
    if not spec.get("container"):
        errors.append("%s: no container" % where)
    if not spec.get("argv"):
        errors.append("%s: no argv" % where)
    until = spec.get("until") or {}
    if spec.get("detach") and (until or spec.get("stdin") is not None):
        errors.append("%s: a detached exec has no output to wait for and takes no stdin" % where)
    for number, pattern in enumerate(until.get("patterns") or [], 1):
        try:
            re.compile(pattern.get("regex") or "")
        except re.error as exc:
            errors.append("%s: until pattern %d %r: %s" % (where, number, pattern.get("regex"), exc))
    for key in ("timeout", "interval"):
        if until.get(key) is not None and until[key] <= 0:
            errors.append("%s: until %s must be above 0, not %s" % (where, key, until[key]))
    return errors


def _cycle(probes):
    """A probe that waits, through ``after``, for itself; None when there is none."""
    after = {p["name"]: list(p.get("after") or []) for p in probes}
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return None
        if state.get(name) == "open":
            return path[path.index(name):] + [name]
        state[name] = "open"
        for other in after.get(name, []):
            found = visit(other, path + [name])
            if found:
                return found
        state[name] = "done"
        return None

    for probe in probes:
        found = visit(probe["name"], [])
        if found:
            return found
    return None


def validate(probes):
    """Every problem of the probe list, one line each; nothing is run while there is one."""
    errors = []
    names = [p.get("name") or "" for p in probes]
    for index, probe in enumerate(probes, 1):
        name = probe.get("name")
        if not name:
            errors.append("probe %d: no name" % index)
            continue
        where = "probe %r" % name
        if names.count(name) > 1 and names.index(name) == index - 1:
            errors.append("%s: given %d times" % (where, names.count(name)))
        steps = probe.get("steps") or []
        if steps and (probe.get("container") or probe.get("argv")):
            errors.append("%s: either steps or container and argv, not both" % where)
        elif steps:
            for number, step in enumerate(steps, 1):
                errors.extend(_exec_errors("%s step %d" % (where, number), step))
        else:
            errors.extend(_exec_errors(where, probe))
        for other in probe.get("after") or []:
            if other not in names:
                errors.append("%s: after %r, which is not a probe" % (where, other))
    if not errors:
        cycle = _cycle(probes)
        if cycle:
            errors.append("probes wait for each other: %s" % " -> ".join(cycle))
    if errors:
        raise ProbeError(errors)


def condition_met(until, rc, stdout):
    """Whether an exec's exit code and output are what ``until`` waits for."""
    if rc is None or rc != (until.get("rc") or 0):
        return False
    for pattern in until.get("patterns") or []:
        if len(re.findall(pattern["regex"], stdout, re.MULTILINE)) < pattern.get("min", 1):
            return False
    return True


def _text(data):
    return (data or b"").decode("utf-8", "replace")


class Runner:
    """Runs probes at once through one Docker client (its connection pool sized for them)."""

    def __init__(self, client, clock=time.monotonic, sleep=time.sleep):
        self.api = client.api
        self.clock = clock
        self.sleep = sleep

    def _exit_code(self, exec_id):
        deadline = self.clock() + EXIT_CODE_WAIT
        while True:
            state = self.api.exec_inspect(exec_id)
            if not state.get("Running") or self.clock() > deadline:
                return state.get("ExitCode")
            self.sleep(0.01)

    def _with_stdin(self, exec_id, data):
        """Writes all of ``data``, closes the exec's stdin, reads its output to the end."""
        sock = self.api.exec_start(exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        try:
            raw.sendall(data.encode("utf-8"))
            raw.shutdown(socket.SHUT_WR)
            frames = (demux_adaptor(*frame) for frame in frames_iter(sock, tty=False))
            return consume_socket_output(frames, demux=True)
        finally:
            response = getattr(sock, "_response", None)
            if response is not None:
                response.close()
            sock.close()
            if raw is not sock:
                raw.close()

    def run_exec(self, spec):
        """One exec: ``{rc, stdout, stderr, error}``; a Docker error is returned, not raised."""
        try:
            created = self.api.exec_create(spec["container"], list(spec["argv"]),
                                           stdin=spec.get("stdin") is not None)
            if spec.get("detach"):
                self.api.exec_start(created["Id"], detach=True)
                return {"rc": None, "stdout": "", "stderr": "", "error": None}
            if spec.get("stdin") is not None:
                out, err = self._with_stdin(created["Id"], spec["stdin"])
            else:
                out, err = self.api.exec_start(created["Id"], demux=True)
            return {"rc": self._exit_code(created["Id"]), "stdout": _text(out), "stderr": _text(err), "error": None}
        except (DockerException, OSError) as exc:
            return {"rc": None, "stdout": "", "stderr": "", "error": "%s: %s" % (spec["container"], exc)}

    def run_step(self, spec):
        """One exec, repeated while ``until`` is not met; with its attempts and whether it succeeded."""
        until = spec.get("until")
        started = self.clock()
        attempts = 0
        if until is None:
            result = self.run_exec(spec)
            attempts = 1
            ok = result["error"] is None and (spec.get("detach") or result["rc"] == 0)
        else:
            timeout = until.get("timeout") or DEFAULT_TIMEOUT
            interval = until.get("interval") or DEFAULT_INTERVAL
            deadline = started + timeout
            while True:
                result = self.run_exec(spec)
                attempts += 1
                ok = result["error"] is None and condition_met(until, result["rc"], result["stdout"])
                if ok or self.clock() + interval > deadline:
                    break
                self.sleep(interval)
        result.update(ok=bool(ok), attempts=attempts, duration=round(self.clock() - started, 3))
        return result

    def run_probe(self, probe):
        """A probe: its exec, or its steps in order up to the first that fails."""
        started = self.clock()
        if not probe.get("steps"):
            result = self.run_step(probe)
        else:
            steps = []
            for step in probe["steps"]:
                steps.append(self.run_step(step))
                if not steps[-1]["ok"]:
                    break
            result = dict(steps[-1])
            result.update(ok=all(s["ok"] for s in steps) and len(steps) == len(probe["steps"]),
                          attempts=sum(s["attempts"] for s in steps), steps=steps)
        result.update(skipped=False, duration=round(self.clock() - started, 3))
        return result

    def run(self, probes):
        """Every probe at once, each in a thread of its own; ``{name: result}`` in the order given."""
        validate(probes)
        results = {}
        crashes = []
        finished = {probe["name"]: threading.Event() for probe in probes}

        def task(probe):
            try:
                for name in probe.get("after") or []:
                    finished[name].wait()
                failed = [name for name in probe.get("after") or [] if not results[name]["ok"]]
                if failed:
                    results[probe["name"]] = {
                        "rc": None, "stdout": "", "stderr": "", "error": "not run: %s failed" % ", ".join(failed),
                        "ok": False, "skipped": True, "attempts": 0, "duration": 0.0}
                else:
                    results[probe["name"]] = self.run_probe(probe)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # Raised again below, once every thread has ended: in its thread it would be lost.
                crashes.append(exc)
                results[probe["name"]] = {"ok": False}
            finally:
                finished[probe["name"]].set()

        threads = [threading.Thread(target=task, args=(probe,), daemon=True) for probe in probes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if crashes:
            raise crashes[0]
        return {probe["name"]: results[probe["name"]] for probe in probes}


def volume_space(api, lab, statvfs=os.statvfs):
    """The space left on each named volume of a lab (label ``vnet.lab=<lab>``), by name.

    ``{name: {mountpoint, size, free, full}}`` in bytes, read from the file system that holds the
    volume's directory on the Docker host (``statvfs``: the module runs beside the engine); ``size``
    and ``free`` are None when that directory is not here (a remote engine) or unreadable. ``full``:
    less than 5 % or 16 MiB left, whichever is smaller - a DHCP server can no longer keep its leases.
    """
    listed = api.volumes(filters={"label": "vnet.lab=%s" % lab}) or {}
    found = {}
    for volume in sorted(listed.get("Volumes") or [], key=lambda v: v["Name"]):
        mountpoint = volume.get("Mountpoint") or ""
        entry = {"mountpoint": mountpoint, "size": None, "free": None, "full": False}
        try:
            stat = statvfs(mountpoint)
        except (OSError, ValueError):
            stat = None
        if stat is not None and stat.f_blocks:
            size, free = stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize
            entry.update(size=size, free=free, full=free < min(size * FULL_FRACTION, FULL_BYTES))
        found[volume["Name"]] = entry
    return found
