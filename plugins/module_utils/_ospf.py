# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""FRRouting configuration (``frr.conf``) of one router's OSPF, derived from the lab's plan.

``frr_config(plan, node, area="0.0.0.0", profile="lab", router_id=None)`` returns the text of
``frr.conf`` for zebra, ospfd and, when the router has IPv6 addresses, ospf6d;
``daemons_file(config, node, lab)`` the text of FRR's ``daemons`` file that goes with a ``frr.conf``.
Rules:

* OSPF runs on every interface of the router that has a planned address of the family (a DHCP
  interface has none and is left out) and on its loopback, each with ``ip ospf area`` /
  ``ipv6 ospf6 area`` (all in one area): every address of the interface is advertised, service
  addresses (``secondary``) included.
* An interface is **passive** (its prefix advertised, no hellos sent) when its segment has a host
  (a client LAN), or when no other OSPF router has an address of the family on it. The loopback
  is always passive. OSPF routers are the routers that declare an ``ospf`` service in the plan
  (``nodes.<node>.services.ospf``); when no node declares one, every router is.
* Any other interface speaks OSPF. It is **point-to-point** (no DR election, so the adjacency
  comes up at once) when its segment is of type ``p2p`` or has exactly two endpoints, both
  routers; else it keeps the broadcast type.
* The router ID is ``router_id`` when given, else the loopback's IPv4 address, else the lowest
  IPv4 address of the router's interfaces; a router with none of them is an error. ospf6d uses
  the same ID.
* ``profile: lab`` (hello 1 s, dead 3 s on speaking interfaces; no LSA throttle, no LSA
  min-arrival) brings an adjacency to Full in about 1.5 s and routes follow within about 0.1 s;
  ``profile: default`` keeps FRR's timers (hello 10 s, dead 40 s, LSA throttle 5 s).
* The plan's ``routing`` is not looked at and its ``routes`` are not repeated: the node installs
  static routes itself, and a kernel route wins over OSPF's for the same prefix in zebra. A lab
  that runs OSPF says ``routing: ospf`` (or ``none``): no static routes.

Lines are written as FRR 8 prints them in ``show running-config`` (area in dotted form), so that
``frr-reload.py`` finds nothing to change in a configuration it has loaded; interfaces come in
name order (r2 before r10), the loopback ``lo`` among them.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.vnet.lab.plugins.module_utils._topology import KINDS, name_key

PROFILES = {
    "lab": {
        "interface": {"ipv4": ("ip ospf dead-interval 3", "ip ospf hello-interval 1"),
                      "ipv6": ("ipv6 ospf6 dead-interval 3", "ipv6 ospf6 hello-interval 1")},
        "router": {"ipv4": ("timers throttle lsa all 0", "timers lsa min-arrival 0"),
                   "ipv6": ("timers lsa min-arrival 0",)},
    },
    "default": {
        "interface": {"ipv4": (), "ipv6": ()},
        "router": {"ipv4": (), "ipv6": ()},
    },
}

# What each family's lines look like; ospfd carries IPv4, ospf6d IPv6.
SYNTAX = {
    "ipv4": {"prefix": "ip ospf", "router": "router ospf", "router_id": "ospf router-id"},
    "ipv6": {"prefix": "ipv6 ospf6", "router": "router ospf6", "router_id": "ospf6 router-id"},
}
FAMILIES = ("ipv4", "ipv6")
LOOPBACK = "lo"
# The daemons of the image's entrypoint, zebra first, each with the frr.conf section that makes it
# run (zebra always).
DAEMONS = (("zebra", None), ("ospfd", "router ospf"), ("ospf6d", "router ospf6"))


class OspfError(ValueError):
    """Why the node's OSPF configuration cannot be made."""


def frr_config(plan, node, area="0.0.0.0", profile="lab", router_id=None):
    """The text of ``frr.conf`` for ``node`` of ``plan`` (see the module's docstring)."""
    nodes = plan["nodes"]
    if node not in nodes:
        raise OspfError("no node %s in lab %s (nodes: %s)" % (
            node, plan["name"], ", ".join(sorted(nodes, key=name_key)) or "none"))
    entry = nodes[node]
    if not KINDS[entry["kind"]].forwards:
        raise OspfError("node %s is a %s; OSPF runs on routers" % (node, entry["kind"]))
    if profile not in PROFILES:
        raise OspfError("profile %r is not one of %s" % (profile, ", ".join(sorted(PROFILES))))
    area = dotted_area(area)

    interfaces = ospf_interfaces(plan, node)
    families = [family for family in FAMILIES if any(family in i["families"] for i in interfaces)]
    rid = choose_router_id(node, entry, interfaces, router_id)
    timers = PROFILES[profile]

    lines = ["frr defaults traditional", "hostname %s" % node,
             "service integrated-vtysh-config", "!"]
    for interface in interfaces:
        lines.append("interface %s" % interface["name"])
        for family in FAMILIES:
            if family not in interface["families"]:
                continue
            prefix = SYNTAX[family]["prefix"]
            lines.append(" %s area %s" % (prefix, area))
            if interface["passive"][family]:
                lines.append(" %s passive" % prefix)
                continue
            lines.extend(" " + line for line in timers["interface"][family])
            if interface["p2p"]:
                lines.append(" %s network point-to-point" % prefix)
        lines += ["exit", "!"]
    for family in families:
        lines.append(SYNTAX[family]["router"])
        lines.append(" %s %s" % (SYNTAX[family]["router_id"], rid))
        lines.append(" log-adjacency-changes")
        lines.extend(" " + line for line in timers["router"][family])
        lines += ["exit", "!"]
    return "\n".join(lines) + "\n"


