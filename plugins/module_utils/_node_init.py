# SPDX-License-Identifier: GPL-3.0-or-later
"""Entrypoint logic of a node container (private to vnet.lab).

Standard library only: the node image holds this file and ``_interfaces.py`` side by side and
runs, as the container's command::

    python3 -m _node_init [--timeout SECONDS] [PLAN] [-- COMMAND ARGS...]

It reads the node network plan (default ``/etc/vnet/netplan.json``, the format of
``vnet.lab.node_netplan``), waits until every planned interface is present (Docker attaches a
container's networks one by one; each is recognised by its planned name or its placeholder
address), applies the plan in the container's own namespace, writes ``/etc/resolv.conf`` when the
plan names the lab's DNS servers (``dns``), prints one line per action, then
replaces itself with COMMAND when one is given (e.g. ``sleep infinity``). It exits with status 1
and a message naming the interface or command when it cannot.

The container needs NET_ADMIN, and the sysctls it cannot write itself (``/proc/sys`` is
read-only in a container): forwarding and ``disable_ipv6=0``, see ``_lab.node_sysctls``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

try:
    from ansible_collections.vnet.lab.plugins.module_utils import _interfaces
except ImportError:
    import _interfaces

DEFAULT_PLAN = "/etc/vnet/netplan.json"
RESOLV_CONF = "/etc/resolv.conf"
PREFIX = "vnet-node-init"


def resolver_text(netplan):
    """``/etc/resolv.conf`` for the plan's ``dns`` (the lab's DNS service); None when it has none."""
    dns = netplan.get("dns") or {}
    if not dns.get("servers"):
        return None
    lines = ["# Written by %s from the node's network plan: the lab's DNS service." % PREFIX]
    if dns.get("search"):
        lines.append("search %s" % " ".join(dns["search"]))
    lines += ["nameserver %s" % server for server in dns["servers"]]
    return "\n".join(lines) + "\n"


def write_resolver(netplan, path=RESOLV_CONF):
    """Write the resolver file when the plan has one and it differs; return the action text or None.

    Docker bind-mounts the file: it is rewritten in place, never replaced."""
    text = resolver_text(netplan)
    if text is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return None
    except OSError:
        pass
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return "resolver %s in %s" % (", ".join(netplan["dns"]["servers"]), path)


def wait_for_interfaces(runner, netplan, timeout, interval=0.2, clock=time.monotonic, sleep=time.sleep):
    """Wait until every planned interface is present; return None, or the reason at timeout."""
    deadline = clock() + timeout
    while True:
        missing = _interfaces.missing_interfaces(runner, netplan)
        if missing is None or clock() >= deadline:
            return missing
        sleep(interval)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python3 -m _node_init",
        description="Apply a vnet.lab node network plan inside this container, then exec COMMAND.")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for the planned interfaces (default 30)")
    parser.add_argument("plan", nargs="?", default=DEFAULT_PLAN,
                        help="node network plan, JSON (default %s)" % DEFAULT_PLAN)
    command = []
    if "--" in argv:
        index = argv.index("--")
        argv, command = argv[:index], argv[index + 1:]
    args = parser.parse_args(argv)
    args.command = command
    return args


def run(argv, runner=None, out=sys.stdout, err=sys.stderr, resolv_conf=RESOLV_CONF):
    """Apply the plan (and the resolver file); return the exit status (does not exec)."""
    args = parse_args(argv)
    runner = runner or _interfaces.Runner()
    try:
        with open(args.plan) as handle:
            netplan = json.load(handle)
    except (OSError, ValueError) as exc:
        err.write("%s: cannot read the network plan %s: %s\n" % (PREFIX, args.plan, exc))
        return 1
    started = time.monotonic()
    missing = wait_for_interfaces(runner, netplan, args.timeout)
    if missing is not None:
        err.write("%s: after %.0f s: %s\n" % (PREFIX, args.timeout, missing))
        return 1
    try:
        result = _interfaces.apply(runner, netplan)
    except _interfaces.InterfacesError as exc:
        err.write("%s: %s\n" % (PREFIX, exc))
        return 1
    actions = list(result["actions"])
    try:
        written = write_resolver(netplan, resolv_conf)
    except OSError as exc:
        err.write("%s: cannot write %s: %s\n" % (PREFIX, resolv_conf, exc))
        return 1
    if written:
        actions.append(written)
    for text in actions:
        out.write("%s: %s\n" % (PREFIX, text))
    out.write("%s: network plan applied in %.2f s (%d actions)\n"
              % (PREFIX, time.monotonic() - started, len(actions)))
    out.flush()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    status = run(argv)
    command = parse_args(argv).command
    if status != 0 or not command:
        raise SystemExit(status)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write("%s: cannot run %s: %s\n" % (PREFIX, command[0], exc.strerror))
        raise SystemExit(127)


if __name__ == "__main__":
    main()
