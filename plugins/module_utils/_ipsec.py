# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""IPsec connections (strongSwan) derived from the lab's plan and the topology's ``vpn`` section.

The ``vpn`` section names tunnels; each joins exactly two nodes of the plan::

    vpn:
      site-a-b:                      # tunnel name: letters, digits, "-" and "_"
        mode: site-to-site           # host-to-host | site-to-site (required)
        peers: [gw1, gw2]            # two different nodes; "node:ifname" picks the address used
        family: ipv4                 # ipv4 | ipv6 (default ipv4)
        auth: psk                    # psk | pubkey (default psk)
        proposals: aes256-sha256-modp3072    # IKE proposals (default DEFAULT_PROPOSALS)
        esp_proposals: aes256-sha256         # ESP proposals (default DEFAULT_ESP_PROPOSALS)
        local_ts: [10.1.0.0/24]      # optional: what the first peer protects
        remote_ts: [10.2.0.0/24]     # optional: what the second peer protects

Rules:

* a peer's address (of the tunnel's family) is the one on the interface the peer names
  (``gw1:eth3``); else on the segment the two peers share (the first in name order whose two
  interfaces both have an address of the family); else the tunnel is an error;
* traffic selectors: host-to-host protects the two peer addresses (``/32`` or ``/128``);
  site-to-site protects, for each peer, the prefixes (of the family) of the ``lan`` segments it
  is on, leaving out the one its IKE address is on and those both peers are on (they reach each
  other there without the tunnel);
  ``local_ts`` / ``remote_ts`` replace the first / the second peer's selectors (either mode);
* proposals are strongSwan proposal strings, one per list item or comma separated;
* IKE identities are the node names (the certificates of ``auth: pubkey`` carry them as
  subjectAltName);
* both peers trap (``start_action: trap``): while charon runs, traffic that needs the tunnel is
  held (and, with kernel ESP, brings it up); while it does not, the ipsec role's fail-closed rules
  hold it (roles/ipsec/README.md); the first peer is the ``initiator``, which the ipsec role also
  initiates once deployed (strongSwan 5.9 has no ``trap|start``, and a ``start`` that reaches a
  peer whose configuration is not loaded yet is not retried).

Every tunnel is checked on every call, whatever the node asked for; errors are collected, then
raised together as one ``IpsecError`` whose lines each name the tunnel.

``connections(plan, vpn, node)`` returns the node's connections (tunnel name order)::

    - name: site-a-b
      mode: site-to-site
      family: ipv4
      peer: gw2
      initiator: true
      start_action: trap
      local_addr: 10.0.1.1
      remote_addr: 10.0.1.2
      local_ts: [192.168.1.0/24]
      remote_ts: [192.168.4.0/24]
      local_id: gw1
      remote_id: gw2
      auth: psk
      proposals: [aes256-sha256-modp3072]
      esp_proposals: [aes256-sha256]
"""

from __future__ import annotations

import ipaddress
import re

MODES = ("host-to-host", "site-to-site")
FAMILIES = ("ipv4", "ipv6")
AUTHS = ("psk", "pubkey")
KEYS = ("mode", "peers", "family", "auth", "proposals", "esp_proposals", "local_ts", "remote_ts")
# AES-CBC + SHA-256: in every kernel's crypto and in libipsec (GCM is missing from some kernels).
DEFAULT_PROPOSALS = ("aes256-sha256-modp3072",)
DEFAULT_ESP_PROPOSALS = ("aes256-sha256",)
HOST_PREFIX = {"ipv4": 32, "ipv6": 128}
VERSION = {"ipv4": 4, "ipv6": 6}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PROPOSAL = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class IpsecError(ValueError):
    """One or more reasons why the vpn section cannot be turned into connections, one per line."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _proposals(tunnel, key, value, default, errors):
    if value is None:
        return list(default)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        errors.append("tunnel %s: %s must be a proposal string or a list of them" % (tunnel, key))
        return []
    proposals = [p.strip() for item in items for p in item.split(",")]
    for proposal in proposals:
        if not _PROPOSAL.match(proposal):
            errors.append("tunnel %s: %s: %r is not a strongSwan proposal (e.g. aes256-sha256-modp3072)"
                          % (tunnel, key, proposal))
    return proposals


def _selectors(tunnel, key, value, family, errors):
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        errors.append("tunnel %s: %s must be a prefix or a non-empty list of prefixes" % (tunnel, key))
        return []
    prefixes = []
    for item in items:
        try:
            network = ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            errors.append("tunnel %s: %s: %r is not a prefix" % (tunnel, key, item))
            continue
        if network.version != VERSION[family]:
            errors.append("tunnel %s: %s: %s is not an %s prefix" % (tunnel, key, item, family))
        elif ipaddress.ip_interface(str(item)).ip != network.network_address:
            errors.append("tunnel %s: %s: %s has host bits set (the prefix is %s)" % (tunnel, key, item, network))
        else:
            prefixes.append(str(network))
    return prefixes


