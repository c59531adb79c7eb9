# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Static routes of a lab (``routing: static``), computed from its address plan.

Per IP family, routers form a graph: two routers are neighbours when they share a segment on
which both have an address of that family. Every segment prefix and router loopback is a
destination; a destination's *site* is the L2 domain it lives on (its segment; vxlan segments
with the same VNI are one domain) and the routers attached to it there.

- A *stub* router, one with a single neighbour (its upstream) that has other neighbours, gets a
  default route (``dst: 0.0.0.0/0`` or ``::/0``) via its upstream: whatever it is not connected
  to lies behind that neighbour. It gets a route of its own only for a destination inside one
  of its connected prefixes (a more specific prefix pinned elsewhere), which the connected
  prefix would otherwise catch. Two routers that are each other's only neighbour are not stubs:
  defaults pointing at each other would bounce packets to unknown destinations back and forth.
- Any other router gets ``{dst, via}`` for every destination it is not directly connected to,
  along a shortest path (breadth-first over routers). Among equally short paths the next hop is
  the neighbour first in name order; ``via`` is that neighbour's address on the first segment
  (name order) they share.
- A host uses its default gateway. Only a host with more than one routed interface (one whose
  segment has a router with an address of the family) gets routes: one for each destination
  that a router other than its gateway reaches in fewer hops (ties go to the gateway, then to
  name order).
- A destination prefix reachable at two sites (the same prefix pinned on separate segments)
  from a node that needs a route to it is left out of that node's routes (the planner never
  guesses which one was meant); ``static_routes`` returns one note per prefix and set of sites
  naming the prefix, the segments and the nodes. A stub router or a host needs no route where
  its upstream or gateway decides.

