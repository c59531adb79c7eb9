# SPDX-License-Identifier: GPL-3.0-or-later
"""Apply a node network plan inside a network namespace (private to vnet.lab).

Standard library only: besides serving ``vnet.lab.interfaces``, this file is copied into the
node image, where ``_node_init`` applies the same plan at every start of the container.

A node network plan (see ``docs/contract.md``)::

    interfaces:
      eth1: {placeholder: 100.64.3.2, ipv4: 10.1.0.1/30, ipv6: null, mtu: null, dhcp: false}
    loopback: {ipv4: 10.0.0.1/32, ipv6: null}
    routes: [{dst: 0.0.0.0/0, via: 192.168.1.1}]
    forwarding: true        # null leaves the sysctls alone

How it is applied, in four phases; each phase is computed from the namespace's state by a pure
function that returns the actions and the state it predicts:

1. links: an interface is found by its placeholder IPv4 address (Docker gave it), else by its
   planned name (renamed earlier); it is renamed (down, rename, up; through a temporary name when
   two interfaces swap names), set up, and gets its MTU. ``lo`` is set up.
2. addresses: every address that is not planned is removed (IPv6 link-local addresses stay),
   planned ones are added (IPv6 without duplicate address detection, so they are usable at
   once); IPv6 is enabled on an interface that has it disabled and is planned to carry it. On
   ``lo``, 127.0.0.0/8 and ::1 stay. A DHCP interface only loses its placeholder: its addresses
   and default route belong to the DHCP client.
3. routes (table main): planned routes are added with ``proto static``; ``proto static`` routes
   that are not planned are removed, and so are default routes with a gateway that the plan does
   not have (Docker installs one via the placeholder gateway) unless they come from a routing
   daemon (any other ``proto``) or sit on a DHCP interface.
4. forwarding: ``net.ipv4.ip_forward`` and ``net.ipv6.conf.all.forwarding``.

A real run executes a phase, reads the namespace again and computes the next phase from what
it finds; a check run chains the predicted states instead. The model behind the prediction is
the kernel's: a link set down loses its routes and its global IPv6 addresses; a link that loses
its last IPv4 address loses its IPv4 routes; removing a primary IPv4 address removes the
secondaries of its subnet.

Commands run through a ``Runner``: plainly (inside the container, as the node's entrypoint does),
or wrapped in ``nsenter --net=PATH`` (from the Docker host, as the module does). A sysctl is
written through ``/proc/sys`` of the namespace; inside a container ``/proc/sys`` is read-only, so
a node's container must be created with the sysctls it needs (the error says which).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import subprocess
import sys

IFNAMSIZ = 15
FORWARDING_SYSCTLS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")
# Errors that mean "already gone": a deletion the kernel did on its own in the meantime.
GONE = ("No such process", "Cannot assign requested address", "Cannot find device")

# Run in the namespace (python -c) once addresses were added to an interface: after a node's
# restart or a reconnection its interfaces have new MAC addresses, and its neighbours would keep
# sending to the old ones (IPv6: seconds of STALE/DELAY/PROBE; IPv4: until the entry expires).
# One gratuitous ARP per IPv4 address, one unsolicited neighbour advertisement (override flag) per
# IPv6 one. Best effort: without CAP_NET_RAW it says why on stderr and exits 0, the neighbours'
# own probing recovers. Arguments: interface, its MAC address, 1 if the node routes, addresses.
ANNOUNCE = r"""
import socket, struct, sys
ifname, mac, router = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), sys.argv[3] == "1"
try:
    index = socket.if_nametoindex(ifname)
    for address in sys.argv[4:]:
        if ":" not in address:
            ip = socket.inet_aton(address)
            arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + bytes(6) + ip
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
                sock.bind((ifname, 0))
                sock.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
        else:
            flags = 0x20000000 | (0x80000000 if router else 0)
            message = struct.pack("!BBHI", 136, 0, 0, flags) + socket.inet_pton(socket.AF_INET6, address)
            with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as sock:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                sock.bind((address, 0, 0, index))
                sock.sendto(message + b"\x02\x01" + mac, ("ff02::1", 0, 0, index))
except OSError as exc:
    sys.stderr.write("cannot announce on %s: %s\n" % (ifname, exc))