def daemons_file(config, node, lab):
    """FRR's ``daemons`` file for a router whose ``frr.conf`` is ``config``: zebra always, ospfd and
    ospf6d when ``config`` has their ``router`` line, each with ``-P 0`` (no TCP vty). The lines are
    those the role's template wrote before, header included, so that a lab brought up before finds
    the file unchanged (a changed ``daemons`` restarts the router's FRR)."""
    lines = set(config.splitlines())
    text = ["# Ansible managed",
            "# FRR daemons of %s (%s), read by the image's entrypoint: zebra always," % (node, lab),
            "# the others as frr.conf needs them. -P 0: no TCP vty, vtysh talks to the daemons over UNIX sockets."]
    text += ["%s=%s" % (daemon, "yes" if section is None or section in lines else "no") for daemon, section in DAEMONS]
    text += ['%s_options="-P 0"' % daemon for daemon, _section in DAEMONS]
    return "\n".join(text) + "\n"


def dotted_area(area):
    """An OSPF area (integer, digits or dotted quad) in dotted form: 0 -> 0.0.0.0."""
    text = str(area).strip()
    try:
        if isinstance(area, bool):
            raise ValueError
        if text.isdigit():
            return str(ipaddress.IPv4Address(int(text)))
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise OspfError("area %r is neither a number from 0 to 4294967295 nor a dotted quad"
                        % (area,)) from None


def ospf_routers(plan):
    """Names of the routers that run OSPF: those with an ``ospf`` service, else all."""
    routers = {name for name, entry in plan["nodes"].items() if KINDS[entry["kind"]].forwards}
    declared = {name for name in routers if "ospf" in (plan["nodes"][name].get("services") or {})}
    return declared or routers


def ospf_interfaces(plan, node):
    """The node's OSPF interfaces in name order: ``{name, families, passive, p2p}`` each, where
    ``passive`` maps each family to whether the interface is passive for it (ospfd and ospf6d
    decide apart: a neighbour may have an address of one family only)."""
    nodes, segments = plan["nodes"], plan["segments"]
    speakers = ospf_routers(plan)
    entry = nodes[node]
    result = []
    for ifname, interface in entry["interfaces"].items():
        families = [family for family in FAMILIES if interface.get(family)]
        if not families:
            continue
        segment = segments[interface["segment"]]
        members = [label.partition(":")[::2] for label in segment["endpoints"]]
        has_host = any(not KINDS[nodes[other]["kind"]].forwards for other, _ifname in members)
        # Per family: a neighbour must have an address of that family on the segment.
        passive = {}
        for family in families:
            neighbours = [other for other, other_if in members
                          if (other, other_if) != (node, ifname) and other in speakers
                          and nodes[other]["interfaces"][other_if].get(family)]
            passive[family] = has_host or not neighbours
        p2p = segment["type"] == "p2p" or (
            len(members) == 2 and all(KINDS[nodes[other]["kind"]].forwards for other, _i in members))
        result.append({"name": ifname, "families": families, "passive": passive, "p2p": p2p})
    loopback = entry.get("loopback") or {}
    loopback_families = [family for family in FAMILIES if loopback.get(family)]
    if loopback_families:
        result.append({"name": LOOPBACK, "families": loopback_families,
                       "passive": {family: True for family in loopback_families}, "p2p": False})
    result.sort(key=lambda item: name_key(item["name"]))
    return result


def choose_router_id(node, entry, interfaces, router_id):
    """``router_id`` when given, else the loopback's IPv4 address, else the lowest IPv4
    address of the node's OSPF interfaces."""
    if router_id is not None:
        try:
            return str(ipaddress.IPv4Address(router_id))
        except ValueError:
            raise OspfError("router_id %r of %s is not an IPv4 address" % (router_id, node)) from None
    loopback = (entry.get("loopback") or {}).get("ipv4")
    if loopback:
        return loopback.partition("/")[0]
    addresses = [ipaddress.IPv4Interface(entry["interfaces"][i["name"]]["ipv4"]).ip
                 for i in interfaces if i["name"] != LOOPBACK and "ipv4" in i["families"]]
    if addresses:
        return str(min(addresses))
    raise OspfError("node %s has no IPv4 address to take a router ID from; give it an IPv4 "
                    "loopback or pass router_id" % node)
