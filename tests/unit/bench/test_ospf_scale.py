# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/ospf_scale's pure parts: the generated topologies, FRR's uptimes, the convergence check."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest
import yaml

from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan

PATH = str(Path(__file__).resolve().parents[3] / "bench" / "ospf_scale")


@pytest.fixture(scope="module")
def bench():
    loader = importlib.machinery.SourceFileLoader("ospf_scale", PATH)
    spec = importlib.util.spec_from_loader("ospf_scale", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("shape, size, links, degrees", [
    ("ring", 10, 10, {2}),
    ("ring", 50, 50, {2}),
    ("grid", 25, 40, {2, 3, 4}),   # 5 x 5
    ("grid", 50, 85, {2, 3, 4}),   # 5 x 10
    ("grid", 7, 6, {1, 2}),        # a prime: one row, a line
])
def test_topology_plans_as_documented(bench, shape, size, links, degrees):
    text, count = bench.topology("scale-%s-%d" % (shape, size), shape, size)
    topology = yaml.safe_load(text)
    assert count == links == len(topology["links"])
    plan = make_plan(topology)
    routers = plan["nodes"]
    assert len(routers) == size and {n["kind"] for n in routers.values()} == {"router"}
    loopbacks = [n["loopback"]["ipv4"] for n in routers.values()]
    assert len(set(loopbacks)) == size
    assert {len(n["interfaces"]) for n in routers.values()} == degrees
    assert all(n["routes"] == [] for n in routers.values())  # routing: ospf, nothing static
    assert {s["type"] for s in plan["segments"].values()} == {"p2p"}


@pytest.mark.parametrize("size, shape", [(10, (2, 5)), (25, (5, 5)), (50, (5, 10)), (7, (1, 7))])
def test_grid_shape_is_as_square_as_the_size_allows(bench, size, shape):
    assert bench.grid_shape(size) == shape


@pytest.mark.parametrize("text, seconds", [
    ("00:00:07", 7), ("01:02:03", 3723), ("1d02h03m", 93780), ("02w1d03h", 1306800),
])
def test_uptime_seconds(bench, text, seconds):
    assert bench.uptime_seconds(text) == seconds


def test_routes_found_counts_installed_ospf_routes_only(bench):
    table = {
        "10.0.0.1/32": [{"protocol": "connected", "installed": True, "uptime": "00:00:09"}],
        "10.0.0.2/32": [{"protocol": "ospf", "installed": True, "uptime": "00:00:04"}],
        "10.0.0.3/32": [{"protocol": "ospf", "selected": False, "uptime": "00:00:01"}],
    }
    missing, installed = bench.routes_found(table, ["10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32"],
                                            100.0)
    assert missing == ["10.0.0.1/32", "10.0.0.3/32", "10.0.0.4/32"]
    assert installed == [96.0]


def test_epoch_reads_docker_times(bench):
    assert bench.epoch("1970-01-01T00:01:00.5Z") == 60.5
    assert bench.epoch("1970-01-01T00:00:02Z") == 2.0
