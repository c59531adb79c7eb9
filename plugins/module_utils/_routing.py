# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Static routes of a lab (``routing: static``), computed from its address plan.

Per IP family, routers form a graph: two routers are neighbours when they share a segment on which
both have an address of that family. Every segment prefix and router loopback is a destination; a
destination's *site* is the L2 domain it lives on (its segment; vxlan segments with the same VNI are
one domain) and the routers attached to it there. An address belongs to the longest destination
prefix that holds it.

- A *stub* router, one with a single neighbour (its upstream) that has other neighbours, gets a
  default route (``dst: 0.0.0.0/0`` or ``::/0``) via its upstream: whatever it is not connected
  to lies behind that neighbour. It gets a route of its own only for a destination inside one
  of its connected prefixes (a more specific prefix pinned elsewhere), which the connected
  prefix would otherwise catch. Two routers that are each other's only neighbour are not stubs:
  defaults pointing at each other would bounce packets to unknown destinations back and forth.
- Any other router forwards every destination it is not directly connected to along a shortest
  path (breadth-first over routers), and its routes are *summarised*: where one neighbour is on a
  shortest path to every destination inside an aligned prefix that needs a route, the prefix
  holds no address outside the lab's destinations and none the router cannot reach, one route
  for the smallest such prefix holding them replaces theirs. Longest-prefix match keeps the
  router's connected prefixes inside it winning. The next hop is the neighbour first in name
  order among those that serve every destination of the route (for a destination routed alone:
  first in name order among its shortest paths); ``via`` is that neighbour's address on the first
  segment (name order) they share.
- A host uses its default gateway. Only a host with more than one routed interface (one whose
  segment has a router with an address of the family) gets routes: where a router other than
  its gateway is fewer hops from a destination, that router (ties go to the gateway, then to
  name order); summarised the same way, except that a host's summary may hold addresses outside
  the lab's destinations (the router it picks drops them, as its gateway would).
- A destination prefix reachable at two sites (the same prefix pinned on separate segments)
  from a node that needs a route to it is left out of that node's routes (the planner never
  guesses which one was meant); ``static_routes`` returns one note per prefix and set of sites
  naming the prefix, the segments and the nodes. A stub router or a host needs no route where
  its upstream or gateway decides. Such prefixes, prefixes nested in one another and prefixes
  of a segment where a router has no address of the family are routed one by one, never
  summarised.

Summaries change no path's length nor where a packet ends: for every address, longest-prefix
match over a node's routes picks a next hop on a shortest path to the destination the address
belongs to, and picks none where the route of every destination alone would pick none. So no
route ever points back where it came from: every hop brings a packet nearer its destination,
only stubs have a default, and their upstream sends them nothing but what they are connected to.

