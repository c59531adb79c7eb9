#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: probes
short_description: Run named probes (commands in running containers) all at once
version_added: 0.2.0
description:
  - Runs each probe of O(probes) - a C(docker exec) of an argv in a running container, or a short sequence of
    them - in a thread of its own, all at once, so that a lab's checks take as long as the slowest one instead of
    the sum of all, in one module call.
  - A probe may wait for a condition (O(probes[].until) - an exit code and patterns in its output), repeating its
    exec until the condition holds or a timeout passes, for what converges by itself (an OSPF adjacency, a
    security association, a registration); and may wait for other probes to have succeeded (O(probes[].after)).
  - Every probe's exit code, output and duration are returned, whether it succeeded or not. The module fails only
    on a bad probe list (all problems at once, each naming its probe); what a probe's result means is the
    caller's to judge (a refused wrong password is the lab working).
  - The module changes no Docker object and always reports C(changed=false). What the commands do inside the
    containers is theirs; a check's commands should only look.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details:
      - Probes are read-only, so they run in check mode as well and return the same results.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  probes:
    description: The probes, run at once; their names are the keys of RV(probes).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The probe's name, unique in the list.
        type: str
        required: true
      container:
        description: Name or ID of the running container to run O(probes[].argv) in. Not with O(probes[].steps).
        type: str
      argv:
        description: The command and its arguments (no shell unless given one). Not with O(probes[].steps).
        type: list
        elements: str
      stdin:
        description:
          - Text written to the command's standard input, which is then closed (for a client driven by a script,
            such as C(lftp)). Written whole before the output is read, so keep it short.
          - A password in it is best listed in O(secrets) as well.
        type: str
      detach:
        description:
          - Start the command and leave it running (a capture that a later probe or step stops). It then has no
            output and no exit code, and cannot wait with O(probes[].until).
        type: bool
        default: false
      until:
        description:
          - Repeat the exec until its exit code is O(probes[].until.rc) and each of O(probes[].until.patterns) is
            found in its standard output, every O(probes[].until.interval) seconds for at most
            O(probes[].until.timeout) seconds. The last attempt is returned.
        type: dict
        suboptions:
          rc:
            description: The exit code waited for.
            type: int
            default: 0
          patterns:
            description: Regular expressions (Python, multi-line) that the standard output must hold.
            type: list
            elements: dict
            default: []
            suboptions:
              regex:
                description: The expression.
                type: str
                required: true
              min:
                description: How many times it must be found at least.
                type: int
                default: 1
          timeout:
            description: Seconds to keep trying.
            type: float
            default: 20
          interval:
            description: Seconds between two attempts.
            type: float
            default: 0.5
      steps:
        description:
          - A sequence of execs instead of one, each as a probe's; it stops at the first step that fails. The probe
            returns its last step's result, and all of them under RV(probes.steps).
        type: list
        elements: dict
        suboptions:
          container:
            description: As O(probes[].container).
            type: str
            required: true
          argv:
            description: As O(probes[].argv).
            type: list
            elements: str
            required: true
          stdin:
            description: As O(probes[].stdin).
            type: str
          detach:
            description: As O(probes[].detach).
            type: bool
            default: false
          until:
            description: As O(probes[].until).
            type: dict
            suboptions:
              rc:
                description: As O(probes[].until.rc).
                type: int
                default: 0
              patterns:
                description: As O(probes[].until.patterns).
                type: list
                elements: dict
                default: []
                suboptions:
                  regex:
                    description: The expression.
                    type: str
                    required: true
                  min:
                    description: How many times it must be found at least.
                    type: int
                    default: 1
              timeout:
                description: As O(probes[].until.timeout).
                type: float
                default: 20
              interval:
                description: As O(probes[].until.interval).
                type: float
                default: 0.5
      after:
        description:
          - Names of probes that must have ended, successfully, before this one starts. A probe whose predecessor
            failed is not run (its result says so).
        type: list
        elements: str
        default: []
  secrets:
    description:
      - Texts (passwords) that must never be shown - they are masked wherever they appear in the results, such as
        a client's debug output.
    type: list
    elements: str
    default: []
  sample:
    description:
      - Sample every running container of a lab while the probes run, from its cgroup (memory, CPU, processes;
        cgroup v1 or v2), with each network namespace's bytes and the host's CPU, load, memory and temperature
        (where C(/sys/class/thermal) has a zone), and return the time series as RV(samples) - the load of the
        lab while the probes exercise it (playbooks/measure.yml).
      - Reads the target's own C(/sys/fs/cgroup) and C(/proc), so the Docker engine must run on the target, not
        behind O(docker_host).
    type: dict
    suboptions:
      lab:
        description: The lab, whose containers carry the label C(vnet.lab=<lab>); those running when the probes start.
        type: str
        required: true
      interval:
        description: Seconds between two samples.
        type: float
        default: 0.5
      seconds:
        description:
          - Sample for this many seconds at least, even when the probes end sooner (or there are none) - a lab
            measured at rest.
        type: float
        default: 0
      cgroup_root:
        description: Where the cgroup file systems are mounted on the target.
        type: path
        default: /sys/fs/cgroup
  volumes:
    description:
      - A lab whose named volumes (label C(vnet.lab=<lab>)) are checked for space, returned as RV(volumes) - a full
        volume is one reason for a service to fail that its own checks cannot name.
      - Reads the file system of each volume's directory, so the space is known only when the engine runs on the
        target (not behind O(docker_host)).
    type: str
  timeout:
    description: Seconds the Docker API may stay silent - the longest a single exec may run without output.
    type: float
    default: 60
  docker_host:
    description: Docker daemon to talk to; defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
