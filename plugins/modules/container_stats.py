#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: container_stats
short_description: Memory, CPU and processes of containers, read from their cgroups
version_added: 0.1.0
description:
  - Reads each container's cgroup (v1 or v2, cgroupfs or systemd driver) twice, O(interval) seconds apart,
    and returns its memory (what C(docker stats) shows - usage less the inactive page cache), its CPU share
    between the two samples (100 = one core busy), its CPU time since it started and its number of processes.
  - C(docker stats) reads the same files but shows 0 B for a container whose Docker-attached interface was
    renamed and for every container in its namespace, that is for every lab node and service.
  - The module only reads; it always reports C(changed=false).
author:
  - vnet.lab developers (!UNKNOWN)
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module has no side effect, so check mode reads the same figures.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  containers:
    description:
      - The containers to measure, each with its full C(id) (or C(Id)) and any other keys (a C(name),
        labels), which are returned unchanged beside the figures.
      - The C(containers) of M(community.docker.docker_host_info) fit as they are.
    type: list
    elements: dict
    required: true
  interval:
    description: Seconds between the two samples that give the CPU share.
    type: float
    default: 1.0
  cgroup_root:
    description: Where the cgroup file systems are mounted on the target.
    type: path
    default: /sys/fs/cgroup
notes:
  - A container whose cgroup is not found (stopped, or another engine layout) gets C(null) figures and
    C(found=false); the module does not fail for it.
"""

EXAMPLES = r"""
- name: List the lab's containers
  community.docker.docker_host_info:
    containers: true
    containers_filters:
      label: vnet.lab=pilab
  register: lab_containers

- name: Measure them
  vnet.lab.container_stats:
    containers: "{{ lab_containers.containers }}"
  register: lab_stats
"""

RETURN = r"""
containers:
  description: The containers given, in the same order, each with its figures added.
  returned: always
  type: list
  elements: dict
  contains:
    found:
      description: Whether the container's cgroup was found.
      type: bool
    memory_bytes:
      description: Memory in use, page cache that may be reclaimed left out.
      type: int
      sample: 11534336
    cpu_percent:
      description: CPU share between the two samples; 100 is one core busy.
      type: float
      sample: 0.4
    cpu_seconds:
      description: CPU time used since the container started.
      type: float
    pids:
      description: Processes and threads in the container.
      type: int
interval:
  description: The seconds actually measured between the two samples.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vnet.lab.plugins.module_utils._stats import cgroup_dirs, figures, sample


def main():
    module = AnsibleModule(
        argument_spec={
            "containers": {"type": "list", "elements": "dict", "required": True},
            "interval": {"type": "float", "default": 1.0},
            "cgroup_root": {"type": "path", "default": "/sys/fs/cgroup"},
        },
        supports_check_mode=True,
    )
    containers = module.params["containers"]
    ids = [item.get("id") or item.get("Id") for item in containers]
    missing = [index + 1 for index, value in enumerate(ids) if not value]
    if missing:
        module.fail_json(msg="containers: entries %s have no id" % ", ".join(map(str, missing)))
    dirs = [cgroup_dirs(module.params["cgroup_root"], value) for value in ids]
    first = [sample(d) if d else None for d in dirs]
    started = time.monotonic()
    time.sleep(max(module.params["interval"], 0.0))
    second = [sample(d) if d else None for d in dirs]
    seconds = time.monotonic() - started
    result = []
    for item, before, after in zip(containers, first, second):
        entry = dict(item)
        if before is None:
            entry.update(found=False, memory_bytes=None, cpu_percent=None, cpu_seconds=None, pids=None)
        else:
            entry.update(found=True, **figures(before, after, seconds))
        result.append(entry)
    module.exit_json(changed=False, containers=result, interval=round(seconds, 3))


if __name__ == "__main__":
    main()
