#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: report
short_description: Write a lab's evaluation report (Markdown, JSON, plots) from a measured traffic phase
version_added: 0.2.0
description:
  - Turns the time series that M(vnet.lab.probes) sampled during a traffic phase (O(samples)) into a report
    directory C(<dest>/<UTC timestamp>/) - C(report.md), C(report.json) (every figure, the series, the machine and
    the tools' versions; docs/report.schema.json) and PNG plots drawn with matplotlib (CPU and memory per service
    over time, network per node, the host's load, the RTP streams, the boot's phases, the studies' figures beside
    ours, the topology) - and points C(<dest>/latest) at it. The plots of the series are drawn while the lab is
    read.
  - Reads what it needs from the running lab itself, at once through the Docker API - when each segment and
    container was made and started, how long ago each OSPF adjacency and route, IPsec SA and DHCP lease came up
    (the boot's phases; a client's lease from its dhclient's log), and the versions of the Debian packages in
    the lab's images.
  - Returns the summary a terminal shows (plain aligned lines) and the report's figures.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
  - matplotlib for the plots (without it the report is written without plots, with a warning).
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the lab is read and the report computed and returned, but nothing is written.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run writes a new report directory, named after its time.
options:
  lab:
    description: The lab's name; its Docker objects carry the label C(vnet.lab=<lab>).
    type: str
    required: true
  dest:
    description: The lab's reports directory; each run writes C(<dest>/<timestamp>/) and links C(<dest>/latest) to it.
    type: path
    required: true
  samples:
    description: The series sampled during the traffic phase, RV(vnet.lab.probes#module:samples) as returned.
    type: dict
    required: true
  traffic:
    description: The results of the traffic probes by name (C(traffic dns), C(traffic web), C(traffic ftp)).
    type: dict
    default: {}
  traffic_options:
    description: The options the traffic ran with (C(seconds), C(dns_queries), ...), recorded in the report.
    type: dict
    default: {}
  call:
    description:
      - The measured call, C({seconds, streams, error}) - C(streams) as the voip role's verification returns them.
        Omitted when the lab made no call.
    type: dict
  checks:
    description: The lab's checks (C({ok, line}) each, playbooks/verify.yml) when they ran in the same run.
    type: list
    elements: dict
  plan:
    description: The lab's plan, for the topology picture.
    type: dict
  lab_up_started:
    description: When the run that brought the lab up began (seconds since the epoch), the boot's first phase.
    type: float
  versions:
    description: Versions of tools on the controller (C(ansible-core)...), added to those read on the target.
    type: dict
    default: {}
  plots:
    description: Draw the plots.
    type: bool
    default: true
  docker_host:
    description: Docker daemon to talk to; defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
notes:
  - The figures are read on the target; run it where the lab's engine runs.
seealso:
  - module: vnet.lab.probes
"""

EXAMPLES = r"""
- name: Write the report of a measured traffic phase
  vnet.lab.report:
    lab: pilab
    dest: /var/lib/vnet/labs/pilab/reports
    samples: "{{ loaded.samples }}"
    traffic: "{{ loaded.probes }}"
    plan: "{{ plan }}"
    versions:
      ansible-core: "{{ ansible_version.full }}"
  register: report

- name: Show its summary
  ansible.builtin.debug:
    msg: "{{ report.summary }}"
"""

RETURN = r"""
path:
  description: The report directory written (or that would be, in check mode).
  returned: always
  type: str
  sample: /var/lib/vnet/labs/pilab/reports/20261203T142900Z
files:
  description: The files written in it, by name.
  returned: always
  type: list
  elements: str
  sample: [report.md, report.json, boot.png, host.png, network.png, rtp.png, services.png, theirs.png, topology.png]
summary:
  description: The summary as plain aligned lines, ending with the report's path.
  returned: always
  type: str
figures:
  description: The report (as report.json) without its time series.
  returned: always
  type: dict
"""

import json
import os
import platform
import threading
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils import _boot, _evaluation, _plots
from ansible_collections.vnet.lab.plugins.module_utils._probes import Runner

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


def _lab_objects(api, lab):
    """The lab's networks and running containers, with their times, images and labels."""
    label = {"label": "vnet.lab=%s" % lab}
    networks = [{"name": item["Name"], "created": item.get("Created")} for item in api.networks(filters=label)]
    containers = []
    for item in api.containers(filters=label):
        info = api.inspect_container(item["Id"])
        labels = (info.get("Config") or {}).get("Labels") or {}
        containers.append({"name": info["Name"].lstrip("/"), "image": info.get("Image"),
                           "node": labels.get("vnet.node"), "service": labels.get("vnet.service"),
                           "kind": labels.get("vnet.kind"), "created": info.get("Created"),
                           "started": (info.get("State") or {}).get("StartedAt")})
    return {"networks": networks, "containers": containers}


def _client_logs(api, containers):
    """Each client container's log (timestamps on) over its first ten minutes: dhclient's leases."""
    logs = []
    for container in containers:
        started = _boot.parse_time(container.get("started"))
        if container.get("service") != "client" or started is None:
            continue
        text = api.logs(container["name"], stdout=True, stderr=True, timestamps=True, since=int(started),
                        until=int(started) + 600)
        logs.append({"container": container["name"], "read_at": None,
                     "stdout": text.decode("utf-8", "replace")})
    return logs


def _read_lab(client, objects, read):
    """What the boot's phases and the versions need from the running lab, into ``read``."""
    try:
        probes = _boot.read_probes(objects["containers"]) + _evaluation.version_probes(objects["containers"])
        before = time.time()
        read["results"] = Runner(client).run(probes)
        read["reads"] = _boot.reads(read["results"], (before + time.time()) / 2.0)
        read["reads"]["leases"] = _client_logs(client.api, objects["containers"])
        read["engine"] = client.version().get("Version", "")
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # Raised again by the main thread: in this one it would be lost.
        read["error"] = exc


def _new_directory(dest, now):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    path = os.path.join(dest, stamp)
    number = 1
    while os.path.exists(path):
        number += 1
        path = os.path.join(dest, "%s-%d" % (stamp, number))
    return path


def _link_latest(dest, path):
    link = os.path.join(dest, "latest")
    temporary = link + ".new"
    if os.path.lexists(temporary):
        os.remove(temporary)
    os.symlink(os.path.basename(path), temporary)
    os.replace(temporary, link)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lab=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            samples=dict(type="dict", required=True),
            traffic=dict(type="dict", default={}),
            traffic_options=dict(type="dict", default={}),
            call=dict(type="dict"),
            checks=dict(type="list", elements="dict"),
            plan=dict(type="dict"),
            lab_up_started=dict(type="float"),
            versions=dict(type="dict", default={}),
            plots=dict(type="bool", default=True),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    now = time.time()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    path = _new_directory(params["dest"], now)
    draw = params["plots"] and _plots.available() and not module.check_mode
    warnings = []
    if params["plots"] and not _plots.available():
        warnings.append("matplotlib is not installed on the target: the report has no plots"
                        " (pip install matplotlib, or apt install python3-matplotlib)")

    def build(boot=None, versions=None):
        return _evaluation.build(
            params["lab"], created, params["samples"], traffic_results=params["traffic"],
            traffic_options=params["traffic_options"], call=params["call"], checks=params["checks"], boot=boot,
            host=_evaluation.host_facts(), versions=versions, notes=warnings)

    read = {}
    try:
        options = dict(version="auto", timeout=60, max_pool_size=32)
        if params["docker_host"]:
            client = docker.DockerClient(base_url=params["docker_host"], **options)
        else:
            client = docker.from_env(**options)
        objects = _lab_objects(client.api, params["lab"])
        # The lab is read (the daemons' convergence, the images' packages, the clients' logs) while
        # the plots of the series, which need none of it, are drawn.
        reader = threading.Thread(target=_read_lab, args=(client, objects, read), daemon=True)
        reader.start()
        plots = {}
        if draw:
            os.makedirs(path, mode=0o755)
            plots = _plots.draw(build(), path, params["plan"], names=_plots.SERIES_PLOTS)
        reader.join()
        if "error" in read:
            raise read["error"]
    except (DockerException, OSError) as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())

    versions = {"python": platform.python_version(), "docker engine": read["engine"]}
    versions.update(_evaluation.package_versions(read["results"]))
    if _plots.available():
        versions["matplotlib"] = _plots.matplotlib.__version__
    versions.update({key: str(value) for key, value in params["versions"].items()})
    report = build(_boot.phases(objects, read["reads"], params["lab_up_started"]), versions)
    files = []
    if not module.check_mode:
        os.makedirs(path, mode=0o755, exist_ok=True)
        if draw:
            plots.update(_plots.draw(report, path, params["plan"], names=_plots.BOOT_PLOTS))
            report["plots"] = plots
        with open(os.path.join(path, "report.json"), "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1, sort_keys=True)
            handle.write("\n")
        with open(os.path.join(path, "report.md"), "w", encoding="utf-8") as handle:
            handle.write(_evaluation.markdown(report))
        files = ["report.md", "report.json"] + sorted(plots.values())
        _link_latest(params["dest"], path)
    for warning in warnings:
        module.warn(warning)
    figures = {key: value for key, value in report.items() if key != "series"}
    module.exit_json(changed=True, path=path, files=files, figures=figures,
                     summary=_evaluation.summary(report, os.path.join(path, "report.md")))


if __name__ == "__main__":
    main()