"""


class InterfacesError(Exception):
    """A plan that cannot be applied; the message names the interface, address or command."""


# ---------------------------------------------------------------------------------------------
# Runners

class Runner:
    """Runs commands and reads/writes sysctls in one network namespace.

    ``netns_path`` None runs everything plainly (the current namespace); otherwise commands are
    wrapped in ``nsenter --net=<netns_path>`` and ``/proc/sys/net`` is read and written by
    processes inside that namespace (``/proc/sys/net`` shows the namespace of its reader).
    """

    def __init__(self, netns_path=None, nsenter="nsenter"):
        self.netns_path = netns_path
        self.nsenter = nsenter

    def command(self, argv):
        if self.netns_path is None:
            return list(argv)
        return [self.nsenter, "--net=%s" % self.netns_path] + list(argv)

    def run(self, argv, data=None):
        """Run ``argv``; return (rc, stdout, stderr) as text."""
        try:
            proc = subprocess.run(self.command(argv), input=data, capture_output=True,
                                  text=True, check=False)
        except OSError as exc:
            return 127, "", "%s: %s" % (self.command(argv)[0], exc.strerror)
        return proc.returncode, proc.stdout, proc.stderr

    def read_sysctls(self, names):
        """Values of the sysctls ``names`` (dotted form); None for those that do not exist."""
        paths = {name: sysctl_path(name) for name in names}
        values = dict.fromkeys(names)
        if not names:
            return values
        if self.netns_path is None:
            for name, path in paths.items():
                try:
                    with open(path) as handle:
                        values[name] = handle.read().strip()
                except OSError:
                    pass
            return values
        # One process for all of them; -s: missing files are not an error worth a message.
        by_path = {path: name for name, path in paths.items()}
        rc, out, err = self.run(["grep", "-s", "-H", "", "--"] + sorted(by_path))
        if rc not in (0, 1, 2):
            raise InterfacesError("cannot read sysctls in %s: %s" % (self.netns_path, err.strip()))
        for line in out.splitlines():
            path, dummy, value = line.partition(":")
            if path in by_path:
                values[by_path[path]] = value.strip()
        return values

    def write_sysctl(self, name, value):
        path = sysctl_path(name)
        if self.netns_path is None:
            try:
                with open(path, "w") as handle:
                    handle.write("%s\n" % value)
                return
            except OSError as exc:
                error = exc.strerror or str(exc)
        else:
            rc, dummy, err = self.run(["tee", path], data="%s\n" % value)
            if rc == 0:
                return
            error = err.strip()
        hint = ""
        if "Read-only" in error:
            hint = (" (/proc/sys is read-only inside a container: create the container with"
                    " the sysctl %s=%s)" % (name, value))
        raise InterfacesError("cannot set %s to %s: %s%s" % (name, value, error, hint))


def sysctl_path(name):
    """``net.ipv6.conf.eth1.disable_ipv6`` -> its /proc/sys path.

    The interface part of ``net.ipv{4,6}.conf.<ifname>.<key>`` may itself hold dots (eth0.10).
    """
    parts = name.split(".")
    if len(parts) > 4 and parts[0] == "net" and parts[2] == "conf":
        parts = parts[:3] + [".".join(parts[3:-1]), parts[-1]]
    return "/proc/sys/" + "/".join(parts)


def netns_path(container_pid=None, netns=None, pid=None):
    """Path of the namespace to enter: None for the current one (``netns: host``)."""
    if netns == "host":
        return None
    if netns:
        return netns if netns.startswith("/") else "/run/netns/%s" % netns
    return "/proc/%d/ns/net" % int(container_pid if container_pid is not None else pid)


# ---------------------------------------------------------------------------------------------
# Plan

def _is_interface(value):
    try:
        ipaddress.ip_interface(str(value))
    except ValueError:
        return False
    return True


def _canonical_interface(value, version, what, errors):
    if value is None:
        return None
    try:
        if "/" not in str(value):
            raise ValueError("no prefix length")
        iface = ipaddress.ip_interface(str(value))
    except ValueError as exc:
        errors.append("%s: %r is not an IPv%d address with a prefix length (%s)"
                      % (what, value, version, exc))
        return None
    if iface.version != version:
        errors.append("%s: %s is not an IPv%d address" % (what, value, version))
        return None
    return str(iface)


def normalize_netplan(netplan):
    """Validate a node network plan and return it with canonical address spellings.

    Raises InterfacesError listing every problem found.
    """
    errors = []
    if not isinstance(netplan, dict):
        raise InterfacesError("the network plan must be a dict, got %s" % type(netplan).__name__)
    interfaces = {}
    for name, entry in sorted((netplan.get("interfaces") or {}).items()):
        what = "interface %s" % name
        if not name or len(name) > IFNAMSIZ or "/" in name or any(c.isspace() for c in name) \
                or name in ("lo", ".", ".."):
            errors.append("%s: not a valid interface name (at most %d characters, no '/',"
                          " no spaces, not lo)" % (what, IFNAMSIZ))
        entry = entry or {}
        placeholder = entry.get("placeholder")
        if placeholder is not None:
            try:
                placeholder = str(ipaddress.IPv4Address(str(placeholder)))
            except ValueError:
                errors.append("%s: placeholder %r is not an IPv4 address" % (what, placeholder))
        mtu = entry.get("mtu")
        if mtu is not None:
            try:
                mtu = int(mtu)
                if mtu < 68:
                    raise ValueError
            except (TypeError, ValueError):
                errors.append("%s: mtu %r is not a number of at least 68" % (what, entry.get("mtu")))
        secondary = entry.get("secondary") or []
        if not isinstance(secondary, list):
            errors.append("%s: secondary must be a list of addresses, got %r" % (what, secondary))
            secondary = []
        interfaces[name] = {
            "placeholder": placeholder,
            "ipv4": _canonical_interface(entry.get("ipv4"), 4, what, errors),
            "ipv6": _canonical_interface(entry.get("ipv6"), 6, what, errors),
            "secondary": [_canonical_interface(address, ipaddress.ip_interface(address).version
                                               if _is_interface(address) else 4, what, errors)
                          for address in secondary],
            "mtu": mtu,
            "dhcp": bool(entry.get("dhcp")),
        }
    loopback = netplan.get("loopback") or {}
    loopback = {
        "ipv4": _canonical_interface(loopback.get("ipv4"), 4, "loopback", errors),
        "ipv6": _canonical_interface(loopback.get("ipv6"), 6, "loopback", errors),
    }
    routes = []
    for route in netplan.get("routes") or []:
        try:
            dst = ipaddress.ip_network(str(route["dst"]), strict=False)
            via = ipaddress.ip_address(str(route["via"]))
        except (KeyError, TypeError, ValueError) as exc:
            errors.append("route %r: needs dst (a prefix) and via (an address): %s" % (route, exc))
            continue
        if dst.version != via.version:
            errors.append("route %s via %s: dst and via are of different address families"
                          % (dst, via))
            continue
        routes.append({"dst": str(dst), "via": str(via)})
    forwarding = netplan.get("forwarding")
    if forwarding is not None and not isinstance(forwarding, bool):
        errors.append("forwarding: %r is neither true, false nor null" % (forwarding,))
    if errors:
        raise InterfacesError("invalid network plan:\n" + "\n".join(errors))
    return {"interfaces": interfaces, "loopback": loopback, "routes": routes,
            "forwarding": forwarding}


# ---------------------------------------------------------------------------------------------
# State: parsed from `ip -j`; plain dicts of strings so that a prediction is a deep copy away.

def parse_links(addr_json):
    """Links from ``ip -j -d addr show``: name, index, up, mtu, kind, addresses."""
    links = []
    for entry in addr_json:
        addresses = []
        for info in entry.get("addr_info") or []:
            family = {"inet": 4, "inet6": 6}.get(info.get("family"))
            if family is None or "local" not in info:
                continue
            addresses.append({
                "address": str(ipaddress.ip_interface("%s/%s" % (info["local"], info["prefixlen"]))),
                "family": family,
                "scope": info.get("scope", "global"),
            })
        links.append({
            "name": entry["ifname"],
            "index": entry.get("ifindex"),
            "up": "UP" in (entry.get("flags") or []),
            "mtu": entry.get("mtu"),
            "kind": (entry.get("linkinfo") or {}).get("info_kind"),
            "mac": entry.get("address") if entry.get("link_type") == "ether" else None,
            "addresses": addresses,
            "ipv6_disabled": None,
        })
    return links


def parse_routes(route_json, family):
    """Routes from ``ip [-6] -j route show table main``: family, dst, via, dev, protocol..."""
    routes = []
    for entry in route_json:
        dst = entry.get("dst", "default")
        if dst == "default":
            dst = "0.0.0.0/0" if family == 4 else "::/0"
        try:
            dst = str(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            continue
        via = entry.get("gateway")
        if via is None and isinstance(entry.get("via"), dict):
            via = entry["via"].get("host")
        routes.append({
            "family": family,
            "dst": dst,
            "via": str(ipaddress.ip_address(via)) if via else None,
            "dev": entry.get("dev"),
            "protocol": entry.get("protocol", "boot"),
            "metric": entry.get("metric"),
            "type": entry.get("type", "unicast"),
        })
    return routes


def _ip_json(runner, argv, optional=False):
    rc, out, err = runner.run(argv)
    if rc != 0:
        if optional:
            return []
        raise InterfacesError("`%s` failed: %s" % (" ".join(argv), err.strip() or "rc %d" % rc))
    try:
        return json.loads(out or "[]")
    except ValueError as exc:
        raise InterfacesError("`%s` did not print JSON (%s): is iproute2 too old for -j?"
                              % (" ".join(argv), exc))


def read_state(runner):
    """Links, routes of table main and the forwarding sysctls of the runner's namespace."""
    links = parse_links(_ip_json(runner, ["ip", "-j", "-d", "addr", "show"]))
    routes = parse_routes(_ip_json(runner, ["ip", "-j", "route", "show", "table", "main"]), 4)
    # A kernel without IPv6 has no IPv6 table: no routes rather than an error.
    routes += parse_routes(_ip_json(runner, ["ip", "-6", "-j", "route", "show", "table", "main"],
                                    optional=True), 6)
    names = list(FORWARDING_SYSCTLS) + ["net.ipv6.conf.%s.disable_ipv6" % link["name"]
                                        for link in links]
    values = runner.read_sysctls(names)
    for link in links:
        value = values.get("net.ipv6.conf.%s.disable_ipv6" % link["name"])
        link["ipv6_disabled"] = None if value is None else value == "1"
    return {
        "links": links,
        "routes": routes,
        "sysctls": {name: values.get(name) for name in FORWARDING_SYSCTLS},
    }


