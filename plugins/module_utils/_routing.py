# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Static routes of a lab (``routing: static``), computed from its address plan.

Per IP family, routers form a graph: two routers are neighbours when they share a segment on
which both have an address of that family. Every segment prefix and router loopback is a
destination; a destination's *site* is the L2 domain it lives on (its segment; vxlan segments
with the same VNI are one domain) and the routers attached to it there.

- A router gets ``{dst, via}`` for every destination it is not directly connected to, along a
  shortest path (breadth-first over routers). Among equally short paths the next hop is the
  neighbour first in name order; ``via`` is that neighbour's address on the first segment
  (name order) they share.
- A host uses its default gateway. Only a host with more than one routed interface (one whose
  segment has a router with an address of the family) gets routes: one for each destination
  that a router other than its gateway reaches in fewer hops (ties go to the gateway, then to
  name order).
- A destination prefix reachable at two sites (the same prefix pinned on separate segments)
  from a node that needs a route to it is a problem naming the prefix, the segments and the
  nodes: the planner never guesses which one was meant.
"""

from __future__ import annotations

import socket

from ansible_collections.vnet.lab.plugins.module_utils._topology import (
    FAMILIES,
    KINDS,
    name_key,
    shorten,
)

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
UNREACHABLE = 1 << 30     # hop count of a destination no path leads to


def _prefix_key(version, text):
    address, _sep, plen = text.partition("/")
    return int.from_bytes(socket.inet_pton(_AF[version], address), "big"), int(plen)


def static_routes(plan, problems):
    """Fill in ``routes`` of every node of ``plan``; problems go to ``problems``."""
    nodes = plan["nodes"]
    routers = sorted((n for n, e in nodes.items() if KINDS[e["kind"]].forwards), key=name_key)
    ambiguous = {}
    for family, version in FAMILIES:
        _FamilyRoutes(plan, family, version, routers).run(ambiguous)
    for (dst, sites), names in ambiguous.items():
        segments = [name for site in sites for name in site]
        problems.add("routing: prefix %s is reachable at %d sites (segments %s) from %s; "
                     "pin distinct prefixes or give up routing: static" % (
                         dst, len(sites), shorten(segments, limit=len(segments)),
                         shorten(sorted(set(names), key=name_key))))


class _FamilyRoutes:
    """Routes of one family."""

    def __init__(self, plan, family, version, routers):
        self.plan = plan
        self.family = family
        self.routers = routers
        self.rank = {name: index for index, name in enumerate(routers)}
        self.neighbours = {name: {} for name in routers}   # router -> {router: via}
        self.connected = {}                                # node -> {prefix}
        self.sites = {}                                    # prefix -> {domain: ([segment], [router])}
        self.routed = {}                                   # host -> {ifname: [(router, via)]}
        self._collect()
        self.order = sorted(self.sites, key=lambda p: _prefix_key(version, p))
        index = {dst: i for i, dst in enumerate(self.order)}
        self.connected_index = {node: [index[dst] for dst in dsts]
                                for node, dsts in self.connected.items()}
        self.multisite = [i for i, dst in enumerate(self.order) if len(self.sites[dst]) > 1]
        for name in routers:
            neighbours = self.neighbours[name]
            self.neighbours[name] = {n: neighbours[n] for n in sorted(neighbours, key=self.rank.get)}

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
            attached = [(node, address.partition("/")[0])
                        for node, _ifname, address in ends if node in rank and address]
            for a, _via in attached:
                neighbours = self.neighbours[a]
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
                    ["loopback of %s" % name], [name])
                self.connected.setdefault(name, set()).add(loopback)

    def _search(self, source):
        """Hop counts from ``source`` and, per router, the rank of the first hop (the
        neighbour first in name order among those on a shortest path)."""
        rank, neighbours = self.rank, self.neighbours
        dist = {source: 0}
        first = {}
        frontier = [source]
        depth = 0
        while frontier:
            depth += 1
            found = {}
            for u in frontier:
                hop = first.get(u)
                for v in neighbours[u]:
                    if v in dist:
                        continue
                    h = rank[v] if hop is None else hop
                    if v not in found or h < found[v]:
                        found[v] = h
            for v, h in found.items():
                dist[v] = depth
                first[v] = h
            frontier = sorted(found, key=rank.get)
        return dist, first

    def run(self, ambiguous):
        nodes = self.plan["nodes"]
        order = self.order
        tables = {}
        for name in self.routers:
            table = tables[name] = self._router_table(name, ambiguous)
            dists, hops = table[0], table[1]
            via = self.neighbours[name]
            routers = self.routers
            nodes[name]["routes"].extend(
                {"dst": order[i], "via": via[routers[hops[i]]]}
                for i, hop in enumerate(dists) if 0 < hop < UNREACHABLE)
        for name in sorted(self.routed, key=name_key):
            routed = self.routed[name]
            if len(routed) > 1:
                nodes[name]["routes"].extend(self._host_routes(name, routed, tables, ambiguous))

    def _router_table(self, name, ambiguous):
        """Per destination (in order): hop count (0: connected), rank of the first hop and
        the domain reached; plus the destinations reachable at two sites."""
        dist, first = self._search(name)
        connected = self.connected.get(name, ())
        count = len(self.order)
        dists, hops, domains, unsure = [UNREACHABLE] * count, [None] * count, [None] * count, set()
        for i, dst in enumerate(self.order):
            sites = self.sites[dst]
            if dst in connected:
                dists[i] = 0
                domains[i] = next((d for d, (_s, routers) in sites.items() if name in routers), None)
                continue
            reach = {}
            for domain, (_segments, routers) in sites.items():
                for router in routers:
                    if router in dist:
                        candidate = (dist[router], first[router])
                        if domain not in reach or candidate < reach[domain]:
                            reach[domain] = candidate
            if len(reach) > 1:
                key = (dst, tuple(tuple(sites[d][0]) for d in reach))
                ambiguous.setdefault(key, []).append(name)
                unsure.add(i)
            elif reach:
                domain, (dists[i], hops[i]) = next(iter(reach.items()))
                domains[i] = domain
        return dists, hops, domains, unsure

    def _host_routes(self, name, routed, tables, ambiguous):
        """Routes of a host with several routed interfaces: where a router other than the
        gateway is fewer hops from a destination (ties: the gateway, then name order)."""
        gateway = self.plan["nodes"][name]["gateway"][self.family]
        candidates = {}
        for ifname in sorted(routed, key=name_key):
            for router, via in routed[ifname]:
                candidates.setdefault(router, via)
        count = len(self.order)
        best = [UNREACHABLE] * count
        for router, via in candidates.items():
            if via == gateway:
                best = list(tables[router][0])
        chosen = [None] * count
        for router in sorted(candidates, key=self.rank.get):
            via = candidates[router]
            if via == gateway:
                continue
            dists = tables[router][0]
            for i in [i for i, (old, new) in enumerate(zip(best, dists)) if new < old]:
                best[i] = dists[i]
                chosen[i] = via
        skip = set(self.connected_index.get(name, ()))
        for router in candidates:
            skip.update(tables[router][3])
        for i in self.multisite:
            domains = {tables[router][2][i] for router in candidates
                       if tables[router][0][i] < UNREACHABLE} - {None}
            if len(domains) > 1 and i not in skip:
                sites = self.sites[self.order[i]]
                key = (self.order[i], tuple(tuple(sites[d][0]) for d in sites if d in domains))
                ambiguous.setdefault(key, []).append(name)
                skip.add(i)
        order = self.order
        return [{"dst": order[i], "via": via} for i, via in enumerate(chosen)
                if via is not None and i not in skip]
