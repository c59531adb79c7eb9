# SPDX-License-Identifier: GPL-3.0-or-later
"""vnet.lab.service and vnet.lab.services against this machine's Docker engine, through ansible-playbook.

A service (two files and a secret, a named volume, a container of the base image running
``sleep infinity`` that mounts its directory) is created (check mode first, then for real, then
again: not changed), a file is changed (check mode predicts the reload and makes no change; the
real run reloads the container, which touches /tmp/reloaded; a refused validation writes nothing),
then two more services are converged by one vnet.lab.services call, two others are deferred by the
action into a batch and converged from it, and every service is removed. Everything this test makes
is named after its run (``tsvc<hex>``) and removed at the end, even when it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
IMAGE = "vnet/base:bookworm"
RELOADED = "/tmp/reloaded"


# --- running ansible ----------------------------------------------------------------------------

def ensure_collection_link():
    link = ROOT / ".collections" / "ansible_collections" / "vnet" / "lab"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../..")


def run_tasks(run, tmp_path, name, tasks, play_vars=None):
    """Run ``tasks`` on localhost; return {task name: result}. Fails with Ansible's output unless
    only tasks with ``ignore_errors`` failed. No run may print the secret of this test run."""
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "vars": play_vars or {}, "tasks": tasks}]
    path = tmp_path / ("%s.yml" % name)
    path.write_text(json.dumps(play, indent=1))  # JSON is YAML
    env = dict(os.environ, ANSIBLE_CONFIG=str(HERE / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(path)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    results = {task["task"]["name"]: task["hosts"].get("localhost", {}) for task in output["plays"][0]["tasks"]}
    if proc.returncode != 0:
        failed = {k: v for k, v in results.items() if v.get("failed") and not v.get("ignore_errors")}
        if failed or not any(v.get("failed") for v in results.values()):
            pytest.fail("ansible-playbook failed (rc %d): %s\n%s"
                        % (proc.returncode, json.dumps(failed, indent=1)[:20000], proc.stderr[-5000:]))
    assert secret(run) not in proc.stdout + proc.stderr
    return results


# --- the engine and what this test makes --------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: nothing to test against
        pytest.skip("no Docker engine answers: %s" % exc)
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip("the base image %s is not on this engine (make base-image, role vnet.lab.images)" % IMAGE)
    ensure_collection_link()
    return client


@pytest.fixture
def run(engine, tmp_path):
    """This run's name prefix; its containers, volumes and directories are removed at the end."""
    prefix = "tsvc%s" % uuid.uuid4().hex[:6]
    root = tmp_path / "services"
    try:
        yield prefix, root
    finally:
        for container in engine.containers.list(all=True, filters={"label": "vnet.test=%s" % prefix}):
            container.remove(force=True)
        for container in engine.containers.list(all=True, filters={"label": "vnet.validate"}):
            if container.labels["vnet.validate"].startswith(prefix + "-"):
                container.remove(force=True)
        for volume in engine.volumes.list(filters={"label": "vnet.test=%s" % prefix}):
            volume.remove(force=True)
        shutil.rmtree(root, ignore_errors=True)


def secret(run):
    return "s3cr3t-%s" % run[0]


def service(run, key, content="greeting = hello\n"):
    """The options of service ``key`` of this run: its directory, a secret, a volume, one container."""
    prefix, root = run
    name = "%s-%s" % (prefix, key)
    config_dir = str(root / key)
    return {
        "name": name,
        "config_dir": config_dir,
        "files": [{"path": "app.conf", "content": content}, {"path": "conf.d/extra.conf", "content": "x = 1\n"}],
        "secret_files": [{"path": "token", "content": secret(run) + "\n"}],
        "validate": {"image": IMAGE, "entrypoint": ["sh", "-c"],
                     "argv": ["grep -q '^greeting = ' /etc/vnet/app.conf"]},
        "volumes": [{"name": name + "-data", "labels": {"vnet.test": prefix}}],
        "containers": [{"name": name, "image": IMAGE, "network_mode": "none", "command": ["sleep", "infinity"],
                        "volumes": [config_dir + ":/etc/vnet:ro", name + "-data:/data"],
                        "labels": {"vnet.test": prefix, "vnet.service": key},
                        "reload": ["sh", "-c", "touch %s" % RELOADED], "restart_policy": "no",
                        "wait_path": "/etc/vnet/app.conf"}],
        "remove": {"vnet.test": prefix, "vnet.service": key},
    }


