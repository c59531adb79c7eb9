#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: converged
short_description: Whether a lab is exactly as its last converged run left it, or record that it is
version_added: 0.2.0
description:
  - Reads a lab's state once (its containers, images, segments, the files under its directory, and each
    running node's interfaces in its namespace) and compares it with the record that the last converged run
    wrote in C(<state_dir>/<lab>/converged.json). The lab is current when the record was made from the same
    O(inputs), the same containers run since the same start with the images their tags name, the same
    segments exist, no file changed, appeared or disappeared (reports left out), and every node's interfaces
    still match its plan.
  - With O(record=true) it writes that record from the state it reads (at the end of a converged run).
  - C(playbooks/lab_up.yml) uses it so that a run with nothing to change reads the lab once and touches
    nothing; any difference makes the playbook converge the whole lab as usual. It never changes the lab.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
  - The module runs on the Docker host (it reads the lab's directory and enters the nodes' namespaces
    with C(nsenter)).
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(record=true), check mode reports whether the record would change and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  lab:
    description: The lab's name (label C(vnet.lab) of its Docker objects, directory under O(state_dir)).
    type: str
    required: true
  state_dir:
    description:
      - Where the labs' directories are, the collection's state root (C(vnet_lab_state_root); lookup
        P(vnet.lab.state_dir#lookup) without terms).
    type: path
    required: true
  inputs:
    description:
      - A digest of everything the run is computed from, as the filter C(vnet.lab.fingerprint) makes it. A
        record made from other inputs is never current.
    type: str
    required: true
  record:
    description: Write the record of the lab's present state instead of comparing with it.
    type: bool
    default: false
  docker_host:
    description: Docker daemon to talk to; defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
seealso:
  - module: vnet.lab.nodes
  - module: vnet.lab.services
"""

EXAMPLES = r"""
- name: Compare the lab with its last converged run
  vnet.lab.converged:
    lab: pilab
    state_dir: "{{ lookup('vnet.lab.state_dir') }}"
    inputs: "{{ [topology_plan, lab_variables] | vnet.lab.fingerprint }}"
  register: lab_state

- name: Converge the lab (skipped when it is current)
  ansible.builtin.include_role:
    name: vnet.lab.topology
  when: not lab_state.current

- name: Record the converged lab
  vnet.lab.converged:
    lab: pilab
    state_dir: "{{ lookup('vnet.lab.state_dir') }}"
    inputs: "{{ [topology_plan, lab_variables] | vnet.lab.fingerprint }}"
    record: true
"""

RETURN = r"""
current:
  description: Whether the lab is as recorded (always false with O(record=true)).
  returned: always
  type: bool
  sample: true
reasons:
  description: Why the lab is not current, one sentence each (empty when it is).
  returned: always
  type: list
  elements: str
  sample: ["container pilab-rpi1-dns restarted", "file services/rpi1-dns/named.conf is changed"]
path:
  description: The record's path.
  returned: always
  type: str
  sample: /var/lib/vnet/labs/pilab/converged.json
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils import _converged

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lab=dict(type="str", required=True),
            state_dir=dict(type="path", required=True),
            inputs=dict(type="str", required=True),
            record=dict(type="bool", default=False),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    path = _converged.record_path(params["state_dir"], params["lab"])
    try:
        client = docker.DockerClient(base_url=params["docker_host"], version="auto") \
            if params["docker_host"] else docker.from_env(version="auto")
        if params["record"]:
            snap = _converged.snapshot(client, params["lab"], params["state_dir"])
            record = _converged.record_of(snap, params["inputs"])
            if module.check_mode:
                changed = _converged.read_record(path) != record
            else:
                changed = _converged.write_record(path, record)
            module.exit_json(changed=changed, current=False, reasons=[], path=path)
        current, reasons, dummy = _converged.compare(client, params["lab"], params["state_dir"],
                                                     params["inputs"])
    except DockerException as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())
    except OSError as exc:
        module.fail_json(msg="cannot read the lab's state: %s" % exc, exception=traceback.format_exc())
    module.exit_json(changed=False, current=current, reasons=reasons, path=path)


if __name__ == "__main__":
    main()
