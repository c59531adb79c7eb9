# SPDX-License-Identifier: GPL-3.0-or-later
"""The traffic phase of playbooks/measure.yml: which probes a plan gets, their shell scripts run
for real against stand-in clients (dig, curl, lftp), and their summary lines read back."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.vnet.lab.plugins.module_utils import _traffic
from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
USER = {"name": "student", "password": "s3cretPassw0rd"}


def _plan(name="pilab.yml"):
    return make_plan(yaml.safe_load((EXAMPLES / name).read_text()))


def test_the_reference_lab_gets_dns_web_and_ftp_from_its_clients_in_turn():
    probes = _traffic.probes(_plan(), {"seconds": 3, "ftp_user": USER})
    assert [(p["name"], p["container"]) for p in probes] == [
        ("traffic dns", "pilab-client1-client"), ("traffic web", "pilab-client2-client"),
        ("traffic ftp", "pilab-client1-client")]
    dns, web, ftp = probes
    assert dns["argv"][:2] == ["sh", "-c"] and "dig @192.168.0.2 " in dns["argv"][2]
    assert "'www.pilab.test A'" in dns["argv"][2] and "'-x 192.168.0.5'" in dns["argv"][2]
    assert "--resolve www.pilab.test:80:192.168.0.5" in web["argv"][2]
    assert "3 * 1000000000" in web["argv"][2]
    # The password goes on standard input only.
    assert ftp["stdin"] == USER["password"] + "\n"
    assert all(USER["password"] not in arg for probe in probes for arg in probe["argv"])
    assert "open -u \"student,$pass\" ftp.pilab.test" in ftp["argv"][2]


def test_without_an_ftp_user_or_clients_there_is_less_traffic():
    assert [p["name"] for p in _traffic.probes(_plan())] == ["traffic dns", "traffic web"]
    plan = _plan()
    for node in ("client1", "client2"):
        plan["nodes"][node]["kind"] = "router"
    assert _traffic.probes(plan, {"ftp_user": USER}) == []


@pytest.mark.parametrize("options, message", [
    ({"seconds": 0}, "traffic option seconds must be a number above 0, not 0"),
    ({"dns_queries": "many"}, "traffic option dns_queries must be a number above 0, not 'many'"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match="^%s$" % message):
        _traffic.probes(_plan(), options)


def _stub(directory, name, script):
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(name="stand_ins")
def fixture_stand_ins(tmp_path):
    """dig answers all but one query of its batch, curl serves 200s of 100 bytes but one 404, lftp
    fails when its script lacks the password; each records its input."""
    _stub(tmp_path, "dig", 'n=$(grep -c . "$(echo "$@" | sed "s/.*-f //")"); i=1;'
                           ' while [ $i -lt $n ]; do echo "answer $i"; i=$((i+1)); done\n')
    _stub(tmp_path, "curl", 'for a in "$@"; do case $a in http://*) echo "200 100";; esac; done; echo "404 0"\n')
    _stub(tmp_path, "lftp", 'cat > "%s/lftp-input"; grep -q "student,%s" "%s/lftp-input"\n'
          % (tmp_path, USER["password"], tmp_path))
    return tmp_path


def _run(probe, stand_ins):
    env = dict(os.environ, PATH="%s:%s" % (stand_ins, os.environ["PATH"]))
    done = subprocess.run(probe["argv"], input=probe.get("stdin", ""), capture_output=True, text=True, env=env,
                          cwd=stand_ins, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return {"ok": True, "rc": 0, "stdout": done.stdout, "stderr": done.stderr, "error": None}


def test_the_scripts_run_rounds_for_the_time_given_and_count(stand_ins):
    probes = _traffic.probes(_plan(), {"seconds": 1, "dns_queries": 4, "web_pages": 3, "ftp_kib": 2,
                                       "ftp_user": USER})
    results = {probe["name"]: _run(probe, stand_ins) for probe in probes}
    figures = _traffic.figures(results)
    assert set(figures) == {"dns", "web", "ftp"}
    for entry in figures.values():
        # One round of a second at least, each started at once after the last (rounds of one second).
        assert entry["rounds"] >= 1 and entry["error"] is None
        assert 0.9 <= entry["seconds"] < 5
    rounds = figures["dns"]["rounds"]
    assert figures["dns"] == dict(figures["dns"], unit="queries", operations=3 * rounds, failed=rounds, bytes=0)
    rounds = figures["web"]["rounds"]
    assert figures["web"] == dict(figures["web"], unit="pages", operations=3 * rounds, failed=0,
                                  bytes=300 * rounds)
    rounds = figures["ftp"]["rounds"]
    assert figures["ftp"] == dict(figures["ftp"], unit="transfers", operations=rounds, failed=0,
                                  bytes=2 * 2048 * rounds)
    session = (stand_ins / "lftp-input").read_text()
    assert "put /tmp/vnet-measure.bin -o vnet-measure-client1.bin" in session
    assert "rm vnet-measure-client1.bin" in session


def test_figures_of_a_probe_that_did_not_run_say_why():
    figures = _traffic.figures({
        "traffic dns": {"ok": False, "stdout": "", "stderr": "", "error": "pilab-client1-client: not running"},
        "traffic web": {"ok": False, "stdout": "", "stderr": "sh: curl: not found\n", "error": None},
        "traffic ftp": {"ok": True, "stdout": "rounds 2 ok 2 failed 0 bytes 40 ns 2000000000\n", "error": None},
        "other": {"stdout": "rounds 1 ok 1 failed 0 bytes 0 ns 1"},
    })
    assert figures["dns"]["error"] == "pilab-client1-client: not running"
    assert figures["web"]["error"] == "sh: curl: not found"
    assert figures["ftp"] == {"unit": "transfers", "operations": 2, "failed": 0, "bytes": 40, "seconds": 2.0,
                              "per_second": 1.0, "rounds": 2, "error": None}