notes:
  - A probe succeeds (RV(probes.ok)) when its exec ran and exited 0, or as O(probes[].until) wants; a detached exec
    when it was started; a sequence when every step did.
  - A Docker error (no such container, container stopped) is the probe's RV(probes.error), not the module's failure.
seealso:
  - module: community.docker.docker_container_exec
"""

EXAMPLES = r"""
- name: Wait for the routers' adjacencies and read the clients' leases, at once
  vnet.lab.probes:
    probes:
      - name: ospf rpi1
        container: pilab-rpi1-ospf
        argv: [vtysh, -c, show ip ospf neighbor json]
        until:
          patterns:
            - {regex: '"state":\s*"Full', min: 1}
          timeout: 20
      - name: lease client1
        container: pilab-client1-client
        argv: [ip, -4, -o, address, show, dev, eth0]
    volumes: pilab
  register: waited

- name: Load the web server for 10 s while every container of the lab is sampled twice a second
  vnet.lab.probes:
    probes:
      - name: pages
        container: pilab-client1-client
        argv: [sh, -c, 'end=$(($(date +%s) + 10)); while [ $(date +%s) -lt $end ]; do curl -s -o /dev/null http://www.pilab.test/; done']
    sample:
      lab: pilab
      interval: 0.5
  register: loaded

- name: Log in to FTP with a password kept out of the output
  vnet.lab.probes:
    probes:
      - name: ftp
        container: pilab-client1-client
        argv: [lftp]
        stdin: |
          open -u "student,{{ ftp_password }}" ftp.pilab.test
          cls -1
    secrets: ["{{ ftp_password }}"]
  register: ftp

- name: Capture while a call is made, then read the capture
  vnet.lab.probes:
    probes:
      - name: capture
        steps:
          - {container: pilab-rpi1-voipprobe, argv: [tshark, -q, -i, any, -w, /tmp/call.pcapng], detach: true}
          - container: pilab-rpi1-voipprobe
            argv: [test, -s, /tmp/call.pcapng]
            until: {timeout: 10, interval: 0.1}
      - name: call
        after: [capture]
        container: pilab-client1-phone2001
        argv: [sh, -c, "vnet-baresip-ctl 5071 dial sip:2002@192.168.0.6 && sleep 8"]
"""

RETURN = r"""
probes:
  description: Each probe's result, by name, in the order given.
  returned: always
  type: dict
  contains:
    ok:
      description: Whether the probe succeeded (see the notes).
      type: bool
    rc:
      description: Exit code of its (last) exec; V(null) when it did not run or was detached.
      type: int
      sample: 0
    stdout:
      description: Its standard output.
      type: str
    stderr:
      description: Its standard error.
      type: str
    error:
      description: Why it could not run (a Docker error, or a predecessor that failed); V(null) when it ran.
      type: str
    skipped:
      description: Whether it was not run because a probe of O(probes[].after) failed.
      type: bool
    attempts:
      description: How many execs it took (more than one with O(probes[].until)).
      type: int
    duration:
      description: Seconds from its start to its end.
      type: float
      sample: 0.142
    steps:
      description: The result of each step that ran, for a probe with O(probes[].steps).
      type: list
      elements: dict
      returned: for a probe with steps