def task(name, args, **options):
    return dict({"name": name, "vnet.lab.service": args}, **options)


def started(engine, name):
    attrs = engine.api.inspect_container(name)
    return attrs["Id"], attrs["State"]["StartedAt"], attrs["State"]["Running"]


def reloaded(engine, name):
    return engine.containers.get(name).exec_run(["test", "-e", RELOADED]).exit_code == 0


def created_actions(spec):
    config_dir, name = spec["config_dir"], spec["name"]
    return ["write %s/app.conf" % config_dir, "write %s/conf.d/extra.conf" % config_dir,
            "write %s/token" % config_dir, "create volume %s-data" % name, "create container %s" % name]


# --- the tests ----------------------------------------------------------------------------------

def test_one_service_is_created_changed_and_kept(engine, run, tmp_path):
    web = service(run, "web")
    name, config_dir = web["name"], Path(web["config_dir"])

    results = run_tasks(run, tmp_path, "create", [
        task("check", web, check_mode=True, diff=True), task("create", web, diff=True), task("again", web)])
    assert results["check"]["changed"] and results["check"]["actions"] == created_actions(web)
    assert results["create"]["changed"] and results["create"]["actions"] == created_actions(web)
    assert results["create"]["diff"] == results["check"]["diff"]
    assert not results["again"]["changed"] and results["again"]["actions"] == []
    assert results["again"]["containers"][name]["action"] == "keep"
    assert (config_dir / "app.conf").read_text() == "greeting = hello\n"
    assert stat.S_IMODE((config_dir / "token").stat().st_mode) == 0o600
    before = started(engine, name)
    label = engine.api.inspect_container(name)["Config"]["Labels"]["vnet.config"]
    assert before[2] and not reloaded(engine, name)
    assert engine.containers.get(name).exec_run(["cat", "/etc/vnet/conf.d/extra.conf"]).output == b"x = 1\n"

    changed = service(run, "web", content="greeting = bonjour\n")
    expected = ["write %s/app.conf" % config_dir, "reload container %s (app.conf changed)" % name]
    results = run_tasks(run, tmp_path, "change-check", [task("check", changed, check_mode=True, diff=True)])
    assert results["check"]["changed"] and results["check"]["actions"] == expected
    assert results["check"]["diff"] == [{"before_header": str(config_dir / "app.conf"),
                                         "after_header": str(config_dir / "app.conf"),
                                         "before": "greeting = hello\n", "after": "greeting = bonjour\n"},
                                        {"before_header": "container " + name, "after_header": "container " + name,
                                         "before": "vnet.config=%s\n" % label,
                                         "after": "vnet.config=%s (reload)\n" % label}]
    assert (config_dir / "app.conf").read_text() == "greeting = hello\n" and not reloaded(engine, name)

    refused = service(run, "web", content="nonsense\n")
    results = run_tasks(run, tmp_path, "change", [
        task("refused", refused, ignore_errors=True), task("change", changed), task("again", changed)])
    assert results["refused"]["failed"] and results["refused"]["msg"] == (
        "%s: the new configuration was refused by sh -c grep -q '^greeting = ' /etc/vnet/app.conf "
        "(nothing was written):\n(no output)" % name)
    assert results["change"]["changed"] and results["change"]["actions"] == expected
    assert not results["again"]["changed"]
    assert (config_dir / "app.conf").read_text() == "greeting = bonjour\n"
    assert reloaded(engine, name) and started(engine, name) == before
    assert engine.containers.list(all=True, filters={"label": "vnet.validate=%s" % name}) == []

    results = run_tasks(run, tmp_path, "remove", [
        task("check", dict(changed, state="absent", remove_volumes=[name + "-data"]), check_mode=True),
        task("remove", dict(changed, state="absent", remove_volumes=[name + "-data"])),
        task("again", dict(changed, state="absent", remove_volumes=[name + "-data"]))])
    removed = ["remove container %s" % name, "remove volume %s-data" % name, "remove %s" % config_dir]
    assert results["check"]["actions"] == removed and results["remove"]["actions"] == removed
    assert not results["again"]["changed"]
    assert not config_dir.exists()
    assert engine.containers.list(all=True, filters={"label": "vnet.test=%s" % run[0]}) == []
    assert engine.volumes.list(filters={"label": "vnet.test=%s" % run[0]}) == []