# ---------------------------------------------------------------------------------------------
# Actions: a sentence for people, commands (or a sysctl) for the runner.

def _action(text, commands=(), sysctl=None, tolerate=()):
    return {"text": text, "commands": [list(c) for c in commands], "sysctl": sysctl,
            "tolerate": list(tolerate)}


def _link(state, name):
    for link in state["links"]:
        if link["name"] == name:
            return link
    return None


def _has_address(link, address):
    return any(a["address"].split("/")[0] == address for a in link["addresses"])


def match_links(state, netplan):
    """Map each planned interface to the name of the link that is it, now.

    A link is found by its placeholder IPv4 address, else by the planned name (when the link
    does not carry another planned interface's placeholder). Raises InterfacesError naming every
    interface that is missing.
    """
    mapping = {}
    claimed = {}
    errors = []
    for name, entry in sorted(netplan["interfaces"].items()):
        if entry["placeholder"] is None:
            continue
        found = [link["name"] for link in state["links"] if _has_address(link, entry["placeholder"])]
        if found:
            if found[0] in claimed:
                errors.append("interfaces %s and %s have the same placeholder %s"
                              % (claimed[found[0]], name, entry["placeholder"]))
            mapping[name] = found[0]
            claimed[found[0]] = name
    for name, entry in sorted(netplan["interfaces"].items()):
        if name in mapping:
            continue
        link = _link(state, name)
        if link is not None and link["name"] not in claimed:
            mapping[name] = link["name"]
            claimed[link["name"]] = name
            continue
        if entry["placeholder"]:
            errors.append("interface %s (placeholder %s) not found: no link carries the"
                          " placeholder or is named %s" % (name, entry["placeholder"], name))
        else:
            errors.append("interface %s not found: no link is named %s" % (name, name))
    if errors:
        raise InterfacesError("\n".join(errors))
    return mapping


