# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the checkout importable as ansible_collections.vnet.lab (through .collections/)."""

from __future__ import annotations

import os
import sys

import pytest
from _pytest.outcomes import Skipped

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "vnet", "lab")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink("../../..", LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# In CI (VNET_REQUIRE_ENGINE=1, set by .ci/run) a test against the engine may not skip for want of
# an engine, an image or a tool: `make test` installs and starts all of them, so such a skip would
# hide a broken set-up. Skips for what the kernel lacks stay skips.
REQUIRED = os.environ.get("VNET_REQUIRE_ENGINE") == "1"
KERNEL_SKIPS = ("kernel", "/dev/net/tun", "VNET_TEST_DAEMON_RESTART", "daemon restart runs inside",
                "held out:")


def pytest_runtest_makereport(item, call):
    if not REQUIRED or call.when not in ("setup", "call") or call.excinfo is None:
        return None
    if not call.excinfo.errisinstance(Skipped):
        return None
    if not ({"integration", "molecule"} & {m.name for m in item.iter_markers()}):
        return None
    reason = str(call.excinfo.value)
    if any(word in reason for word in KERNEL_SKIPS):
        return None
    return pytest.TestReport.from_item_and_call(item, pytest.CallInfo.from_call(
        lambda: pytest.fail("skipped in CI, where it must run: %s" % reason, pytrace=False), call.when))


def pytest_collection_modifyitems(items):
    """Groups for ``pytest -n N --dist loadgroup`` (make pytest): a test file's tests share its
    module-scoped labs, so they stay on one worker; each molecule scenario is a group of its own."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        if item.get_closest_marker("molecule"):
            group = item.nodeid
        else:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
