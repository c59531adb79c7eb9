# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import io
import json

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _firewall
from ansible_collections.vnet.lab.plugins.module_utils._firewall import FirewallError, apply, normalize


class FakeTables:
    """iptables/ip6tables and their -restore over in-memory filter tables, as `iptables -S` prints them."""

    def __init__(self, families=("iptables", "ip6tables"), chains=None):
        self.tables = {tool: {"FORWARD": [], **{name: list(rules) for name, rules in (chains or {}).items()}}
                       for tool in families}
        self.calls = []

    def run(self, argv, data=None):
        self.calls.append((list(argv), data))
        tool = argv[0].replace("-restore", "")
        if tool not in self.tables:
            return 127, "", "%s: No such file or directory" % argv[0]
        chains = self.tables[tool]
        args = [a for a in argv[1:] if a not in ("-w", "--noflush")]
        if argv[0].endswith("-restore"):
            for line in data.splitlines():
                if line.startswith(":"):
                    chains[line[1:].split()[0]] = []   # declared: made, or flushed
                elif line.startswith("-A "):
                    chains[line.split()[1]].append(line)
            return 0, "", ""
        op, chain = args[0], args[1]
        if op == "-S":
            if chain not in chains:
                return 1, "", "iptables: No chain/target/match by that name."
            return 0, "".join(["-N %s\n" % chain] + [r + "\n" for r in chains[chain]]), ""
        if op == "-N":
            chains[chain] = []
        elif op == "-I":
            chains[chain].insert(int(args[2]) - 1, "-A %s %s" % (chain, " ".join(args[3:])))
        elif op == "-D":
            chains[chain].remove("-A %s %s" % (chain, " ".join(args[2:])))
        elif op == "-F":
            chains[chain] = []
        elif op == "-X":
            del chains[chain]
        return 0, "", ""


SPEC = {"interfaces": ["eth1", "eth3", "ipsec0"]}
ACCEPTS = ["-A VNET-LAB -i %s -o %s -j ACCEPT" % (a, b) for a in ("eth1", "eth3", "ipsec0")
           for b in ("eth1", "eth3", "ipsec0")]


def test_apply_after_docker_writes_the_chain_and_jumps_to_it_before_dockers_return():
    fake = FakeTables(chains={"DOCKER-USER": ["-A DOCKER-USER -j RETURN"]})
    result = apply(fake, SPEC)
    assert result["changed"]
    for tool in ("iptables", "ip6tables"):
        assert fake.tables[tool]["VNET-LAB"] == ACCEPTS
        assert fake.tables[tool]["DOCKER-USER"] == ["-A DOCKER-USER -j VNET-LAB", "-A DOCKER-USER -j RETURN"]
    assert result["actions"] == [
        "ipv4: write chain VNET-LAB: accept routed traffic between eth1 eth3 ipsec0 (9 rules)",
        "ipv4: jump from DOCKER-USER to VNET-LAB first",
        "ipv6: write chain VNET-LAB: accept routed traffic between eth1 eth3 ipsec0 (9 rules)",
        "ipv6: jump from DOCKER-USER to VNET-LAB first"]
    # The chain in one atomic restore that names only our chain: Docker's chains are not flushed.
    restores = [data for argv, data in fake.calls if argv[0] == "iptables-restore"]
    assert restores == ["*filter\n:VNET-LAB - [0:0]\n" + "\n".join(ACCEPTS) + "\nCOMMIT\n"]
    again = apply(fake, SPEC)
    assert not again["changed"] and again["actions"] == []
    assert again["before"] == again["after"] == {f: {"chain": ACCEPTS, "jump": True} for f in ("ipv4", "ipv6")}


def test_apply_at_boot_before_docker_makes_docker_user():
    fake = FakeTables(families=("iptables",))
    result = apply(fake, dict(SPEC, families=["ipv4"]))
    assert fake.tables["iptables"]["DOCKER-USER"] == ["-A DOCKER-USER -j VNET-LAB"]
    assert "ipv4: create chain DOCKER-USER" in result["actions"]