def _drop_routes(state, dev, families=(4, 6)):
    state["routes"] = [r for r in state["routes"]
                       if not (r["dev"] == dev and r["family"] in families
                               and r["protocol"] != "kernel")]


def link_phase(state, netplan):
    """Renames, link up, MTU. Returns (actions, predicted state)."""
    mapping = match_links(state, netplan)
    new = copy.deepcopy(state)
    actions = []
    renames = sorted((current, name) for name, current in mapping.items() if current != name)
    renaming = {current for current, name in renames}
    for current, name in renames:
        holder = _link(state, name)
        if holder is not None and holder["name"] not in renaming:
            raise InterfacesError("cannot rename %s to %s: %s is taken by an interface that is not"
                                  " in the plan" % (current, name, name))

    def rename_model(old, name, up):
        link = _link(new, old)
        link["name"] = name
        link["up"] = up
        # Down: the kernel drops the link's routes and global IPv6 addresses.
        link["addresses"] = [a for a in link["addresses"] if a["family"] == 4 or a["scope"] == "link"]
        _drop_routes(new, old)
        for route in new["routes"]:
            if route["dev"] == old:
                route["dev"] = name

    # Rename in an order where each target name is free; a cycle (eth1 <-> eth2) goes through
    # a temporary name.
    pending = dict(renames)
    names = {link["name"] for link in state["links"]}
    while pending:
        ready = sorted(current for current, name in pending.items() if name not in names)
        if ready:
            current = ready[0]
            name = pending.pop(current)
            text = "rename %s to %s (placeholder %s)" % (current, name,
                                                         netplan["interfaces"][name]["placeholder"])
        else:
            current = sorted(pending)[0]
            name = "vntmp%s" % _link(new, current)["index"]
            pending[name] = pending.pop(current)
            text = "rename %s to %s (frees its name)" % (current, name)
        commands = []
        if current in renaming:
            commands.append(["ip", "link", "set", "dev", current, "down"])
        commands.append(["ip", "link", "set", "dev", current, "name", name])
        final = name not in pending
        if final:
            commands.append(["ip", "link", "set", "dev", name, "up"])
        actions.append(_action(text, commands))
        rename_model(current, name, final)
        names.discard(current)
        names.add(name)

    for name, entry in sorted(netplan["interfaces"].items()):
        link = _link(new, name)
        if entry["mtu"] is not None and link["mtu"] != entry["mtu"]:
            actions.append(_action("set mtu of %s to %d (was %s)" % (name, entry["mtu"], link["mtu"]),
                                   [["ip", "link", "set", "dev", name, "mtu", str(entry["mtu"])]]))
            link["mtu"] = entry["mtu"]
        if not link["up"]:
            actions.append(_action("set %s up" % name, [["ip", "link", "set", "dev", name, "up"]]))
            link["up"] = True
    loopback = _link(new, "lo")
    if loopback is not None and not loopback["up"]:
        # A namespace made by `ip netns add` starts with lo down.
        actions.append(_action("set lo up", [["ip", "link", "set", "dev", "lo", "up"]]))
        loopback["up"] = True
    return actions, new


