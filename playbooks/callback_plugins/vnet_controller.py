# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: vnet_controller
type: aggregate
short_description: Ready the controller for the worker it forks at each task
description:
  - Ansible runs each task in a worker process, a fresh fork of the controller. Two things made every
    fork cost more than it needs to; at the start of each play, this callback removes both.
  - Under a Mitogen strategy, Mitogen's planner lists every installed collection (importing each one
    and parsing its C(meta/runtime.yml)) before it runs a module of a collection, in the worker, so
    the whole list was made again at every call of a C(vnet.lab) or C(community.docker) module
    (the C(ansible) package brings about ninety collections; 0.23 s a call here, 0.04 s once they
    are imported). The callback lists them once in the controller, and every worker inherits them.
    Nothing of this happens under another strategy (C(ANSIBLE_STRATEGY=linear)).
  - Python's cyclic garbage collector, run in a worker, writes to the header of every object it
    scans, so the worker copies the controller's memory pages holding the play's variables (a lab's
    plan) page by page. The callback moves the objects alive at the start of a play out of the
    collector's reach (C(gc.freeze()), as Python's documentation advises before a fork); objects made
    later are collected as before. Measured here, 51 module calls with a 300 kB plan in the play's
    variables took 10.5 s of CPU, 9.7 s with the freeze.
  - Under a Mitogen strategy, Mitogen's multiplexer compiles the source of every Python module it
    serves to a target, to find the modules it imports (and sends them along), and strips the
    comments and docstrings of its own modules, again in every run (0.4 s of CPU and of wall clock
    before the first task's module runs, a third of the multiplexer's work). The callback keeps both
    results on disk, in O(cache_dir), keyed by a hash of the source (and Python's bytecode version), and
    a later run reads them instead of making them again. Both are pure functions of the source; a
    missing, unreadable or damaged entry is made again, a directory that cannot be written is not
    used, and an entry not read for 30 days is removed.
  - Under another strategy (C(linear), as C(lab_down.yml) runs), Ansible builds each module's payload
    (AnsiballZ, the module and every module_utils it imports, found by parsing them) once per run, in the
    run's own temporary directory (0.13 s for C(ping), 0.27 s for C(vnet.lab.nodes) here). At the end of a
    run the callback keeps the payloads it built in O(ansiballz_dir), each with the place, size, time and
    SHA-1 of every file it was built from; at the start of the next run, a payload whose files are all
    still the same (a file whose size or time changed is read and hashed) and are still the ones Ansible
    would find is put back in the run's directory, where Ansible looks before it builds. The payloads are
    kept per version of Ansible and of Python, per Ansible's place and per collection paths. One not
    used for 30 days is removed.
  - It changes nothing else and prints nothing. The checkout's C(ansible.cfg) loads it for every
    playbook (C(callback_plugins)); it also sits beside the collection's playbooks, where
    ansible-playbook finds it by itself.
options:
  cache_dir:
    description:
      - Directory of Mitogen's compiled and stripped sources, made (mode 0700) when missing. Empty,
        nothing is kept (each run makes them again). Default C($XDG_CACHE_HOME/vnet.lab/mitogen),
        C(~/.cache/vnet.lab/mitogen) without XDG_CACHE_HOME.
    type: str
    env:
      - name: VNET_CONTROLLER_CACHE_DIR
    ini:
      - section: vnet_controller
        key: cache_dir
  ansiballz_dir:
    description:
      - Directory of the AnsiballZ payloads kept from one run to the next, made (mode 0700) when missing.
        Empty, none is kept. Default C($XDG_CACHE_HOME/vnet.lab/ansiballz), C(~/.cache/vnet.lab/ansiballz)
        without XDG_CACHE_HOME.
    type: str
    env:
      - name: VNET_CONTROLLER_ANSIBALLZ_DIR
    ini:
      - section: vnet_controller
        key: ansiballz_dir
"""

import base64
import builtins
import gc
import hashlib
import importlib.util
import io
import json
import marshal
import os
import pickle
import sys
import threading
import time
import zipfile

from ansible import constants as C
from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION
from ansible.plugins.callback import CallbackBase

# An entry not read for this long goes (its modification time is renewed at each read).
CACHE_DAYS = 30


def default_cache_dir(name="mitogen"):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vnet.lab", name)


def prune(directory, now=None):
    """Remove the files of ``directory`` not used for CACHE_DAYS days (leftovers of interrupted
    writes too)."""
    limit = (now or time.time()) - CACHE_DAYS * 86400
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_file() and entry.stat().st_mtime < limit:
                os.unlink(entry.path)
        except OSError:
            pass


def write_atomically(path, data):
    temporary = "%s.%d.%d.tmp" % (path, os.getpid(), threading.get_ident())
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
    return True


class SourceCache:
    """Results of pure functions of a Python source, kept in ``directory`` (marshal, one file per
    entry, named by a hash of the function's name, Python's bytecode version and the arguments)."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, kind, *parts):
        digest = hashlib.sha256(importlib.util.MAGIC_NUMBER + kind.encode())
        for part in parts:
            digest.update(b"\0" + (part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogateescape")))
        return os.path.join(self.directory, digest.hexdigest())

    def get(self, path):
        try:
            with open(path, "rb") as handle:
                value = marshal.load(handle)
            os.utime(path)
        except (OSError, ValueError, EOFError, TypeError):
            return None
        return value

    def put(self, path, value):
        # Unique to the process and the thread: the multiplexer compiles in several threads.
        temporary = "%s.%d.%d.tmp" % (path, os.getpid(), threading.get_ident())
        try:
            with open(temporary, "wb") as handle:
                marshal.dump(value, handle)
            os.replace(temporary, path)
        except (OSError, ValueError):
            try:
                os.unlink(temporary)
            except OSError:
                pass

    def prune(self, now=None):
        """Remove the entries not read for CACHE_DAYS days (leftovers of interrupted writes too)."""
        prune(self.directory, now)

    def compile(self, source, filename, mode, *args, **kwargs):
        """builtins.compile, kept for ``exec`` of a whole source (what Mitogen compiles to read its
        imports). Compiled without this file's ``__future__`` flags (dont_inherit), as the
        callers' modules have none that matters in Python 3."""
        if args or kwargs or mode != "exec" or not isinstance(source, (str, bytes)):
            return builtins.compile(source, filename, mode, *args, **kwargs)
        path = self.path("compile, no inherited flags", filename, source)
        code = self.get(path)
        if type(code).__name__ != "code":
            code = builtins.compile(source, filename, mode, 0, True)
            self.put(path, code)
        return code

    def wrap_text(self, kind, function):
        """``function(source) -> str``, kept."""
        def cached(source):
            path = self.path(kind, source)
            text = self.get(path)
            if not isinstance(text, str):
                text = function(source)
                self.put(path, text)
            return text
        cached.__wrapped__ = function
        return cached


def keep_mitogen_sources(directory):
    """Make Mitogen's multiplexer (forked from this process later) read its compiled and stripped
    sources from ``directory``. Returns False when Mitogen or the directory cannot be used."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            return False
        import ansible_mitogen.module_finder
        import mitogen.master
        import mitogen.minify
    except (ImportError, OSError):
        return False
    cache = SourceCache(directory)
    cache.prune()
    # The name compile, looked up in these modules' globals before the builtins: only they see it.
    mitogen.master.compile = cache.compile
    ansible_mitogen.module_finder.compile = cache.compile
    if not hasattr(mitogen.minify.minimize_source, "__wrapped__"):
        mitogen.minify.minimize_source = cache.wrap_text("minify", mitogen.minify.minimize_source)
    return True


class AnsiballzStore:
    """AnsiballZ payloads kept from one run to the next, one file each, ``<name>.payload`` (written
    at once, so its two parts always go together): a line of JSON, for each file of the payload's
    zip the file it came from, its size, modification time and SHA-1 (null for an empty package
    ``__init__.py`` that Ansible made up and that must still be missing), then the file Ansible
    wrote in its run's ``ansiballz_cache``, as it is. A file of the payload under ``ansible/`` that
    is not the installed one (Ansible makes ``ansible/__init__.py`` up) depends on Ansible's
    version alone, which is part of the directory's key."""

    SUFFIX = ".payload"

    def __init__(self, directory, ansible_dir, collection_paths):
        self.ansible_parent = os.path.dirname(ansible_dir)
        self.collection_paths = list(collection_paths)
        key = json.dumps([ANSIBLE_VERSION, list(sys.version_info[:2]), ansible_dir, self.collection_paths])
        self.directory = os.path.join(directory, hashlib.sha256(key.encode("utf-8")).hexdigest()[:16])

    def source_of(self, member):
        """The file Ansible takes the payload's ``member`` from, or None."""
        if member.startswith("ansible/"):
            candidate = os.path.join(self.ansible_parent, member)
            return candidate if os.path.isfile(candidate) else None
        if member.startswith("ansible_collections/"):
            for root in self.collection_paths:
                candidate = os.path.join(root, member)
                if os.path.isfile(candidate):
                    return candidate
        return None

    def sources(self, payload):
        """The ``.sources`` of a payload (the bytes Ansible wrote), or None when one of its files
        cannot be traced to the file it came from as it is now."""
        try:
            # Ansible's own file, in its run's private directory; written by this Ansible.
            cached = pickle.loads(payload)  # nosec
            archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(cached.zip_data)))
            members = {name: archive.read(name) for name in archive.namelist()}
        except Exception:  # pylint: disable=broad-except  # not a payload this code knows
            return None
        sources = {}
        for name, data in sorted(members.items()):
            path = self.source_of(name)
            if path is not None:
                try:
                    with open(path, "rb") as handle:
                        content = handle.read()
                    status = os.stat(path)
                except OSError:
                    return None
                if content == data:
                    sources[name] = [path, status.st_size, status.st_mtime_ns, hashlib.sha1(data).hexdigest()]
                    continue
            if name.startswith("ansible/"):
                continue
            if path is None and not data and os.path.basename(name) == "__init__.py":
                sources[name] = None
                continue
            return None
        return sources

    def current(self, sources):
        """Whether every file of a payload is still the one it came from, unchanged."""
        for name, entry in sources.items():
            path = self.source_of(name)
            if entry is None or path is None:
                if entry is not None or path is not None:
                    return False
                continue
            if path != entry[0]:
                return False
            try:
                status = os.stat(path)
                if (status.st_size, status.st_mtime_ns) == (entry[1], entry[2]):
                    continue
                with open(path, "rb") as handle:
                    if hashlib.sha1(handle.read()).hexdigest() != entry[3]:
                        return False
            except OSError:
                return False
        return True

    def seed(self, cache_dir):
        """Put every current payload in the run's ``cache_dir``; returns their names."""
        seeded = []
        try:
            names = sorted(n[:-len(self.SUFFIX)] for n in os.listdir(self.directory) if n.endswith(self.SUFFIX))
        except OSError:
            return seeded
        for name in names:
            stored, target = os.path.join(self.directory, name + self.SUFFIX), os.path.join(cache_dir, name)
            try:
                with open(stored, "rb") as handle:
                    sources = json.loads(handle.readline())
                    if os.path.exists(target) or not isinstance(sources, dict) or not self.current(sources):
                        continue
                    payload = handle.read()
                os.makedirs(cache_dir, exist_ok=True)
            except (OSError, ValueError, AttributeError, TypeError, IndexError):
                continue
            if write_atomically(target, payload):
                seeded.append(name)
                try:
                    os.utime(stored)
                except OSError:
                    pass
        return seeded

    def keep(self, cache_dir):
        """Keep the run's payloads (those not kept already); returns their names."""
        kept = []
        try:
            names = sorted(os.listdir(cache_dir))
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        except OSError:
            return kept
        for name in names:
            if name.endswith((".lock", "-part", ".tmp")):
                continue
            stored = os.path.join(self.directory, name + self.SUFFIX)
            try:
                with open(os.path.join(cache_dir, name), "rb") as handle:
                    payload = handle.read()
                with open(stored, "rb") as handle:
                    handle.readline()
                    if handle.read() == payload:
                        continue
            except OSError:
                pass
            sources = self.sources(payload)
            if sources is not None and \
                    write_atomically(stored, json.dumps(sources, sort_keys=True).encode("utf-8") + b"\n" + payload):
                kept.append(name)
        prune(self.directory)
        return kept


def ansiballz_store(directory):
    """The store under ``directory`` for this Ansible and its collection paths, or None."""
    try:
        import ansible
        from ansible.utils.collection_loader import AnsibleCollectionConfig

        return AnsiballzStore(directory, os.path.dirname(os.path.abspath(ansible.__file__)),
                              AnsibleCollectionConfig.collection_paths)
    except Exception:  # pylint: disable=broad-except  # only an optimisation
        return None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "vnet_controller"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listed = False
        self._store = None
        self._seeded = False

    def _option(self, name, variable, default):
        try:
            directory = self.get_option(name)
        except KeyError:  # options not set (a caller that did not call set_options)
            directory = os.environ.get(variable)
        return default if directory is None else os.path.expanduser(directory)

    def ansiballz_dir(self):
        return self._option("ansiballz_dir", "VNET_CONTROLLER_ANSIBALLZ_DIR", default_cache_dir("ansiballz"))

    def cache_dir(self):
        return self._option("cache_dir", "VNET_CONTROLLER_CACHE_DIR", default_cache_dir())

    def v2_playbook_on_play_start(self, play):
        mitogen = str(getattr(play, "strategy", "") or "").startswith("mitogen")
        if not mitogen and not self._seeded:
            # Before the play's first task: its workers look for payloads in the run's directory.
            self._seeded = True
            directory = self.ansiballz_dir()
            self._store = ansiballz_store(directory) if directory else None
            if self._store is not None:
                seeded = self._store.seed(os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache"))
                self._display.vvv("vnet_controller: AnsiballZ payloads of earlier runs: %s"
                                  % (", ".join(seeded) or "none"))
        if not self._listed and mitogen:
            self._listed = True
            try:
                from ansible.collections.list import list_collection_dirs

                for _path in list_collection_dirs():
                    pass
            except Exception as exc:  # only an optimisation: the workers list them as before
                self._display.vvv("vnet_controller: the collections were not listed ahead (%s)" % exc)
            directory = self.cache_dir()
            if directory and not keep_mitogen_sources(directory):
                self._display.vvv("vnet_controller: Mitogen's sources are not kept in %s" % directory)
        gc.freeze()

    def v2_playbook_on_stats(self, stats):
        if self._store is not None:
            kept = self._store.keep(os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache"))
            self._display.vvv("vnet_controller: AnsiballZ payloads kept: %s" % (", ".join(kept) or "none"))
