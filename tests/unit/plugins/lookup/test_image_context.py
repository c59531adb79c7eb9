# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.vnet.lab.plugins.lookup.image_context import context_files


def _sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def test_context_files_sorted_with_extra_and_without_caches(tmp_path):
    context = tmp_path / "ctx"
    (context / "sub" / "__pycache__").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM x\n")
    (context / "sub" / ".hidden").write_text("h")
    (context / "sub" / "__pycache__" / "m.cpython-311.pyc").write_text("junk")
    (context / "old.pyc").write_text("junk")
    extra = tmp_path / "_interfaces.py"
    extra.write_text("code")
    assert context_files(str(context), {str(extra): "_interfaces.py"}) == [
        ["Dockerfile", _sha1("FROM x\n")], ["_interfaces.py", _sha1("code")], ["sub/.hidden", _sha1("h")]]


def test_context_files_name_what_is_missing(tmp_path):
    with pytest.raises(AnsibleLookupError, match="no directory"):
        context_files(str(tmp_path / "nowhere"))
    with pytest.raises(AnsibleLookupError, match="no file"):
        context_files(str(tmp_path), {str(tmp_path / "gone.py"): "gone.py"})
