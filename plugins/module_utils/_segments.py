# SPDX-License-Identifier: GPL-3.0-or-later
"""Lab segments as Docker networks (private to vnet.lab).

A segment of the plan becomes the Docker network ``<lab>-<segment>``, labelled
``vnet.lab=<lab>`` and ``vnet.segment=<segment>``. Docker's IPAM gets a *placeholder* subnet from
a pool of ours (default ``100.64.0.0/10`` cut into /24s), the lowest one that overlaps no subnet
of any network on the engine (other labs included); a node finds each of its interfaces by its
placeholder address and replaces it with the plan's addresses. Endpoint ``i`` of a segment (in the
plan's order, by node then interface) gets host address ``i + 2`` (``.1`` is Docker's gateway).

Link types, one table entry each (``LINK_TYPES``):

``bridge``
    driver ``bridge`` with ``com.docker.network.bridge.inhibit_ipv4=true`` (the host holds no lab
    address, so a node may own ``.1``) and ``com.docker.network.bridge.enable_ip_masquerade=false``
    (transit traffic keeps its source); never ``internal`` (Docker would drop every packet outside
    the placeholder subnet); ``com.docker.network.driver.mtu`` when the segment has an MTU.
``macvlan``
    driver ``macvlan`` on ``link.parent``, a port of the Docker host.
``vxlan``
    a ``bridge`` network whose Linux bridge is named ``vx<id>`` (``<id>``: 10 hex digits of a hash
    of lab and segment), plus a host VXLAN device ``vxt<id>`` (``link.vni``, ``link.remote``,
    ``link.local``, ``link.port`` (default 4789), ``link.dev``) enslaved to it and up. The device's
    name is kept in the label ``vnet.vxlan``. ``link.remote`` is one address, or a list of them (a
    segment over three engines or more): the device then has no remote of its own but one flooding
    entry per remote in its forwarding database (``bridge fdb append 00:00:00:00:00:00 dev <device>
    dst <remote>``), so broadcast and unknown unicast frames go to each remote (head-end
    replication), and the ones it has no more are deleted.

On a local engine the Linux bridge of every ``bridge``/``vxlan`` segment is made quiet: the host
holds no lab address there, so it answers no ARP (``arp_ignore=1``, ``arp_announce=2``: not for
its own addresses on other ports either) and has no IPv6 on it (``disable_ipv6=1``: no link-local
address, no router solicitation, MLD report or neighbour advertisement of its own on the lab's
wire). A lab segment then carries only its nodes' traffic, whatever addresses they reuse. Each
converging ``present`` sets them again (a host reboot makes new bridges).

An existing network is kept with its subnet when its driver, options and labels are the wanted
ones; otherwise it is re-created (with the same subnet) if no container is attached, else the
module fails naming it and its containers. A network of the same name that carries other
``vnet.lab``/``vnet.segment`` labels is never touched.

Before anything is made, ``present`` refuses (naming the culprit) what would break the lab, or
another, silently:

* a segment prefix that overlaps the placeholder pool (a node finds its interfaces by their
  placeholder addresses);
* on a local engine, a segment prefix that holds one of the Docker host's own addresses (the host
  answers ARP for every address it owns on every bridge, lab bridges included); ``macvlan``
  segments are left out, they share the wire of a host port on purpose;
* a macvlan ``parent`` or a vxlan ``dev`` that the Docker host lacks;
* a container named like one of this lab's (``<lab>-<node>``, ``<lab>-<node>-...``) that is not
  this lab's: another lab whose name and node names join to the same names (lab ``a`` with node
  ``b-c``, lab ``a-b`` with node ``c``), or a container of no lab at all.

Example of the result (``segments``)::

    lan1: {network: demo-lan1, subnet: 100.64.0.0/24,
           endpoints: {"h1:eth1": 100.64.0.2, "r1:eth2": 100.64.0.3}}
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vnet.lab.plugins.module_utils._lab import placeholder_clashes, prefix_of

try:
    from docker.errors import APIError
except ImportError:
    class APIError(Exception):
        """Stands in for docker.errors.APIError; the module fails first without the docker SDK."""

LABEL_LAB = "vnet.lab"
LABEL_SEGMENT = "vnet.segment"
LABEL_VXLAN = "vnet.vxlan"

OPT_INHIBIT_IPV4 = "com.docker.network.bridge.inhibit_ipv4"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
# The host's settings of a lab bridge (paths under /proc/sys/net, %s the bridge): quiet on the wire.
QUIET_BRIDGE = (("ipv4/conf/%s/arp_ignore", "1"), ("ipv4/conf/%s/arp_announce", "2"),
                ("ipv6/conf/%s/disable_ipv6", "1"))
OPT_MTU = "com.docker.network.driver.mtu"
OPT_PARENT = "parent"
# Options whose value we decide: any other option Docker or a user added is left alone.
MANAGED_OPTIONS = (OPT_INHIBIT_IPV4, OPT_MASQUERADE, OPT_BRIDGE_NAME, OPT_MTU, OPT_PARENT)

DEFAULT_VXLAN_PORT = 4789
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class SegmentsError(Exception):
    """Why the segments cannot be made; one reason per line."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------------------------
