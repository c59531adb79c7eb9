#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: interfaces
short_description: Apply a node network plan inside a network namespace
version_added: 0.1.0
description:
  - Brings the interfaces, addresses, routes and forwarding of one network namespace (a container's,
    a named one, or a process's) to a node network plan, the output of the P(vnet.lab.node_netplan#filter) filter.
  - An interface is found by its placeholder IPv4 address (the one Docker gave it on its segment) or by
    its planned name, and renamed to its planned name.
  - Addresses that are not planned are removed (IPv6 link-local addresses stay; on C(lo), 127.0.0.0/8 and
    C(::1) stay); planned addresses are added, IPv6 ones without duplicate address detection.
  - A DHCP interface is renamed and loses its placeholder address; its other addresses and its default
    route belong to the DHCP client.
  - Planned routes are added to table C(main) with C(proto static). C(proto static) routes that are not
    planned are removed, and so are default routes via a gateway that the plan does not have (Docker installs
    one via the placeholder gateway), except routes of routing daemons (any other C(proto)) and routes on
    DHCP interfaces. Routes through interfaces that are not in the plan (a board's management port) are never touched.
  - Commands run on the Docker host through C(nsenter --net); the node's entrypoint applies the same logic
    from inside the container at every start.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - C(nsenter) (util-linux) and C(ip) (iproute2 with JSON output) on the host running the module.
  - Root on that host (enter a namespace, write its sysctls).
  - The Docker SDK for Python, when O(container) is used.
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
  container:
    description:
      - Name or ID of a running container whose network namespace is configured.
      - Exactly one of O(container), O(netns) and O(pid) is required.
    type: str
  netns:
    description:
      - Name of a network namespace under C(/run/netns) (as made by C(ip netns add)), or an absolute path
        to a namespace file.
      - V(host) configures the namespace the module runs in, the host's own; it must be asked for by name.
    type: str
  pid:
    description: ID of a process whose network namespace is configured.
    type: int
  docker_host:
    description:
      - Docker daemon to ask for the process of O(container), for example V(unix:///var/run/docker.sock).
      - Defaults to the environment (E(DOCKER_HOST)), else the local socket. The engine must run on the host
        that runs the module.
    type: str
  interfaces:
    description:
      - Planned interfaces by name; each has C(placeholder) (IPv4 address or null), C(ipv4) and C(ipv6)
        (address with prefix length, or null), C(mtu) (or null to leave it), C(dhcp) (bool) and
        C(secondary) (list of further addresses with prefix length, such as service addresses; may be absent).
    type: dict
    default: {}
  loopback:
    description: Addresses of C(lo).
    type: dict
    default: {}
    suboptions:
      ipv4:
        description: IPv4 address with prefix length.
        type: str
      ipv6:
        description: IPv6 address with prefix length.
        type: str
  routes:
    description: Routes of table C(main).
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Destination prefix; V(0.0.0.0/0) and V(::/0) are default routes.
        type: str
        required: true
      via:
        description: Gateway address, of the same family as O(routes[].dst).
        type: str
        required: true
  forwarding:
    description:
      - Whether the namespace forwards IPv4 and IPv6 (C(net.ipv4.ip_forward), C(net.ipv6.conf.all.forwarding)).
      - Null leaves both as they are.
    type: bool
  state:
    description: Only V(present), the plan applied.
    type: str
    choices: [present]
    default: present
notes:
  - Docker 20.10 starts a container on a network without IPv6 with IPv6 disabled; the module enables it on an
    interface that is planned to carry IPv6. A node's entrypoint cannot (C(/proc/sys) is read-only in a
    container), so create node containers with the sysctl C(net.ipv6.conf.all.disable_ipv6=0).
  - Renaming an interface that Docker attached makes Docker 20.10's stats API return empty data for the container.
seealso:
  - plugin: vnet.lab.node_netplan
    plugin_type: filter
  - module: vnet.lab.segments
"""

EXAMPLES = r"""
- name: Apply r1's network plan inside its container
  vnet.lab.interfaces:
    container: demo-r1
    interfaces:
      eth1: {placeholder: 100.64.0.2, ipv4: 10.1.0.1/30, ipv6: null, mtu: null, dhcp: false}
    loopback: {ipv4: 10.0.0.1/32}
    routes:
      - {dst: 192.168.2.0/24, via: 10.1.0.2}
    forwarding: true

- name: Apply a node's plan computed from the lab's plan
  vnet.lab.interfaces:
    container: "{{ plan.name }}-{{ item }}"
    interfaces: "{{ netplan.interfaces }}"
    loopback: "{{ netplan.loopback }}"
    routes: "{{ netplan.routes }}"
    forwarding: "{{ netplan.forwarding }}"
  vars:
    netplan: "{{ plan | vnet.lab.node_netplan(item, segments_result.segments) }}"
  loop: "{{ plan.nodes | list }}"
"""

RETURN = r"""
actions:
  description: What was done (or would be done in check mode), one sentence per action, in order.
  returned: always
  type: list
  elements: str
  sample:
    - rename eth0 to eth1 (placeholder 100.64.0.2)
    - remove address 100.64.0.2/24 from eth1
    - add address 10.1.0.1/30 to eth1
    - add route 192.168.2.0/24 via 10.1.0.2
netns:
  description: Path of the network namespace that was configured; null for the module's own.
  returned: always
  type: str
  sample: /proc/4242/ns/net
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils._interfaces import (
    InterfacesError,
    Runner,
    apply,
    netns_path,
)

try:
    import docker
    from docker.errors import DockerException
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


class NamespaceInterfaces:
    def __init__(self, module):
        self.module = module

    def namespace(self):
        params = self.module.params
        if params["container"] is None:
            return netns_path(netns=params["netns"], pid=params["pid"])
        if DOCKER_IMPORT_ERROR is not None:
            self.module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
        try:
            if params["docker_host"]:
                client = docker.DockerClient(base_url=params["docker_host"], version="auto")
            else:
                client = docker.from_env(version="auto")
            attrs = client.api.inspect_container(params["container"])
        except DockerException as exc:
            self.module.fail_json(msg="cannot inspect container %s: %s" % (params["container"], exc))
        state = attrs.get("State") or {}
        if not state.get("Running") or not state.get("Pid"):
            self.module.fail_json(msg="container %s is not running (status %s)"
                                  % (params["container"], state.get("Status")))
        return netns_path(container_pid=state["Pid"])

    def run(self):
        params = self.module.params
        path = self.namespace()
        netplan = {
            "interfaces": params["interfaces"],
            "loopback": params["loopback"],
            "routes": params["routes"],
            "forwarding": params["forwarding"],
        }
        try:
            result = apply(Runner(path), netplan, check_mode=self.module.check_mode)
        except InterfacesError as exc:
            self.module.fail_json(msg=str(exc), netns=path)
        output = {"changed": result["changed"], "actions": result["actions"], "netns": path}
        if self.module._diff:
            output["diff"] = {"before": result["before"], "after": result["after"]}
        self.module.exit_json(**output)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container=dict(type="str"),
            netns=dict(type="str"),
            pid=dict(type="int"),
            docker_host=dict(type="str"),
            interfaces=dict(type="dict", default={}),
            loopback=dict(type="dict", default={}, options=dict(
                ipv4=dict(type="str"),
                ipv6=dict(type="str"),
            )),
            routes=dict(type="list", elements="dict", default=[], options=dict(
                dst=dict(type="str", required=True),
                via=dict(type="str", required=True),
            )),
            forwarding=dict(type="bool"),
            state=dict(type="str", default="present", choices=["present"]),
        ),
        mutually_exclusive=[("container", "netns", "pid")],
        required_one_of=[("container", "netns", "pid")],
        supports_check_mode=True,
    )
    NamespaceInterfaces(module).run()


if __name__ == "__main__":
    main()