def test_services_at_once_and_deferred(engine, run, tmp_path):
    first, second, third, fourth = (service(run, key) for key in ("s1", "s2", "s3", "s4"))
    deferred = {"vnet_lab_service_defer": "{{ batch }}"}
    results = run_tasks(run, tmp_path, "services", [
        {"name": "two", "vnet.lab.services": {"services": [first, second]}, "diff": True},
        {"name": "two again", "vnet.lab.services": {"services": [first, second]}},
        task("defer s3", third, vars=deferred),
        task("defer s4", fourth, vars=deferred),
        task("defer s3 again", third, vars=deferred),
        {"name": "batch", "ansible.builtin.debug": {
            "msg": "{{ ansible_facts.vnet_lab_service_deferred | dict2items | map(attribute='key') | list }} "
                   "{{ ansible_facts.vnet_lab_service_deferred[batch] | map(attribute='name') | list }}"}},
        {"name": "deferred", "vnet.lab.services": {"services": "{{ ansible_facts.vnet_lab_service_deferred[batch] }}"}},
        {"name": "deferred again", "vnet.lab.services": {
            "services": "{{ ansible_facts.vnet_lab_service_deferred[batch] }}"}},
    ], play_vars={"batch": "b1"})
    assert results["two"]["changed"]
    assert results["two"]["actions"] == {spec["name"]: created_actions(spec) for spec in (first, second)}
    assert not results["two again"]["changed"] and results["two again"]["actions"] == {}
    assert {n: c[n]["action"] for n, c in results["two again"]["services"].items()} == {
        first["name"]: "keep", second["name"]: "keep"}
    for key in ("defer s3", "defer s4", "defer s3 again"):
        assert not results[key]["changed"]
    assert results["batch"]["msg"] == "['b1'] ['%s', '%s']" % (fourth["name"], third["name"])
    assert results["deferred"]["actions"] == {spec["name"]: created_actions(spec) for spec in (fourth, third)}
    assert not results["deferred again"]["changed"]
    for spec in (first, second, third, fourth):
        assert started(engine, spec["name"])[2]
        assert Path(spec["config_dir"], "token").read_text() == secret(run) + "\n"

    # The loop's items are shown in its results: they hold no secret.
    absent = {"name": "{{ item.name }}", "state": "absent", "config_dir": "{{ item.config_dir }}",
              "remove": "{{ item.remove }}", "remove_volumes": ["{{ item.name }}-data"]}
    loop = [{key: spec[key] for key in ("name", "config_dir", "remove")} for spec in (first, second, third, fourth)]
    results = run_tasks(run, tmp_path, "services-absent", [
        task("absent", absent, loop=loop), task("absent again", absent, loop=loop)])
    assert all(r["changed"] for r in results["absent"]["results"])
    assert not any(r["changed"] for r in results["absent again"]["results"])
    assert engine.containers.list(all=True, filters={"label": "vnet.test=%s" % run[0]}) == []
    assert engine.volumes.list(filters={"label": "vnet.test=%s" % run[0]}) == []
    assert not run[1].exists() or os.listdir(run[1]) == []
