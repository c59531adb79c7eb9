# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""One lab over several Docker hosts (*engines*, the inventory's hosts): placement, VXLAN, views.

A node may name the engine it runs on (``placement: <inventory host>``); a lab places all its
nodes or none (``_topology`` says so). A lab without placements runs whole on every engine of the
play, as before. In a placed lab:

* a link whose endpoints sit on more than one engine is a *split* segment: a ``vxlan`` segment
  (``split_segments``, a step of the planner), its VNI pinned by the link or derived from the lab's
  and the segment's names (``derived_vni``: stable across runs; unique within the lab, a derived VNI
  that another segment of the lab holds moves on to the next free one, in segment name order), its
  MTU the link's or ``SPLIT_MTU`` (1500 of the underlay less the 50 bytes of VXLAN over IPv4);
* each engine converges its *view* of the plan (``engine_plan``): the whole plan (every node, every
  segment: DNS zones, DHCP scopes, tunnels and checks need the whole lab), plus ``engine``, its
  name, and its split segments' ``link`` completed with the underlay: ``local``, its own address,
  ``remote``, the address of the other engine of the segment, or the list of the others' when the
  segment spans three engines or more (head-end replication: every broadcast, unknown unicast and
  multicast frame is sent once to each remote; no multicast group in the underlay);
* what an engine acts on comes from its view: its nodes (``engine_nodes``: containers, services),
  its segments (``engine_segments``: those with one of its nodes on them), its VPN peers
  (``vpn_peers``).

Errors are lines that name the node, the engine or the segment; ``engine_plan`` raises them all
at once as a ``PlacementError``.
"""

from __future__ import annotations

import hashlib
import ipaddress

from ansible_collections.vnet.lab.plugins.module_utils._topology import VNI_RANGE, name_key, shorten

# VXLAN's cost on the wire: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 bytes (IPv6: 20 more).
VXLAN_OVERHEAD = {4: 50, 6: 70}
UNDERLAY_MTU = 1500
SPLIT_MTU = UNDERLAY_MTU - VXLAN_OVERHEAD[4]


class PlacementError(ValueError):
    """Why an engine's view of a plan cannot be made, one line per problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# --- planning (on the parsed topology: _addressing's pipeline) ------------------------------------

def derived_vni(lab, segment):
    """The VNI a segment between engines gets unless pinned: from the lab's and the segment's names."""
    digest = hashlib.sha256(("vnet.lab/%s/%s" % (lab, segment)).encode()).digest()
    return int.from_bytes(digest[:3], "big") % VNI_RANGE[1] + VNI_RANGE[0]


def split_segments(topo, problems):
    """Give each segment between engines (``Segment.hosts``) its VNI and its MTU, in place.

    Pinned VNIs (any vxlan link's) are taken first; a pinned VNI of a segment between engines must
    be its own. Then each other segment between engines, in name order, takes its derived VNI or,
    when that is taken, the next free one."""
    split = [segment for segment in topo.segments if segment.hosts and segment.link]
    if not split:
        return
    owners = {}
    for segment in topo.segments:
        vni = (segment.link or {}).get("vni") if (segment.link or {}).get("type") == "vxlan" else None
        if vni is None:
            continue
        other = owners.get(vni)
        if other is not None and (segment.hosts or other.hosts):
            problems.add("%s: vni %d is already %s's; a segment between engines needs a VNI of its own"
                         % (segment.where, vni, other.where))
        owners.setdefault(vni, segment)
    for segment in split:
        if segment.mtu is None:
            segment.mtu = SPLIT_MTU
        if segment.link["vni"] is not None:
            continue
        vni = derived_vni(topo.name, segment.name)
        while vni in owners:
            vni = vni % VNI_RANGE[1] + VNI_RANGE[0]
        owners[vni] = segment
        segment.link = dict(segment.link, vni=vni)


# --- the plan's placement ------------------------------------------------------------------------

def placed(plan):
    """Whether the lab places its nodes on engines (then each engine runs its part only)."""
    return any((node or {}).get("placement") is not None for node in plan["nodes"].values())


def _engine_of(plan, endpoint):
    return plan["nodes"][endpoint.split(":", 1)[0]].get("placement")


def segment_engines(plan, segment):
    """The engines a segment's endpoints are placed on, in name order."""
    return sorted({_engine_of(plan, endpoint) for endpoint in plan["segments"][segment]["endpoints"]} - {None},
                  key=name_key)


def split(plan):
    """``{segment: [engine...]}`` of the segments between engines."""
    found = {}
    for name in sorted(plan["segments"], key=name_key):
        engines = segment_engines(plan, name)
        if len(engines) > 1:
            found[name] = engines
    return found


