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
"""

import builtins
import gc
import hashlib
import importlib.util
import marshal
import os
import threading
import time

from ansible.plugins.callback import CallbackBase

# An entry not read for this long goes (its modification time is renewed at each read).
CACHE_DAYS = 30


def default_cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vnet.lab", "mitogen")


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
        limit = (now or time.time()) - CACHE_DAYS * 86400
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in entries:
            try:
                if entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
            except OSError:
                pass

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


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "vnet_controller"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listed = False

    def cache_dir(self):
        try:
            directory = self.get_option("cache_dir")
        except KeyError:  # options not set (a caller that did not call set_options)
            directory = os.environ.get("VNET_CONTROLLER_CACHE_DIR")
        return default_cache_dir() if directory is None else os.path.expanduser(directory)

    def v2_playbook_on_play_start(self, play):
        if not self._listed and str(getattr(play, "strategy", "") or "").startswith("mitogen"):
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
