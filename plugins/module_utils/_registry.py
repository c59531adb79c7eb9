# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""The service roles of vnet.lab, in one table (private to vnet.lab).

Everything that lists the service roles is derived from ``SERVICE_ROLES``: the services a topology
may declare and their options (``_topology``), the order a lab brings them up and which of them give
the hosts a client (``_lab``), the images a lab needs and the images role's catalogue entries, the
variables ``playbooks/tasks/service.yml`` gives each role (``_lab.role_vars``), the variables whose
digest decides whether ``lab_up`` may skip converging. The keeper (``_keeper.py``, standard library
only, copied alone into the node image) keeps its own copy of the order; a unit test holds it equal.

A new service role is one entry here plus the role (``roles/<role>/``, its image's build context
in ``roles/images/files/<image>/``); ``docs/contributing.md`` says how.

Each entry, in the order a lab brings the roles up (routing first: the other services' clients
come from other subnets; then name service, addresses, content; the lab user's client last, once
the DHCP servers answer):

``deploy``
    ``node``: on each node whose ``services`` declare it (in this order); ``vpn``: by the lab's
    ``vpn`` section, in its own step; ``hosts``: on every host of a lab that runs a service with
    ``users``; ``None``: not a role, only a name that a node's service may have.
``names``
    The DNS names a service declared in a topology gets by default (web adds its vhosts), or
    ``None`` when a topology cannot declare it.
``options``
    The options of the service in a topology besides ``address``, ``interface`` and ``names``.
``users``
    Lab hosts use it: a lab that runs it gives each host the ``hosts`` roles.
``image``, ``description``
    The image (name in the images role's catalogue, context ``roles/images/files/<image>``).
``vars``
    The role's variables in a lab (``<role>_<key>``), each from a source that ``_lab.role_vars``
    computes: ``lab``, ``node``, ``plan``, ``ipv4``, ``ipv6`` (the node's service address),
    ``web_vhosts``, ``voip_server`` (from the plan), ``input:<name>`` (an input of the lab, e.g. a
    secret; left out when the lab has none), ``value:<json>`` (a constant).
"""

from __future__ import annotations

# The variables every role deployed on a node gets in a lab; network_mode only when the lab gives
# one (vnet_lab_network_mode: host on real boards).
_ON_A_NODE = {"lab": "lab", "node": "node", "network_mode": "input:network_mode"}

SERVICE_ROLES = {
    "ospf": {
        "deploy": "node", "names": [], "options": (), "users": False,
        "image": "ospf", "description": "FRRouting (zebra + ospfd).",
        "vars": dict(_ON_A_NODE, plan="plan"),
    },
    "ipsec": {
        "deploy": "vpn", "names": [], "options": (), "users": False,
        "image": "strongswan",
        "description": "strongSwan charon + swanctl (IKEv2; kernel ESP or kernel-libipsec over /dev/net/tun).",
        "vars": {},
    },
    "dns": {
        "deploy": "node", "names": ["ns1"], "options": (), "users": True,
        "image": "dns", "description": "Bind9 master for the lab's forward and reverse zones.",
        "vars": dict(_ON_A_NODE, plan="plan"),
    },
    "dhcp": {
        "deploy": "node", "names": ["dhcp"], "users": True,
        "options": ("default_lease_time", "max_lease_time", "min_lease_time", "range", "serve"),
        "image": "dhcp", "description": "ISC DHCP server, one container per served interface.",
        "vars": dict(_ON_A_NODE, plan="plan"),
    },
    "web": {
        "deploy": "node", "names": ["www"], "options": ("vhosts",), "users": True,
        "image": "web", "description": "nginx with a default server and name-based virtual hosts.",
        "vars": dict(_ON_A_NODE, ipv4="ipv4", ipv6="ipv6", vhosts="web_vhosts"),
    },
    "ftp": {
        "deploy": "node", "names": ["ftp"], "options": (), "users": True,
        "image": "ftp", "description": "vsftpd, active mode, chrooted local users.",
        "vars": dict(_ON_A_NODE, ipv4="ipv4", ipv6="ipv6", users="input:ftp_users"),
    },
    "voip": {
        "deploy": "node", "names": ["voip"], "options": (), "users": True,
        "image": "voip", "description": "Kamailio registrar and proxy with rtpengine in userspace.",
        "vars": dict(_ON_A_NODE, server="voip_server", extensions="input:voip_extensions",
                     verify_phones="value:{}"),
    },
    "client": {
        "deploy": "hosts", "names": None, "options": (), "users": False,
        "image": "client",
        "description": "A lab user's tools (dig, dhclient, curl, lftp, ping, traceroute, tcpdump), for verification; "
                       "ab, dnsperf and SIPp, for load.",
        "vars": dict(_ON_A_NODE, plan="plan"),
    },
    "monitor": {
        "deploy": None, "names": ["monitor"], "options": (), "users": False,
        "image": None, "description": None, "vars": {},
    },
}


def roles(*deploy):
    """The names of the roles deployed in one of the ways ``deploy``, in the table's order."""
    return tuple(name for name, entry in SERVICE_ROLES.items() if entry["deploy"] in deploy)
