# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The voip service of a node (Kamailio + rtpengine), derived from a lab's plan, and the
figures of its verification.

Server (``server(plan, node)``), from ``plan.nodes.<node>.services.voip``::

    address: 192.168.1.1          # SIP listen address: the service's IPv4, bare
    interface: lan1               # the interface that carries it
    domain: demo.test             # plan.domain
    names: [voip.demo.test]       # the service's DNS names, fully qualified (Kamailio aliases)
    rtp_interfaces:               # one rtpengine interface per IPv4 subnet of the node, in
      - {name: lan1, address: 192.168.1.1, subnet: 192.168.1.0/24}   # interface name order:
      - {name: lan2, address: 192.168.2.1, subnet: 192.168.2.0/24}   # name = the segment
    media_routes:                 # where a media peer is reached, most specific first:
      - {subnet: 192.168.2.0/24, interface: lan2}   # each subnet of the node, and each
      - {subnet: 192.168.1.0/24, interface: lan1}   # destination of its static routes
      - {subnet: 10.9.0.0/16, interface: lan2}      # (through the interface of the next hop)

Media are anchored: a phone sends RTP to rtpengine's address on the phone's own side, and
Kamailio picks the two interfaces of a call (rtpengine's ``direction=`` flags) by looking the
sender's and the next hop's addresses up in ``media_routes``; an address that no entry holds
goes through the service's own interface. On the service's interface the rtpengine address is
the service address (which may be an extra address there); elsewhere, the node's address.
IPv4 only. An interface without an IPv4 address of its own (a DHCP client) carries no media.

Extensions (``voip_extensions``) are ``[{number, password}]``; a password has no default.
``extension_problems(extensions)`` names every problem without ever quoting a password, so its
lines may be shown; ``accounts(extensions, realm)`` gives ``[{number, ha1}]`` with
HA1 = MD5("number:realm:password") (RFC 2617), what Kamailio's htable holds instead of the
password itself.

Test phones (``phones(plan, assignments)``): ``{number: client node}`` -> one phone per
extension, joined to its node's namespace, with the node's address and ports of its own
(phones that share a node must not share a port)::

    - {number: "2001", node: pc1, address: 192.168.1.10, sip_port: 5070, ctrl_port: 4441,
       rtp_ports: [20100, 20199]}

QoS (``rtp_streams(text)``) parses ``tshark -q -z rtp,streams`` (Wireshark 3.x and 4.x
columns) into one dict per stream; ``media_problems(streams, server_addresses,
phone_addresses)`` says why the capture does not show a call anchored at the server.

Errors are collected, then raised together as one ``VoipError``, one problem per line.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from ansible_collections.vnet.lab.plugins.module_utils._topology import name_key

NUMBER = re.compile(r"[0-9]{1,32}\Z")
# rtpengine interface names reach Kamailio's flags (space separated) and rtpengine's own
# configuration (';' separated list of name/address).
RTP_INTERFACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
# Characters that cannot go into a Kamailio string literal.
UNQUOTABLE = re.compile(r'["\\\r\n]')

SIP_PORT_BASE = 5060
# baresip binds UDP and TCP on its SIP port and TLS on the next one.
SIP_PORT_STEP = 10
CTRL_PORT_BASE = 4440
RTP_PORT_BASE = 20000
RTP_PORTS_PER_PHONE = 100


class VoipError(ValueError):
    """One or more reasons why the voip data cannot be built, one per line."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _interface(text):
    """The IPv4 interface (address/prefix) of ``text``, or None."""
    if not text:
        return None
    address = ipaddress.ip_interface(text)
    return address if address.version == 4 else None


def _node(plan, node, errors):
    nodes = plan.get("nodes") or {}
    if node not in nodes:
        errors.append("node %s is not in the plan (nodes: %s)"
                      % (node, ", ".join(sorted(nodes, key=name_key)) or "none"))
        return None
    return nodes[node]


def _qualify(name, domain):
    if name.endswith("."):
        return name[:-1]
    if not domain or name == domain or name.endswith("." + domain):
        return name
    return "%s.%s" % (name, domain)


def _rtp_interfaces(node_name, node, service_ifname, service_address, errors):
    found = []
    interfaces = node.get("interfaces") or {}
    for ifname in sorted(interfaces, key=name_key):
        entry = interfaces[ifname]
        own = _interface(entry.get("ipv4"))
        if own is None:
            continue
        segment = entry.get("segment") or ifname
        if not RTP_INTERFACE_NAME.match(segment):
            errors.append("node %s: segment %r of %s cannot name an rtpengine interface "
                          "(letters, digits, '.', '_', '-')" % (node_name, segment, ifname))
            continue
        address = service_address if ifname == service_ifname else own
        found.append({"name": segment, "address": str(address.ip), "subnet": str(own.network),
                      "ifname": ifname})
    by_subnet = {}
    for entry in found:
        other = by_subnet.setdefault(entry["subnet"], entry)
        if other is not entry:
            errors.append("node %s: %s and %s are both in %s, so rtpengine cannot tell which one "
                          "reaches a phone there"
                          % (node_name, other["ifname"], entry["ifname"], entry["subnet"]))
    return found


def _media_routes(node_name, node, rtp, errors):
    routes = [(ipaddress.ip_network(entry["subnet"]), entry["name"]) for entry in rtp]
    for route in node.get("routes") or []:
        dst = ipaddress.ip_network(route["dst"])
        if dst.version != 4:
            continue
        via = ipaddress.ip_address(route["via"])
        through = [name for subnet, name in routes[:len(rtp)] if via in subnet]
        if not through:
            errors.append("node %s: the next hop %s of the route to %s is on none of its "
                          "subnets" % (node_name, via, dst))
            continue
        if all(dst != subnet for subnet, _name in routes):
            routes.append((dst, through[0]))
    routes.sort(key=lambda item: (-item[0].prefixlen, int(item[0].network_address)))
    return [{"subnet": str(subnet), "interface": name} for subnet, name in routes]


def server(plan, node):
    """The voip server of ``node``, see the module docstring."""
    errors = []
    entry = _node(plan, node, errors)
    if entry is None:
        raise VoipError(errors)
    voip = (entry.get("services") or {}).get("voip")
    if not isinstance(voip, dict):
        raise VoipError(["node %s runs no voip service (plan.nodes.%s.services.voip)" % (node, node)])
    address = _interface(voip.get("ipv4"))
    ifname = voip.get("interface")
    if address is None:
        raise VoipError(["node %s: the voip service has no IPv4 address (plan.nodes.%s.services.voip.ipv4)"
                         % (node, node)])
    if ifname not in (entry.get("interfaces") or {}):
        raise VoipError(["node %s: the voip service's interface %r is not one of the node's"
                         % (node, ifname)])
    domain = plan.get("domain")
    names = []
    for name in voip.get("names") or []:
        fqdn = _qualify(name, domain)
        if UNQUOTABLE.search(fqdn) or not fqdn:
            errors.append("node %s: voip name %r cannot be a SIP alias" % (node, name))
        elif fqdn not in names:
            names.append(fqdn)
    rtp = _rtp_interfaces(node, entry, ifname, address, errors)
    routes = _media_routes(node, entry, rtp, errors)
    if errors:
        raise VoipError(errors)
    return {
        "address": str(address.ip),
        "interface": ifname,
        "domain": domain,
        "names": names,
        "rtp_interfaces": [{"name": item["name"], "address": item["address"], "subnet": item["subnet"]}
                           for item in rtp],
        "media_routes": routes,
    }


def _number(value):
    """The extension number as a string, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        value = str(value)
    if isinstance(value, str) and NUMBER.match(value):
        return value
    return None


def extension_problems(extensions):
    """Every problem of ``extensions`` (list of {number, password}), one line each; never a password."""
    if extensions is None or extensions == []:
        return ["no extensions: set voip_extensions to a list of {number, password} "
                "(passwords have no default; keep them in a vault)"]
    if not isinstance(extensions, list):
        return ["voip_extensions must be a list of {number, password}"]
    problems = []
    seen = set()
    for index, extension in enumerate(extensions, 1):
        if not isinstance(extension, dict):
            problems.append("extension #%d is not a mapping with number and password" % index)
            continue
        unknown = sorted(set(extension) - {"number", "password"})
        number = _number(extension.get("number"))
        label = "extension %s" % number if number else "extension #%d" % index
        if unknown:
            problems.append("%s: unknown key(s) %s (known: number, password)" % (label, ", ".join(unknown)))
        if number is None:
            problems.append("extension #%d: the number must be digits (1 to 32)" % index)
        elif number in seen:
            problems.append("extension %s is listed twice" % number)
        else:
            seen.add(number)
        password = extension.get("password")
        if password is None or password == "":
            problems.append("%s has no password (passwords have no default)" % label)
        elif not isinstance(password, str):
            problems.append("%s: the password must be a string" % label)
    return problems


def accounts(extensions, realm):
    """[{number, ha1}] of ``extensions`` in their order; HA1 = MD5(number:realm:password)."""
    problems = extension_problems(extensions)
    if not isinstance(realm, str) or not realm or UNQUOTABLE.search(realm):
        problems.append("the SIP realm %r must be a non-empty string without quotes, "
                        "backslashes or line breaks" % (realm,))
    if problems:
        raise VoipError(problems)
    result = []
    for extension in extensions:
        number = _number(extension["number"])
        digest = "%s:%s:%s" % (number, realm, extension["password"])
        result.append({"number": number, "ha1": hashlib.md5(digest.encode("utf-8")).hexdigest()})
    return result


def _first_ipv4(node):
    interfaces = node.get("interfaces") or {}
    for ifname in sorted(interfaces, key=name_key):
        address = _interface(interfaces[ifname].get("ipv4"))
        if address is not None:
            return str(address.ip)
    return None


def phones(plan, assignments, addresses=None):
    """One test phone per extension of ``assignments`` ({number: node}), in number order.

    ``addresses`` ({node: IPv4}) gives the address of a node the plan leaves to DHCP (its
    lease); it wins over the plan's.
    """
    errors = []
    addresses = addresses or {}
    if not isinstance(assignments, dict) or not assignments:
        raise VoipError(["assignments must map each extension number to the client node of its phone"])
    result = []
    per_node = {}
    numbers = []
    for key, node_name in assignments.items():
        number = _number(key)
        if number is None:
            errors.append("phone %r: the extension number must be digits (1 to 32)" % (key,))
            continue
        numbers.append((number, node_name))
    for number, node_name in sorted(numbers, key=lambda item: (len(item[0]), item[0])):
        node = _node(plan, node_name, errors)
        if node is None:
            continue
        address = str(addresses[node_name]).split("/", maxsplit=1)[0] if addresses.get(node_name) else _first_ipv4(node)
        if address is None:
            errors.append("phone %s: node %s has no IPv4 address of its own for a phone (a DHCP client's"
                          " lease is given in addresses)" % (number, node_name))
            continue
        index = per_node[node_name] = per_node.get(node_name, 0) + 1
        rtp_low = RTP_PORT_BASE + RTP_PORTS_PER_PHONE * index
        result.append({
            "number": number,
            "node": node_name,
            "address": address,
            "sip_port": SIP_PORT_BASE + SIP_PORT_STEP * index,
            "ctrl_port": CTRL_PORT_BASE + index,
            "rtp_ports": [rtp_low, rtp_low + RTP_PORTS_PER_PHONE - 1],
        })
    if errors:
        raise VoipError(errors)
    return result


_FLOAT = r"(-?[0-9]+(?:\.[0-9]+)?)"
_STREAM_HEAD = re.compile(
    r"\s*(?:" + _FLOAT + r"\s+" + _FLOAT + r"\s+)?(\S+)\s+([0-9]+)\s+(\S+)\s+([0-9]+)\s+(0x[0-9A-Fa-f]+)\s+(.*)\Z")
_STREAM_TAIL = re.compile(
    r"(.*?)\s+([0-9]+)\s+(-?[0-9]+)\s+\((-?[0-9.]+|nan|-?inf)%\)((?:\s+-?[0-9]+(?:\.[0-9]+)?)+)\s*(X?)\s*\Z")
_COLUMNS_4 = ("min_delta_ms", "mean_delta_ms", "max_delta_ms", "min_jitter_ms", "mean_jitter_ms", "max_jitter_ms")
_COLUMNS_3 = ("max_delta_ms", "max_jitter_ms", "mean_jitter_ms")


def rtp_streams(text):
    """The streams of ``tshark -q -z rtp,streams`` output, in its order."""
    if not isinstance(text, str):
        raise VoipError(["the RTP statistics must be tshark's text output"])
    columns = None
    streams = []
    errors = []
    for line in text.splitlines():
        if "Src IP addr" in line:
            columns = _COLUMNS_4 if "Mean Delta" in line else _COLUMNS_3
            continue
        if columns is None or not line.strip() or line.lstrip().startswith("="):
            continue
        head = _STREAM_HEAD.match(line)
        tail = head and _STREAM_TAIL.match(head.group(8))
        figures = tail and tail.group(5).split()
        if not tail or len(figures) != len(columns):
            errors.append("cannot read RTP stream line %r" % line.strip())
            continue
        stream = {
            "start": float(head.group(1)) if head.group(1) else None,
            "end": float(head.group(2)) if head.group(2) else None,
            "src": head.group(3),
            "src_port": int(head.group(4)),
            "dst": head.group(5),
            "dst_port": int(head.group(6)),
            "ssrc": head.group(7),
            "payload": tail.group(1).strip(),
            "packets": int(tail.group(2)),
            "lost": int(tail.group(3)),
            "lost_percent": float(tail.group(4)),
            "problem": tail.group(6) == "X",
        }
        stream.update(dict.fromkeys(_COLUMNS_4))
        stream.update(zip(columns, (float(value) for value in figures)))
        streams.append(stream)
    if columns is None:
        errors.append("no RTP stream table in the output (tshark -q -z rtp,streams)")
    if errors:
        raise VoipError(errors)
    return streams


def media_problems(streams, server_addresses, phone_addresses):
    """Why ``streams`` do not show media anchored at the server; [] when they do.

    Anchored: no stream goes from one phone to another, and each phone both sends RTP to a
    server address and receives RTP from one.
    """
    server = set(server_addresses)
    problems = []
    for stream in streams:
        if stream["src"] not in server and stream["dst"] not in server:
            problems.append("RTP %s:%d -> %s:%d bypasses the server (%s)"
                            % (stream["src"], stream["src_port"], stream["dst"], stream["dst_port"],
                               ", ".join(sorted(server))))
    for phone in phone_addresses:
        if not any(s["src"] == phone and s["dst"] in server for s in streams):
            problems.append("no RTP from %s to the server" % phone)
        if not any(s["dst"] == phone and s["src"] in server for s in streams):
            problems.append("no RTP from the server to %s" % phone)
    return problems