The cost follows the size of the tables, not routers x destinations. Destinations whose sites
have the same routers are reached alike: one *group* each, known by a bit. One sweep over the
router graph, level by level (what a router reaches in d hops is what its neighbours reach in
d - 1), gives every router, per neighbour, the bit set of the groups that neighbour is a
shortest-path next hop for. Destinations in address order form a binary trie that every router
shares; a router walks it from the top and stops where one neighbour serves a whole prefix.
"""

from __future__ import annotations

import socket
from bisect import bisect_left, bisect_right

from ansible_collections.vnet.lab.plugins.module_utils._topology import (
    FAMILIES,
    KINDS,
    name_key,
    shorten,
    with_len,
)

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_BITS = {4: 32, 6: 128}
DEFAULT = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}


def _prefix_key(version, text):
    address, _sep, plen = text.partition("/")
    return int.from_bytes(socket.inet_pton(_AF[version], address), "big"), int(plen)


def static_routes(plan):
    """Fill in ``routes`` of every node of ``plan``; return the notes on the prefixes left out."""
    nodes = plan["nodes"]
    routers = sorted((n for n, e in nodes.items() if KINDS[e["kind"]].forwards), key=name_key)
    groups = {}                                  # routers of a site -> bit, for both families
    families = [_FamilyRoutes(plan, family, version, routers, groups) for family, version in FAMILIES]
    _sweep(families)
    notes = []
    for routes in families:
        ambiguous = routes.run()
        for (dst, sites), names in ambiguous.items():
            segments = [name for site in sites for name in site]
            names = sorted(set(names), key=name_key)
            notes.append("routing: prefix %s is reachable at %d sites (segments %s) from %s: left out "
                         "of %s static routes; pin distinct prefixes or route it yourself" % (
                             dst, len(sites), shorten(segments, limit=len(segments)), shorten(names),
                             "their" if len(names) > 1 else "its"))
    return notes


def _sweep(families):
    """Give each family its shortest-path next hops; families with the same router graph (the
    usual dual-stack lab) share one sweep."""
    pending = list(families)
    while pending:
        alike = [f for f in pending if f.neighbours == pending[0].neighbours]
        pending = [f for f in pending if f.neighbours != pending[0].neighbours]
        routers = len(alike[0].neighbours)
        start = [0] * routers
        virtual = {}                             # router ranks -> index of the source
        for family in alike:
            for router, bits in enumerate(family.start):
                start[router] |= bits
            for ranks in family.virtual:
                virtual.setdefault(ranks, routers + len(virtual))
        sweep = _Sweep(alike[0].neighbours, start, list(virtual))
        for family in alike:
            family.sweep, family.sources = sweep, virtual


class _Sweep:
    """Shortest paths from every router at once, as bit sets of groups.

    Sources are the routers (by rank), then the *virtual* ones: the routers a host may send to
    when they are not all neighbours of each other, one hop before them and no one's neighbour.
    ``reach[s]``: the groups source ``s`` reaches; ``good[s][k]``: those its ``k``-th neighbour
    (router of a virtual source) is on a shortest path to, as the next hop (a router on a site
    of a group is 0 hops from it)."""

    def __init__(self, neighbours, start, virtual):
        routers = len(neighbours)
        hops = list(neighbours) + list(virtual)  # source -> its next hops
        watchers = [list(nbrs) for nbrs in neighbours]   # router -> sources it is a next hop of
        for source, ranks in enumerate(virtual, routers):
            for router in ranks:
                watchers[router].append(source)
        self.start = start
        reach = list(start) + [0] * len(virtual)
        good = [[0] * len(nexts) for nexts in hops]
        changed = [router for router, bits in enumerate(start) if bits]
        while changed:
            # What a source reaches in d hops, not in fewer, its next hops reached in d - 1.
            before = list(reach)
            active = {source for router in changed for source in watchers[router]}
            changed = []
            for source in active:
                nexts = hops[source]
                old = acc = before[source]
                for n in nexts:
                    acc |= before[n]
                if acc != old:
                    new = acc ^ old
                    found = good[source]
                    for k, n in enumerate(nexts):
                        hit = new & before[n]
                        if hit:
                            found[k] |= hit
                    reach[source] = acc
                    if source < routers:
                        changed.append(source)
        self.reach, self.good = reach, good


class _Node:
    """An aligned prefix of the destinations' trie (path-compressed: only where they branch)."""

    __slots__ = ("key", "exact", "children", "groups", "full", "plain", "text")

    def __init__(self, key):
        self.key = key            # (first address as an integer, length)
        self.exact = None         # the destination equal to it (its index)
        self.children = ()
        self.groups = 0           # bit set of the groups of the destinations inside
        self.full = False         # every address inside belongs to a destination inside
        self.plain = False        # summarisable: nothing nested, ambiguous or odd inside
        self.text = None          # its prefix, as the plan writes it (known once needed)