# Pure functions

def network_name(lab, segment):
    return "%s-%s" % (lab, segment)


def short_id(lab, segment):
    return hashlib.sha1(("%s/%s" % (lab, segment)).encode()).hexdigest()[:10]


def _bridge_options(segment):
    options = {OPT_INHIBIT_IPV4: "true", OPT_MASQUERADE: "false"}
    if segment.get("mtu") is not None:
        options[OPT_MTU] = str(segment["mtu"])
    return options


def _bridge(lab, name, segment, link):
    return {"driver": "bridge", "options": _bridge_options(segment), "labels": {}, "vxlan": None}


def _macvlan(lab, name, segment, link):
    return {"driver": "macvlan", "options": {OPT_PARENT: link["parent"]}, "labels": {},
            "vxlan": None}


def remotes(link):
    """The far ends of a vxlan link: ``remote`` is one address or a list of them."""
    remote = link.get("remote")
    return [str(item) for item in remote] if isinstance(remote, (list, tuple)) else [str(remote)]


def _vxlan(lab, name, segment, link):
    ident = short_id(lab, name)
    far = remotes(link)
    device = "vxt%s" % ident
    options = _bridge_options(segment)
    options[OPT_BRIDGE_NAME] = "vx%s" % ident
    return {
        "driver": "bridge",
        "options": options,
        "labels": {LABEL_VXLAN: device},
        "vxlan": {
            "device": device,
            "bridge": options[OPT_BRIDGE_NAME],
            "vni": int(link["vni"]),
            # One remote: the device's own. Several: none of its own, a flooding entry per remote.
            "remote": far[0] if len(far) == 1 else None,
            "flood": sorted(far, key=_address_key) if len(far) > 1 else [],
            "local": str(link["local"]) if link.get("local") else None,
            "port": int(link.get("port") or DEFAULT_VXLAN_PORT),
            "dev": link.get("dev"),
            "mtu": segment.get("mtu"),
        },
    }


def _address_key(text):
    address = ipaddress.ip_address(text)
    return address.version, int(address)


LINK_TYPES = {"bridge": _bridge, "macvlan": _macvlan, "vxlan": _vxlan}


def _link_errors(name, link):
    errors = []
    kind = link.get("type", "bridge")
    if kind not in LINK_TYPES:
        return ["segment %s: link type %r is not one of %s" % (name, kind, ", ".join(sorted(LINK_TYPES)))]
    if kind == "macvlan" and not link.get("parent"):
        errors.append("segment %s: a macvlan link needs a parent interface" % name)
    if kind == "vxlan":
        try:
            if not 1 <= int(link.get("vni")) <= 16777215:
                raise ValueError
        except (TypeError, ValueError):
            errors.append("segment %s: vxlan vni %r is not a number from 1 to 16777215"
                          % (name, link.get("vni")))
        values = [("remote", value) for value in remotes(link)] if link.get("remote") else [("remote", None)]
        if link.get("local"):
            values.append(("local", link["local"]))
        for key, value in values:
            try:
                ipaddress.ip_address(str(value))
            except ValueError:
                errors.append("segment %s: vxlan %s %r is not an address" % (name, key, value))
        try:
            if not 1 <= int(link.get("port") or DEFAULT_VXLAN_PORT) <= 65535:
                raise ValueError
        except (TypeError, ValueError):
            errors.append("segment %s: vxlan port %r is not a UDP port" % (name, link.get("port")))
    return errors


