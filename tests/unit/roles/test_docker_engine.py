# SPDX-License-Identifier: GPL-3.0-or-later
"""Role vnet.lab.docker_engine: what its defaults and vars derive from the facts and knobs, as
Ansible templates them (no target, no network): the dpkg architecture of Docker's repository,
its deb822 source, daemon.json, the packages of each source.

Docker's repository cannot be reached here; molecule/docker_engine renders the same source on an
emulated board in check mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[3] / "roles" / "docker_engine"
FACTS = {"architecture": "x86_64", "userspace_bits": "64", "distribution_release": "bookworm"}


def _trusted(value):
    """The role's files as Ansible loads them: their strings are templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def render(template, facts=None, **knobs):
    variables = {}
    for name in ("defaults", "vars"):
        variables.update(_trusted(yaml.safe_load((ROLE / name / "main.yml").read_text())))
    variables.update(knobs, ansible_facts=dict(FACTS, **(facts or {})), ansible_managed="managed")
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))


@pytest.mark.parametrize("architecture, bits, expected", [
    ("x86_64", "64", "amd64"),
    ("aarch64", "64", "arm64"),
    # Raspberry Pi OS 32-bit on a 64-bit kernel (Pi 3, 4, 5): the userland decides.
    ("aarch64", "32", "armhf"),
    ("armv7l", "32", "armhf"),
    ("armv6l", "32", "armhf"),
])
def test_repository_architecture_from_facts(architecture, bits, expected):
    facts = {"architecture": architecture, "userspace_bits": bits}
    assert render("{{ docker_engine__repo_architecture }}", facts) == expected


def test_unknown_architecture_fails_and_names_it():
    with pytest.raises(AnsibleError, match="riscv64"):
        render("{{ docker_engine__repo_architecture }}", {"architecture": "riscv64"})


def test_repository_source():
    source = render((ROLE / "templates" / "docker.sources.j2").read_text(),
                    {"architecture": "aarch64", "distribution_release": "bullseye"})
    assert [line for line in source.splitlines() if not line.startswith("#")] == [
        "Types: deb",
        "URIs: https://download.docker.com/linux/debian",
        "Suites: bullseye",
        "Components: stable",
        "Architectures: arm64",
        "Signed-By: /etc/apt/keyrings/docker.asc",
    ]


def test_repository_knobs():
    source = render((ROLE / "templates" / "docker.sources.j2").read_text(), {"architecture": "armv6l", "userspace_bits": "32"},
                    docker_engine_repo_url="https://download.docker.com/linux/raspbian",
                    docker_engine_repo_channel="test")
    assert "URIs: https://download.docker.com/linux/raspbian\n" in source
    assert "Components: test\n" in source
    assert "Architectures: armhf\n" in source
    assert render("{{ docker_engine_repo_key_url }}", docker_engine_repo_url="https://mirror.example/docker") \
        == "https://mirror.example/docker/gpg"


def test_suite_and_architecture_given_win_over_the_facts():
    source = render((ROLE / "templates" / "docker.sources.j2").read_text(),
                    docker_engine_repo_suite="trixie", docker_engine_repo_architecture="arm64")
    assert "Suites: trixie\n" in source
    assert "Architectures: arm64\n" in source


@pytest.mark.parametrize("source, packages, bootstrap", [
    ("debian", ["docker.io", "tini", "ca-certificates", "apparmor"], ["python3-apt"]),
    ("docker", ["docker-ce", "docker-ce-cli", "containerd.io", "apparmor"], ["python3-apt", "ca-certificates"]),
])
def test_packages_of_each_source(source, packages, bootstrap):
    assert render("{{ docker_engine_packages }}", docker_engine_source=source) == packages
    assert render("{{ docker_engine__bootstrap }}", docker_engine_source=source) == bootstrap


@pytest.mark.parametrize("knobs, expected", [
    ({}, {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}, "live-restore": True}),
    # Rotation options only for the drivers that write files: journald refuses max-size.
    ({"docker_engine_log_driver": "journald", "docker_engine_live_restore": False},
     {"log-driver": "journald", "live-restore": False}),
    ({"docker_engine_log_driver": "local", "docker_engine_log_max_size": "5m", "docker_engine_log_max_file": 2,
      "docker_engine_default_address_pools": [{"base": "10.250.0.0/16", "size": 24}],
      "docker_engine_storage_driver": "overlay2"},
     {"log-driver": "local", "log-opts": {"max-size": "5m", "max-file": "2"}, "live-restore": True,
      "default-address-pools": [{"base": "10.250.0.0/16", "size": 24}], "storage-driver": "overlay2"}),
    # The user's own options come last, merged into the role's.
    ({"docker_engine_daemon_options": {"log-opts": {"compress": "true"}, "data-root": "/mnt/ssd/docker", "live-restore": False}},
     {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3", "compress": "true"}, "live-restore": False,
      "data-root": "/mnt/ssd/docker"}),
])
def test_daemon_json(knobs, expected):
    assert render("{{ docker_engine__daemon }}", **knobs) == expected
