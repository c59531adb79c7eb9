# SPDX-License-Identifier: GPL-3.0-or-later
"""A lab's node containers, all in one call (private to vnet.lab).

One node of the plan is one container ``<lab>-<node>`` of the node image: hostname the node's
name, ``init``, all capabilities dropped but the listed ones, the namespaced sysctls of its kind
(``_lab.node_sysctls``), one network per interface with the interface's *placeholder* address
(``_lab.node_networks``; the first at creation, the others connected before the start), the
node's directory ``<state_dir>/<lab>/nodes/<node>`` mounted read-only at ``/etc/vnet``, a tmpfs
at ``/run/vnet`` (the entrypoint's ready mark), the labels ``vnet.lab``, ``vnet.node``,
``vnet.kind`` and ``vnet.config``, the hash of everything above but the networks.

The lab's plan is kept at ``<state_dir>/<lab>/plan.json`` and each node's network plan at
``<state_dir>/<lab>/nodes/<node>/netplan.json``, rewritten (atomically) only when they change.

Per node, what is done (decided by ``decide``, a pure function, before anything changes):

``create``
    no container of that name: write its network plan, create, connect, start.
``recreate``
    the image or the configuration hash differs: remove it (killed), then as ``create``.
``update``
    same image and hash: networks that differ are disconnected and connected (live if the
    container runs), a stopped container is started, a paused one unpaused; nothing, when all
    is as wanted.

Then each running node's interfaces are converged in-process with ``_interfaces.apply`` through
``nsenter --net=/proc/<pid>/ns/net``: on a fresh node the entrypoint applied the same plan and
nothing is left to do; on a running node whose plan changed, just the difference is applied.

Docker 20.10 finds a container's interfaces by the names it gave them (``eth<k>``, from a counter
it never rewinds), and our nodes rename their interfaces: a plain ``docker network disconnect``
then removes whichever interface now holds that name, and a ``connect`` fails when its ``eth<k>``
is taken. So a live network change first renames every ``eth<digits>`` link to ``vnt<ifindex>``
(Docker finds nothing it could take for its own), disconnects (then deletes the interface of that
network itself, found by its MAC address), connects (renames each new interface to ``vnc<i>``,
``i`` its rank among this run's connects), and gives the ``vnt`` links their names back. The
renamed links went down and up: the kernel dropped their routes and global IPv6 addresses, which
the convergence that follows adds again. Check mode predicts that convergence on a model of the
same steps (``simulate_network_change``). Docker derives an interface's MAC address from its
placeholder, so a reconnected interface has a new one: the node then announces its addresses
(gratuitous ARP, unsolicited neighbour advertisements), else its neighbours would keep sending to
the old MAC address until their caches expire.

Placeholders are handed out in endpoint order per segment: a node added to a LAN can shift the
placeholder of the endpoints after it, and those nodes are reconnected live on that segment. All
removals and disconnections therefore happen before any creation or connection.

In an engine's view of a lab placed over several engines (``_placement.engine_plan``: the plan
has ``engine``), only the nodes placed on that engine are run.

Containers of the lab (label ``vnet.lab``) with a ``vnet.node`` label of a node no longer in the
plan (or, in an engine's view, placed on another engine), and no ``vnet.service`` label, are
removed. ``absent`` removes every container of the lab, services included, killed and in
parallel (data lives on volumes, which stay unless asked), and the lab's directory
``<state_dir>/<lab>``.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vnet.lab.plugins.module_utils import _interfaces
from ansible_collections.vnet.lab.plugins.module_utils._lab import (
    container_name,
    node_networks,
    node_sysctls,
)
from ansible_collections.vnet.lab.plugins.module_utils._netplan import NetplanError, node_netplan
from ansible_collections.vnet.lab.plugins.module_utils._node_init import resolver_text
from ansible_collections.vnet.lab.plugins.module_utils._placement import engine_nodes

try:
    from docker.errors import APIError, NotFound
except ImportError:
    class APIError(Exception):
        """Stands in for docker.errors.APIError; the module fails first without the docker SDK."""

    class NotFound(APIError):
        """Stands in for docker.errors.NotFound."""

LABEL_LAB = "vnet.lab"
LABEL_NODE = "vnet.node"
LABEL_KIND = "vnet.kind"
LABEL_SERVICE = "vnet.service"
LABEL_CONFIG = "vnet.config"
# Part of the hash: a change of what the hash covers re-creates every node once.
HASH_FORMAT = 1

MOUNT_POINT = "/etc/vnet"
READY_DIR = "/run/vnet"
READY_MARK = READY_DIR + "/ready"
# Key of the actions that concern the whole lab (its files and volumes), not one node.
LAB_KEY = "(lab)"
NETPLAN_FILE = "netplan.json"
PLAN_FILE = "plan.json"
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
CAPABILITY_RE = re.compile(r"^(CAP_)?[A-Z][A-Z_]*$")
DOCKER_IFNAME_RE = re.compile(r"^eth[0-9]+$")
# Docker's veths get this MTU when the network sets none.
DEFAULT_MTU = 1500


class NodesError(Exception):
    """Why the nodes cannot be made (or were not all made); one reason per line."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------------------------