def test_apply_rewrites_a_changed_chain_and_moves_the_jump_first():
    fake = FakeTables(families=("iptables",), chains={
        "VNET-LAB": ["-A VNET-LAB -i eth9 -o eth9 -j ACCEPT"],
        "DOCKER-USER": ["-A DOCKER-USER -s 10.9.0.0/16 -j DROP", "-A DOCKER-USER -j VNET-LAB",
                        "-A DOCKER-USER -j VNET-LAB", "-A DOCKER-USER -j RETURN"]})
    result = apply(fake, dict(SPEC, families=["ipv4"]))
    assert fake.tables["iptables"]["VNET-LAB"] == ACCEPTS
    assert fake.tables["iptables"]["DOCKER-USER"] == [
        "-A DOCKER-USER -j VNET-LAB", "-A DOCKER-USER -s 10.9.0.0/16 -j DROP", "-A DOCKER-USER -j RETURN"]
    assert result["actions"][0].startswith("ipv4: rewrite chain VNET-LAB")


def test_check_mode_predicts_and_changes_nothing():
    fake = FakeTables(chains={"DOCKER-USER": ["-A DOCKER-USER -j RETURN"]})
    predicted = apply(fake, SPEC, check_mode=True)
    assert fake.tables["iptables"].get("VNET-LAB") is None
    assert predicted["actions"] == apply(fake, SPEC)["actions"]


def test_a_family_without_its_tool_is_skipped_with_a_warning():
    fake = FakeTables(families=("iptables",), chains={"DOCKER-USER": []})
    result = apply(fake, SPEC)
    assert result["warnings"] == ["ipv6: ip6tables does not answer; its forwarded traffic is left as it is"]
    assert fake.tables["iptables"]["VNET-LAB"] == ACCEPTS


def test_absent_removes_the_jump_and_the_chain_only():
    fake = FakeTables(families=("iptables",), chains={"DOCKER-USER": ["-A DOCKER-USER -j RETURN"]})
    apply(fake, SPEC)
    result = apply(fake, {"state": "absent", "families": ["ipv4"]})
    assert "VNET-LAB" not in fake.tables["iptables"]
    assert fake.tables["iptables"]["DOCKER-USER"] == ["-A DOCKER-USER -j RETURN"]
    assert result["actions"] == ["ipv4: remove the jump from DOCKER-USER to VNET-LAB", "ipv4: remove chain VNET-LAB"]
    assert not apply(fake, {"state": "absent", "families": ["ipv4"]})["changed"]


def test_a_failed_command_is_named():
    class Failing(FakeTables):
        def run(self, argv, data=None):
            if argv[0] == "iptables-restore":
                return 1, "", "iptables-restore: line 3 failed"
            return super().run(argv, data)

    with pytest.raises(FirewallError, match="iptables-restore -w --noflush failed .1.: iptables-restore: line 3 failed"):
        apply(Failing(families=("iptables",)), SPEC)


@pytest.mark.parametrize("spec, error", [
    ({}, "interfaces: no interface to accept routed traffic between"),
    ({"interfaces": "eth1"}, "interfaces: 'eth1' is not a list"),
    ({"interfaces": ["eth1", "a very long name"]}, "interfaces: 'a very long name' is not an interface name"),
    ({"interfaces": ["eth1"], "chain": "DOCKER-USER"}, "chain and parent are both DOCKER-USER"),
    ({"interfaces": ["eth1"], "chain": "bad chain"}, "chain: 'bad chain' is not a chain name"),
    ({"interfaces": ["eth1"], "families": ["ipv5"], "state": "gone"},
     "state: 'gone' is neither present nor absent; families: 'ipv5' is neither ipv4 nor ipv6"),
])
def test_normalize_names_every_problem(spec, error):
    with pytest.raises(FirewallError) as raised:
        normalize(spec)
    assert str(raised.value) == error


def test_normalize_fills_the_defaults_and_drops_repeats():
    assert normalize({"interfaces": ["eth1", "eth1", "eth2"]}) == {
        "interfaces": ["eth1", "eth2"], "chain": "VNET-LAB", "parent": "DOCKER-USER",
        "families": ["ipv4", "ipv6"], "state": "present"}


def test_main_applies_the_saved_spec(tmp_path):
    saved = tmp_path / "firewall.json"
    saved.write_text(json.dumps(dict(SPEC, families=["ipv4"])))
    fake, out, err = FakeTables(families=("iptables",)), io.StringIO(), io.StringIO()
    assert _firewall.main([str(saved)], runner=fake, out=out, err=err) == 0
    assert fake.tables["iptables"]["VNET-LAB"] == ACCEPTS
    assert out.getvalue().endswith("vnet-firewall: rule set applied\n")
    assert _firewall.main([str(tmp_path / "none.json")], runner=fake, out=out, err=err) == 1
    assert "cannot read" in err.getvalue()