def _parse_peers(tunnel, peers, plan_nodes, errors):
    """[(node, ifname or None), ...] for a well-formed peers list, else None."""
    if not isinstance(peers, list) or len(peers) != 2 or not all(isinstance(p, str) for p in peers):
        errors.append("tunnel %s: peers must be a list of exactly two nodes (node or node:ifname)" % tunnel)
        return None
    parsed = []
    for peer in peers:
        node, _sep, ifname = peer.partition(":")
        if node not in plan_nodes:
            errors.append("tunnel %s: peer %s is not a node of the plan" % (tunnel, node))
            continue
        if ifname and ifname not in plan_nodes[node]["interfaces"]:
            errors.append("tunnel %s: peer %s has no interface %s (it has: %s)"
                          % (tunnel, node, ifname, ", ".join(sorted(plan_nodes[node]["interfaces"])) or "none"))
            continue
        parsed.append((node, ifname or None))
    if len(parsed) == 2 and parsed[0][0] == parsed[1][0]:
        errors.append("tunnel %s: peers must be two different nodes (both are %s)" % (tunnel, parsed[0][0]))
        return None
    return parsed if len(parsed) == 2 else None


def _segments_of(node):
    """Segment name -> interface name of a plan node."""
    return {iface["segment"]: ifname for ifname, iface in sorted(node["interfaces"].items())}


def _bare(address):
    return address.split("/")[0] if address else None


def _peer_addresses(tunnel, peers, plan_nodes, family, errors):
    """(address, segment) of each peer, (None, None) where none is found (an error is recorded)."""
    seg_a, seg_b = (_segments_of(plan_nodes[node]) for node, _ifname in peers)
    shared = None
    for segment in sorted(set(seg_a) & set(seg_b)):
        if plan_nodes[peers[0][0]]["interfaces"][seg_a[segment]][family] and \
                plan_nodes[peers[1][0]]["interfaces"][seg_b[segment]][family]:
            shared = segment
            break
    result = []
    for (node, ifname), segs in zip(peers, (seg_a, seg_b)):
        other = peers[1][0] if node == peers[0][0] else peers[0][0]
        if ifname:
            address = plan_nodes[node]["interfaces"][ifname][family]
            if not address:
                errors.append("tunnel %s: peer %s:%s has no %s address" % (tunnel, node, ifname, family))
            result.append((_bare(address), plan_nodes[node]["interfaces"][ifname]["segment"]))
        elif shared:
            result.append((_bare(plan_nodes[node]["interfaces"][segs[shared]][family]), shared))
        else:
            errors.append("tunnel %s: peer %s shares no segment with %s where both have an %s address; "
                          "name the interface to use as %s:<ifname>" % (tunnel, node, other, family, node))
            result.append((None, None))
    return result


def _lan_prefixes(plan, node, other, family, outside):
    """Prefixes of the node's lan segments but the one its IKE address is on (outside) and those
    the other peer is on too."""
    mine, theirs = _segments_of(plan["nodes"][node]), _segments_of(plan["nodes"][other])
    prefixes = set()
    for segment in mine:
        data = plan["segments"].get(segment) or {}
        if segment != outside and segment not in theirs and data.get("type") == "lan" and data.get(family):
            prefixes.add(str(ipaddress.ip_network(data[family])))
    return sorted(prefixes, key=ipaddress.ip_network)


