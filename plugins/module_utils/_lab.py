# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Plain data helpers that turn a lab's plan into Docker parameters, tables and pictures.

Everything here takes the plan (see docs/contract.md) and returns plain data, so the roles stay
declarative and unit tests call these functions without Docker or Ansible.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath

from ansible_collections.vnet.lab.plugins.module_utils import _registry, _voip, _web
from ansible_collections.vnet.lab.plugins.module_utils._placement import engine_nodes, vpn_peers

# The one root of every lab's files on a target: plans, service configurations, secrets, PKI,
# reports; <STATE_ROOT>/<lab> is what taking a lab down removes. The variable
# vnet_lab_state_root (lookup vnet.lab.state_dir) replaces it for every role and playbook at once.
STATE_ROOT = "/var/lib/vnet/labs"

# Per node kind: what the node's container needs from Docker. Kinds are a table, not if/elif.
KIND_SYSCTLS = {
    "router": {
        "net.ipv4.ip_forward": "1",
        "net.ipv6.conf.all.forwarding": "1",
        "net.ipv6.conf.all.disable_ipv6": "0",
        "net.ipv6.conf.default.disable_ipv6": "0",
    },
    "host": {
        "net.ipv4.ip_forward": "0",
        "net.ipv6.conf.all.forwarding": "0",
        "net.ipv6.conf.all.disable_ipv6": "0",
        "net.ipv6.conf.default.disable_ipv6": "0",
    },
}


def prefix_of(text):
    """An IP prefix of the plan as an ``ipaddress`` network, or None."""
    try:
        return ipaddress.ip_network(str(text), strict=False) if text else None
    except ValueError:
        return None


def placeholder_clashes(segments, pool):
    """Segments whose IPv4 prefix overlaps the placeholder pool, one line each."""
    try:
        pool_net = ipaddress.IPv4Network(pool)
    except ValueError:
        return []
    lines = []
    for name in sorted(segments or {}):
        prefix = prefix_of((segments[name] or {}).get("ipv4"))
        if prefix is not None and prefix.version == 4 and prefix.overlaps(pool_net):
            lines.append("segment %s: prefix %s overlaps the placeholder pool %s, from which every lab"
                         " segment's Docker network takes its placeholder subnet: give the segment"
                         " another prefix, or the lab another pool (topology_placeholder_pool)"
                         % (name, prefix, pool_net))
    return lines


def state_dir(root, *parts):
    """``root`` joined with ``parts``: an absolute path on the target that stays under ``root``."""
    root = root or STATE_ROOT
    if not isinstance(root, str) or not posixpath.isabs(root):
        raise ValueError("the state root must be an absolute path, not %r" % (root,))
    for part in parts:
        if not isinstance(part, str) or not part or part.startswith("/") \
                or any(name in ("", ".", "..") for name in part.split("/")):
            raise ValueError("%r is not a relative path inside the state root (parts: %s)"
                             % (part, ", ".join(repr(p) for p in parts)))
    return posixpath.join(posixpath.normpath(root), *parts)


def container_name(lab, node, service=None):
    """Docker name of a node container, or of a service container on that node."""
    name = "%s-%s" % (lab, node)
    return "%s-%s" % (name, service) if service else name


def node_networks(plan, node, segments):
    """Docker networks of a node's container, in interface-name order, each with the
    placeholder address by which the node's entrypoint finds and renames the interface."""
    interfaces = plan["nodes"][node]["interfaces"]
    networks = []
    for ifname in sorted(interfaces):
        segment = interfaces[ifname]["segment"]
        docker_segment = segments[segment]
        networks.append({
            "name": docker_segment["network"],
            "ipv4_address": docker_segment["endpoints"]["%s:%s" % (node, ifname)],
        })
    return networks


