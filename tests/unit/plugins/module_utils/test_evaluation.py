# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a measured traffic phase: its figures, its JSON against docs/report.schema.json,
report.md and the terminal's summary (the input: the ``measured`` fixture of conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _evaluation

SCHEMA = json.loads((Path(__file__).resolve().parents[4] / "docs" / "report.schema.json").read_text())
MIB = 1024 * 1024
PATH = "/var/lib/vnet/labs/pilab/reports/20261203T144307Z/report.md"


def _build(measured, **changes):
    args = dict(measured, **changes)
    return _evaluation.build(args["lab"], args["created"], args["samples"], args["traffic_results"],
                             args["traffic_options"], args["call"], args["checks"], args["boot"], args["host"],
                             args["versions"])


def _errors(report):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return sorted((list(error.absolute_path), error.message) for error in validator.iter_errors(report))


def test_the_figures_are_those_of_the_traffic_window(measured):
    report = _build(measured)
    # The longest traffic probe ran 10.1 s: the window closes one interval later.
    assert report["traffic"]["window"] == [0.0, 10.6]
    rows = {row["service"]: row for row in report["services"]}
    # dns' spike at 12 s, after the traffic, is left out; voip is its two containers added up.
    assert rows["dns"] == {"service": "dns", "containers": 1, "load_generator": False, "cpu_percent_max": 4.0,
                           "cpu_percent_mean": 3.83, "memory_bytes_max": 24 * MIB, "theirs_cpu_percent": "15.02"}
    assert rows["voip"]["cpu_percent_max"] == 5.0 and rows["voip"]["memory_bytes_max"] == 25 * MIB
    assert [(row["service"], row["theirs_cpu_percent"]) for row in report["services"]] == [
        ("ipsec", ""), ("ftp", "11.89"), ("voip", "5.18"), ("dns", "15.02"), ("node", ""), ("client", ""),
        ("phone", "")]
    assert [row["service"] for row in report["services"] if row["load_generator"]] == ["client", "phone"]
    # The lab's own containers whose cgroups were found: load generators and pilab-rpi2 left out.
    assert report["lab_memory"] == {"bytes_max": 73 * MIB, "containers": 6}
    assert report["comparison"]["memory_mb"] == {"ours": 76.5, "compose_theirs": 278,
                                                 "vagrant_virtualbox_theirs": 4500}
    assert report["comparison"]["boot_seconds"] == {"ours": 38.0, "compose_theirs": 75,
                                                    "vagrant_virtualbox_theirs": 689}
    assert report["networks"][0] == {"node": "client1", "containers": ["pilab-client1", "pilab-client1-client"],
                                     "rx_bytes": 10_500_000, "tx_bytes": 5_250_000, "peak_bytes_per_second": 1.5e6}
    assert report["host_load"] == {"cores": 2, "cpu_percent_max": 90.0, "cpu_percent_mean": 86.67, "load1_max": 1.5,
                                   "memory_total_bytes": 24 * 1024 * MIB, "memory_used_bytes_max": 2 * 1024 * MIB,
                                   "temperature_celsius_max": {"cpu-thermal": 52.0}}
    assert report["voip"]["lost"] == 2 and report["voip"]["packets"] == 1000 and report["voip"]["max_jitter_ms"] == 8.1
    assert report["checks"]["passed"] == 1 and report["checks"]["total"] == 2


def test_the_traffic_options_are_recorded_with_defaults_and_without_the_password(measured):
    report = _build(measured)
    assert report["traffic"]["options"] == {"seconds": 10, "dns_queries": 40, "web_pages": 10, "ftp_kib": 512}
    assert "secret" not in json.dumps(report)


def test_without_traffic_the_window_is_the_whole_phase(measured):
    report = _build(measured, traffic_results={}, call=None, checks=None)
    assert report["traffic"]["window"] == [0.0, 12.5]
    assert {row["service"]: row["cpu_percent_max"] for row in report["services"]}["dns"] == 80.0
    assert report["voip"]["ran"] is False and report["checks"]["ran"] is False


def test_the_json_validates_against_the_documented_schema(measured):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    report = _build(measured)
    report["plots"] = {"services": "services.png", "topology": "topology.png"}
    assert _errors(json.loads(json.dumps(report))) == []
    bare = _build(measured, traffic_results={}, call=None, checks=None, boot=None, host=measured["host"])
    assert _errors(json.loads(json.dumps(bare))) == []


def test_the_schema_refuses_what_it_does_not_describe(measured):
    report = json.loads(json.dumps(_build(measured)))
    del report["lab"]
    report["services"][0]["cpu_percent_max"] = "high"
    report["plots"] = {"services": "services.svg"}
    report["extra"] = 1
    assert _errors(report) == [
        ([], "'lab' is a required property"),
        ([], "Additional properties are not allowed ('extra' was unexpected)"),
        (["plots", "services"], "'services.svg' does not match '^[a-z_]+\\\\.png$'"),
        (["services", 0, "cpu_percent_max"], "'high' is not of type 'number', 'null'"),
    ]