class _FamilyRoutes:
    """Routes of one family. Routers are known by their rank in name order, destinations by
    their index in address order."""

    def __init__(self, plan, family, version, routers, groups):
        self.plan = plan
        self.family = family
        self.version = version
        self.routers = routers
        self.rank = {name: index for index, name in enumerate(routers)}
        self.via = [{} for _name in routers]     # rank -> {neighbour rank: its address}
        self.connected = {}                      # node -> {prefix}
        self.sites = {}                          # prefix -> {domain: ([segment], [router rank])}
        self.routed = {}                         # host -> {ifname: [(router rank, via)]}
        self.odd = set()                         # prefixes of a segment with a router without address
        self._collect()
        self.neighbours = [sorted(via) for via in self.via]
        keyed = sorted((_prefix_key(version, dst), dst) for dst in self.sites)
        self.order = [dst for _key, dst in keyed]
        self.keys = [key for key, _dst in keyed]      # (address as an integer, length)
        self.bits = _BITS[version]
        index = {dst: i for i, dst in enumerate(self.order)}
        self.connected_index = {node: {index[dst] for dst in dsts}
                                for node, dsts in self.connected.items()}
        self.site_group = []                     # destination -> its group; None: several sites
        self.multisite = {}                      # destination -> [(domain, group)]
        self.start = [0] * len(routers)          # router -> groups it is at a site of
        self.everything = 0                      # the groups of this family
        for dst in self.order:
            sites = self.sites[dst]
            if len(sites) == 1:
                (_segments, members), = sites.values()
                self.site_group.append(self._group(groups, members))
            else:
                self.site_group.append(None)
                self.multisite[len(self.site_group) - 1] = [
                    (domain, self._group(groups, members)) for domain, (_segments, members) in sites.items()]
        self.special = set(self.multisite) | {index[dst] for dst in self.odd}
        self.trie = self._build(0, len(self.keys), False) if self.keys else None
        self.hosts = []                          # (name, gateway rank, router ranks, {rank: via})
        self.virtual = set()                     # router ranks of hosts not all neighbours
        for name in sorted(self.routed, key=name_key):
            routed = self.routed[name]
            if len(routed) < 2:
                continue
            gateway = self.plan["nodes"][name]["gateway"][self.family]
            candidates = {}                      # router rank -> its address, for this host
            for ifname in sorted(routed, key=name_key):
                for router, via in routed[ifname]:
                    candidates.setdefault(router, via)
            base = next((router for router, via in candidates.items() if via == gateway), None)
            ranks = tuple(sorted(candidates))
            if any(b not in self.via[a] for a in ranks for b in ranks if a != b):
                self.virtual.add(ranks)
            self.hosts.append((name, base, ranks, candidates))
        self.sweep = None
        self.sources = {}                        # router ranks of a virtual source -> its index

    def _group(self, groups, members):
        group = groups.setdefault(tuple(sorted(members)), len(groups))
        bit = 1 << group
        if not self.everything & bit:
            self.everything |= bit
            for router in members:
                self.start[router] |= bit
        return group

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
                for node, _ifname, address in ends:
                    self.connected.setdefault(node, set()).add(prefix)
                    if node in rank and not address:
                        self.odd.add(prefix)
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

    def _build(self, lo, hi, inside):
        """The trie node of destinations ``lo`` to ``hi`` (in order): the longest prefix holding
        them all; ``inside``: within a destination."""
        keys, bits = self.keys, self.bits
        first, length = keys[lo]
        length = min(length, bits - (first ^ keys[hi - 1][0]).bit_length())
        node = _Node((first >> (bits - length) << (bits - length), length))
        if keys[lo] == node.key:
            node.exact = lo
            node.text = self.order[lo]
            lo += 1
            group = self.site_group[node.exact]
            if group is not None:
                node.groups = 1 << group
        if lo < hi:
            middle = bisect_left(keys, (node.key[0] | 1 << (bits - length - 1), 0), lo, hi)
            inner = inside or node.exact is not None
            node.children = tuple(self._build(a, b, inner) for a, b in ((lo, middle), (middle, hi)) if a < b)
            for child in node.children:
                node.groups |= child.groups
        children = node.children
        node.full = node.exact is not None or (
            len(children) == 2 and all(c.full and c.key[1] == length + 1 for c in children))
        node.plain = not inside and all(c.plain for c in children) and (
            node.exact is None or (not children and node.exact not in self.special))
        return node

    def _text(self, node):
        """The prefix of a summary, written once."""
        node.text = with_len(self.version, *node.key)
        return node.text

    def run(self):
        """Fill in the routes of this family; return {(prefix, sites): [node]} of the prefixes
        left out because they are reachable at several sites."""
        nodes = self.plan["nodes"]
        ambiguous = {}
        if self.trie is None:
            return ambiguous
        for router, name in enumerate(self.routers):
            neighbours = self.neighbours[router]
            if not neighbours:
                continue
            if len(neighbours) == 1 and len(self.neighbours[neighbours[0]]) > 1:
                routes = self._stub_routes(router, ambiguous)
            else:
                routes = self._table(router, ambiguous)
            nodes[name]["routes"].extend(routes)
        # Hosts with the same gateway and routers share the work; a host's own segments, the
        # most any of them has, decide which summaries to look into (``own`` below).
        shared, most = {}, {}
        for name, base, ranks, _candidates in self.hosts:
            key = (base, ranks)
            most[key] = max(most.get(key, 0), len(self.connected_index.get(name, ())))
        for name, base, ranks, candidates in self.hosts:
            key = (base, ranks)
            if key not in shared:
                shared[key] = self._host_table(base, ranks, most[key])
            entries, split = shared[key]
            own = self.connected_index.get(name, frozenset())
            for i, domains in split:
                if i not in own:
                    self._note(ambiguous, i, domains, name)
            # A host is connected to its own segments: no route to them, nor a summary of them alone.
            nodes[name]["routes"].extend({"dst": dst, "via": candidates[ranks[k]]} for dst, k, i, few in entries
                                         if i not in own and not (few and few <= own))
        return ambiguous

    def _stub_routes(self, router, ambiguous):
        upstream = self.via[router][self.neighbours[router][0]]
        routes = [{"dst": DEFAULT[self.family], "via": upstream}]
        name = self.routers[router]
        reach = self.sweep.reach[router]
        far = reach ^ self.sweep.start[router]
        good = self.sweep.good[router]
        for i in self._inside_connected(name):
            if self._next_hop(i, name, reach, far, good, ambiguous) is not None:
                routes.append({"dst": self.order[i], "via": upstream})
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

    def _next_hop(self, i, name, reach, far, good, ambiguous):
        """Index of the neighbour first in name order on a shortest path from router ``name``
        to destination ``i``; None for none (connected, unreachable, at several sites)."""
        if i in self.connected_index.get(name, ()):
            return None
        group = self.site_group[i]
        if group is None:
            group = self._one_site(i, name, reach, ambiguous)
            if group is None:
                return None
        bit = 1 << group
        if not far & bit:
            return None
        return next(k for k, hops in enumerate(good) if hops & bit)

    def _one_site(self, i, name, reach, ambiguous):
        """The group of the only site of multi-site destination ``i`` that a router reaching
        ``reach`` reaches; None when it reaches none, or several (noted for ``name``)."""
        reached = [(domain, group) for domain, group in self.multisite[i] if reach >> group & 1]
        if len(reached) > 1:
            self._note(ambiguous, i, [domain for domain, _group in reached], name)
            return None
        return reached[0][1] if reached else None

    def _note(self, ambiguous, i, domains, name):
        dst = self.order[i]
        sites = self.sites[dst]
        key = (dst, tuple(tuple(sites[domain][0]) for domain in sites if domain in domains))
        ambiguous.setdefault(key, []).append(name)

    def _table(self, router, ambiguous):
        """Routes of a router that is not a stub, summarised."""
        name = self.routers[router]
        reach = self.sweep.reach[router]
        far = reach ^ self.sweep.start[router]       # reached, not connected: needs a route
        unreached = self.everything ^ reach
        good = self.sweep.good[router]
        bad = [far ^ hops for hops in good]            # per neighbour: groups it must not carry
        via = [self.via[router][n] for n in self.neighbours[router]]
        hops = list(zip(bad, via))
        routes = []

        def walk(node):
            if not node.plain:
                if node.exact is not None:
                    k = self._next_hop(node.exact, name, reach, far, good, ambiguous)
                    if k is not None:
                        routes.append({"dst": node.text, "via": via[k]})
                for child in node.children:
                    walk(child)
                return
            need = node.groups & far
            if not need:
                return
            if node.full and not node.groups & unreached:
                for wrong, gateway in hops:
                    if not need & wrong:
                        if node.children:
                            node = _narrow(node, far)
                        routes.append({"dst": node.text or self._text(node), "via": gateway})
                        return
            for child in node.children:
                if child.groups & far:
                    walk(child)

        walk(self.trie)
        return routes

    def _host_table(self, base, ranks, most):
        """Routes of the hosts whose gateway is router ``base`` (None: not one of theirs) and
        that may send to routers ``ranks``: [(dst, index in ranks, destination or None, the
        destinations of a summary that need it when they are ``most`` at most, else None)] and
        the destinations those routers reach at different sites, [(destination, domains)]."""
        sweep = self.sweep
        if ranks in self.sources:
            source = self.sources[ranks]
            far = sweep.reach[source]
            bad = [far ^ hops for hops in sweep.good[source]]
        else:
            # Neighbours are one hop apart at most: one is farther than the nearest exactly
            # when another is its next hop.
            far = 0
            bad = []
            for router in ranks:
                far |= sweep.reach[router]
                position = {n: k for k, n in enumerate(self.neighbours[router])}
                wrong = 0
                for other in ranks:
                    if other != router:
                        wrong |= sweep.good[router][position[other]]
                bad.append(wrong)
        b = ranks.index(base) if base is not None else None
        needs = bad[b] if b is not None else far       # groups the gateway does not serve
        entries, split = [], []

        def walk(node):
            if not node.plain:
                if node.exact is not None:
                    k = self._host_choice(node.exact, b, ranks, far, bad, split)
                    if k is not None:
                        entries.append((node.text, k, node.exact, None))
                for child in node.children:
                    walk(child)
                return
            if not node.groups & needs:
                return
            reached = node.groups & far
            for k, wrong in enumerate(bad):
                if not reached & wrong:
                    if node.children:
                        node = _narrow(node, needs)
                    few = _destinations(node, needs, most) if node.exact is None and most > 1 else None
                    entries.append((node.text or self._text(node), k, node.exact, few))
                    return
            for child in node.children:
                if child.groups & needs:
                    walk(child)

        walk(self.trie)
        return entries, split

    def _host_choice(self, i, b, ranks, far, bad, split):
        """Index in ``ranks`` of the router a host with gateway ``ranks[b]`` sends destination
        ``i`` to when it is not its gateway; None for its gateway or none. A destination its
        routers reach at different sites goes to ``split``; one a router reaches at several,
        nowhere (that router decides)."""
        sites = self.sites[self.order[i]]
        status = []                 # per router: (0 on a site, else 1; domain; group) or None
        for router in ranks:
            if i in self.connected_index.get(self.routers[router], ()):
                domain = next((d for d, (_segments, members) in sites.items() if router in members), None)
                status.append((0, domain, None))
                continue
            reach = self.sweep.reach[router]
            group = self.site_group[i]
            if group is not None:
                status.append((1, next(iter(sites)), group) if reach >> group & 1 else None)
                continue
            reached = [(domain, g) for domain, g in self.multisite[i] if reach >> g & 1]
            if len(reached) > 1:
                return None
            status.append((1, reached[0][0], reached[0][1]) if reached else None)
        domains = {s[1] for s in status if s is not None} - {None}
        if len(domains) > 1:
            split.append((i, domains))
            return None
        nearest = [k for k, s in enumerate(status) if s is not None and s[0] == 0]
        if not nearest:
            group = next((s[2] for s in status if s is not None), None)
            if group is None:
                return None
            nearest = [k for k, wrong in enumerate(bad) if far >> group & 1 and not wrong >> group & 1]
        if b in nearest or not nearest:
            return None
        return nearest[0]


def _narrow(node, needs):
    """The smallest node under ``node`` that holds every destination of a group in ``needs``."""
    while node.children:
        inner = [child for child in node.children if child.groups & needs]
        if len(inner) != 1:
            break
        node = inner[0]
    return node


def _destinations(node, needs, most):
    """The destinations under plain ``node`` of a group in ``needs``, as a set; None for more
    than ``most``."""
    found, stack = set(), [node]
    while stack:
        node = stack.pop()
        if node.exact is not None:
            found.add(node.exact)
            if len(found) > most:
                return None
        stack.extend(child for child in node.children if child.groups & needs)
    return frozenset(found)
