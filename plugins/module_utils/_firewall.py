# SPDX-License-Identifier: GPL-3.0-or-later
"""A board's firewall: accept the lab's routed traffic, and only that (private to vnet.lab).

Standard library only: besides serving ``vnet.lab.firewall``, this file is copied onto a board,
whose boot unit applies the saved rule set before the Docker Engine starts::

    python3 _firewall.py /etc/vnet/firewall.json

Why: Docker Engine, when it starts and finds IPv4 forwarding off (a Pi at boot, or right after
the engine's installation, before the lab's plan turns forwarding on), turns it on and sets the
FORWARD policy to DROP; from then on only Docker's own traffic is forwarded (Docker 27 and later
do the same for IPv6 with ``ip6tables``). Docker leaves the chain ``DOCKER-USER``, which FORWARD
jumps to first, to the administrator. The lab's routed traffic is accepted from there:

* a chain of ours (``VNET-LAB``) holds one ``ACCEPT`` per pair (in, out) of the lab's interfaces
  (each of the node's planned interfaces, and the tunnel devices of its VPN), and nothing else:
  traffic from or to the management port, or Docker's bridges, is left to the rules after it;
* ``DOCKER-USER`` jumps to it as its first rule (made when missing, as at boot before the engine;
  Docker then adds its ``RETURN`` after it and jumps to ``DOCKER-USER`` from FORWARD).

The spec (JSON, the same as the module's options)::

    {"interfaces": ["eth1", "eth2", "eth3", "wlan0", "ipsec0"],
     "chain": "VNET-LAB", "parent": "DOCKER-USER", "families": ["ipv4", "ipv6"], "state": "present"}

A family whose tool is missing (``ip6tables``) or whose kernel table does not answer is skipped
with a warning. Our chain is written with ``iptables-restore --noflush`` (one atomic change that
flushes only the chains it names); the jump with ``iptables -I``. ``state: absent`` removes the
jump and the chain.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

FAMILIES = {"ipv4": ("iptables", "iptables-restore"), "ipv6": ("ip6tables", "ip6tables-restore")}
CHAIN_RE = re.compile(r"^[A-Za-z0-9_.-]{1,28}$")
IFNAME_RE = re.compile(r"^[^\s/:]{1,15}$")
PREFIX = "vnet-firewall"


class FirewallError(Exception):
    """A spec that cannot be applied, or a command that failed; the message says which."""


class Runner:
    """Runs commands (argv, optional stdin); returns (rc, stdout, stderr)."""

    def run(self, argv, data=None):
        try:
            proc = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
        except OSError as exc:
            return 127, "", "%s: %s" % (argv[0], exc.strerror)
        return proc.returncode, proc.stdout, proc.stderr


def normalize(spec):
    """The spec with its defaults; every problem at once in one FirewallError."""
    errors = []
    spec = dict(spec or {})
    state = spec.get("state") or "present"
    if state not in ("present", "absent"):
        errors.append("state: %r is neither present nor absent" % (state,))
    interfaces = spec.get("interfaces") or []
    if not isinstance(interfaces, list):
        errors.append("interfaces: %r is not a list" % (interfaces,))
        interfaces = []
    elif state == "present" and not interfaces:
        errors.append("interfaces: no interface to accept routed traffic between")
    for name in interfaces:
        if not isinstance(name, str) or not IFNAME_RE.match(name):
            errors.append("interfaces: %r is not an interface name" % (name,))
    chains = {}
    for key, default in (("chain", "VNET-LAB"), ("parent", "DOCKER-USER")):
        value = spec.get(key) or default
        if not isinstance(value, str) or not CHAIN_RE.match(value):
            errors.append("%s: %r is not a chain name" % (key, value))
        chains[key] = value
    if chains["chain"] == chains["parent"]:
        errors.append("chain and parent are both %s" % chains["chain"])
    families = spec.get("families")
    families = list(FAMILIES) if families is None else families
    for family in families if isinstance(families, list) else [families]:
        if family not in FAMILIES:
            errors.append("families: %r is neither ipv4 nor ipv6" % (family,))
    if errors:
        raise FirewallError("; ".join(errors))
    unique = []
    for name in interfaces:
        if name not in unique:
            unique.append(name)
    return {"interfaces": unique, "chain": chains["chain"], "parent": chains["parent"],
            "families": [f for f in FAMILIES if f in families], "state": state}


def chain_rules(spec):
    """Our chain's rules, as ``iptables -S`` prints them: one ACCEPT per (in, out) pair."""
    return ["-A %s -i %s -o %s -j ACCEPT" % (spec["chain"], source, target)
            for source in spec["interfaces"] for target in spec["interfaces"]]


def jump_rule(spec):
    return "-A %s -j %s" % (spec["parent"], spec["chain"])


def parse_rules(output, chain):
    """The ``-A`` lines of ``iptables -S CHAIN`` output, in order."""
    return [line.strip() for line in output.splitlines() if line.startswith("-A %s " % chain)]


