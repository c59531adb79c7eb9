#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: nodes
short_description: All node containers of a lab, in one call
version_added: 0.1.0
description:
  - Brings every node container of a lab to its plan at once, the nodes in parallel, and converges each
    node's interfaces in the same call. Replaces one task per node and step (network plan file, container,
    wait, interfaces).
  - A node is the container C(<lab>-<node>) of O(image), hostname the node's name, C(init), all capabilities
    dropped but O(capabilities), the namespaced sysctls of its kind (forwarding for routers, IPv6 on), one
    Docker network per interface with the interface's placeholder address (from O(segments)), the node's
    directory C(<state_dir>/<lab>/nodes/<node>) mounted read-only at C(/etc/vnet), a tmpfs at C(/run/vnet),
    the restart policy O(restart_policy), and the labels C(vnet.lab), C(vnet.node), C(vnet.kind) and
    C(vnet.config) (a hash of this configuration, networks excepted).
  - The node's network plan is written to C(<state_dir>/<lab>/nodes/<node>/netplan.json), and the lab's plan to
    C(<state_dir>/<lab>/plan.json), each when its content changed (atomically). The node's entrypoint applies
    its network plan at every start, then marks itself ready.
  - A container whose image and configuration hash are as wanted is kept (started if stopped); one that
    differs is re-created; when only its networks differ, they are disconnected and connected live.
  - Once a node is ready (C(/run/vnet/ready) in its tmpfs), its interfaces, addresses, routes and forwarding
    are converged with its network plan as M(vnet.lab.interfaces) does, through C(nsenter) on the Docker host.
  - Containers of the lab that carry a C(vnet.node) label of a node no longer in the plan (and no
    C(vnet.service) label) are removed, with their node directory.
  - With O(state=absent), every container of the lab, service containers included, is removed (killed, as lab
    containers keep their data on volumes), in parallel, and so is the lab's directory C(<state_dir>/<lab>);
    with O(remove_segments), so are the lab's segments once its containers are gone (the whole lab in one call).
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
  - C(nsenter) (util-linux) and C(ip) (iproute2 with JSON output) on the Docker host, where the module must
    run, as root.
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
    details:
      - The interface actions that follow a live network change are predicted on a model of what Docker and
        the kernel do; Docker may add a default route that the real run then removes.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  lab:
    description: Name of the lab, the prefix of its containers' names and the value of their C(vnet.lab) label.
    type: str
    required: true
  plan:
    description:
      - The lab's plan (output of M(vnet.lab.address_plan)). Its C(name), when set, must be O(lab).
      - Required with O(state=present).
    type: dict
  segments:
    description: The C(segments) result of M(vnet.lab.segments) for the plan's segments (placeholder addresses).
    type: dict
    default: {}
  image:
    description: Image of the node containers, on the engine already (built by the role C(vnet.lab.images)).
    type: str
    default: vnet/node:latest
  capabilities:
    description: Capabilities of a node container; all others are dropped.
    type: list
    elements: str
    default: [NET_ADMIN, NET_RAW]
  restart_policy:
    description: Docker restart policy of the node containers.
    type: str
    choices: ["no", on-failure, always, unless-stopped]
    default: unless-stopped
  state_dir:
    description:
      - Directory holding each lab's files; the lab's plan goes to C(<state_dir>/<lab>/plan.json), the nodes'
        network plans to C(<state_dir>/<lab>/nodes/).
      - The roles of this collection give it the lookup P(vnet.lab.state_dir#lookup), which every other role writes
        under too (variable C(vnet_lab_state_root)).
    type: path
    default: /var/lib/vnet/labs
  log_options:
    description:
      - Options of Docker's C(json-file) log of each node container (for example C(max-size) V(1m) and C(max-file)
        V(2)), so that a node's log cannot fill the disk. Part of the configuration hash.
      - Empty leaves the engine's default log configuration.
    type: dict
    default: {}
  ready_timeout:
    description: Seconds to wait for a started node's entrypoint to apply its network plan.
    type: float
    default: 30
  keep_volumes:
    description: With O(state=absent), whether the named volumes labelled C(vnet.lab=<lab>) stay.
    type: bool
    default: true
  remove_segments:
    description:
      - With O(state=absent), whether the lab's segments go too, as M(vnet.lab.segments) removes them with
        O(vnet.lab.segments#module:state=absent) (every network labelled C(vnet.lab=<lab>), and the VXLAN device
        of a C(vxlan) segment), after the containers.
    type: bool
    default: false
  state:
    description:
      - V(present) brings the nodes to the plan.
      - V(absent) removes every container of the lab, services included, the lab's directory
        C(<state_dir>/<lab>) with everything in it (plans, and the files given to its services) and, unless
        O(keep_volumes), the lab's volumes.
    type: str
    choices: [present, absent]
    default: present
  docker_host:
    description:
      - Docker daemon to talk to, for example V(unix:///var/run/docker.sock).
      - Defaults to the environment (E(DOCKER_HOST)), else the local socket. The engine must run on the host
        that runs the module (the nodes' namespaces and files are reached there).
    type: str
notes:
  - Docker 20.10 finds a container's interfaces by the names it gave them, and nodes rename theirs. A live
    network change therefore renames the node's C(eth<N>) links to temporary names first, removes the
    interface of a disconnected network itself, and gives the links their names back once Docker is done;
    those links go down and up, and the convergence that follows adds back the routes and IPv6 addresses the
    kernel dropped. A reconnected interface gets a new MAC address from Docker; the node announces its
    addresses on it (gratuitous ARP, unsolicited neighbour advertisements) so that its neighbours follow.
  - Placeholders are handed out in endpoint order per segment, so adding a node to a LAN may move the
    placeholders of other nodes on it; those nodes are reconnected to that segment, live. All removals and
    disconnections happen before any creation or connection.
  - A service container that shares a re-created node's namespace keeps the old one; run its role again.
seealso:
  - module: vnet.lab.segments
  - module: vnet.lab.interfaces
  - plugin: vnet.lab.node_netplan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Start the lab's nodes and converge their interfaces
  vnet.lab.nodes:
    lab: "{{ plan.name }}"
    plan: "{{ plan }}"
    segments: "{{ segments_result.segments }}"
  register: nodes_result

- name: Remove every container of the lab and its volumes
  vnet.lab.nodes:
    lab: demo
    state: absent
    keep_volumes: false

- name: Remove the whole lab, its segments included, in one call
  vnet.lab.nodes:
    lab: demo
    state: absent
    keep_volumes: false
    remove_segments: true
"""

RETURN = r"""
nodes:
  description:
    - Per node, its container, the process ID of its init (null in check mode for a container that does not
      run yet) and its state. Empty with O(state=absent).
  returned: always
  type: dict
  sample:
    r1: {container: demo-r1, pid: 4242, state: running}
actions:
  description:
    - What was done (or would be done in check mode) per node, one sentence per action, in order.
    - Actions that concern the whole lab (its files, volumes and, with O(remove_segments), segments) are under the key C((lab)).
  returned: always
  type: dict
  sample:
    r1:
      - write /var/lib/vnet/labs/demo/nodes/r1/netplan.json
      - remove address 10.1.0.1/30 from eth1
      - add address 10.1.0.5/30 to eth1
    h3:
      - "create container demo-h3 (image vnet/node:latest 1a2b3c4d5e6f, networks: demo-lan1 (100.64.0.4))"
      - start container demo-h3
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils._interfaces import Runner
from ansible_collections.vnet.lab.plugins.module_utils._lab import STATE_ROOT
from ansible_collections.vnet.lab.plugins.module_utils._nodes import Nodes, NodesError
from ansible_collections.vnet.lab.plugins.module_utils._segments import Segments, SegmentsError, engine_is_local

# The docker SDK, as in vnet.lab.segments (community.docker's module_utils are private to it).
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
            plan=dict(type="dict"),
            segments=dict(type="dict", default={}),
            image=dict(type="str", default="vnet/node:latest"),
            capabilities=dict(type="list", elements="str", default=["NET_ADMIN", "NET_RAW"]),
            restart_policy=dict(type="str", default="unless-stopped",
                                choices=["no", "on-failure", "always", "unless-stopped"]),
            state_dir=dict(type="path", default=STATE_ROOT),
            ready_timeout=dict(type="float", default=30),
            log_options=dict(type="dict", default={}),
            keep_volumes=dict(type="bool", default=True),
            remove_segments=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            docker_host=dict(type="str"),
        ),
        required_if=[("state", "present", ("plan",))],
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    manager = None
    try:
        # One connection per worker thread: the nodes are handled in parallel.
        options = dict(version="auto", max_pool_size=Nodes.MAX_WORKERS)
        if params["docker_host"]:
            client = docker.DockerClient(base_url=params["docker_host"], **options)
        else:
            client = docker.from_env(**options)
        manager = Nodes(client, params["lab"], check_mode=module.check_mode)
        if params["state"] == "present":
            changed, nodes, diff = manager.present(
                params["plan"], params["segments"], params["image"], params["capabilities"],
                params["restart_policy"], params["state_dir"], params["ready_timeout"], params["log_options"])
        else:
            segments = None
            if params["remove_segments"]:
                segments = Segments(client, Runner(), params["lab"], check_mode=module.check_mode,
                                    local_engine=engine_is_local(params["docker_host"]))
            changed, diff = manager.absent(params["state_dir"], params["keep_volumes"], segments)
            nodes = {}
    except (NodesError, SegmentsError) as exc:
        module.fail_json(msg=str(exc), actions=manager.actions if manager else {})
    except DockerException as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc(),
                         actions=manager.actions if manager else {})
    result = {"changed": changed, "nodes": nodes,
              "actions": {key: manager.actions[key] for key in sorted(manager.actions)}}
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
