#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: segments
short_description: Lab segments as Docker networks
version_added: 0.1.0
description:
  - Creates (or removes) one Docker network per segment of a lab's plan, named C(<lab>-<segment>) and labelled
    C(vnet.lab=<lab>) and C(vnet.segment=<segment>).
  - Docker's IPAM gets a placeholder subnet, the lowest one of O(placeholder_pool) that overlaps no network of
    the engine (any lab's, or anybody's); nodes replace their placeholder addresses with the plan's, so any
    number of segments may carry the same lab subnet. An existing network keeps its subnet.
  - C(bridge) segments are bridge networks with C(com.docker.network.bridge.inhibit_ipv4=true) and
    C(com.docker.network.bridge.enable_ip_masquerade=false), never internal, with
    C(com.docker.network.driver.mtu) when the segment has an MTU.
  - C(macvlan) segments are macvlan networks on the host port C(link.parent).
  - C(vxlan) segments are bridge networks whose Linux bridge is C(vx<id>), with a host VXLAN device C(vxt<id>)
    (C(link.vni), C(link.remote), C(link.local), C(link.port), C(link.dev)) attached to it.
  - On a local engine the Linux bridge of each C(bridge) and C(vxlan) segment is made quiet, where it is not yet
    (C(arp_ignore=1), C(arp_announce=2), C(disable_ipv6=1) under C(/proc/sys/net)) - the host answers no ARP
    and sends no IPv6 of its own (link-local address, router solicitation, MLD, neighbour advertisement) on a
    lab's wire. A host reboot makes new bridges - the next converging run sets them again.
  - A network whose driver, options or labels differ from the wanted ones is re-created with the same subnet if
    no container is attached to it; otherwise the module fails and names it. A network of the wanted name that
    belongs to another lab or segment is never touched.
  - Before it makes anything, it fails naming each culprit when a segment prefix overlaps O(placeholder_pool);
    when, on a local engine, a segment prefix (but a C(macvlan) one) holds an address of the Docker host (its
    routes would send the lab's packets for that address to itself); when a container bears one of the lab's names
    (C(<lab>-<node>), C(<lab>-<node>-...), the nodes taken from the segments' endpoints) but belongs to another
    lab or to none; when the host lacks a C(macvlan) parent or a C(vxlan) C(dev).
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
  - For C(vxlan) segments, C(ip) (iproute2) and root on the Docker host, where the module must run.
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  lab:
    description: Name of the lab, the prefix of its networks' names and the value of their C(vnet.lab) label.
    type: str
    required: true
  segments:
    description:
      - The C(segments) of the lab's plan (output of M(vnet.lab.address_plan)), by name.
      - Each segment's C(endpoints), C(mtu) and C(link) are used; other keys are ignored.
      - With O(state=absent), only the networks of these segments are removed; when empty, all of the lab's.
    type: dict
    default: {}
  state:
    description:
      - V(present) creates the segments' networks and keeps those that are as wanted. Networks of the lab that are
        not in O(segments) are left alone.
      - V(absent) removes the lab's networks (see O(segments)) and their VXLAN devices. It fails, naming them, while
        containers are attached.
    type: str
    choices: [present, absent]
    default: present
  placeholder_pool:
    description: IPv4 prefix that the placeholder subnets are taken from.
    type: str
    default: 100.64.0.0/10
  placeholder_prefix:
    description: Prefix length of a placeholder subnet. A /24 holds 253 endpoints.
    type: int
    default: 24
  docker_host:
    description:
      - Docker daemon to talk to, for example V(unix:///var/run/docker.sock) or V(tcp://192.0.2.10:2375).
      - Defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
notes:
  - The macvlan parent and the VXLAN device are checked and made on the host that runs the module; with a
    remote O(docker_host) the parent is not checked and VXLAN segments are refused.
  - Endpoint I(i) of a segment, in the plan's order (by node, then interface), gets host address I(i)+2 of the
    placeholder subnet (C(.1) is Docker's gateway).
seealso:
  - module: vnet.lab.interfaces
  - plugin: vnet.lab.node_netplan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Create the lab's segments
  vnet.lab.segments:
    lab: "{{ plan.name }}"
    segments: "{{ plan.segments }}"
  register: segments_result

- name: Remove every segment of the lab
  vnet.lab.segments:
    lab: demo
    state: absent

- name: Remove one segment only
  vnet.lab.segments:
    lab: demo
    segments: {lan2: {}}
    state: absent
"""

RETURN = r"""
segments:
  description:
    - Per segment, its Docker network, placeholder subnet and the placeholder address of each endpoint
      (predicted in check mode). Empty with O(state=absent).
  returned: always
  type: dict
  sample:
    lan1:
      network: demo-lan1
      subnet: 100.64.0.0/24
      endpoints: {"h1:eth1": 100.64.0.2, "r1:eth2": 100.64.0.3}
actions:
  description: What was done (or would be done in check mode), one sentence per action.
  returned: always
  type: list
  elements: str
  sample:
    - create network demo-lan1 (bridge, placeholder 100.64.0.0/24)
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils._interfaces import Runner
from ansible_collections.vnet.lab.plugins.module_utils._segments import (
    Segments,
    SegmentsError,
    engine_is_local,
)

# The docker SDK rather than community.docker's module_utils: those are private to community.docker
# (declared so in its 5.0.0 release, free to break in any release), and wrap the whole module
# (AnsibleDockerClient owns the AnsibleModule and its dozen connection options). We need a few
# network calls; python3-docker is packaged by Debian and Raspberry Pi OS.
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
            segments=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            placeholder_pool=dict(type="str", default="100.64.0.0/10"),
            placeholder_prefix=dict(type="int", default=24),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    try:
        if params["docker_host"]:
            client = docker.DockerClient(base_url=params["docker_host"], version="auto")
        else:
            client = docker.from_env(version="auto")
        manager = Segments(client, Runner(), params["lab"], check_mode=module.check_mode,
                           local_engine=engine_is_local(params["docker_host"]))
        if params["state"] == "present":
            changed, segments, diff = manager.present(
                params["segments"], params["placeholder_pool"], params["placeholder_prefix"])
        else:
            changed, segments, diff = manager.absent(params["segments"])
    except SegmentsError as exc:
        module.fail_json(msg=str(exc))
    except DockerException as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())
    result = {"changed": changed, "segments": segments, "actions": manager.actions}
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