So no route ever points back where it came from: only stubs have a default, and their upstream
sends them nothing but what they are connected to. The cost is one breadth-first search per
router with a table (or serving a host with several routed interfaces), then one look-up per
destination site; hosts that share their routers share the work. Routes themselves are one per
destination and router with a table: a lab whose routers all have several neighbours gets
routers * destinations of them.
"""

from __future__ import annotations

import socket
from bisect import bisect_right

from ansible_collections.vnet.lab.plugins.module_utils._topology import (
    FAMILIES,
    KINDS,
    name_key,
    shorten,
)

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_BITS = {4: 32, 6: 128}
DEFAULT = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}
UNREACHABLE = 1 << 30     # hop count of a destination no path leads to
UNSURE = None             # what a router that reaches a prefix at two sites knows of it


def _prefix_key(version, text):
    address, _sep, plen = text.partition("/")
    return int.from_bytes(socket.inet_pton(_AF[version], address), "big"), int(plen)


def static_routes(plan):
    """Fill in ``routes`` of every node of ``plan``; return the notes on the prefixes left out."""
    nodes = plan["nodes"]
    routers = sorted((n for n, e in nodes.items() if KINDS[e["kind"]].forwards), key=name_key)
    notes = []
    for family, version in FAMILIES:
        ambiguous = _FamilyRoutes(plan, family, version, routers).run()
        for (dst, sites), names in ambiguous.items():
            segments = [name for site in sites for name in site]
            names = sorted(set(names), key=name_key)
            notes.append("routing: prefix %s is reachable at %d sites (segments %s) from %s: left out "
                         "of %s static routes; pin distinct prefixes or route it yourself" % (
                             dst, len(sites), shorten(segments, limit=len(segments)), shorten(names),
                             "their" if len(names) > 1 else "its"))
    return notes


class _FamilyRoutes:
    """Routes of one family. Routers are known by their rank in name order."""

    def __init__(self, plan, family, version, routers):
        self.plan = plan
        self.family = family
        self.routers = routers
        self.rank = {name: index for index, name in enumerate(routers)}
        self.via = [{} for _name in routers]     # rank -> {neighbour rank: its address}
        self.connected = {}                      # node -> {prefix}
        self.sites = {}                          # prefix -> {domain: ([segment], [router rank])}
        self.routed = {}                         # host -> {ifname: [(router rank, via)]}
        self._collect()
        self.neighbours = [sorted(via) for via in self.via]
        keyed = sorted((_prefix_key(version, dst), dst) for dst in self.sites)
        self.order = [dst for _key, dst in keyed]
        self.keys = [key for key, _dst in keyed]      # (address as an integer, length)
        self.bits = _BITS[version]
        index = {dst: i for i, dst in enumerate(self.order)}
        self.connected_index = {node: {index[dst] for dst in dsts}
                                for node, dsts in self.connected.items()}
        # Destinations whose sites have the same routers are reached alike: one group each.
        groups = {}
        self.site_group = []                     # destination -> its group; None: several sites
        self.multisite = {}                      # destination -> [(domain, group)]
        for i, dst in enumerate(self.order):
            sites = self.sites[dst]
            if len(sites) == 1:
                (_segments, members), = sites.values()
                self.site_group.append(groups.setdefault(tuple(sorted(members)), len(groups)))
            else:
                self.site_group.append(None)
                self.multisite[i] = [(domain, groups.setdefault(tuple(sorted(members)), len(groups)))
                                     for domain, (_segments, members) in sites.items()]
        self.groups = list(groups)
        self.hops = {}                           # router rank -> hops per group (cached)

    def _collect(self):
        nodes, family = self.plan["nodes"], self.family
        segments = self.plan["segments"]
        rank = self.rank
        for seg_name in sorted(segments, key=name_key):
            segment = segments[seg_name]
            link = segment.get("link") or {}
            domain = ("vxlan", link.get("vni")) if link.get("type") == "vxlan" else seg_name
            ends = []
            for label in segment["endpoints"]:
                node, _sep, ifname = label.partition(":")
                ends.append((node, ifname, nodes[node]["interfaces"][ifname][family]))
            attached = [(rank[node], address.partition("/")[0])
                        for node, _ifname, address in ends if node in rank and address]
            for a, _via in attached:
                neighbours = self.via[a]
                for b, via in attached:
                    if b != a and b not in neighbours:
                        neighbours[b] = via
            prefix = segment[family]
            if prefix:
                site = self.sites.setdefault(prefix, {}).setdefault(domain, ([], []))
                site[0].append(seg_name)
                site[1].extend(a for a, _via in attached if a not in site[1])
                for node, _ifname, _address in ends:
                    self.connected.setdefault(node, set()).add(prefix)
            if attached:
                for node, ifname, _address in ends:
                    if node not in rank:
                        self.routed.setdefault(node, {})[ifname] = attached
        for name in self.routers:
            loopback = (nodes[name]["loopback"] or {}).get(family)
            if loopback:
                self.sites.setdefault(loopback, {})[("loopback", name)] = (
                    ["loopback of %s" % name], [rank[name]])
                self.connected.setdefault(name, set()).add(loopback)

    def _search(self, source):
        """Hop counts from ``source`` and, per router, the rank of the first hop (the
        neighbour first in name order among those on a shortest path); by rank."""
        neighbours = self.neighbours
        dist = [UNREACHABLE] * len(neighbours)
        first = [None] * len(neighbours)
        dist[source] = 0
        frontier = [source]
        depth = 0
        while frontier:
            depth += 1
            found = {}
            for u in frontier:
                hop = first[u]
                for v in neighbours[u]:
                    if dist[v] != UNREACHABLE:
                        continue
                    h = v if hop is None else hop
                    if v not in found or h < found[v]:
                        found[v] = h
            for v, h in found.items():
                dist[v] = depth
                first[v] = h
            frontier = list(found)
        return dist, first

    def _reach(self, source):
        """Per group: hops from ``source`` to its nearest router and the rank of the first hop
        there, ``(UNREACHABLE, None)`` where no path leads."""
        dist, first = self._search(source)
        reach = [min([(dist[m], first[m]) for m in members if dist[m] != UNREACHABLE],
                     default=(UNREACHABLE, None)) for members in self.groups]
        self.hops[source] = [hops for hops, _first in reach]
        return reach

    def _hops(self, router):
        if router not in self.hops:
            self._reach(router)
        return self.hops[router]

    def run(self):
        """Fill in the routes of this family; return {(prefix, sites): [node]} of the prefixes
        left out because they are reachable at several sites."""
        nodes = self.plan["nodes"]
        ambiguous = {}
        for router, name in enumerate(self.routers):
            neighbours = self.neighbours[router]
            if not neighbours:
                continue
            if len(neighbours) == 1 and len(self.neighbours[neighbours[0]]) > 1:
                routes = self._stub_routes(router, neighbours[0], ambiguous)
            else:
                routes = self._table(router, self._reach(router), range(len(self.order)), ambiguous)
            nodes[name]["routes"].extend(routes)
        shared = {}
        for name in sorted(self.routed, key=name_key):
            routed = self.routed[name]
            if len(routed) > 1:
                nodes[name]["routes"].extend(self._host_routes(name, routed, shared, ambiguous))
        return ambiguous

    def _stub_routes(self, router, upstream, ambiguous):
        routes = [{"dst": DEFAULT[self.family], "via": self.via[router][upstream]}]
        inside = self._inside_connected(self.routers[router])
        if inside:
            routes.extend(self._table(router, self._reach(router), inside, ambiguous))
        return routes

    def _inside_connected(self, name):
        """Destinations strictly inside a prefix ``name`` is connected to, in order."""
        keys, bits = self.keys, self.bits
        connected = self.connected_index.get(name, ())
        inside = set()
        for c in connected:
            first, plen = keys[c]
            last = first | ((1 << (bits - plen)) - 1)
            # Sorted by (address, length): what starts inside the prefix and is longer.
            j = bisect_right(keys, (first, plen))
            while j < len(keys) and keys[j][0] <= last:
                if j not in connected:
                    inside.add(j)
                j += 1
        return sorted(inside)

    def _one_site(self, i, name, hops, ambiguous):
        """The group of the only site of multi-site destination ``i`` that a router with
        ``hops`` reaches; None when it reaches none, or several (noted for ``name``)."""
        reached = [(domain, group) for domain, group in self.multisite[i] if hops[group] < UNREACHABLE]
        if len(reached) > 1:
            self._note(ambiguous, i, [domain for domain, _group in reached], name)
            return None
        return reached[0][1] if reached else None

    def _note(self, ambiguous, i, domains, name):
        dst = self.order[i]
        sites = self.sites[dst]
        key = (dst, tuple(tuple(sites[domain][0]) for domain in sites if domain in domains))
        ambiguous.setdefault(key, []).append(name)

    def _table(self, router, reach, indices, ambiguous):
        """Routes of ``router`` to the destinations ``indices`` along shortest paths."""
        name = self.routers[router]
        via = self.via[router]
        order, site_group = self.order, self.site_group
        group_via = [via[first] if 0 < hops < UNREACHABLE else None for hops, first in reach]
        hops = self.hops[router]
        skip = self.connected_index.get(name, ())
        routes = []
        for i in indices:
            if i in skip:
                continue
            group = site_group[i]
            if group is None:
                group = self._one_site(i, name, hops, ambiguous)
                if group is None:
                    continue
            gateway = group_via[group]
            if gateway is not None:
                routes.append({"dst": order[i], "via": gateway})
        return routes

    def _host_routes(self, name, routed, shared, ambiguous):
        """Routes of a host with several routed interfaces: where a router other than the
        gateway is fewer hops from a destination (ties: the gateway, then name order).
        Hosts with the same gateway and routers share the work (``shared``)."""
        gateway = self.plan["nodes"][name]["gateway"][self.family]
        candidates = {}                          # router rank -> its address, for this host
        for ifname in sorted(routed, key=name_key):
            for router, via in routed[ifname]:
                candidates.setdefault(router, via)
        base = next((router for router, via in candidates.items() if via == gateway), None)
        key = (base, tuple(sorted(candidates)))
        if key not in shared:
            shared[key] = self._choices(*key)
        chosen, split = shared[key]
        own = self.connected_index.get(name, ())
        for i, domains in split:
            if i not in own:
                self._note(ambiguous, i, domains, name)
        order = self.order
        return [{"dst": order[i], "via": candidates[router]} for i, router in chosen if i not in own]

    def _choices(self, base, candidates):
        """For a host with gateway ``base`` and routers ``candidates`` (ranks, in name order):
        the destinations another router reaches in fewer hops, as [(index, router)], and
        those its routers reach at different sites, as [(index, domains)]."""
        hops = {router: self._hops(router) for router in candidates}
        others = [router for router in candidates if router != base]
        by_group = []
        for group in range(len(self.groups)):
            best = hops[base][group] if base is not None else UNREACHABLE
            choice = None
            for router in others:
                if hops[router][group] < best:
                    best, choice = hops[router][group], router
            by_group.append(choice)
        special = set(self.multisite)
        for router in candidates:
            special.update(self.connected_index.get(self.routers[router], ()))
        chosen, split = [], []
        for i, group in enumerate(self.site_group):
            if i in special:
                reach = {router: self._hops_to(router, i, hops[router]) for router in candidates}
                if UNSURE in reach.values():
                    continue
                domains = {domain for distance, domain in reach.values() if distance < UNREACHABLE} - {None}
                if len(domains) > 1:
                    split.append((i, domains))
                    continue
                best = reach[base][0] if base is not None else UNREACHABLE
                choice = None
                for router in others:
                    if reach[router][0] < best:
                        best, choice = reach[router][0], router
            else:
                choice = by_group[group]
            if choice is not None:
                chosen.append((i, choice))
        return chosen, split

    def _hops_to(self, router, i, hops):
        """(hops, domain) from ``router`` to destination ``i``; UNSURE at several sites."""
        dst = self.order[i]
        sites = self.sites[dst]
        if i in self.connected_index.get(self.routers[router], ()):
            return 0, next((domain for domain, (_s, members) in sites.items() if router in members), None)
        group = self.site_group[i]
        if group is not None:
            return hops[group], next(iter(sites))
        reached = [(hops[group], domain) for domain, group in self.multisite[i] if hops[group] < UNREACHABLE]
        if len(reached) > 1:
            return UNSURE
        return reached[0] if reached else (UNREACHABLE, None)
