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
  - A board (C(site.yml)) is also set up outside the lab's directory (its engine, packages, units, its own
    interfaces and firewall), so the record then also watches what O(paths), O(engine_images), O(host_plan) and
    O(host_firewall) name, and a comparison checks what the record watches.
  - A comparison without a record made from the same O(inputs) reads nothing else, so it also runs where
    neither the Docker SDK nor an engine is installed yet (a new board); an engine that does not answer is a
    reason, not a failure.
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
  input_parts:
    description:
      - A digest of each part of O(inputs) by name (a variable, the topology...). Kept in the record, so that a
        comparison whose O(inputs) differ names the parts that changed.
    type: dict
  record:
    description: Write the record of the lab's present state instead of comparing with it.
    type: bool
    default: false
  paths:
    description:
      - With O(record=true), files or directories outside the lab's directory that the record watches (a
        file's content, a link's target, a directory's entries, recursively; a missing one stays missing).
    type: list
    elements: path
    default: []
  engine_images:
    description: With O(record=true), the engine's images are watched too (one of them removed since is a difference, one added is not).
    type: bool
    default: false
  host_plan:
    description:
      - With O(record=true), a node plan (JSON, as M(vnet.lab.interfaces) takes it) that the interfaces of the
        namespace the module runs in (the host's) must still match.
    type: path
  host_firewall:
    description:
      - With O(record=true), a rule set saved by M(vnet.lab.firewall) (its O(vnet.lab.firewall#module:save)) that
        the host's firewall must still hold.
    type: path
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

# A board: its engine's configuration, packages and units, its own ports and firewall are watched too.
- name: Record the converged board
  vnet.lab.converged:
    lab: pilab
    state_dir: /var/lib/vnet/labs
    inputs: "{{ site_inputs_digest }}"
    record: true
    paths: [/etc/docker/daemon.json, /var/lib/dpkg/status, /etc/vnet, /usr/lib/vnet]
    engine_images: true
    host_plan: /etc/vnet/netplan.json
    host_firewall: /etc/vnet/firewall.json
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vnet.lab.plugins.module_utils import _converged

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):
        """Stands in for the SDK's, which is missing."""
else:
    DOCKER_IMPORT_ERROR = None


def _client(docker_host):
    if DOCKER_IMPORT_ERROR is not None:
        raise _Unavailable("the Docker SDK for Python is not installed")
    try:
        return docker.DockerClient(base_url=docker_host, version="auto") if docker_host \
            else docker.from_env(version="auto")
    except DockerException as exc:
        raise _Unavailable("the engine does not answer (%s)" % exc) from None


class _Unavailable(Exception):
    """No Docker SDK or no engine: a comparison's reason, a record's failure."""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lab=dict(type="str", required=True),
            state_dir=dict(type="path", required=True),
            inputs=dict(type="str", required=True),
            input_parts=dict(type="dict"),
            record=dict(type="bool", default=False),
            paths=dict(type="list", elements="path", default=[]),
            engine_images=dict(type="bool", default=False),
            host_plan=dict(type="path"),
            host_firewall=dict(type="path"),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = _converged.record_path(params["state_dir"], params["lab"])
    if params["record"]:
        watch = None
        if params["paths"] or params["engine_images"] or params["host_plan"] or params["host_firewall"]:
            watch = _converged.watch_of(params["paths"], params["engine_images"], params["host_plan"],
                                        params["host_firewall"])
        try:
            snap = _converged.snapshot(_client(params["docker_host"]), params["lab"], params["state_dir"], watch=watch)
            record = _converged.record_of(snap, params["inputs"], params["input_parts"])
            if module.check_mode:
                changed = _converged.read_record(path) != record
            else:
                changed = _converged.write_record(path, record)
        except _Unavailable as exc:
            module.fail_json(msg="cannot record the lab: %s" % exc)
        except DockerException as exc:
            module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())
        except OSError as exc:
            module.fail_json(msg="cannot read the lab's state: %s" % exc, exception=traceback.format_exc())
        module.exit_json(changed=changed, current=False, reasons=[], path=path)
    # A comparison: whatever it cannot read (no SDK, no engine) is a reason to converge.
    try:
        current, reasons, dummy = _converged.compare(lambda: _client(params["docker_host"]), params["lab"],
                                                     params["state_dir"], params["inputs"],
                                                     input_parts=params["input_parts"])
    except _Unavailable as exc:
        current, reasons = False, [str(exc)]
    except DockerException as exc:
        current, reasons = False, ["Docker: %s" % exc]
    except OSError as exc:
        module.fail_json(msg="cannot read the lab's state: %s" % exc, exception=traceback.format_exc())
    module.exit_json(changed=False, current=current, reasons=reasons, path=path)


if __name__ == "__main__":
    main()
