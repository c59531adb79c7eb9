# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/callback_plugins/vnet_controller.py, loaded for every playbook of the checkout's
ansible.cfg: Ansible parses its DOCUMENTATION before any play (a YAML mistake there stops every
playbook), it lists the collections once under a Mitogen strategy only, it freezes the objects
alive at each play's start, it keeps Mitogen's compiled sources, and it keeps AnsiballZ payloads
from one run to the next while the files they were built from are the same."""

from __future__ import annotations

import base64
import gc
import importlib.util
import io
import os
import pickle
import re
import zipfile
from pathlib import Path
from unittest import mock

import pytest
import yaml

PLUGIN = Path(__file__).resolve().parents[3] / "playbooks" / "callback_plugins" / "vnet_controller.py"


@pytest.fixture(autouse=True)
def no_ansiballz_store(monkeypatch):
    """A play started here keeps no payload in the user's cache (the tests of the store give theirs)."""
    monkeypatch.setenv("VNET_CONTROLLER_ANSIBALLZ_DIR", "")


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


# -- AnsiballZ payloads

def payload(members):
    """The bytes Ansible writes in its run's ansiballz_cache for a zip of ``members``."""
    from ansible.executor.module_common import ModuleMetadataV1, _CachedModule

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    cached = _CachedModule(zip_data=base64.b64encode(buffer.getvalue()),
                           metadata=ModuleMetadataV1(serialization_profile="legacy"), source_mapping={})
    return pickle.dumps(cached)


@pytest.fixture
def store(tmp_path):
    """A store, two collection paths (the first one empty), an installed module, and a run's
    ansiballz_cache holding the module's payload."""
    module = load()
    first, second = tmp_path / "first", tmp_path / "second"
    source = second / "ansible_collections" / "ns" / "coll" / "plugins" / "modules" / "thing.py"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"print('thing')\n")
    first.mkdir()
    members = {"ansible_collections/ns/coll/plugins/modules/thing.py": b"print('thing')\n",
               "ansible_collections/ns/__init__.py": b"",
               "ansible/__init__.py": b"# made up by Ansible\n"}
    run = tmp_path / "run1" / "ansiballz_cache"
    run.mkdir(parents=True)
    (run / "ns.coll.thing-ZIP_DEFLATED-none").write_bytes(payload(members))
    (run / "ns.coll.thing-ZIP_DEFLATED-none.lock").write_bytes(b"")
    kept = module.AnsiballzStore(str(tmp_path / "store"), str(tmp_path / "ansible"), [str(first), str(second)])
    return module, kept, run, source, first


def test_a_payload_is_kept_and_put_back_while_its_files_are_the_same(store, tmp_path):
    module, kept, run, source, first = store
    assert kept.keep(str(run)) == ["ns.coll.thing-ZIP_DEFLATED-none"]
    assert kept.keep(str(run)) == [], "kept once"
    assert sorted(os.listdir(kept.directory)) == ["ns.coll.thing-ZIP_DEFLATED-none.payload"]
    following = tmp_path / "run2" / "ansiballz_cache"
    assert kept.seed(str(following)) == ["ns.coll.thing-ZIP_DEFLATED-none"]
    assert (following / "ns.coll.thing-ZIP_DEFLATED-none").read_bytes() == \
        (run / "ns.coll.thing-ZIP_DEFLATED-none").read_bytes()
    # Touched, same content: still current (read and hashed).
    os.utime(source, ns=(1, 1))
    assert kept.seed(str(tmp_path / "run3" / "ansiballz_cache")) == ["ns.coll.thing-ZIP_DEFLATED-none"]


@pytest.mark.parametrize("change", ["edited", "removed", "shadowed", "package-made"])
def test_a_payload_whose_files_changed_is_built_again(store, tmp_path, change):
    module, kept, run, source, first = store
    kept.keep(str(run))
    if change == "edited":
        source.write_bytes(b"print('other')\n")
    elif change == "removed":
        source.unlink()
    elif change == "shadowed":
        # The same module in a collection path Ansible searches before: that one is the module now.
        shadow = first / "ansible_collections" / "ns" / "coll" / "plugins" / "modules" / "thing.py"
        shadow.parent.mkdir(parents=True)
        shadow.write_bytes(b"print('thing')\n")
    else:
        # A package __init__.py Ansible made up empty exists now: Ansible would take it.
        (source.parents[3] / "__init__.py").write_bytes(b"VALUE = 1\n")
    assert kept.seed(str(tmp_path / "run2" / "ansiballz_cache")) == []


