#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_info
short_description: What a lab needs to know of its Docker engine, read in one call
version_added: 0.2.0
description:
  - Reads, in one call, the engine's kernel version and, when asked, every image (its id, tags and
    labels, in the shape that M(community.docker.docker_image_info) returns), the containers with given
    labels and the volumes with given labels.
  - C(playbooks/lab_up.yml) looks at the engine once with it before anything changes, and hands the images
    to the role P(vnet.lab.images#role) (C(images_present)) and the rest to its ESP probe. It changes
    nothing.
author:
  - vnet.lab developers (!UNKNOWN)
requirements:
  - The Docker SDK for Python.
extends_documentation_fragment:
  - vnet.lab.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  images:
    description: List every image of the engine (C(Id), C(RepoTags), C(Config.Labels)).
    type: bool
    default: false
  container_labels:
    description:
      - List the containers, running or not, that carry every one of these labels (C(key) or
        C(key=value)). Omitted, no container is listed.
    type: list
    elements: str
  volume_labels:
    description:
      - List the volumes that carry every one of these labels (C(key) or C(key=value)). Omitted, no
        volume is listed.
    type: list
    elements: str
  docker_host:
    description: Docker daemon to talk to; defaults to the environment (E(DOCKER_HOST)), else the local socket.
    type: str
"""

EXAMPLES = r"""
- name: Look at the engine once
  vnet.lab.engine_info:
    images: true
    container_labels: [vnet.lab=pilab, vnet.service=ipsec]
    volume_labels: [vnet.esp.backend]
  register: engine

- name: Make sure the lab's images exist, without a look of the role's own
  ansible.builtin.include_role:
    name: vnet.lab.images
  vars:
    images_build: [node, dns]
    images_present: "{{ engine.images }}"
"""

RETURN = r"""
kernel:
  description: The engine's kernel version (Docker's C(KernelVersion)).
  returned: always
  type: str
  sample: 6.1.0-27-arm64
images:
  description: Every image of the engine, in the shape of M(community.docker.docker_image_info)'s C(images).
  returned: when O(images=true)
  type: list
  elements: dict
  sample: [{"Id": "sha256:0b1c...", "RepoTags": ["vnet/node:latest"], "Config": {"Labels": {"vnet.lab.fingerprint": "9f2e..."}}}]
containers:
  description: The containers with the labels of O(container_labels) (C(Id), C(Names), C(Labels), C(State), C(Image)).
  returned: when O(container_labels) is given
  type: list
  elements: dict
volumes:
  description: The volumes with the labels of O(volume_labels) (C(Name), C(Labels)), by name.
  returned: when O(volume_labels) is given
  type: list
  elements: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vnet.lab.plugins.module_utils import _engine_info

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
            images=dict(type="bool", default=False),
            container_labels=dict(type="list", elements="str"),
            volume_labels=dict(type="list", elements="str"),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    try:
        client = docker.DockerClient(base_url=params["docker_host"], version="auto") \
            if params["docker_host"] else docker.from_env(version="auto")
        info = _engine_info.engine_info(client.api, images=params["images"],
                                        container_labels=params["container_labels"],
                                        volume_labels=params["volume_labels"])
    except DockerException as exc:
        module.fail_json(msg="Docker: %s" % exc, exception=traceback.format_exc())
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
