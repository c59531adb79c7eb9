#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: service
short_description: One network service (its files, volumes and containers) in one call
version_added: 0.2.0
description:
  - Converges a service's directory of files, its named volumes and its containers in one call, so that a role
    costs the same single module call whatever the number of its files, zones, interfaces or containers.
    Every service role of the collection (dns, dhcp, web, ftp, voip, ospf, ipsec, client) runs through it.
  - O(files) is the complete content of O(config_dir), rendered on the controller. A file whose content and
    mode are as wanted is not touched; the others are replaced atomically; files of the directory that are not
    listed are removed, except under O(keep), and so is a directory that this removal leaves empty.
  - When any file changes, the whole new directory is first checked by O(validate) in a throwaway container;
    nothing is written when the check fails, and the running daemon keeps its configuration.
  - Each container's configuration is hashed into its C(vnet.config) label. A container whose image or hash
    differs is re-created, a missing one created, a stopped one started. A running container that mounts a
    changed file is reloaded (its O(containers[].reload) command) or restarted (no reload command, or the file
    is in its O(containers[].restart_on)). A container that joined another container's network namespace that
    is no longer that container's current one (Docker keeps the old namespace when the other restarts) is
    restarted; one whose namespace owner was re-created since (Docker keeps the old container's id) is
    re-created.
  - After its action a container is waited for (O(containers[].wait_path) or O(containers[].wait_command))
    before the next container is handled.
  - A container is created with the labels C(vnet.ready) (its readiness check, a JSON argv) and, with
    O(together=true), C(vnet.unit) (V(<name>:<rank>)), by which a lab's keeper brings it back in order
    without Ansible (docs/faults.md); they are not part of the hash.
  - Every input is checked, and every image looked up, before the first change.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
  - The module runs on the Docker host (the service's files are bind-mounted from it).
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The content of O(secret_files) is never shown.
  idempotent:
    support: full
options:
  name:
    description: The service's name in messages, for example V(pilab-rpi1-dns).
    type: str
    required: true
  state:
    description:
      - V(present) converges the service.
      - V(absent) removes the containers of O(containers), those carrying the O(remove) labels, the volumes
        named in O(remove_volumes) and O(config_dir).
    type: str
    choices: [present, absent]
    default: present
  config_dir:
    description: The service's own directory on the Docker host; it holds exactly O(files).
    type: path
  files:
    description: The files of O(config_dir).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path relative to O(config_dir).
        type: str
        required: true
      content:
        description: The file's text.
        type: str
        default: ""
      mode:
        description: The file's permissions, in octal.
        type: raw
        default: "0644"
  secret_files:
    description:
      - Files of O(config_dir) that hold secrets (passwords, keys), as O(files). Their content is never logged
        nor shown in a diff; their mode defaults to V(0600).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path relative to O(config_dir).
        type: str
        required: true
      content:
        description: The file's text.
        type: str
        required: true
      mode:
        description: The file's permissions, in octal.
        type: raw
        default: "0600"
  keep:
    description: Paths relative to O(config_dir) that the module leaves alone although they are not in O(files).
    type: list
    elements: str
    default: []
  validate:
    description: The daemon's own check of a new configuration, run before any file is written.
    type: dict
    suboptions:
      image:
        description: Image of the throwaway container.
        type: str
        required: true
      argv:
        description: The check's command (arguments of the entrypoint); it must exit 0 to accept the configuration.
        type: list
        elements: str
        required: true
      entrypoint:
        description: Entrypoint of the check's container, when not the image's.
        type: list
        elements: str
      mounts:
        description: Relative directories of the new O(config_dir) (V(.) for all of it) and where the check sees them.
        type: dict
        default: {".": /etc/vnet}
      network_mode:
        description: Network of the check's container (V(none), or a node's V(container:<name>) when the check binds addresses).
        type: str
        default: none
      capabilities:
        description: Capabilities of the check's container; all others are dropped.
        type: list
        elements: str
        default: []
  volumes:
    description: Named volumes of the service, created when missing (never changed or removed by O(state=present)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The volume's name.
        type: str
        required: true
      labels:
        description: Its labels.
        type: dict
        default: {}
  containers:
    description: The service's containers, handled in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Container name.
        type: str
        required: true
      image:
        description: Image, on the engine already (the module never pulls).
        type: str
        required: true
      command:
        description: Command (arguments of the entrypoint).
        type: list
        elements: str
      entrypoint:
        description: Entrypoint, when not the image's.
        type: list
        elements: str
      env:
        description: Environment variables. Never put a secret here; give it in a file.
        type: dict
        default: {}
      network_mode:
        description: V(container:<node container>) to join a lab node, V(host) on a real board.
        type: str
        required: true
      capabilities:
        description: Capabilities added; all others are dropped.
        type: list
        elements: str
        default: []
      devices:
        description: Devices, as C(host:container:permissions).
        type: list
        elements: str
        default: []
      volumes:
        description: Bind mounts (absolute host path) and named volumes, as C(source:target[:ro]).
        type: list
        elements: str
        default: []
      tmpfs:
        description: Paths of tmpfs mounts.
        type: list
        elements: str
        default: []
      labels:
        description: Labels (the module adds C(vnet.config)).
        type: dict
        default: {}
      restart_policy:
        description: Docker restart policy.
        type: str
        choices: ["no", on-failure, always, unless-stopped]
        default: unless-stopped
      init:
        description: Run an init as PID 1 (fast, clean stops).
        type: bool
        default: true
      user:
        description: User to run as, when not the image's.
        type: str
      log_options:
        description: "Options of the json-file log driver, for example C({max-size: 1m, max-file: 2})."
        type: dict
        default: {}
      reload:
        description: Command run in the running container when a file it mounts changed; without it, it is restarted.
        type: list
        elements: str
      restart_on:
        description: Files (relative to O(config_dir)) whose change restarts the container even with O(containers[].reload).
        type: list
        elements: str
        default: []
      wait_path:
        description: Path in the container whose existence says it is ready.
        type: str
      wait_command:
        description: Command run in the container until it exits 0, to say it is ready.
        type: list
        elements: str
      wait_timeout:
        description: Seconds to wait for it; defaults to O(wait_timeout).
        type: float
      wait_always:
        description:
          - Wait for the container also when it was kept (no action), so that every run checks its readiness,
            for example a DHCP client's leases. Not in check mode.
        type: bool
        default: false
      stop_timeout:
        description: Seconds a restart waits for the container to stop before killing it.
        type: int
        default: 10
  together:
    description:
      - The containers are one unit; when one is created, re-created, started or restarted, the others are
        restarted after it, in list order.
    type: bool
    default: false
  remove:
    description: Labels; the containers carrying all of them that are not in O(containers) are removed (volumes stay).
    type: dict
  remove_volumes:
    description: With O(state=absent), named volumes to remove with the service.
    type: list
    elements: str
    default: []
  stop_timeout:
    description:
      - With O(state=absent), each running container is first stopped (its stop signal, then killed after this
        many seconds) before it is removed, for a daemon that undoes what it set up as it ends (zebra withdraws
        its routes). Unset, a container is killed and removed at once.
    type: int
  wait_timeout:
    description: Seconds to wait for a container to be ready after its action.
    type: float
    default: 30
  docker_host:
    description: Docker daemon to talk to; defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
seealso:
  - module: vnet.lab.nodes
"""

EXAMPLES = r"""
- name: Serve the lab's zones with named, in the node's namespace
  vnet.lab.service:
    name: pilab-rpi1-dns
    config_dir: /var/lib/vnet/labs/pilab/services/rpi1-dns
    files:
      - path: named.conf
        content: "{{ lookup('ansible.builtin.template', 'named.conf.j2') }}"
      - path: zones/db.pilab.test
        content: "{{ lookup('ansible.builtin.template', 'zone.j2') }}"
    validate:
      image: vnet/dns:latest
      argv: [named-checkconf, -z, /etc/bind/vnet/named.conf]
      mounts: {".": /etc/bind/vnet}
    containers:
      - name: pilab-rpi1-dns
        image: vnet/dns:latest
        network_mode: container:pilab-rpi1
        capabilities: [NET_BIND_SERVICE, SETUID, SETGID]
        volumes: ["/var/lib/vnet/labs/pilab/services/rpi1-dns:/etc/bind/vnet:ro"]
        labels: {vnet.lab: pilab, vnet.node: rpi1, vnet.service: dns}
        reload: [rndc, reload]

- name: Remove it
  vnet.lab.service:
    name: pilab-rpi1-dns
    state: absent
    config_dir: /var/lib/vnet/labs/pilab/services/rpi1-dns
    remove: {vnet.lab: pilab, vnet.node: rpi1, vnet.service: dns}
"""

RETURN = r"""
actions:
  description: What was done (or would be done in check mode), one sentence per action, in order.
  returned: always
  type: list
  elements: str
  sample:
    - write /var/lib/vnet/labs/pilab/services/rpi1-dns/zones/db.pilab.test
    - reload container pilab-rpi1-dns (zones/db.pilab.test changed)
containers:
  description: Per container, the action taken (V(keep) when none), its ID and the PID of its init.
  returned: with O(state=present)
  type: dict
  sample:
    pilab-rpi1-dns: {action: reload, id: 4f1c..., pid: 4242}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils._service import (
    Service,
    ServiceError,
    argument_spec,
    present_arguments,
)

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    service = None
    try:
        client = docker.DockerClient(base_url=params["docker_host"], version="auto") if params["docker_host"] \
            else docker.from_env(version="auto")
        service = Service(client, params["name"], check_mode=module.check_mode)
        if params["state"] == "present":
            changed, containers = service.present(**present_arguments(params))
        else:
            changed = service.absent(params["config_dir"], [c["name"] for c in params["containers"]],
                                     params["remove"], params["remove_volumes"], params["stop_timeout"])
            containers = {}
    except ServiceError as exc:
        module.fail_json(msg=str(exc), actions=service.actions if service else [],
                         changed=bool(service and service.actions))
    except DockerException as exc:
        module.fail_json(msg="%s: Docker: %s" % (params["name"], exc), exception=traceback.format_exc(),
                         actions=service.actions if service else [], changed=bool(service and service.actions))
    for warning in service.warnings:
        module.warn(warning)
    result = {"changed": changed, "actions": service.actions, "containers": containers}
    if module._diff:
        result["diff"] = service.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