samples:
  description:
    - The time series of O(sample), on one timeline RV(samples.times) from the first sample, taken before the
      probes start, to the last, taken once they have all ended. A CPU share needs two samples, so the first
      value of each CPU series is V(null); so is any figure that could not be read.
  returned: when O(sample) is given
  type: dict
  contains:
    interval:
      description: Seconds between two samples, as asked.
      type: float
    started:
      description: When the first sample was taken (seconds since the epoch).
      type: float
    seconds:
      description: Seconds from the first sample to the last.
      type: float
    times:
      description: Each sample's time, in seconds since the first.
      type: list
      elements: float
    containers:
      description: Per container (C(name), C(node), C(service), C(found)) its series C(cpu_percent) (100 is one
        core busy), C(memory_bytes) (as C(docker stats) counts it) and C(pids).
      type: list
      elements: dict
    networks:
      description: Per network namespace (named after its C(node); C(containers) in it) the bytes received and
        sent since the first sample, C(rx_bytes) and C(tx_bytes), loopback left out.
      type: list
      elements: dict
    host:
      description: The host's C(cores), C(cpu_percent) (100 is every core busy), C(load1), C(memory_total_bytes),
        C(memory_used_bytes) and C(temperature_celsius) (per thermal zone; empty when the host exposes none).
      type: dict
volumes:
  description: The space left on each named volume of the lab O(volumes), by volume name.
  returned: when O(volumes) is given
  type: dict
  contains:
    mountpoint:
      description: The volume's directory on the Docker host.
      type: str
    size:
      description: Bytes of the file system that holds it; V(null) when it is not on the target.
      type: int
    free:
      description: Bytes left on it for an unprivileged writer; V(null) when it is not on the target.
      type: int
    full:
      description: Whether less than 5 % or 16 MiB (the smaller) is left.
      type: bool
duration:
  description: Seconds the whole set took.
  returned: always
  type: float
  sample: 1.52
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils._probes import ProbeError, Runner, volume_space
from ansible_collections.vnet.lab.plugins.module_utils._sample import Sampler, lab_targets

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None

UNTIL_OPTIONS = dict(
    rc=dict(type="int", default=0),
    patterns=dict(type="list", elements="dict", default=[], options=dict(
        regex=dict(type="str", required=True),
        min=dict(type="int", default=1),
    )),
    timeout=dict(type="float", default=20),
    interval=dict(type="float", default=0.5),
)

STEP_OPTIONS = dict(
    container=dict(type="str", required=True),
    argv=dict(type="list", elements="str", required=True),
    stdin=dict(type="str"),
    detach=dict(type="bool", default=False),
    until=dict(type="dict", options=UNTIL_OPTIONS),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            probes=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                container=dict(type="str"),
                argv=dict(type="list", elements="str"),
                stdin=dict(type="str"),
                detach=dict(type="bool", default=False),
                until=dict(type="dict", options=UNTIL_OPTIONS),
                steps=dict(type="list", elements="dict", options=STEP_OPTIONS),
                after=dict(type="list", elements="str", default=[]),
            )),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
            sample=dict(type="dict", options=dict(
                lab=dict(type="str", required=True),
                interval=dict(type="float", default=0.5),
                seconds=dict(type="float", default=0),
                cgroup_root=dict(type="path", default="/sys/fs/cgroup"),
            )),
            volumes=dict(type="str"),
            timeout=dict(type="float", default=60),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    if params["sample"] and params["sample"]["interval"] <= 0:
        module.fail_json(msg="sample interval must be above 0, not %s" % params["sample"]["interval"])
    started = time.monotonic()
    try:
        # One connection per probe: they all run at once.
        options = dict(version="auto", timeout=params["timeout"], max_pool_size=max(len(params["probes"]), 1))
        if params["docker_host"]:
            client = docker.DockerClient(base_url=params["docker_host"], **options)
        else:
            client = docker.from_env(**options)
        runner = Runner(client)
        sample = params["sample"]
        sampler = None
        if sample:
            sampler = Sampler(lab_targets(client.api, sample["lab"]), sample["interval"], sample["cgroup_root"])
            sampler.start()
        volumes = volume_space(client.api, params["volumes"]) if params["volumes"] else None
        try:
            results = runner.run(params["probes"])
            if sampler:
                time.sleep(max(sample["seconds"] - (time.monotonic() - started), 0.0))
        finally:
            samples = sampler.stop() if sampler else None
    except ProbeError as exc:
        module.fail_json(msg=str(exc))
    except DockerException as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())
    extra = {"samples": samples} if sampler else {}
    if volumes is not None:
        extra["volumes"] = volumes
    module.exit_json(changed=False, probes=results, duration=round(time.monotonic() - started, 3), **extra)


if __name__ == "__main__":
    main()