def node_sysctls(plan, node, attached=0):
    """Namespaced sysctls a node's container is created with: forwarding, IPv6 on, and no duplicate
    address detection (the plan's addresses are unique on their segment and added ``nodad``; the
    link-local ones come from unique MAC addresses). Without the last, every interface's
    link-local address stays tentative for a second or two after each start, and the node cannot
    resolve its IPv6 neighbours meanwhile. An interface copies the namespace's ``default`` when it
    is made, and Docker makes the ``attached`` interfaces it starts the container with (``eth0``
    ...) before it writes the sysctls: those are named one by one."""
    sysctls = dict(KIND_SYSCTLS[plan["nodes"][node]["kind"]])
    sysctls.update({"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"})
    sysctls.update({"net.ipv6.conf.eth%d.accept_dad" % index: "0" for index in range(attached)})
    return sysctls


def _addresses(entry):
    values = [entry.get("ipv4"), entry.get("ipv6")]
    if entry.get("dhcp"):
        values = ["dhcp"] + [v for v in values if v]
    return [v for v in values if v]


def inspect_rows(plan, states=None):
    """Rows (lists of strings) of the lab's inspect table: one per node interface.

    ``states`` maps a node name to its container's state ("running", "exited", ...); a node
    missing from it is reported as "absent". In an engine's view of a lab over several engines,
    a node placed on another engine reads "on <engine>" (its state is that engine's to tell).
    """
    states = states or {}
    here = set(engine_nodes(plan))
    rows = [["node", "kind", "state", "interface", "segment", "addresses"]]
    for node in sorted(plan["nodes"]):
        entry = plan["nodes"][node]
        state = states.get(node, "absent") if node in here else "on %s" % entry.get("placement")
        first = True
        interfaces = entry["interfaces"]
        loopback = entry.get("loopback") or {}
        items = [(name, interfaces[name]) for name in sorted(interfaces)]
        if any(loopback.values()):
            items.append(("lo", dict(loopback, segment="-")))
        if not items:
            items = [("-", {"segment": "-"})]
        for ifname, iface in items:
            rows.append([
                node if first else "",
                entry["kind"] if first else "",
                state if first else "",
                ifname,
                iface.get("segment") or "-",
                " ".join(_addresses(iface)) or "-",
            ])
            first = False
    return rows