def test_a_payload_with_a_file_of_unknown_origin_is_not_kept(store, tmp_path):
    module, kept, run, source, first = store
    (run / "other-ZIP_DEFLATED-none").write_bytes(payload({"ansible_collections/ns/coll/plugins/modules/gone.py": b"x"}))
    (run / "damaged-ZIP_DEFLATED-none").write_bytes(b"not a pickle")
    assert kept.keep(str(run)) == ["ns.coll.thing-ZIP_DEFLATED-none"]


def test_a_damaged_entry_is_not_put_back(store, tmp_path):
    module, kept, run, source, first = store
    kept.keep(str(run))
    (Path(kept.directory) / "ns.coll.thing-ZIP_DEFLATED-none.payload").write_bytes(b"{not json\n...")
    assert kept.seed(str(tmp_path / "run2" / "ansiballz_cache")) == []
    # The next run's payload replaces it.
    assert kept.keep(str(run)) == ["ns.coll.thing-ZIP_DEFLATED-none"]


def test_payloads_are_kept_apart_by_ansible_python_and_collection_paths(tmp_path):
    module = load()
    one = module.AnsiballzStore(str(tmp_path), "/usr/lib/ansible", ["/a"])
    assert one.directory == module.AnsiballzStore(str(tmp_path), "/usr/lib/ansible", ["/a"]).directory
    assert one.directory != module.AnsiballzStore(str(tmp_path), "/usr/lib/ansible", ["/b", "/a"]).directory
    assert one.directory != module.AnsiballzStore(str(tmp_path), "/venv/ansible", ["/a"]).directory
    with mock.patch.object(module, "ANSIBLE_VERSION", "0.0.1"):
        assert one.directory != module.AnsiballzStore(str(tmp_path), "/usr/lib/ansible", ["/a"]).directory


def test_the_store_seeds_before_a_linear_play_and_keeps_at_the_end(monkeypatch, tmp_path):
    module = load()
    monkeypatch.setenv("VNET_CONTROLLER_ANSIBALLZ_DIR", str(tmp_path / "store"))
    monkeypatch.setattr(module.C, "DEFAULT_LOCAL_TMP", str(tmp_path / "run"))
    callback = module.CallbackModule()
    made = module.AnsiballzStore(str(tmp_path / "store"), str(tmp_path / "ansible"), [str(tmp_path)])
    with mock.patch.object(module, "ansiballz_store", return_value=made) as open_store, \
            mock.patch.object(module.AnsiballzStore, "seed", return_value=[]) as seed, \
            mock.patch.object(module.AnsiballzStore, "keep", return_value=[]) as keep, \
            mock.patch.object(module.gc, "freeze"):
        callback.v2_playbook_on_play_start(Play("linear"))
        callback.v2_playbook_on_play_start(Play("linear"))
        callback.v2_playbook_on_stats(None)
    assert seed.call_args_list == [mock.call(str(tmp_path / "run" / "ansiballz_cache"))]
    assert keep.call_args_list == [mock.call(str(tmp_path / "run" / "ansiballz_cache"))]
    assert open_store.call_args_list == [mock.call(str(tmp_path / "store"))]


def test_a_second_run_takes_the_payload_the_first_one_built(tmp_path):
    """Through ansible-playbook, with the checkout's ansible.cfg (which loads the callback)."""
    import json
    import subprocess
    import sys

    root = PLUGIN.parents[2]
    play = tmp_path / "play.yml"
    play.write_text("- hosts: localhost\n  gather_facts: false\n  strategy: linear\n"
                    "  tasks:\n    - ansible.builtin.ping:\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               VNET_CONTROLLER_ANSIBALLZ_DIR=str(tmp_path / "store"))
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-vvv", "-i", "localhost,", "-c", "local",
               "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(play)]
    runs = [subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=120, check=False)
            for dummy in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "AnsiballZ payloads of earlier runs: none" in runs[0].stdout
    assert "AnsiballZ payloads kept: ansible.modules.ping-" in runs[0].stdout
    assert "AnsiballZ payloads of earlier runs: ansible.modules.ping-" in runs[1].stdout
    assert "AnsiballZ payloads kept: none" in runs[1].stdout