SUMMARY = """\
Lab pilab under load: 10.6 s of traffic; checks 1 of 2 pass

  dns 400 queries (39.6/s, 0 failed)
  web 99 pages (9.8/s, 1 failed)
  ftp 10 transfers (1.0/s, 0 failed, 1.0 MiB/s)
  call 10 s (2 RTP streams, 2 lost, max jitter 8.1 ms)

service  containers  CPU % max  CPU % mean  memory MiB max  Table II CPU % (theirs)
ipsec    1           12.00      11.45       5.0             -
ftp      1           9.00       8.60        18.0            11.89
voip     2           5.00       4.81        25.0            5.18
dns      1           4.00       3.83        24.0            15.02
node     1           0.50       0.12        1.0             -
load generators (client, phone): CPU % max 25.00, memory 14.0 MiB max

host    2 cores; CPU % max 90.0, mean 86.7 (100 = all cores busy); load max 1.50
        memory used max 2.0 GiB of 24.0 GiB; temperature max cpu-thermal 52.0 C
boot    38.0 s from lab_up's start to the end of its last phase (ipsec SAs)
        theirs (poster): Compose 75 s, Vagrant + VirtualBox 689 s
memory  73.0 MiB (76 MB) at most in the lab's 6 containers
        theirs (poster): Compose 278 MB, Vagrant + VirtualBox 4.5 GB

report: /var/lib/vnet/labs/pilab/reports/20261203T144307Z/report.md"""


def test_the_summary_is_plain_aligned_text(measured):
    summary = _evaluation.summary(_build(measured), PATH)
    assert summary == SUMMARY
    # What a terminal shows as is (a block, in the yaml result format): no tabs, no trailing blanks,
    # no line to wrap.
    assert "\t" not in summary
    assert all(line == line.rstrip() and len(line) <= 100 for line in summary.splitlines())


def test_the_summary_of_a_lab_without_traffic_or_boot(measured):
    report = _build(measured, traffic_results={}, call=None, checks=None, boot=None)
    lines = _evaluation.summary(report, PATH).splitlines()
    assert lines[0] == "Lab pilab at rest: sampled for 12.5 s"
    assert lines[2] == "  no traffic: the lab has no clients"
    assert "boot    not measured" in lines


def test_failed_traffic_and_call_say_why(measured):
    report = _build(measured, traffic_results={"traffic dns": {"ok": False, "stdout": "", "error": "no client"}},
                    call={"seconds": 10, "streams": [], "error": "the call failed: not answered"})
    lines = _evaluation.summary(report, PATH).splitlines()
    assert lines[2:4] == ["  dns: did not run (no client)", "  call: failed (the call failed: not answered)"]


def _tables(markdown):
    """Each run of pipe-table lines of the Markdown."""
    tables, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_the_markdown_embeds_the_plots_it_has_and_labels_the_studies_theirs(measured):
    report = _build(measured)
    report["plots"] = {"services": "services.png", "rtp": "rtp.png", "topology": "topology.png"}
    text = _evaluation.markdown(report)
    assert "![CPU and memory over time per service](services.png)" in text
    assert "![RTP delta and jitter per stream](rtp.png)" in text
    assert "theirs.png" not in text and "boot.png" not in text
    assert "| dns     | 1          | 4.00      | 3.83       | 24.0           | 15.02                   |" in text
    assert "| theirs: Docker Compose (poster)       | 75     | 278       |" in text
    assert "| theirs: Vagrant + VirtualBox (poster) | 689    | 4500      |" in text
    assert "| ours (this lab, this machine)         | 38.0   | 76        |" in text
    assert "- web http://www.pilab.test/: its own page ... FAIL (HTTP 500)" in text
    assert "| memory_bytes   | 25769803776 (24.0 GiB)         |" in text
    tables = _tables(text)
    # services, load generators, network, boot phases, boot and memory, RTP, machine, tools, containers
    assert len(tables) == 9
    for table in tables:
        assert len({len(line) for line in table}) == 1, table
        assert set(table[1]) <= set("|-")


@pytest.mark.parametrize("value, text", [(None, "-"), (512, "512 B"), (2048, "2.0 KiB"), (3 * MIB, "3.0 MiB"),
                                         (5 * 1024 * MIB, "5.0 GiB")])
def test_sizes(value, text):
    assert _evaluation._size(value) == text  # pylint: disable=protected-access


def test_package_versions_and_host_facts(tmp_path):
    results = {"versions pilab-rpi1-dns": {"stdout": "bind9=1:9.18.49-1~deb12u1\n"},
               "versions pilab-rpi1-web": {"stdout": "nginx=1.22.1-9\n\nbroken\n"},
               "ospf_routes pilab-rpi1-ospf": {"stdout": "frr=0\n"}}
    assert _evaluation.package_versions(results) == {"bind9": "1:9.18.49-1~deb12u1", "nginx": "1.22.1-9"}
    probes = _evaluation.version_probes([{"name": "b", "image": "sha:1"}, {"name": "a", "image": "sha:1"},
                                         {"name": "c", "image": "sha:2"}])
    assert [probe["name"] for probe in probes] == ["versions a", "versions c"]
    assert probes[0]["argv"][:4] == ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n"]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text('PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\n')
    (tmp_path / "proc" / "device-tree").mkdir(parents=True)
    (tmp_path / "proc" / "cpuinfo").write_text("processor\t: 0\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:        3884164 kB\n")
    (tmp_path / "proc" / "device-tree" / "model").write_text("Raspberry Pi 4 Model B Rev 1.4\x00")
    (tmp_path / "cgroup").mkdir()
    (tmp_path / "cgroup" / "cgroup.controllers").write_text("cpu\n")
    facts = _evaluation.host_facts(str(tmp_path), str(tmp_path / "cgroup"))
    assert {key: facts[key] for key in ("os", "cpu", "memory_bytes", "board", "cgroup_version")} == {
        "os": "Raspbian GNU/Linux 12 (bookworm)", "cpu": "Raspberry Pi 4 Model B Rev 1.4",
        "memory_bytes": 3884164 * 1024, "board": "Raspberry Pi 4 Model B Rev 1.4", "cgroup_version": 2}
