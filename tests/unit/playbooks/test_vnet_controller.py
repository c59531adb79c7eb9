# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/callback_plugins/vnet_controller.py, loaded for every playbook of the checkout's
ansible.cfg: Ansible parses its DOCUMENTATION before any play (a YAML mistake there stops every
playbook), it lists the collections once under a Mitogen strategy only, and it freezes the objects
alive at each play's start."""

from __future__ import annotations

import gc
import importlib.util
import os
import re
from pathlib import Path
from unittest import mock

import pytest
import yaml

PLUGIN = Path(__file__).resolve().parents[3] / "playbooks" / "callback_plugins" / "vnet_controller.py"


def load():
    spec = importlib.util.spec_from_file_location("vnet_controller_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Play:
    def __init__(self, strategy):
        self.strategy = strategy


def test_documentation_is_yaml_and_names_the_callback():
    module = load()
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["name"] == module.CallbackModule.CALLBACK_NAME == PLUGIN.stem
    assert documentation["type"] == module.CallbackModule.CALLBACK_TYPE
    assert all(isinstance(line, str) for line in documentation["description"])
    assert not module.CallbackModule.CALLBACK_NEEDS_ENABLED


def test_collections_listed_once_under_mitogen_only_and_objects_frozen_at_each_play():
    module = load()
    callback = module.CallbackModule()
    with mock.patch("ansible.collections.list.list_collection_dirs", return_value=iter([b"/x"])) as listed, \
            mock.patch.object(module.gc, "freeze", wraps=gc.freeze) as freeze, \
            mock.patch.object(module, "keep_mitogen_sources", return_value=True) as keep:
        callback.v2_playbook_on_play_start(Play("linear"))
        assert listed.call_count == 0 and freeze.call_count == 1 and keep.call_count == 0
        callback.v2_playbook_on_play_start(Play("mitogen_linear"))
        callback.v2_playbook_on_play_start(Play("mitogen_free"))
        assert listed.call_count == 1 and freeze.call_count == 3 and keep.call_count == 1
    gc.unfreeze()


def test_a_failed_listing_is_only_reported():
    module = load()
    callback = module.CallbackModule()
    with mock.patch("ansible.collections.list.list_collection_dirs", side_effect=OSError("gone")), \
            mock.patch.object(callback, "_display") as display, mock.patch.object(module.gc, "freeze"), \
            mock.patch.object(module, "keep_mitogen_sources", return_value=False):
        callback.v2_playbook_on_play_start(Play("mitogen_linear"))
    said = [call[0][0] for call in display.vvv.call_args_list]
    assert re.search("not listed ahead.*gone", said[0])
    assert re.search("Mitogen's sources are not kept in ", said[1])


# --- Mitogen's compiled and stripped sources, kept on disk ----------------------------------------

SOURCE = "import os\nfrom json import dumps  # a comment\n\ndef f():\n    '''doc'''\n    return os.sep\n"


def test_compile_is_kept_and_read_back(tmp_path):
    cache = load().SourceCache(str(tmp_path))
    first = cache.compile(SOURCE, "/x/mod.py", "exec")
    # As Mitogen's modules compile it: without this test's __future__ annotations.
    assert first == compile(SOURCE, "/x/mod.py", "exec", 0, True)
    assert first != compile(SOURCE, "/x/mod.py", "exec")
    assert len(list(tmp_path.iterdir())) == 1
    with mock.patch("builtins.compile", side_effect=AssertionError("compiled again")):
        again = cache.compile(SOURCE, "/x/mod.py", "exec")
    assert again == first and again.co_filename == "/x/mod.py"
    # Another file name, another source, another mode or flags: made anew, never a wrong entry.
    assert cache.compile(SOURCE, "/y/mod.py", "exec").co_filename == "/y/mod.py"
    assert cache.compile(SOURCE + "x = 1\n", "/x/mod.py", "exec").co_names != first.co_names
    assert cache.compile("1 + 1", "<e>", "eval") == compile("1 + 1", "<e>", "eval")
    assert len(list(tmp_path.iterdir())) == 3


def test_a_damaged_or_foreign_entry_is_made_again(tmp_path):
    cache = load().SourceCache(str(tmp_path))
    path = cache.path("compile, no inherited flags", "/x/mod.py", SOURCE)
    Path(path).write_bytes(b"\x00garbage")
    assert cache.compile(SOURCE, "/x/mod.py", "exec") == compile(SOURCE, "/x/mod.py", "exec", 0, True)
    cache.put(path, "not code")
    assert cache.compile(SOURCE, "/x/mod.py", "exec") == compile(SOURCE, "/x/mod.py", "exec", 0, True)
    text = cache.path("minify", SOURCE)
    Path(text).write_bytes(b"")
    assert cache.wrap_text("minify", str.upper)(SOURCE) == SOURCE.upper()


def test_stripped_text_is_kept(tmp_path):
    cache = load().SourceCache(str(tmp_path))
    calls = []
    stripped = cache.wrap_text("minify", lambda source: calls.append(source) or source.upper())
    assert stripped(SOURCE) == stripped(SOURCE) == SOURCE.upper()
    assert calls == [SOURCE]


def test_old_entries_and_leftovers_are_pruned(tmp_path):
    module = load()
    cache = module.SourceCache(str(tmp_path))
    cache.compile(SOURCE, "/x/mod.py", "exec")
    old = tmp_path / "old"
    old.write_bytes(b"")
    now = 2_000_000_000
    os.utime(old, (now - (module.CACHE_DAYS + 1) * 86400,) * 2)
    for entry in tmp_path.iterdir():
        if entry != old:
            os.utime(entry, (now - 86400,) * 2)
    cache.prune(now=now)
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(cache.path("compile, no inherited flags", "/x/mod.py", SOURCE)).name]