def format_table(rows):
    """Align rows of strings into a plain-text table with a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _dot_escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_id(text):
    return '"%s"' % _dot_escape(text)


def _dot_label(*lines):
    """A quoted label of several lines (Graphviz's centred line break is a literal backslash-n)."""
    return '"%s"' % "\\n".join(_dot_escape(line) for line in lines if line)


def topology_dot(plan):
    """Graphviz source of the lab: nodes (routers as boxes, hosts as ellipses), p2p segments
    as edges labelled with their prefix, LAN segments as small points joined to their nodes."""
    lines = [
        "graph %s {" % _dot_id(plan["name"]),
        '  graph [overlap=false, splines=true, fontname="Helvetica", label=%s, labelloc=t];'
        % _dot_id("lab " + plan["name"]),
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for name in sorted(plan["nodes"]):
        node = plan["nodes"][name]
        loopback = (node.get("loopback") or {}).get("ipv4")
        shape = "box" if node["kind"] == "router" else "ellipse"
        lines.append("  %s [label=%s, shape=%s];" % (_dot_id(name), _dot_label(name, loopback), shape))
    for seg_name in sorted(plan["segments"]):
        seg = plan["segments"][seg_name]
        prefixes = [p for p in (seg.get("ipv4"), seg.get("ipv6")) if p]
        ends = [endpoint.split(":", 1) for endpoint in seg["endpoints"]]
        if seg["type"] == "p2p" and len(ends) == 2:
            (a_node, a_if), (b_node, b_if) = ends
            lines.append("  %s -- %s [label=%s, taillabel=%s, headlabel=%s];" % (
                _dot_id(a_node), _dot_id(b_node), _dot_label(*prefixes), _dot_id(a_if), _dot_id(b_if)))
            continue
        hub = _dot_id("segment " + seg_name)
        lines.append("  %s [label=%s, shape=note, style=filled, fillcolor=lightyellow];" % (
            hub, _dot_label(seg_name, *prefixes)))
        for node, ifname in ends:
            lines.append("  %s -- %s [label=%s];" % (hub, _dot_id(node), _dot_id(ifname)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def node_states(containers):
    """Map node name -> container state from Docker's container list (docker_host_info's
    ``containers``), keeping node containers and leaving service containers out."""
    states = {}
    for container in containers:
        labels = container.get("Labels") or {}
        if "vnet.node" in labels and "vnet.service" not in labels:
            states[labels["vnet.node"]] = container.get("State", "unknown")
    return states


# Service roles in the order a lab brings them up (_registry.SERVICE_ROLES says why); ipsec is the
# vpn section's (its own step), monitor is a name; the hosts' roles (client) come last.
SERVICE_ORDER = _registry.roles("node")
HOST_ROLES = _registry.roles("hosts")
# Services whose users are lab hosts: a lab that runs one gives each host the HOST_ROLES.
USER_SERVICES = frozenset(name for name, entry in _registry.SERVICE_ROLES.items() if entry["users"])


def lab_services(plan, everywhere=False):
    """The service containers of a lab, in the order to bring them up: ``[{node, role}]``.

    Each node runs the roles of its ``services`` (``SERVICE_ORDER``). With ``routing: ospf``
    and no node declaring ``ospf``, every router runs it. When the lab runs a service with
    users, each host gets the ``client`` role last (its DHCP client and the user's tools).
    In an engine's view of a lab over several engines (the plan has ``engine``), the services of
    the nodes placed on that engine only, unless ``everywhere``: decided for the whole lab (a lab
    with a DHCP server on one engine gives the hosts of every engine a client), then kept.
    """
    deployments = _lab_services(plan)
    if everywhere or plan.get("engine") is None:
        return deployments
    here = set(engine_nodes(plan))
    return [deployment for deployment in deployments if deployment["node"] in here]


def _lab_services(plan):
    nodes = plan["nodes"]
    declared = {name: set(node.get("services") or {}) for name, node in nodes.items()}
    if plan.get("routing") == "ospf" and not any("ospf" in s for s in declared.values()):
        for name, node in nodes.items():
            if node["kind"] == "router":
                declared[name].add("ospf")
    deployments = [{"node": name, "role": role}
                   for role in SERVICE_ORDER for name in nodes if role in declared[name]]
    if any(declared[name] & USER_SERVICES for name in nodes):
        deployments += [{"node": name, "role": role}
                        for role in HOST_ROLES for name, node in nodes.items() if node["kind"] == "host"]
    return deployments


def lab_images(topology):
    """The images a lab needs, by name in the images role's catalogue, in build order.

    Takes the topology as written (the images are built before the plan is made) or the plan:
    ``node``, ``strongswan`` when the lab has a vpn section, then one image per service role
    of ``lab_services`` (each role's image has the role's name). An engine's view of a lab placed
    over several engines (a plan with ``engine``) needs the images of that engine's nodes only.
    """
    engine = topology.get("engine")
    images = ["node"]
    if topology.get("vpn") and (engine is None or vpn_peers(topology)):
        images += [_registry.SERVICE_ROLES[role]["image"] for role in _registry.roles("vpn")]
    nodes = {name: dict(node or {}, kind=(node or {}).get("kind"))
             for name, node in (topology.get("nodes") or {}).items()}
    for deployment in lab_services({"routing": topology.get("routing"), "nodes": nodes, "engine": engine}):
        image = _registry.SERVICE_ROLES[deployment["role"]]["image"]
        if image not in images:
            images.append(image)
    return images


def service_images():
    """The images role's catalogue entries of the service roles' images: ``{image: {context,
    description}}``, the build context of each in ``roles/images/files/<image>``."""
    return {entry["image"]: {"context": entry["image"], "description": entry["description"]}
            for entry in _registry.SERVICE_ROLES.values() if entry["image"]}


def role_vars(plan, node, role, inputs=None):
    """The variables of service role ``role`` on ``node`` of the lab: ``{<role>_<key>: value}``.

    Each key of the role's ``vars`` in ``_registry.SERVICE_ROLES`` from its source (see there);
    ``inputs`` holds the lab's inputs (``ftp_users``, ``voip_extensions``, ``web_sites``,
    ``network_mode``...), and a variable whose input is missing or ``None`` is left out, so the
    role's default applies.
    """
    inputs = inputs or {}
    service = (plan["nodes"][node].get("services") or {}).get(role) or {}
    sources = {
        "lab": lambda: plan["name"],
        "node": lambda: node,
        "plan": lambda: plan,
        "ipv4": lambda: service.get("ipv4"),
        "ipv6": lambda: service.get("ipv6"),
        "web_vhosts": lambda: _web.vhosts(plan, node, inputs.get("web_sites") or {}),
        "voip_server": lambda: _voip.server(plan, node),
    }
    found = {}
    for key, source in _registry.SERVICE_ROLES[role]["vars"].items():
        kind, _sep, argument = source.partition(":")
        if kind == "input":
            if inputs.get(argument) is None:
                continue
            value = inputs[argument]
        elif kind == "value":
            value = json.loads(argument)
        else:
            value = sources[source]()
        found["%s_%s" % (role, key)] = value
    return found


def service_addresses(plan):
    """Every service address of the lab with its DNS names, for checks from a client.

    ``[{node, service, address, names: [fqdn...], ptr}]`` in node then service name order, for
    each service that has an IPv4 address; ``ptr`` is what the address resolves back to (the
    first name, with the root's dot), ``None`` when the service has no name.
    """
    domain = plan.get("domain") or "%s.test" % plan["name"]
    entries = []
    for node_name, node in plan["nodes"].items():
        for service, spec in sorted((node.get("services") or {}).items()):
            address = (spec or {}).get("ipv4")
            if not address:
                continue
            names = ["%s.%s" % (name, domain) for name in spec.get("names") or []]
            entries.append({"node": node_name, "service": service, "address": address.split("/")[0],
                            "names": names, "ptr": names[0] + "." if names else None})
    return entries


def ospf_expectations(plan, routers):
    """What each OSPF router of ``routers`` should see once OSPF has converged (IPv4).

    ``{router: {neighbours, prefixes}}``: ``neighbours`` counts the other OSPF routers it shares
    a segment with that has no host (where hellos are sent); ``prefixes`` are the IPv4 prefixes
    of the other OSPF routers' segments and loopbacks that the router is not connected to, in
    name order of their routers, each once.
    """
    nodes = plan["nodes"]

    def connected(name):
        return {iface["segment"]: iface for iface in nodes[name]["interfaces"].values() if iface.get("ipv4")}

    def has_host(segment):
        return any(nodes[endpoint.split(":")[0]]["kind"] == "host"
                   for endpoint in plan["segments"][segment]["endpoints"])

    result = {}
    for router in routers:
        own = connected(router)
        own_prefixes = {plan["segments"][segment]["ipv4"] for segment in own}
        neighbours = 0
        prefixes = []
        for other in routers:
            if other == router:
                continue
            theirs = connected(other)
            if any(segment in own and not has_host(segment) for segment in theirs):
                neighbours += 1
            loopback = (nodes[other].get("loopback") or {}).get("ipv4")
            for prefix in [plan["segments"][segment]["ipv4"] for segment in theirs] + [loopback]:
                if prefix and prefix not in own_prefixes and prefix not in prefixes:
                    prefixes.append(prefix)
        result[router] = {"neighbours": neighbours, "prefixes": prefixes}
    return result


def name_lookups(plan):
    """One lookup per service name: ``[{fqdn, address, ptr}]`` (see ``service_addresses``)."""
    return [{"fqdn": name, "address": entry["address"], "ptr": entry["ptr"]}
            for entry in service_addresses(plan) for name in entry["names"]]