def read_family(runner, family, spec):
    """``{chain: rules or None, parent: rules or None}`` (None: the chain does not exist), or None
    when the family's tool or table does not answer at all."""
    tool = FAMILIES[family][0]
    rc, dummy, err = runner.run([tool, "-w", "-S", "FORWARD"])
    if rc != 0:
        return None
    state = {}
    for key in ("chain", "parent"):
        rc, out, err = runner.run([tool, "-w", "-S", spec[key]])
        state[key] = parse_rules(out, spec[key]) if rc == 0 else None
    return state


def family_actions(family, state, spec):
    """The actions that bring one family's tables to the spec: ``[{text, argv, stdin}]``."""
    tool, restore = FAMILIES[family]
    chain, parent, jump = spec["chain"], spec["parent"], jump_rule(spec)
    actions = []
    parent_rules = state["parent"]
    if spec["state"] == "absent":
        for dummy in [rule for rule in parent_rules or [] if rule == jump]:
            actions.append({"text": "%s: remove the jump from %s to %s" % (family, parent, chain),
                            "argv": [tool, "-w", "-D", parent, "-j", chain], "stdin": None})
        if state["chain"] is not None:
            actions.append({"text": "%s: remove chain %s" % (family, chain),
                            "argv": [tool, "-w", "-F", chain], "stdin": None})
            actions.append({"text": "", "argv": [tool, "-w", "-X", chain], "stdin": None})
        return actions
    wanted = chain_rules(spec)
    if state["chain"] != wanted:
        text = "\n".join(["*filter", ":%s - [0:0]" % chain] + wanted + ["COMMIT", ""])
        actions.append({"text": "%s: %s chain %s: accept routed traffic between %s (%d rules)" % (
            family, "write" if state["chain"] is None else "rewrite", chain,
            " ".join(spec["interfaces"]), len(wanted)),
            "argv": [restore, "-w", "--noflush"], "stdin": text})
    if parent_rules is None:
        actions.append({"text": "%s: create chain %s" % (family, parent),
                        "argv": [tool, "-w", "-N", parent], "stdin": None})
        parent_rules = []
    if parent_rules[:1] != [jump] or parent_rules.count(jump) != 1:
        for dummy in [rule for rule in parent_rules if rule == jump]:
            actions.append({"text": "", "argv": [tool, "-w", "-D", parent, "-j", chain], "stdin": None})
        actions.append({"text": "%s: jump from %s to %s first" % (family, parent, chain),
                        "argv": [tool, "-w", "-I", parent, "1", "-j", chain], "stdin": None})
    return actions


def apply(runner, spec, check_mode=False):
    """Bring the firewall to ``spec``; ``{changed, actions, warnings, before, after}``.

    ``before`` and ``after`` map each family to its chain's rules and the parent's jump (for a
    diff); a check run returns what a real run would do and changes nothing.
    """
    spec = normalize(spec)
    actions, warnings, before, after = [], [], {}, {}
    for family in spec["families"]:
        state = read_family(runner, family, spec)
        if state is None:
            warnings.append("%s: %s does not answer; its forwarded traffic is left as it is"
                            % (family, FAMILIES[family][0]))
            continue
        todo = family_actions(family, state, spec)
        before[family] = _view(state, spec)
        after[family] = (_view({"chain": chain_rules(spec), "parent": [jump_rule(spec)]}, spec)
                         if spec["state"] == "present" else {"chain": [], "jump": False})
        if not check_mode:
            for action in todo:
                rc, dummy, err = runner.run(action["argv"], action["stdin"])
                if rc != 0:
                    raise FirewallError("%s failed (%s): %s" % (
                        " ".join(action["argv"]), rc, err.strip() or "no message"))
        actions += [action["text"] for action in todo if action["text"]]
    return {"changed": bool(actions), "actions": actions, "warnings": warnings,
            "before": before, "after": after}


def _view(state, spec):
    return {"chain": list(state["chain"] or []), "jump": jump_rule(spec) in (state["parent"] or [])}


def main(argv=None, runner=None, out=sys.stdout, err=sys.stderr):
    """Apply the spec saved at argv[0] (the boot unit); return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        err.write("usage: python3 _firewall.py SPEC.json\n")
        return 2
    try:
        with open(argv[0]) as handle:
            spec = json.load(handle)
        result = apply(runner or Runner(), spec)
    except (OSError, ValueError) as exc:
        err.write("%s: cannot read %s: %s\n" % (PREFIX, argv[0], exc))
        return 1
    except FirewallError as exc:
        err.write("%s: %s\n" % (PREFIX, exc))
        return 1
    for text in result["warnings"]:
        err.write("%s: %s\n" % (PREFIX, text))
    for text in result["actions"]:
        out.write("%s: %s\n" % (PREFIX, text))
    out.write("%s: %s\n" % (PREFIX, "rule set applied" if result["changed"] else "rule set already in place"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