# Pure functions: wanted containers, hashes, comparisons, decisions

def node_dir(state_dir, lab, node):
    return os.path.join(state_dir, lab, "nodes", node)


def json_text(data):
    """The files' text: as Ansible's ``to_nice_json`` writes it, plus a final newline."""
    return json.dumps(data, sort_keys=True, indent=4, separators=(",", ": ")) + "\n"


def _capability(name):
    name = str(name).upper()
    return name[4:] if name.startswith("CAP_") else name


def lab_errors(lab):
    if not lab or not NAME_RE.match(lab):
        return ["lab %r is not a valid name (letters, digits, '_', '.', '-')" % (lab,)]
    return []


def validate(lab, plan, image, capabilities, restart_policy, ready_timeout):
    """Every reason why these arguments cannot work, as a list of lines."""
    errors = lab_errors(lab)
    if plan.get("name") not in (None, lab):
        errors.append("the plan is lab %s's, not lab %s's" % (plan.get("name"), lab))
    for node in sorted(plan.get("nodes") or {}):
        if not NAME_RE.match(node):
            errors.append("node %r: not a valid name (letters, digits, '_', '.', '-')" % (node,))
    if not image:
        errors.append("no node image given")
    for cap in capabilities:
        if not CAPABILITY_RE.match(str(cap).upper()) or _capability(cap) == "ALL":
            errors.append("capability %r is not the name of one capability" % (cap,))
    if restart_policy not in RESTART_POLICIES:
        errors.append("restart_policy %r is not one of %s" % (restart_policy, ", ".join(RESTART_POLICIES)))
    if ready_timeout is None or ready_timeout <= 0:
        errors.append("ready_timeout %r must be a positive number of seconds" % (ready_timeout,))
    return errors


def wanted_container(lab, node, plan, segments, image, capabilities, restart_policy, state_dir, log_options=None):
    """The container of ``node`` as wanted: plain data, the input of create and of the hash.

    ``log_options``: options of Docker's json-file log (``max-size``, ``max-file``); none leaves
    the engine's default (and the hash as it was without this option)."""
    networks = node_networks(plan, node, segments)
    for network, ifname in zip(networks, sorted(plan["nodes"][node]["interfaces"])):
        network["interface"] = ifname
    kind = plan["nodes"][node]["kind"]
    wanted = {
        "name": container_name(lab, node),
        "node": node,
        "hostname": node,
        "image": image,
        "init": True,
        "cap_add": sorted({_capability(cap) for cap in capabilities}),
        "cap_drop": ["ALL"],
        "sysctls": node_sysctls(plan, node, len(networks)),
        # A container that Docker started without a network cannot be connected to one later.
        "network_mode": "none" if not networks else "segments",
        "networks": networks,
        "binds": ["%s:%s:ro" % (node_dir(state_dir, lab, node), MOUNT_POINT)],
        # Fresh at every start: a ready mark of the previous run is never mistaken for this one's.
        "tmpfs": {READY_DIR: ""},
        "labels": {LABEL_LAB: lab, LABEL_NODE: node, LABEL_KIND: kind},
        "restart_policy": restart_policy,
    }
    if log_options:
        wanted["log_options"] = {str(key): str(value) for key, value in sorted(log_options.items())}
    return wanted


