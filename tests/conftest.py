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


# `make pytest` runs the suite on workers: a test file's tests share its module-scoped labs, so a
# file is one unit of work (one worker); a molecule scenario is a unit of its own. xdist's own
# `--dist loadgroup` cannot say so under pytest 9 (it marks groups in ``item._nodeid``, which
# pytest 9 no longer reads, so every test became a unit and a file's lab was set up on each
# worker): the scheduler below groups by file instead, whatever the markers.
def _unit_of_work(nodeid):
    path = nodeid.split("::", 1)[0]
    return nodeid if path.startswith("tests/molecule/") else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _unit_of_work(nodeid)

        def _assign_work_unit(self, node):
            # xdist hands a worker its next unit before the running one ends (a worker runs a test
            # only once it knows the next). Behind a long unit (a molecule scenario or a file against
            # the engine: minutes), that next unit is taken from the queue's tail (a unit-test file,
            # seconds), not its head (the next long unit, minutes more on the same worker while the
            # others run dry).
            running = self.assigned_work.get(node, {})
            behind_long = any(not scope.startswith("tests/unit/") and not all(done.values())
                              for scope, done in running.items())
            tail = next(reversed(self.workqueue))
            from_tail = behind_long and tail.startswith("tests/unit/")
            scope, work_unit = self.workqueue.popitem(last=from_tail)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            collection = self.registered_collections[node]
            node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    # Units go out in collection order (below: longest first), not by their count of tests.
    config.option.loadscopereorder = False
    return FileScheduling(config, log)


# Seconds each unit of work took in a `make test` here (3 workers, 2026-12-04). They only order the
# queue, longest first, so that no long unit starts late and runs on alone while the other workers
# have nothing left (test_ipsec.py, a file of 3 minutes, used to start last but one). A unit not
# listed counts as a middle-sized one of its kind.
EXPECTED_SECONDS = {
    "boards": 555, "standalone": 242, "test_ipsec.py": 172, "dns": 134, "ftp": 134, "ospf": 120,
    "default": 118, "dhcp": 96, "web": 94, "voip": 91, "test_bad_input.py": 90, "topology": 84,
    "test_nodes.py": 74, "test_interfaces.py": 71, "images": 62, "vpn": 58,
    "test_collection_package.py": 52, "test_service_specs.py": 47, "test_service.py": 46,
    "test_segments.py": 28, "test_node_image.py": 14,
}
KIND_SECONDS = {"molecule": 90, "integration": 30}


def _expected_seconds(nodeid):
    kind = nodeid.split("/")[:2][-1]
    if kind == "molecule":
        name = nodeid.rsplit("[", 1)[-1].rstrip("]")
    elif kind == "integration":
        name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    else:
        return 0
    return EXPECTED_SECONDS.get(name, KIND_SECONDS[kind])


def pytest_collection_modifyitems(items):
    """The longest units of work first (EXPECTED_SECONDS), the unit tests last; stable otherwise."""
    items.sort(key=lambda item: -_expected_seconds(item.nodeid))