def _is_loopback_default(address):
    iface = ipaddress.ip_interface(address)
    return iface.ip.is_loopback


def _address_changes(link, wanted, keep):
    """(to remove, to add) for one link. ``keep(address)`` protects an unplanned address."""
    present = [a for a in link["addresses"] if not (a["family"] == 6 and a["scope"] == "link")]
    present_set = {a["address"] for a in present}
    remove = [a for a in present if a["address"] not in wanted and not keep(a["address"])]
    add = [w for w in wanted if w not in present_set]
    # Removing a primary (the first IPv4 address of its subnet on the link) removes the
    # secondaries of that subnet with it: add those again. Removing a secondary removes only it.
    primaries = {}
    for entry in present:
        if entry["family"] == 4:
            primaries.setdefault(ipaddress.ip_interface(entry["address"]).network, entry["address"])
    removed = {a["address"] for a in remove}
    lost_subnets = [net for net, primary in primaries.items() if primary in removed]
    for w in wanted:
        iface = ipaddress.ip_interface(w)
        if w in present_set and w not in add and iface.version == 4 and iface.network in lost_subnets:
            add.append(w)
    return remove, add


def _apply_address_model(state, link, remove, add):
    removed = {a["address"] for a in remove}
    link["addresses"] = [a for a in link["addresses"] if a["address"] not in removed]
    if any(a["family"] == 4 for a in remove) and not any(a["family"] == 4 for a in link["addresses"]):
        # Removals come first: in between, the link has no IPv4 address left.
        _drop_routes(state, link["name"], (4,))
    for address in add:
        if any(a["address"] == address for a in link["addresses"]):
            continue
        family = ipaddress.ip_interface(address).version
        link["addresses"].append({"address": address, "family": family, "scope": "global"})