def host_addresses(links):
    """[(interface, address)] of ``ip -j address show`` output, link-local scope left out."""
    found = []
    for link in links or []:
        for info in link.get("addr_info") or []:
            if info.get("scope") == "link" or not info.get("local"):
                continue
            try:
                found.append((link.get("ifname"), ipaddress.ip_address(info["local"])))
            except ValueError:
                continue
    return found


def host_address_clashes(segments, addresses):
    """Segments whose prefix holds an address of the Docker host, one line per address.

    ``addresses``: [(interface, ipaddress address)], as ``host_addresses`` gives them. macvlan
    segments are left out: they are meant to share a host port's wire (and its prefix)."""
    lines = []
    for name in sorted(segments or {}):
        segment = segments[name] or {}
        if (segment.get("link") or {}).get("type") == "macvlan":
            continue
        for family in ("ipv4", "ipv6"):
            prefix = prefix_of(segment.get(family))
            if prefix is None:
                continue
            for ifname, address in addresses:
                if address.version == prefix.version and address in prefix:
                    lines.append("segment %s: prefix %s holds %s, an address of the Docker host (on %s),"
                                 " which the host answers for on every lab bridge: give the segment"
                                 " another prefix" % (name, prefix, address, ifname))
    return lines


def segment_nodes(segments):
    """Names of the nodes with an endpoint on ``segments``, sorted."""
    return sorted({_endpoint_key(endpoint)[0] for segment in (segments or {}).values()
                   for endpoint in (segment or {}).get("endpoints") or []})


def name_clashes(lab, nodes, containers):
    """Containers (API summaries) that bear one of the lab's names but are not the lab's, one
    line each: ``<lab>-<node>`` and ``<lab>-<node>-...`` belong to the lab alone."""
    lines = []
    prefixes = ["%s-%s" % (lab, node) for node in nodes]
    for summary in sorted(containers or [], key=lambda c: (c.get("Names") or [""])[0]):
        name = (summary.get("Names") or [""])[0].lstrip("/")
        owner = (summary.get("Labels") or {}).get(LABEL_LAB)
        if owner == lab or not any(name == p or name.startswith(p + "-") for p in prefixes):
            continue
        lines.append("lab %s: container %s is %s, but the name is one of this lab's (%s-<node>...):"
                     " give the lab another name, or remove that container"
                     % (lab, name, "lab %s's" % owner if owner else "of no lab", lab))
    return lines


def capacity(prefix):
    """Endpoints a placeholder subnet holds: all hosts but .0, .1 (gateway) and broadcast."""
    return 2 ** (32 - prefix) - 3


def validate(lab, segments, pool, prefix):
    """Every reason why these arguments cannot work, as a list of lines."""
    errors = []
    if not lab or not NAME_RE.match(lab):
        errors.append("lab %r is not a valid name (letters, digits, '_', '.', '-')" % (lab,))
    try:
        pool_net = ipaddress.IPv4Network(pool)
    except ValueError as exc:
        errors.append("placeholder_pool %r is not an IPv4 prefix: %s" % (pool, exc))
        pool_net = None
    if not isinstance(prefix, int) or not 1 <= prefix <= 29 \
            or (pool_net is not None and prefix < pool_net.prefixlen):
        errors.append("placeholder_prefix %r must be from the pool's length (%s) to 29"
                      % (prefix, pool_net.prefixlen if pool_net else "?"))
        prefix = None
    for name in sorted(segments or {}):
        segment = segments[name] or {}
        if not NAME_RE.match(name):
            errors.append("segment %r: not a valid name (letters, digits, '_', '.', '-')" % (name,))
        errors += _link_errors(name, segment.get("link") or {})
        mtu = segment.get("mtu")
        if mtu is not None and (not isinstance(mtu, int) or isinstance(mtu, bool) or mtu < 68):
            errors.append("segment %s: mtu %r is not a number of at least 68" % (name, mtu))
        endpoints = segment.get("endpoints") or []
        if prefix is not None and len(endpoints) > capacity(prefix):
            errors.append("segment %s: %d endpoints do not fit a placeholder /%d (at most %d)"
                          % (name, len(endpoints), prefix, capacity(prefix)))
    if pool_net is not None:
        errors += placeholder_clashes(segments, pool)
    return errors


