# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's plots: PNG files of the size asked, with something drawn in them, only for what
the report has data for; the topology by Graphviz or, without it, drawn by matplotlib."""

from __future__ import annotations

import shutil

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _evaluation, _plots

Image = pytest.importorskip("PIL.Image", reason="held out: Pillow comes with matplotlib")

PLOTS = ("services", "network", "host", "rtp", "topology", "boot", "theirs")


def _report(measured, **changes):
    args = dict(measured, **changes)
    return _evaluation.build(args["lab"], args["created"], args["samples"], args["traffic_results"],
                             args["traffic_options"], args["call"], args["checks"], args["boot"], args["host"],
                             args["versions"])


def _colours(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size, len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])


def test_every_plot_is_drawn(measured, tmp_path):
    drawn = _plots.draw(_report(measured), str(tmp_path), measured["plan"], names=_plots.SERIES_PLOTS)
    drawn.update(_plots.draw(_report(measured), str(tmp_path), measured["plan"], names=_plots.BOOT_PLOTS))
    assert drawn == {name: name + ".png" for name in PLOTS}
    for name in PLOTS:
        path = tmp_path / drawn[name]
        size, colours = _colours(path)
        # Not a blank canvas: lines, bars and text in several colours, antialiased.
        assert path.stat().st_size > 10_000, name
        assert colours > 50, name
    assert _colours(tmp_path / "network.png")[0] == (900, 460)
    assert _colours(tmp_path / "services.png")[0] == (900, 736)
    # The host's panels: CPU, load, memory and, with a thermal zone, temperature.
    assert _colours(tmp_path / "host.png")[0] == (900, 800)


def test_plots_without_their_data_are_left_out(measured, tmp_path):
    samples = dict(measured["samples"], times=[0.0], containers=[], networks=[])
    report = _report(measured, samples=samples, call=None, boot=None, traffic_results={})
    drawn = _plots.draw(report, str(tmp_path), None)
    # Only the studies' figures, with ours "n/a".
    assert drawn == {"theirs": "theirs.png"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["theirs.png"]


def test_the_topology_without_graphviz_is_drawn_here(measured, tmp_path):
    assert _plots.topology(measured["plan"], str(tmp_path), dot="") == "topology.png"
    size, colours = _colours(tmp_path / "topology.png")
    assert size == (900, 675) and colours > 50


@pytest.mark.skipif(shutil.which("dot") is None, reason="held out: Graphviz is not installed")
def test_the_topology_by_graphviz(measured, tmp_path):
    assert _plots.topology(measured["plan"], str(tmp_path)) == "topology.png"
    size, colours = _colours(tmp_path / "topology.png")
    assert size != (900, 675) and colours > 50


def test_a_failing_dot_falls_back_to_the_drawing(measured, tmp_path):
    assert _plots.topology(measured["plan"], str(tmp_path), dot="/bin/false") == "topology.png"
    assert _colours(tmp_path / "topology.png")[0] == (900, 675)