def _address_actions(link, remove, add, router=False):
    name = link["name"]
    actions = []
    for entry in remove:
        actions.append(_action("remove address %s from %s" % (entry["address"], name),
                               [["ip", "addr", "del", entry["address"], "dev", name]],
                               tolerate=GONE))
    for address in add:
        command = ["ip", "addr", "replace", address, "dev", name]
        if ipaddress.ip_interface(address).version == 6:
            command.append("nodad")
        actions.append(_action("add address %s to %s" % (address, name), [command]))
    if add and link.get("mac"):
        # Tell the neighbours which MAC address is behind the new addresses (part of the last add).
        actions[-1]["commands"].append(
            [sys.executable, "-c", ANNOUNCE, name, link["mac"], "1" if router else "0"]
            + [ipaddress.ip_interface(a).ip.compressed for a in add])
    return actions


def _enable_ipv6(link, wanted):
    if link.get("ipv6_disabled") and any(ipaddress.ip_interface(w).version == 6 for w in wanted):
        link["ipv6_disabled"] = False
        return [_action("enable IPv6 on %s" % link["name"],
                        sysctl=("net.ipv6.conf.%s.disable_ipv6" % link["name"], "0"))]
    return []


def address_phase(state, netplan):
    """Addresses of the planned interfaces and of lo. Returns (actions, predicted state)."""
    new = copy.deepcopy(state)
    actions = []
    for name, entry in sorted(netplan["interfaces"].items()):
        link = _link(new, name)
        if link is None:
            raise InterfacesError("interface %s disappeared while it was being configured" % name)
        if entry["dhcp"]:
            # The DHCP client owns the interface's addresses: drop the placeholder, add services'.
            remove = [a for a in link["addresses"]
                      if entry["placeholder"] and a["family"] == 4
                      and a["address"].split("/")[0] == entry["placeholder"]]
            present = {a["address"] for a in link["addresses"]}
            add = [w for w in entry["secondary"] if w not in present]
            actions += _address_actions(link, remove, add, netplan["forwarding"])
            _apply_address_model(new, link, remove, add)
            continue
        # Service addresses (secondary) come after the interface's own: the first added is primary.
        wanted = [w for w in (entry["ipv4"], entry["ipv6"]) if w] + entry["secondary"]
        remove, add = _address_changes(link, wanted, keep=lambda address: False)
        actions += _enable_ipv6(link, wanted)
        actions += _address_actions(link, remove, add, netplan["forwarding"])
        _apply_address_model(new, link, remove, add)

    loopback = _link(new, "lo")
    wanted = [w for w in (netplan["loopback"]["ipv4"], netplan["loopback"]["ipv6"]) if w]
    if loopback is None:
        if wanted:
            raise InterfacesError("no lo interface to carry the loopback addresses %s"
                                  % ", ".join(wanted))
    else:
        remove, add = _address_changes(loopback, wanted, keep=_is_loopback_default)
        actions += _enable_ipv6(loopback, wanted)
        actions += _address_actions(loopback, remove, add)
        _apply_address_model(new, loopback, remove, add)
    return actions, new


def _route_dev(state, via):
    """The link whose subnet holds ``via`` (the kernel's choice, for the prediction)."""
    gateway = ipaddress.ip_address(via)
    for link in state["links"]:
        for entry in link["addresses"]:
            iface = ipaddress.ip_interface(entry["address"])
            if iface.version == gateway.version and gateway in iface.network:
                return link["name"]
    return None


def _route_text(route):
    text = route["dst"]
    if route.get("via"):
        text += " via %s" % route["via"]
    if route.get("dev"):
        text += " dev %s" % route["dev"]
    return text