def wanted_network(lab, name, segment):
    """The Docker network a segment should be: name, driver, options, labels, vxlan."""
    link = segment.get("link") or {"type": "bridge"}
    wanted = LINK_TYPES[link.get("type", "bridge")](lab, name, segment, link)
    wanted["name"] = network_name(lab, name)
    wanted["labels"] = dict(wanted["labels"], **{LABEL_LAB: lab, LABEL_SEGMENT: name})
    return wanted


def network_subnet(attrs):
    """The first IPv4 subnet of a network's IPAM config, or None."""
    for config in ((attrs.get("IPAM") or {}).get("Config") or []):
        try:
            net = ipaddress.ip_network(config.get("Subnet", ""), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            return str(net)
    return None


def owner_error(attrs, lab, name):
    """A reason not to touch an existing network of the wanted name, or None."""
    labels = attrs.get("Labels") or {}
    if labels.get(LABEL_LAB) == lab and labels.get(LABEL_SEGMENT) == name:
        return None
    return ("network %s exists but is not segment %s of lab %s (its labels: %s=%s, %s=%s);"
            " remove or rename it"
            % (attrs.get("Name"), name, lab, LABEL_LAB, labels.get(LABEL_LAB),
               LABEL_SEGMENT, labels.get(LABEL_SEGMENT)))


def network_differences(attrs, wanted):
    """How an existing network differs from the wanted one, as sentences (empty: same)."""
    differences = []
    if attrs.get("Driver") != wanted["driver"]:
        differences.append("driver is %s, wanted %s" % (attrs.get("Driver"), wanted["driver"]))
    if attrs.get("Internal"):
        differences.append("it is internal")
    options = attrs.get("Options") or {}
    for key in MANAGED_OPTIONS:
        have, want = options.get(key), wanted["options"].get(key)
        if have != want:
            differences.append("option %s is %s, wanted %s"
                               % (key, "unset" if have is None else have,
                                  "unset" if want is None else want))
    labels = attrs.get("Labels") or {}
    for key, want in sorted(wanted["labels"].items()):
        if labels.get(key) != want:
            differences.append("label %s is %s, wanted %s" % (key, labels.get(key), want))
    if network_subnet(attrs) is None:
        differences.append("it has no IPv4 subnet")
    return differences


def used_subnets(networks):
    """IPv4 subnets of every network on the engine (any owner)."""
    used = []
    for attrs in networks:
        for config in ((attrs.get("IPAM") or {}).get("Config") or []):
            try:
                net = ipaddress.ip_network(config.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if net.version == 4:
                used.append(net)
    return used


def choose_subnet(pool, prefix, used):
    """The lowest /prefix of ``pool`` that overlaps none of ``used``."""
    pool_net = ipaddress.IPv4Network(pool)
    used = sorted((ipaddress.ip_network(u) for u in used if ipaddress.ip_network(u).version == 4),
                  key=lambda n: (n.network_address, n.prefixlen))
    used = [u for u in used if u.overlaps(pool_net)]
    candidate = pool_net.network_address
    step = 2 ** (32 - prefix)
    end = int(pool_net.broadcast_address)
    while int(candidate) + step - 1 <= end:
        net = ipaddress.IPv4Network((candidate, prefix))
        clash = next((u for u in used if u.overlaps(net)), None)
        if clash is None:
            return str(net)
        # Jump past the clash, to the next /prefix boundary.
        after = int(clash.broadcast_address) + 1
        candidate = ipaddress.IPv4Address(max(int(candidate) + step, -(-after // step) * step))
    raise SegmentsError("ran out of placeholder /%d subnets in pool %s (%d networks use it)"
                        % (prefix, pool, len(used)))


def _endpoint_key(endpoint):
    node, dummy, ifname = str(endpoint).partition(":")
    return (node, ifname)


def endpoint_addresses(subnet, endpoints):
    """Endpoint ``i`` in (node, interface) order gets host ``i + 2`` of ``subnet``."""
    net = ipaddress.IPv4Network(subnet)
    ordered = sorted(endpoints or [], key=_endpoint_key)
    if len(ordered) > net.num_addresses - 3:
        raise SegmentsError("%d endpoints do not fit the placeholder %s" % (len(ordered), subnet))
    return {endpoint: str(net.network_address + i + 2) for i, endpoint in enumerate(ordered)}


def gateway(subnet):
    return str(ipaddress.IPv4Network(subnet).network_address + 1)


def network_view(attrs):
    """What the diff shows of a network."""
    options = attrs.get("Options") or {}
    return {
        "name": attrs.get("Name"),
        "driver": attrs.get("Driver"),
        "subnet": network_subnet(attrs),
        "options": {k: options[k] for k in sorted(options) if k in MANAGED_OPTIONS},
    }


def wanted_view(wanted, subnet):
    return {"name": wanted["name"], "driver": wanted["driver"], "subnet": subnet,
            "options": {k: wanted["options"][k] for k in sorted(wanted["options"])}}


FLOOD_MAC = "00:00:00:00:00:00"


def vxlan_add_command(spec):
    command = ["ip", "link", "add", spec["device"], "type", "vxlan", "id", str(spec["vni"])]
    if spec["remote"]:
        command += ["remote", spec["remote"]]
    if spec["local"]:
        command += ["local", spec["local"]]
    command += ["dstport", str(spec["port"])]
    if spec["dev"]:
        command += ["dev", spec["dev"]]
    return command


def vxlan_differences(link, spec):
    """How a host VXLAN device (``ip -j -d link show`` entry) differs from ``spec``."""
    info = (link.get("linkinfo") or {})
    if info.get("info_kind") != "vxlan":
        return ["%s is a %s device, not vxlan" % (spec["device"], info.get("info_kind"))]
    data = info.get("info_data") or {}
    differences = []
    for key, have, want in (("vni", data.get("id"), spec["vni"]),
                            ("remote", data.get("remote"), spec["remote"]),
                            ("local", data.get("local"), spec["local"]),
                            ("port", data.get("port"), spec["port"]),
                            ("dev", data.get("link"), spec["dev"])):
        if have != want:
            differences.append("%s is %s, wanted %s" % (key, have, want))
    return differences


def flood_entries(entries):
    """Remotes of the flooding entries (all-zero MAC) in ``bridge -j fdb show dev <device>`` output."""
    return sorted({entry["dst"] for entry in entries or []
                   if entry.get("mac") == FLOOD_MAC and entry.get("dst")}, key=_address_key)


def flood_commands(device, have, want):
    """``bridge fdb`` commands that make a device's flooding entries ``want`` (remotes) from ``have``."""
    return ([["bridge", "fdb", "append", FLOOD_MAC, "dev", device, "dst", dst] for dst in want if dst not in have]
            + [["bridge", "fdb", "del", FLOOD_MAC, "dev", device, "dst", dst] for dst in have if dst not in want])


# ---------------------------------------------------------------------------------------------
# Side effects: the Docker engine (docker SDK client) and the host's links (a Runner).

def engine_is_local(docker_host):
    host = docker_host or os.environ.get("DOCKER_HOST") or "unix://"
    return host.startswith("unix://")


class Segments:
    """Brings a lab's networks to the wanted state; records what it does (or would do)."""

    CREATE_ATTEMPTS = 10

    def __init__(self, client, runner, lab, check_mode=False, local_engine=True,
                 sys_class_net="/sys/class/net", proc_sys_net="/proc/sys/net"):
        self.client = client
        self.runner = runner
        self.lab = lab
        self.check_mode = check_mode
        self.local_engine = local_engine
        self.sys_class_net = sys_class_net
        self.proc_sys_net = proc_sys_net
        self.actions = []

    # -- engine
    def _networks(self):
        return self.client.api.networks()

    def _lab_networks(self, networks):
        return sorted((n for n in networks if (n.get("Labels") or {}).get(LABEL_LAB) == self.lab),
                      key=lambda n: n["Name"])

    def _containers(self, attrs):
        inspected = self.client.api.inspect_network(attrs["Id"])
        return sorted(c.get("Name", cid[:12]) for cid, c in (inspected.get("Containers") or {}).items())

    def _create(self, wanted, subnet):
        self.client.api.create_network(
            wanted["name"], driver=wanted["driver"], options=wanted["options"],
            ipam={"Driver": "default", "Config": [{"Subnet": subnet, "Gateway": gateway(subnet)}]},
            internal=False, labels=wanted["labels"])

    def _create_somewhere(self, wanted, pool, prefix, clashed=()):
        """Create with the lowest free subnet; another lab (or the engine's own allocation) may
        take it meanwhile: read again and try the next one, never one that already clashed."""
        clashed = [ipaddress.ip_network(subnet) for subnet in clashed]
        for attempt in range(self.CREATE_ATTEMPTS):
            subnet = choose_subnet(pool, prefix, used_subnets(self._networks()) + clashed)
            try:
                self._create(wanted, subnet)
                return subnet
            except APIError as exc:
                if "overlap" not in str(exc) or attempt == self.CREATE_ATTEMPTS - 1:
                    raise
                clashed.append(ipaddress.ip_network(subnet))
        raise SegmentsError("could not create %s" % wanted["name"])

    def _create_at_once(self, steps, pool, prefix):
        """Create the networks of ``steps`` concurrently with their chosen subnets; one whose
        subnet another lab (or the engine) took meanwhile gets the next free one afterwards."""
        def create(step):
            try:
                self._create(step["wanted"], step["subnet"])
            except APIError as exc:
                if "overlap" not in str(exc):
                    raise
                return step
            return None

        with ThreadPoolExecutor(max_workers=min(8, len(steps))) as workers:
            futures = [workers.submit(create, step) for step in steps]
        clashed = [future.result() for future in futures]
        for step in clashed:
            if step is not None:
                step["subnet"] = self._create_somewhere(step["wanted"], pool, prefix, [step["subnet"]])

    # -- the host's own addresses
    def _host_addresses(self, segments):
        """The Docker host's addresses, read only when a segment has a prefix to compare."""
        if not any(prefix_of((segment or {}).get(family)) for segment in segments.values()
                   for family in ("ipv4", "ipv6")):
            return []
        rc, out, err = self.runner.run(["ip", "-j", "address", "show"])
        if rc != 0:
            raise SegmentsError("`ip -j address show` failed on the Docker host: %s" % err.strip())
        return host_addresses(json.loads(out or "[]"))

    # -- host links (vxlan)
    def _host_link(self, name):
        rc, out, err = self.runner.run(["ip", "-j", "-d", "link", "show", "dev", name])
        if rc != 0:
            return None
        entries = json.loads(out or "[]")
        return entries[0] if entries else None

    def _flood_entries(self, device):
        rc, out, err = self.runner.run(["bridge", "-j", "fdb", "show", "dev", device])
        if rc != 0:
            raise SegmentsError("`bridge -j fdb show dev %s` failed: %s" % (device, err.strip()))
        return flood_entries(json.loads(out or "[]"))

    def _run_host(self, command):
        rc, dummy, err = self.runner.run(command)
        if rc != 0:
            raise SegmentsError("`%s` failed: %s" % (" ".join(command), err.strip()))

    def _ensure_vxlan(self, spec, bridge_created):
        link = self._host_link(spec["device"])
        commands = []
        if link is not None:
            differences = vxlan_differences(link, spec)
            if differences:
                self.actions.append("re-create vxlan device %s (%s)"
                                    % (spec["device"], "; ".join(differences)))
                commands.append(["ip", "link", "del", "dev", spec["device"]])
                link = None
        if link is None:
            self.actions.append("create vxlan device %s (vni %s, remote %s) in bridge %s"
                                % (spec["device"], spec["vni"], spec["remote"] or ", ".join(spec["flood"]),
                                   spec["bridge"]))
            commands.append(vxlan_add_command(spec))
        elif bridge_created or link.get("master") != spec["bridge"] \
                or "UP" not in (link.get("flags") or []):
            self.actions.append("attach vxlan device %s to bridge %s and set it up"
                                % (spec["device"], spec["bridge"]))
        if spec["mtu"] is not None and (link is None or link.get("mtu") != spec["mtu"]):
            if link is not None:
                self.actions.append("set mtu of vxlan device %s to %s" % (spec["device"], spec["mtu"]))
            commands.append(["ip", "link", "set", "dev", spec["device"], "mtu", str(spec["mtu"])])
        if link is None or bridge_created or link.get("master") != spec["bridge"] \
                or "UP" not in (link.get("flags") or []):
            commands.append(["ip", "link", "set", "dev", spec["device"], "master", spec["bridge"]])
            commands.append(["ip", "link", "set", "dev", spec["device"], "up"])
        if spec["flood"]:
            have = self._flood_entries(spec["device"]) if link is not None else []
            for command in flood_commands(spec["device"], have, spec["flood"]):
                self.actions.append("%s flooding entry of vxlan device %s to %s"
                                    % ("add" if command[2] == "append" else "delete", spec["device"], command[-1]))
                commands.append(command)
        if not self.check_mode:
            for command in commands:
                self._run_host(command)

    def _remove_vxlan(self, device):
        if device and self._host_link(device) is not None:
            self.actions.append("remove vxlan device %s" % device)
            if not self.check_mode:
                self._run_host(["ip", "link", "del", "dev", device])

    # -- the host's side of a bridge
    def _quiet_bridges(self, names, created):
        """Sets QUIET_BRIDGE on the bridges of the segments' networks ``names``, where one differs
        (local engine only; no other network of the lab's label: an underlay needs its ARP). A
        network ``created`` in this run has its own action already (check mode cannot read its bridge)."""
        if not self.local_engine:
            return
        for attrs in self._lab_networks(self._networks()):
            if attrs.get("Driver") != "bridge" or attrs["Name"] not in names:
                continue
            bridge = (attrs.get("Options") or {}).get(OPT_BRIDGE_NAME) or "br-%s" % attrs["Id"][:12]
            wrong = []
            for pattern, value in QUIET_BRIDGE:
                path = os.path.join(self.proc_sys_net, pattern % bridge)
                try:
                    with open(path) as handle:
                        if handle.read().strip() != value:
                            wrong.append((path, value))
                except OSError:
                    continue   # no such bridge here (yet): nothing to quiet
            if not wrong:
                continue
            if attrs["Name"] not in created:
                self.actions.append("quiet bridge %s (%s)" % (bridge, ", ".join(
                    "%s=%s" % (path.rsplit("/", 1)[1], value) for path, value in wrong)))
            if not self.check_mode:
                for path, value in wrong:
                    with open(path, "w") as handle:
                        handle.write(value)

    # -- states
    def present(self, segments, pool, prefix):
        """Returns (changed, segments result, diff)."""
        errors = validate(self.lab, segments, pool, prefix)
        if errors:
            raise SegmentsError(errors)
        networks = self._networks()
        by_name = {n["Name"]: n for n in networks}
        used = used_subnets(networks)
        before = [network_view(n) for n in self._lab_networks(networks)]
        after = {view["name"]: view for view in before}

        # Decide everything first, so that a conflict fails before anything is changed.
        plan = []
        for name in sorted(segments):
            segment = segments[name] or {}
            wanted = wanted_network(self.lab, name, segment)
            existing = by_name.get(wanted["name"])
            step = {"name": name, "segment": segment, "wanted": wanted, "existing": existing,
                    "subnet": None, "differences": []}
            if existing is not None:
                reason = owner_error(existing, self.lab, name)
                if reason:
                    errors.append(reason)
                    continue
                step["subnet"] = network_subnet(existing)
                step["differences"] = network_differences(existing, wanted)
                if step["differences"]:
                    attached = self._containers(existing)
                    if attached:
                        errors.append("network %s differs from segment %s (%s) but containers are"
                                      " attached to it (%s): remove them first"
                                      % (wanted["name"], name, "; ".join(step["differences"]),
                                         ", ".join(attached)))
            if wanted["driver"] == "macvlan" and self.local_engine:
                parent = wanted["options"][OPT_PARENT]
                if not os.path.exists(os.path.join(self.sys_class_net, parent)):
                    errors.append("segment %s: macvlan parent interface %s does not exist on the"
                                  " Docker host" % (name, parent))
            if wanted["vxlan"] is not None and not self.local_engine:
                errors.append("segment %s: a vxlan segment needs the module to run on the Docker"
                              " host (docker_host is remote)" % name)
            dev = (wanted["vxlan"] or {}).get("dev")
            if dev and self.local_engine and not os.path.exists(os.path.join(self.sys_class_net, dev)):
                errors.append("segment %s: vxlan dev %s does not exist on the Docker host" % (name, dev))
            plan.append(step)
        if self.local_engine:
            errors += host_address_clashes(segments, self._host_addresses(segments))
        nodes = segment_nodes(segments)
        if nodes:
            errors += name_clashes(self.lab, nodes, self.client.api.containers(all=True))
        if errors:
            raise SegmentsError(errors)

        # New networks are created at once, each with its own free subnet chosen here, in the
        # segments' order (as one after the other would choose them).
        fresh = [step for step in plan if step["existing"] is None]
        for step in fresh:
            step["subnet"] = choose_subnet(pool, prefix, used)
            used.append(ipaddress.ip_network(step["subnet"]))
        if fresh and not self.check_mode:
            self._create_at_once(fresh, pool, prefix)

        result = {}
        for step in plan:
            wanted, existing, subnet = step["wanted"], step["existing"], step["subnet"]
            created = False
            if existing is not None and step["differences"]:
                self.actions.append("re-create network %s (%s)"
                                    % (wanted["name"], "; ".join(step["differences"])))
                if subnet is None:
                    subnet = choose_subnet(pool, prefix, used)
                    used.append(ipaddress.ip_network(subnet))
                if not self.check_mode:
                    self.client.api.remove_network(existing["Id"])
                    self._create(wanted, subnet)
                created = True
            elif existing is None:
                self.actions.append("create network %s (%s, placeholder %s)"
                                    % (wanted["name"], wanted["driver"], subnet))
                created = True
            if wanted["vxlan"] is not None:
                self._ensure_vxlan(wanted["vxlan"], created)
            if created:
                after[wanted["name"]] = wanted_view(wanted, subnet)
            result[step["name"]] = {
                "network": wanted["name"],
                "subnet": subnet,
                "endpoints": endpoint_addresses(subnet, step["segment"].get("endpoints")),
            }
        self._quiet_bridges({step["wanted"]["name"] for step in plan},
                            {step["wanted"]["name"] for step in plan if step["existing"] is None or step["differences"]})
        diff = {"before": {"networks": before},
                "after": {"networks": [after[k] for k in sorted(after)]}}
        return bool(self.actions), result, diff

    def absent(self, segments=None, leaving=()):
        """Remove the lab's networks (only the named segments' when ``segments`` is given).
        ``leaving``: names of containers removed in the same run (still attached in check mode)."""
        networks = self._networks()
        mine = self._lab_networks(networks)
        before = [network_view(n) for n in mine]
        if segments:
            mine = [n for n in mine if (n.get("Labels") or {}).get(LABEL_SEGMENT) in segments]
        errors = []
        # Each network is read, then removed, all at once (a lab's networks are independent).
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(mine)))) as pool:
            for attrs, names in zip(mine, pool.map(self._containers, mine)):
                attached = [name for name in names if name not in leaving]
                if attached:
                    errors.append("network %s still has containers attached (%s): remove them first"
                                  % (attrs["Name"], ", ".join(attached)))
            if errors:
                raise SegmentsError(errors)
            for attrs in mine:
                self._remove_vxlan((attrs.get("Labels") or {}).get(LABEL_VXLAN))
                self.actions.append("remove network %s" % attrs["Name"])
            if not self.check_mode:
                list(pool.map(lambda attrs: self.client.api.remove_network(attrs["Id"]), mine))
        removed = {attrs["Name"] for attrs in mine}
        diff = {"before": {"networks": before},
                "after": {"networks": [v for v in before if v["name"] not in removed]}}
        return bool(self.actions), {}, diff