def test_mitogen_reads_the_kept_sources_and_finds_the_same_imports(tmp_path):
    mitogen_master = pytest.importorskip("mitogen.master")
    import ansible_mitogen.module_finder
    import mitogen.minify

    module = load()
    original = mitogen.minify.minimize_source
    try:
        finder = mitogen_master.ModuleFinder()
        expected = finder.find_related_imports("json.decoder"), finder.find_related("ansible_mitogen.runner")
        assert module.keep_mitogen_sources(str(tmp_path / "cache"))
        assert module.keep_mitogen_sources(str(tmp_path / "cache"))  # a second play: wrapped once
        assert mitogen.minify.minimize_source.__wrapped__ is original
        for attempt in ("made", "read back"):
            finder = mitogen_master.ModuleFinder()
            got = finder.find_related_imports("json.decoder"), finder.find_related("ansible_mitogen.runner")
            assert got == expected, attempt
            assert mitogen.minify.minimize_source(SOURCE) == original(SOURCE)
        assert len(list((tmp_path / "cache").iterdir())) > 2
        assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    finally:
        mitogen.minify.minimize_source = original
        for patched in (mitogen_master, ansible_mitogen.module_finder):
            patched.__dict__.pop("compile", None)


def test_an_unusable_directory_is_left_alone(tmp_path):
    module = load()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert module.keep_mitogen_sources(str(blocker / "cache")) is False


def test_the_directory_comes_from_the_option_or_the_environment(monkeypatch, tmp_path):
    module = load()
    callback = module.CallbackModule()
    monkeypatch.delenv("VNET_CONTROLLER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert callback.cache_dir() == str(tmp_path / "vnet.lab" / "mitogen")
    monkeypatch.setenv("VNET_CONTROLLER_CACHE_DIR", "")
    assert callback.cache_dir() == ""
    callback.set_options()
    assert callback.cache_dir() == ""
    with mock.patch.object(module, "keep_mitogen_sources") as keep, mock.patch.object(module.gc, "freeze"), \
            mock.patch("ansible.collections.list.list_collection_dirs", return_value=iter([])):
        callback.v2_playbook_on_play_start(Play("mitogen_linear"))
    assert keep.call_count == 0


def test_entries_written_at_once_from_threads_are_whole(tmp_path):
    import threading

    cache = load().SourceCache(str(tmp_path))
    path = cache.path("minify", SOURCE)
    texts = ["%d" % n * 50000 for n in range(8)]
    threads = [threading.Thread(target=cache.put, args=(path, text)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get(path) in texts
    assert [p.name for p in tmp_path.iterdir()] == [Path(path).name]  # no temporary file left