def route_phase(state, netplan):
    """Routes of table main. Returns (actions, predicted state)."""
    new = copy.deepcopy(state)
    planned = [(ipaddress.ip_network(r["dst"]).version, r["dst"], r["via"]) for r in netplan["routes"]]
    dhcp = {name for name, entry in netplan["interfaces"].items() if entry["dhcp"]}
    satisfied = set()
    removed = []
    for route in state["routes"]:
        key = (route["family"], route["dst"], route["via"])
        if key in planned and route["protocol"] == "static":
            satisfied.add(key)
            continue
        if route["dev"] not in netplan["interfaces"]:
            # Routes through interfaces outside the plan are not ours (a board's management port).
            continue
        default = ipaddress.ip_network(route["dst"]).prefixlen == 0
        if route["protocol"] == "static" and route["type"] == "unicast":
            removed.append((route, "proto static, not planned"))
        elif default and route["via"] and route["protocol"] == "boot" and route["dev"] not in dhcp:
            removed.append((route, "gateway not planned"))
    actions = []
    for route, why in removed:
        command = ["ip", "-%d" % route["family"], "route", "del", route["dst"]]
        if route["via"]:
            command += ["via", route["via"]]
        if route["dev"]:
            command += ["dev", route["dev"]]
        if route["metric"] is not None:
            command += ["metric", str(route["metric"])]
        actions.append(_action("remove route %s (%s)" % (_route_text(route), why), [command],
                               tolerate=GONE))
        new["routes"].remove(route)
    for family, dst, via in planned:
        if (family, dst, via) in satisfied:
            continue
        actions.append(_action("add route %s via %s" % (dst, via),
                               [["ip", "-%d" % family, "route", "replace", dst, "via", via,
                                 "proto", "static"]]))
        # replace: a route to the same destination (same metric) gives way.
        metric = 1024 if family == 6 else None
        new["routes"] = [r for r in new["routes"]
                         if not (r["family"] == family and r["dst"] == dst and r["metric"] == metric)]
        new["routes"].append({"family": family, "dst": dst, "via": via, "dev": _route_dev(new, via),
                              "protocol": "static", "metric": metric, "type": "unicast"})
        satisfied.add((family, dst, via))
    return actions, new


def sysctl_phase(state, netplan):
    """Forwarding. Returns (actions, predicted state)."""
    new = copy.deepcopy(state)
    actions = []
    if netplan["forwarding"] is None:
        return actions, new
    value = "1" if netplan["forwarding"] else "0"
    for name in FORWARDING_SYSCTLS:
        current = state["sysctls"].get(name)
        if current is not None and current != value:
            actions.append(_action("set %s to %s (was %s)" % (name, value, current),
                                   sysctl=(name, value)))
            new["sysctls"][name] = value
    return actions, new


PHASES = (link_phase, address_phase, route_phase, sysctl_phase)


# ---------------------------------------------------------------------------------------------
# Running it

def execute(runner, actions):
    for action in actions:
        for command in action["commands"]:
            rc, dummy, err = runner.run(command)
            if rc != 0 and not any(text in err for text in action["tolerate"]):
                raise InterfacesError("%s: `%s` failed: %s"
                                      % (action["text"], " ".join(command), err.strip() or "rc %d" % rc))
        if action["sysctl"]:
            runner.write_sysctl(*action["sysctl"])


def describe(state, names):
    """The diff view of a state: the given links (in order) and lo, routes, forwarding."""
    interfaces = []
    for name in list(names) + ["lo"]:
        link = _link(state, name)
        if link is None:
            continue
        interfaces.append({"name": link["name"], "mtu": link["mtu"],
                           "addresses": sorted(a["address"] for a in link["addresses"]
                                               if not (a["family"] == 6 and a["scope"] == "link"))})
    routes = sorted("%s%s%s" % (_route_text(r), " proto %s" % r["protocol"],
                                " metric %s" % r["metric"] if r["metric"] is not None else "")
                    for r in state["routes"] if r["protocol"] != "kernel")
    return {"interfaces": interfaces, "routes": routes, "forwarding": dict(state["sysctls"])}


def apply(runner, netplan, check_mode=False):
    """Bring the runner's namespace to ``netplan``.

    Returns ``{changed, actions (sentences), before, after}``; ``before``/``after`` are
    ``describe`` views. In check mode nothing is changed and ``after`` is the prediction.
    """
    netplan = normalize_netplan(netplan)
    state = read_state(runner)
    mapping = match_links(state, netplan)
    before = describe(state, [mapping[name] for name in sorted(netplan["interfaces"])])
    texts = []
    for phase in PHASES:
        actions, predicted = phase(state, netplan)
        texts += [a["text"] for a in actions]
        if check_mode or not actions:
            state = predicted
        else:
            execute(runner, actions)
            state = read_state(runner)
    after = describe(state, sorted(netplan["interfaces"]))
    return {"changed": bool(texts), "actions": texts, "before": before, "after": after}


def missing_interfaces(runner, netplan):
    """None when every planned interface is present, else the reason (for waiting loops)."""
    try:
        match_links(read_state(runner), normalize_netplan(netplan))
    except InterfacesError as exc:
        return str(exc)
    return None