def config_hash(wanted):
    """Hash of what cannot change on a container without re-creating it (networks can)."""
    covered = {key: value for key, value in wanted.items() if key not in ("networks", "name", "node")}
    covered["format"] = HASH_FORMAT
    text = json.dumps(covered, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def container_labels(wanted):
    return dict(wanted["labels"], **{LABEL_CONFIG: config_hash(wanted)})


def owner_error(attrs, lab, node):
    """Why an existing container of the wanted name must not be touched; None if it is ours."""
    labels = (attrs.get("Config") or {}).get("Labels") or attrs.get("Labels") or {}
    if labels.get(LABEL_LAB) == lab and labels.get(LABEL_NODE) == node and LABEL_SERVICE not in labels:
        return None
    shown = ", ".join("%s=%s" % (key, labels[key]) for key in (LABEL_LAB, LABEL_NODE, LABEL_SERVICE)
                      if key in labels) or "none of vnet.lab, vnet.node"
    return ("container %s exists but is not node %s of lab %s (its labels: %s); remove or rename it"
            % (container_name(lab, node), node, lab, shown))


def current_networks(attrs):
    """{network name: placeholder address Docker was asked for (or None)} of a container."""
    networks = ((attrs.get("NetworkSettings") or {}).get("Networks")) or {}
    result = {}
    for name, endpoint in networks.items():
        ipam = (endpoint or {}).get("IPAMConfig") or {}
        result[name] = ipam.get("IPv4Address") or None
    return result


def network_changes(current, wanted_networks):
    """(networks to disconnect, networks to connect) as sorted lists; a network whose address
    differs is in both."""
    wanted = {n["name"]: n for n in wanted_networks}
    disconnect = sorted(name for name, address in current.items()
                        if name not in wanted or wanted[name]["ipv4_address"] != address)
    connect = [wanted[name] for name in sorted(wanted)
               if name not in current or current[name] != wanted[name]["ipv4_address"]]
    return disconnect, connect


def container_state(attrs):
    return ((attrs.get("State") or {}).get("Status")) or "unknown"


def recreate_reasons(attrs, wanted, image_id):
    """Why the container must be re-created; empty when it may be kept."""
    reasons = []
    if attrs.get("Image") != image_id:
        reasons.append("image %s is now %s, the container runs %s"
                       % (wanted["image"], short(image_id), short(attrs.get("Image"))))
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    have, want = labels.get(LABEL_CONFIG), config_hash(wanted)
    if have != want:
        reasons.append("configuration hash %s, wanted %s" % (short(have) if have else "missing", short(want)))
    return reasons


def short(value):
    if not value:
        return str(value)
    return value.split(":", 1)[-1][:12]


def decide(attrs, wanted, image_id):
    """What to do with one node: ``{op, reasons, disconnect, connect, start, unpause}``.

    ``attrs`` is the container's inspect data, None when there is none.
    """
    decision = {"op": "create", "reasons": [], "disconnect": [], "connect": list(wanted["networks"]),
                "start": True, "unpause": False}
    if attrs is None:
        return decision
    reasons = recreate_reasons(attrs, wanted, image_id)
    if reasons:
        return dict(decision, op="recreate", reasons=reasons)
    disconnect, connect = network_changes(current_networks(attrs), wanted["networks"])
    state = container_state(attrs)
    return {"op": "update", "reasons": [], "disconnect": disconnect, "connect": connect,
            "start": state in ("created", "exited", "dead"), "unpause": state == "paused"}


def container_view(attrs):
    """What the diff shows of an existing container."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return {"container": (attrs.get("Name") or "").lstrip("/"), "state": container_state(attrs),
            "image": short(attrs.get("Image")), "config": short(labels.get(LABEL_CONFIG)),
            "networks": current_networks(attrs)}


def wanted_view(wanted, image_id):
    return {"container": wanted["name"], "state": "running", "image": short(image_id),
            "config": short(config_hash(wanted)),
            "networks": {n["name"]: n["ipv4_address"] for n in wanted["networks"]}}


def create_text(wanted, image_id):
    networks = ", ".join("%s (%s)" % (n["name"], n["ipv4_address"]) for n in wanted["networks"])
    return "create container %s (image %s %s, networks: %s)" % (
        wanted["name"], wanted["image"], short(image_id), networks or "none")


def simulate_network_change(state, macs, disconnect, connect, subnets, ipv6_disabled=False):
    """The namespace as a live network change leaves it (see the module docstring).

    ``state`` is ``_interfaces.read_state``'s; ``macs`` maps a link name to its MAC address and
    ``disconnect`` lists the MAC addresses of the interfaces that go; ``connect`` lists the wanted
    networks (``{name, ipv4_address, mtu}``) in connect order; ``subnets`` maps a network to its
    placeholder subnet; ``ipv6_disabled`` is whether a new interface starts with IPv6 disabled (the
    namespace's ``net.ipv6.conf.default.disable_ipv6``).
    """
    new = copy.deepcopy(state)
    gone = {name for name, mac in macs.items() if mac in disconnect}
    for link in list(new["links"]):
        name = link["name"]
        if name in gone:
            new["links"].remove(link)
        elif DOCKER_IFNAME_RE.match(name):
            # Down and up again: the kernel keeps IPv4 addresses, drops global IPv6 ones and routes.
            link["addresses"] = [a for a in link["addresses"] if a["family"] == 4 or a["scope"] == "link"]
            link["up"] = True
        else:
            continue
        new["routes"] = [r for r in new["routes"] if not (r["dev"] == name and r["protocol"] != "kernel")]
    for index, network in enumerate(connect):
        prefix = ipaddress.ip_network(subnets[network["name"]]).prefixlen
        new["links"].append({
            "name": "vnc%d" % index, "index": None, "up": False,
            "mtu": network.get("mtu") or DEFAULT_MTU, "kind": "veth",
            "addresses": [{"address": "%s/%d" % (network["ipv4_address"], prefix), "family": 4,
                           "scope": "global"}],
            "ipv6_disabled": ipv6_disabled,
        })
    return new


def predict_interfaces(state, netplan):
    """Chain ``_interfaces``' phases on a predicted state: (action texts, before, after)."""
    netplan = _interfaces.normalize_netplan(netplan)
    mapping = _interfaces.match_links(state, netplan)
    before = _interfaces.describe(state, [mapping[name] for name in sorted(netplan["interfaces"])])
    texts = []
    for phase in _interfaces.PHASES:
        actions, state = phase(state, netplan)
        texts += [a["text"] for a in actions]
    return texts, before, _interfaces.describe(state, sorted(netplan["interfaces"]))


# ---------------------------------------------------------------------------------------------
# Files

def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def write_atomically(path, text, mode=0o644):
    """Replace ``path`` by a file holding ``text``, never leaving a half-written one."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# ---------------------------------------------------------------------------------------------
# Side effects: the Docker engine (docker SDK client) and the nodes' namespaces (Runners).

class Nodes:
    """Brings a lab's node containers to the wanted state; records what it does (or would do)."""

    MAX_WORKERS = 16
    POLL = 0.02

    def __init__(self, client, lab, check_mode=False, runner_factory=_interfaces.Runner,
                 proc="/proc", clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.lab = lab
        self.check_mode = check_mode
        self.runner_factory = runner_factory
        self.proc = proc
        self.clock = clock
        self.sleep = sleep
        self.state_dir = None
        # Nodes of the plan placed on other engines than the view's: their containers here go.
        self.elsewhere = {}
        self.actions = {}

    # -- helpers
    def _act(self, node, text):
        self.actions.setdefault(node, []).append(text)

    def _parallel(self, function, items):
        """Run ``function(item)`` for every item at once; return the errors, one line each."""
        items = list(items)
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.MAX_WORKERS, len(items))) as pool:
            return self._results([pool.submit(function, item) for item in items])

    @staticmethod
    def _results(futures):
        """Wait for every future; return their errors, one line each."""
        errors = []
        for future in futures:
            try:
                future.result()
            except (NodesError, _interfaces.InterfacesError) as exc:
                errors.append(str(exc))
            except APIError as exc:
                errors.append("Docker: %s" % exc)
            except OSError as exc:
                errors.append(str(exc))
        return errors

    def _lab_containers(self):
        return self.client.api.containers(all=True, filters={"label": "%s=%s" % (LABEL_LAB, self.lab)})

    def _inspect(self, name):
        try:
            return self.client.api.inspect_container(name)
        except NotFound:
            return None

    def _runner(self, pid):
        return self.runner_factory(_interfaces.netns_path(container_pid=pid))

    # -- files
    def _write(self, node, path, text):
        if read_text(path) == text:
            return
        self._act(node, "write %s" % path)
        if not self.check_mode:
            write_atomically(path, text)

    # -- containers
    def _remove(self, node, name, why=None, record=True):
        if record:
            self._act(node, "remove container %s%s" % (name, " (%s)" % why if why else ""))
        if not self.check_mode:
            try:
                self.client.api.remove_container(name, force=True)
            except NotFound:
                pass

    def _create(self, work):
        wanted = work["wanted"]
        networks = wanted["networks"]
        api = self.client.api
        self._act(work["node"], create_text(wanted, work["image_id"]))
        if self.check_mode:
            return
        # The engine's default log configuration unless options are given (as before they existed).
        logging = {"log_config": {"Type": "json-file", "Config": wanted["log_options"]}} if wanted.get("log_options") else {}
        host_config = api.create_host_config(
            init=True, cap_add=wanted["cap_add"], cap_drop=wanted["cap_drop"],
            sysctls=wanted["sysctls"], binds=wanted["binds"], tmpfs=wanted["tmpfs"],
            restart_policy={"Name": wanted["restart_policy"]},
            network_mode=networks[0]["name"] if networks else "none", **logging)
        networking_config = None
        if networks:
            networking_config = api.create_networking_config({
                networks[0]["name"]: api.create_endpoint_config(ipv4_address=networks[0]["ipv4_address"])})
        api.create_container(wanted["image"], name=wanted["name"], hostname=wanted["hostname"],
                             labels=container_labels(wanted), host_config=host_config,
                             networking_config=networking_config)
        for network in networks[1:]:
            api.connect_container_to_network(wanted["name"], network["name"],
                                             ipv4_address=network["ipv4_address"])

    def _start(self, work):
        self._act(work["node"], "start container %s" % work["wanted"]["name"])
        if not self.check_mode:
            self.client.api.start(work["wanted"]["name"])

    # -- live network changes (see the module docstring)
    def _links(self, runner):
        return _interfaces._ip_json(runner, ["ip", "-j", "link", "show"])

    def _addresses(self, runner):
        return _interfaces._ip_json(runner, ["ip", "-j", "-d", "addr", "show"])

    def _run(self, runner, command):
        rc, dummy, err = runner.run(command)
        if rc != 0:
            raise NodesError("`%s` failed: %s" % (" ".join(command), err.strip() or "rc %d" % rc))

    def _prepare_live(self, work):
        """Give Docker's names back to Docker: rename every eth<k> link to vnt<ifindex>."""
        runner = self._runner(work["attrs"]["State"]["Pid"])
        work["runner"] = runner
        work["renamed"] = {}
        for link in self._links(runner):
            name = link["ifname"]
            if DOCKER_IFNAME_RE.match(name):
                temporary = "vnt%d" % link["ifindex"]
                self._run(runner, ["ip", "link", "set", "dev", name, "down"])
                self._run(runner, ["ip", "link", "set", "dev", name, "name", temporary])
                work["renamed"][temporary] = name

    def _disconnect(self, work):
        name = work["wanted"]["name"]
        endpoints = (work["attrs"].get("NetworkSettings") or {}).get("Networks") or {}
        live = work["live"]
        for network in work["decision"]["disconnect"]:
            self._act(work["node"], "disconnect container %s from network %s" % (name, network))
            if self.check_mode:
                continue
            mac = (endpoints.get(network) or {}).get("MacAddress")
            try:
                self.client.api.disconnect_container_from_network(name, network, force=True)
            except NotFound:
                pass
            if live and mac:
                for link in self._links(work["runner"]):
                    if link.get("address") == mac:
                        self._run(work["runner"], ["ip", "link", "del", "dev", link["ifname"]])

    def _connect(self, work):
        name = work["wanted"]["name"]
        live = work["live"]
        for index, network in enumerate(work["decision"]["connect"]):
            self._act(work["node"], "connect container %s to network %s (placeholder %s)"
                      % (name, network["name"], network["ipv4_address"]))
            if self.check_mode:
                continue
            self.client.api.connect_container_to_network(name, network["name"],
                                                         ipv4_address=network["ipv4_address"])
            if live:
                placeholder = ipaddress.ip_address(network["ipv4_address"])
                links = _interfaces.parse_links(self._addresses(work["runner"]))
                for link in links:
                    if any(ipaddress.ip_interface(a["address"]).ip == placeholder for a in link["addresses"]):
                        self._run(work["runner"], ["ip", "link", "set", "dev", link["name"], "down"])
                        self._run(work["runner"], ["ip", "link", "set", "dev", link["name"],
                                                   "name", "vnc%d" % index])

    def _restore_names(self, work):
        """Give the vnt<ifindex> links their names back, and set them up."""
        if self.check_mode:
            return
        present = {link["ifname"] for link in self._links(work["runner"])}
        for temporary, original in sorted(work["renamed"].items()):
            if temporary in present:
                self._run(work["runner"], ["ip", "link", "set", "dev", temporary, "name", original])
                self._run(work["runner"], ["ip", "link", "set", "dev", original, "up"])

    # -- readiness and interfaces
    def _wait_ready(self, work):
        """Wait for this start's ready mark; return the container's inspect data."""
        name = work["wanted"]["name"]
        deadline = self.clock() + work["ready_timeout"]
        attrs = self._inspect(name)
        while True:
            state = (attrs or {}).get("State") or {}
            pid = state.get("Pid")
            if state.get("Running") and pid and not state.get("Restarting") \
                    and os.path.exists("%s/%d/root%s" % (self.proc, pid, READY_MARK)):
                return attrs
            if attrs is None or (not state.get("Running") and not state.get("Restarting")):
                raise NodesError("node %s: container %s stopped before it was ready (status %s, exit"
                                 " code %s)%s" % (work["node"], name, state.get("Status"),
                                                  state.get("ExitCode"), self._logs(name)))
            if self.clock() >= deadline:
                raise NodesError("node %s: container %s did not apply its network plan within %s s"
                                 " (no %s)%s" % (work["node"], name, work["ready_timeout"],
                                                 READY_MARK, self._logs(name)))
            self.sleep(self.POLL)
            if not os.path.exists("%s/%d" % (self.proc, pid or 0)) or state.get("Restarting"):
                attrs = self._inspect(name)

    def _logs(self, name):
        try:
            text = self.client.api.logs(name, tail=10).decode("utf-8", "replace").strip()
        except APIError:
            return ""
        return ": %s" % " | ".join(text.splitlines()) if text else ""

    def _converge(self, work):
        node = work["node"]
        attrs = work["attrs"]
        runner = work.get("runner") or self._runner(attrs["State"]["Pid"])
        if self.check_mode and work["live"] and (work["decision"]["disconnect"] or work["decision"]["connect"]):
            macs = {link["ifname"]: link.get("address") for link in self._links(runner)}
            endpoints = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
            gone = {(endpoints.get(n) or {}).get("MacAddress") for n in work["decision"]["disconnect"]}
            mtus = {n["name"]: work["netplan"]["interfaces"][n["interface"]]["mtu"]
                    for n in work["wanted"]["networks"]}
            connect = [dict(n, mtu=mtus[n["name"]]) for n in work["decision"]["connect"]]
            default = work["wanted"]["sysctls"].get("net.ipv6.conf.default.disable_ipv6", "1")
            state = simulate_network_change(_interfaces.read_state(runner), macs, gone - {None},
                                            connect, work["subnets"], ipv6_disabled=default != "0")
            texts, before, after = predict_interfaces(state, work["netplan"])
            before = work["interfaces_before"]
        else:
            result = _interfaces.apply(runner, work["netplan"], check_mode=self.check_mode)
            texts, before, after = result["actions"], result["before"], result["after"]
            if work.get("interfaces_before") is not None:
                before = work["interfaces_before"]
        for text in texts:
            self._act(node, text)
        work["interfaces"] = (before, after)
        if work["live"] and not self.check_mode:
            self._announce(work, runner)

    def _announce(self, work, runner):
        """Tell the neighbours the new MAC address behind each address of a connected interface."""
        macs = {link["ifname"]: link.get("address") for link in self._links(runner)}
        for network in work["decision"]["connect"]:
            ifname = network["interface"]
            entry = work["netplan"]["interfaces"][ifname]
            addresses = [a.split("/")[0] for a in [entry.get("ipv4"), entry.get("ipv6")]
                         + list(entry.get("secondary") or []) if a]
            if addresses and macs.get(ifname):
                command = [sys.executable, "-c", _interfaces.ANNOUNCE, ifname, macs[ifname],
                           "1" if work["netplan"].get("forwarding") else "0"] + addresses
                rc, dummy, err = runner.run(command)
                if rc != 0:
                    raise NodesError("node %s: cannot announce %s on %s: %s"
                                     % (work["node"], ", ".join(addresses), ifname, err.strip()))

    # -- states
    def present(self, plan, segments, image, capabilities, restart_policy, state_dir, ready_timeout,
                log_options=None):
        """Returns (changed, nodes, diff); ``self.actions`` holds what was done per node."""
        plan = plan or {}
        self.state_dir = state_dir
        errors = validate(self.lab, plan, image, capabilities, restart_policy, ready_timeout)
        if errors:
            raise NodesError(errors)
        # An engine's view of a lab over several engines runs the nodes placed on it only.
        nodes = {name: plan["nodes"][name] for name in engine_nodes(plan)} if plan.get("nodes") else {}
        self.elsewhere = {name: node.get("placement") for name, node in (plan.get("nodes") or {}).items()
                          if name not in nodes}
        subnets = {s["network"]: s.get("subnet") for s in (segments or {}).values()}
        works = {}
        for node in sorted(nodes):
            try:
                netplan = node_netplan(plan, node, segments)
                wanted = wanted_container(self.lab, node, plan, segments, image, capabilities,
                                          restart_policy, state_dir, log_options)
            except NetplanError as exc:
                errors += exc.errors
                continue
            except KeyError as exc:
                errors.append("node %s: the plan or the segments lack %s" % (node, exc))
                continue
            works[node] = {"node": node, "netplan": netplan, "wanted": wanted, "subnets": subnets,
                           "ready_timeout": ready_timeout, "live": False, "interfaces_before": None,
                           "path": os.path.join(node_dir(state_dir, self.lab, node), NETPLAN_FILE)}
        try:
            image_id = self.client.api.inspect_image(image)["Id"]
        except NotFound:
            errors.append("image %s is not on the engine: build it first (role vnet.lab.images)" % image)
            image_id = None
        if errors:
            raise NodesError(errors)

        # Decide everything first, so that a conflict fails before anything is changed.
        by_name = {}
        for summary in self.client.api.containers(all=True):
            for name in summary.get("Names") or []:
                by_name[name.lstrip("/")] = summary
        extra = []
        for summary in self._lab_containers():
            labels = summary.get("Labels") or {}
            if LABEL_NODE in labels and LABEL_SERVICE not in labels and labels[LABEL_NODE] not in nodes:
                extra.append((labels[LABEL_NODE], summary["Names"][0].lstrip("/")))
        names = [w["wanted"]["name"] for w in works.values() if w["wanted"]["name"] in by_name]
        inspected = {}
        errors = self._parallel(lambda name: inspected.__setitem__(name, self._inspect(name)), names)
        for work in works.values():
            attrs = inspected.get(work["wanted"]["name"])
            if attrs is not None:
                reason = owner_error(attrs, self.lab, work["node"])
                if reason:
                    errors.append(reason)
                    continue
            work["attrs"] = attrs
            work["image_id"] = image_id
            work["decision"] = decide(attrs, work["wanted"], image_id)
            work["was_running"] = (work["decision"]["op"] == "update"
                                   and container_state(attrs) in ("running", "paused"))
            # A paused node's namespace holds renamed interfaces too.
            work["live"] = (work["decision"]["op"] == "update" and container_state(attrs) in ("running", "paused")
                            and bool(work["decision"]["disconnect"] or work["decision"]["connect"]))
        if errors:
            raise NodesError(errors)

        before = {node: container_view(w["attrs"]) for node, w in works.items() if w["attrs"] is not None}
        before.update({node: {"container": name} for node, name in extra})

        self._write(LAB_KEY, os.path.join(state_dir, self.lab, PLAN_FILE), json_text(plan))
        # Removals and disconnections first: they free the placeholders that others take.
        errors = self._parallel(lambda item: self._phase_free(*item), list(extra) + [(None, w) for w in works.values()])
        if errors:
            raise NodesError(errors)
        errors = self._parallel(self._phase_take, works.values())
        if errors:
            raise NodesError(errors)

        after = {}
        result = {}
        for node, work in works.items():
            after[node] = wanted_view(work["wanted"], image_id)
            attrs = work.get("final") or {}
            state = attrs.get("State") or {}
            result[node] = {"container": work["wanted"]["name"], "pid": state.get("Pid") or None,
                            "state": state.get("Status") or "running"}
            # Only where there was a running node to compare with: a new one's entrypoint does it.
            if work.get("interfaces") and work["was_running"]:
                before[node]["interfaces"], after[node]["interfaces"] = work["interfaces"]
        diff = {"before": {"nodes": before}, "after": {"nodes": after}}
        return bool(self.actions), result, diff

    def _phase_free(self, node, work=None):
        if node is not None:
            # A node no longer in the plan: ``work`` is its container's name.
            where = self.elsewhere.get(node)
            self._remove(node, work, "node placed on %s" % where if where else "node not in the plan")
            directory = node_dir(self.state_dir, self.lab, node)
            if os.path.isdir(directory):
                self._act(node, "remove %s" % directory)
                if not self.check_mode:
                    shutil.rmtree(directory)
            return
        self._write(work["node"], work["path"], json_text(work["netplan"]))
        decision = work["decision"]
        if decision["op"] == "recreate":
            self._remove(work["node"], work["wanted"]["name"], "; ".join(decision["reasons"]))
            return
        if decision["op"] != "update":
            return
        if work["live"]:
            before = _interfaces.read_state(self._runner(work["attrs"]["State"]["Pid"]))
            netplan = _interfaces.normalize_netplan(work["netplan"])
            names = [link["name"] for link in before["links"] if link["name"] != "lo"]
            planned = [name for name in sorted(netplan["interfaces"]) if name in names]
            work["interfaces_before"] = _interfaces.describe(before, planned)
            if not self.check_mode:
                self._prepare_live(work)
        if decision["disconnect"]:
            self._disconnect(work)

    def _phase_take(self, work):
        decision = work["decision"]
        node = work["node"]
        if decision["op"] in ("create", "recreate"):
            self._create(work)
            self._start(work)
        else:
            if decision["connect"]:
                self._connect(work)
            if work["live"]:
                self._restore_names(work)
            if decision["unpause"]:
                self._act(node, "unpause container %s" % work["wanted"]["name"])
                if not self.check_mode:
                    self.client.api.unpause(work["wanted"]["name"])
            if decision["start"]:
                self._start(work)
        if self.check_mode:
            work["final"] = work["attrs"] if decision["op"] == "update" and not decision["start"] else None
            if work["final"] is not None and container_state(work["attrs"]) in ("running", "paused"):
                self._converge(work)
                self._resolver(work)
            return
        attrs = self._wait_ready(work)
        work["attrs"] = attrs
        work["final"] = attrs
        self._converge(work)
        self._resolver(work)

    def _resolver(self, work):
        """The node's resolver file (the lab's DNS servers), as its entrypoint writes it at each start:
        rewritten in place here when a running node's plan changed it."""
        text = resolver_text(work["netplan"])
        path = (work["attrs"] or {}).get("ResolvConfPath")
        if text is None or not path or read_text(path) == text:
            return
        self._act(work["node"], "write %s (the lab's DNS servers)" % path)
        if not self.check_mode:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

    def absent(self, state_dir=None, keep_volumes=True, segments=None):
        """Remove every container of the lab (services too), its directory under ``state_dir`` and,
        unless kept, its volumes; with ``segments`` (a ``_segments.Segments`` of the lab), its networks
        too once its containers are gone. Returns (changed, diff)."""
        errors = lab_errors(self.lab)
        if errors:
            raise NodesError(errors)
        containers = sorted(self._lab_containers(), key=lambda c: c["Names"][0])
        before = {}
        items = []
        for summary in containers:
            name = summary["Names"][0].lstrip("/")
            labels = summary.get("Labels") or {}
            key = labels.get(LABEL_NODE) or name
            # Joined to another's namespace (a node's service): holds no segment.
            joined = ((summary.get("HostConfig") or {}).get("NetworkMode") or "").startswith("container:")
            items.append((joined, key, name))
            before.setdefault(key, []).append(name)
            # Recorded here, in name order: the removals run in parallel.
            self._act(key, "remove container %s" % name)
        # The containers that hold the segments (the nodes) and the keeper go first, alone: they
        # go sooner without the services' removals beside them. Then the segments (dockerd
        # removes networks one after another, ~0.15 s each) while the services go: these hold
        # none, as Docker frees a node's interfaces when the node goes, even with services left in
        # its namespace. The volumes, which services use, once every container is gone.
        items.sort(key=lambda item: item[0])
        errors, networks, volumes = [], None, []
        with ThreadPoolExecutor(max_workers=max(1, min(self.MAX_WORKERS, len(items)))) as pool, \
                ThreadPoolExecutor(max_workers=1) as side:
            errors += self._results([pool.submit(self._remove, key, name, record=False)
                                     for joined, key, name in items if not joined])
            removing = side.submit(segments.absent, leaving={name for dummy, dummy, name in items}) \
                if segments is not None and not errors else None
            errors += self._results([pool.submit(self._remove, key, name, record=False)
                                     for joined, key, name in items if joined])
            if not keep_volumes and not errors:
                listed = self.client.api.volumes(filters={"label": "%s=%s" % (LABEL_LAB, self.lab)})
                volumes = sorted(v["Name"] for v in (listed or {}).get("Volumes") or [])
                if not self.check_mode:
                    errors += self._results([pool.submit(self.client.api.remove_volume, volume, force=True)
                                             for volume in volumes])
            if removing is not None:
                dummy, dummy, networks = removing.result()
                for action in segments.actions:
                    self._act(LAB_KEY, action)
        for volume in volumes:
            self._act(LAB_KEY, "remove volume %s" % volume)
        if errors:
            raise NodesError(errors)
        if state_dir:
            # The lab's directory: its plans, and the files its services were given.
            directory = os.path.join(state_dir, self.lab)
            if os.path.lexists(directory):
                self._act(LAB_KEY, "remove %s" % directory)
                if not self.check_mode:
                    shutil.rmtree(directory)
        diff = {"before": {"containers": before, "volumes": volumes}, "after": {"containers": {}, "volumes": []}}
        if networks is not None:
            diff["before"]["networks"] = networks["before"]["networks"]
            diff["after"]["networks"] = networks["after"]["networks"]
        return bool(self.actions), diff