def _tunnel(plan, name, spec, errors):
    """The tunnel as seen from its first peer, or None when it has errors (recorded)."""
    if not isinstance(name, str) or not _NAME.match(name):
        errors.append("tunnel %r: the name must be letters, digits, '-' and '_', starting with a letter or digit"
                      % (name,))
        return None
    if not isinstance(spec, dict):
        errors.append("tunnel %s: must be a mapping (mode, peers, ...)" % name)
        return None
    count = len(errors)
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        errors.append("tunnel %s: unknown key(s) %s (known: %s)" % (name, ", ".join(map(str, unknown)), ", ".join(KEYS)))
    mode = spec.get("mode")
    if mode not in MODES:
        errors.append("tunnel %s: mode must be one of %s, not %r" % (name, ", ".join(MODES), mode))
    family = spec.get("family", "ipv4")
    if family not in FAMILIES:
        errors.append("tunnel %s: family must be one of %s, not %r" % (name, ", ".join(FAMILIES), family))
        family = None
    auth = spec.get("auth", "psk")
    if auth not in AUTHS:
        errors.append("tunnel %s: auth must be one of %s, not %r" % (name, ", ".join(AUTHS), auth))
    proposals = _proposals(name, "proposals", spec.get("proposals"), DEFAULT_PROPOSALS, errors)
    esp_proposals = _proposals(name, "esp_proposals", spec.get("esp_proposals"), DEFAULT_ESP_PROPOSALS, errors)
    peers = _parse_peers(name, spec.get("peers"), plan["nodes"], errors)
    if mode not in MODES or family is None or peers is None:
        return None
    overrides = {}
    for key in ("local_ts", "remote_ts"):
        if spec.get(key) is not None:
            overrides[key] = _selectors(name, key, spec[key], family, errors)
    addresses, outsides = zip(*_peer_addresses(name, peers, plan["nodes"], family, errors))
    selectors = []
    for index, key in enumerate(("local_ts", "remote_ts")):
        node, other = peers[index][0], peers[1 - index][0]
        if key in overrides:
            selectors.append(overrides[key])
        elif mode == "host-to-host":
            selectors.append(["%s/%d" % (addresses[index], HOST_PREFIX[family])] if addresses[index] else [])
        else:
            lans = _lan_prefixes(plan, node, other, family, outsides[index])
            if not lans:
                errors.append("tunnel %s: peer %s is on no lan segment with %s prefixes (other than its IKE "
                              "address's and those it shares with %s); give the tunnel's %s"
                              % (name, node, family, other, key))
            selectors.append(lans)
    if len(errors) > count:
        return None
    return {
        "name": name, "mode": mode, "family": family, "auth": auth,
        "peers": [node for node, _ifname in peers], "addresses": list(addresses), "selectors": selectors,
        "proposals": proposals, "esp_proposals": esp_proposals,
    }


def tunnels(plan, vpn):
    """Every tunnel of the vpn section, checked; raises IpsecError listing all problems."""
    if vpn is None:
        return []
    if not isinstance(vpn, dict):
        raise IpsecError(["vpn must be a mapping of tunnel names to tunnels"])
    errors = []
    result = []
    for name in sorted(vpn, key=str):
        tunnel = _tunnel(plan, name, vpn[name], errors)
        if tunnel:
            result.append(tunnel)
    if errors:
        raise IpsecError(errors)
    return result


def connections(plan, vpn, node):
    """strongSwan connections of one node (see the module docstring)."""
    if node not in plan["nodes"]:
        raise IpsecError(["node %s is not in the plan (nodes: %s)" % (node, ", ".join(sorted(plan["nodes"])))])
    result = []
    for tunnel in tunnels(plan, vpn):
        if node not in tunnel["peers"]:
            continue
        me = tunnel["peers"].index(node)
        other = 1 - me
        result.append({
            "name": tunnel["name"],
            "mode": tunnel["mode"],
            "family": tunnel["family"],
            "peer": tunnel["peers"][other],
            "initiator": me == 0,
            "start_action": "trap",
            "local_addr": tunnel["addresses"][me],
            "remote_addr": tunnel["addresses"][other],
            "local_ts": list(tunnel["selectors"][me]),
            "remote_ts": list(tunnel["selectors"][other]),
            "local_id": node,
            "remote_id": tunnel["peers"][other],
            "auth": tunnel["auth"],
            "proposals": list(tunnel["proposals"]),
            "esp_proposals": list(tunnel["esp_proposals"]),
        })
    return result


def _address_in(plan, node, prefixes):
    """(interface, bare address) of ``node`` inside one of ``prefixes``, or (None, None)."""
    nets = [ipaddress.ip_network(p, strict=False) for p in prefixes]
    for ifname, entry in sorted(plan["nodes"][node]["interfaces"].items()):
        for key in ("ipv4", "ipv6"):
            if entry.get(key):
                address = ipaddress.ip_interface(entry[key]).ip
                if any(address.version == net.version and address in net for net in nets):
                    return ifname, str(address)
    return None, None


def probes(plan, vpn):
    """How to check each tunnel from its first peer: ping from an address the tunnel protects on
    this side to one it protects on the other, while capturing on the interface that carries IKE.

    Returns one dict per tunnel: name, node, peer, transit (interface of the local IKE address),
    source, destination (bare addresses; null when no address of a node lies in the selectors).
    """
    result = []
    for tunnel in tunnels(plan, vpn):
        node, peer = tunnel["peers"]
        transit, _addr = _address_in(plan, node, [tunnel["addresses"][0]])
        _ifname, source = _address_in(plan, node, tunnel["selectors"][0])
        _ifname, destination = _address_in(plan, peer, tunnel["selectors"][1])
        result.append({"name": tunnel["name"], "node": node, "peer": peer, "family": tunnel["family"],
                       "transit": transit, "source": source, "destination": destination})
    return result