def engines_used(plan):
    """The engines the lab's nodes are placed on, in name order ([] for a lab not placed)."""
    return sorted({node.get("placement") for node in plan["nodes"].values()} - {None}, key=name_key)


def engine_problems(plan, engines):
    """Nodes placed on a host that is not one of ``engines`` (the lab's engines), one line each."""
    known = set(engines or [])
    problems = []
    for name in sorted(plan["nodes"], key=name_key):
        placement = plan["nodes"][name].get("placement")
        if placement is not None and placement not in known:
            problems.append("node %s: placement %s is not one of the lab's engines (%s)"
                            % (name, placement, ", ".join(sorted(known, key=name_key)) or "none"))
    return problems


# --- an engine's view ----------------------------------------------------------------------------

def _address(text):
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None


def underlay_problems(plan, engine, underlay):
    """What keeps ``engine`` from making its segments between engines: a missing or bad underlay
    address of an engine it shares one with, two engines of a segment with the same address or of
    two families, an MTU with no room for VXLAN over IPv6."""
    problems = []
    underlay = underlay or {}
    for name, engines in split(plan).items():
        if engine not in engines:
            continue
        addresses = {}
        for host in engines:
            given = underlay.get(host)
            if given in (None, ""):
                problems.append("engine %s: no underlay address, and segment %s joins it to %s: set"
                                " vnet_lab_underlay_address in its inventory (or let the run gather its"
                                " default route's address)"
                                % (host, name, shorten([h for h in engines if h != host])))
                continue
            address = _address(given)
            if address is None:
                problems.append("engine %s: underlay address %r is not an IP address" % (host, given))
                continue
            addresses[host] = address
        seen = {}
        for host, address in addresses.items():
            if address in seen:
                problems.append("segment %s: engines %s and %s have the same underlay address %s"
                                % (name, seen[address], host, address))
            seen.setdefault(address, host)
        versions = {address.version for address in addresses.values()}
        if len(versions) > 1:
            problems.append("segment %s: the underlay addresses of its engines are of two families (%s)"
                            % (name, ", ".join("%s %s" % (host, addresses[host]) for host in addresses)))
        mtu = plan["segments"][name].get("mtu")
        if versions == {6} and mtu is not None and mtu > UNDERLAY_MTU - VXLAN_OVERHEAD[6]:
            problems.append("segment %s: mtu %d leaves no room for VXLAN over IPv6 (%d bytes) in a %d-byte"
                            " underlay: give the link mtu: %d"
                            % (name, mtu, VXLAN_OVERHEAD[6], UNDERLAY_MTU, UNDERLAY_MTU - VXLAN_OVERHEAD[6]))
    return problems


def engine_plan(plan, engine, underlay=None):
    """The view of ``plan`` that ``engine`` converges (see the module docstring); a lab without
    placements is returned as it is. ``underlay``: ``{engine: address}`` of the lab's engines."""
    if not placed(plan):
        return plan
    problems = underlay_problems(plan, engine, underlay)
    if problems:
        raise PlacementError(problems)
    segments = dict(plan["segments"])
    for name, engines in split(plan).items():
        if engine not in engines:
            continue
        remotes = [str(_address(underlay[host])) for host in engines if host != engine]
        segments[name] = dict(segments[name], link=dict(
            segments[name]["link"], local=str(_address(underlay[engine])),
            remote=remotes[0] if len(remotes) == 1 else remotes))
    view = dict(plan, segments=segments)
    view["engine"] = engine
    return view


def _here(plan, node):
    engine = plan.get("engine")
    return engine is None or plan["nodes"][node].get("placement") == engine


def engine_nodes(plan):
    """The nodes an engine's view runs, in name order: all of them when the plan has no ``engine``."""
    return [name for name in sorted(plan["nodes"], key=name_key) if _here(plan, name)]


def engine_segments(plan):
    """The segments an engine's view makes: those with an endpoint on one of its nodes."""
    return {name: segment for name, segment in plan["segments"].items()
            if any(_here(plan, endpoint.split(":", 1)[0]) for endpoint in segment["endpoints"])}


def vpn_peers(plan, initiators=False):
    """The VPN peers an engine's view runs (each tunnel's first peer only, with ``initiators``),
    sorted, each once."""
    peers = set()
    for tunnel in (plan.get("vpn") or {}).values():
        names = [str(peer).split(":", 1)[0] for peer in (tunnel or {}).get("peers") or []]
        for name in names[:1] if initiators else names:
            if name in plan["nodes"] and _here(plan, name):
                peers.add(name)
    return sorted(peers)
