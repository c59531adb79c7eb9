# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""Everything a lab run checks on the controller before it changes anything.

``check(topology, inputs, variables, specs, file=None)`` is the one public entry point; the
filter ``vnet.lab.lab_check`` calls it from ``playbooks/tasks/check.yml``, the first task of
``lab_up.yml`` and ``site.yml``. It returns ``{"plan": plan or None, "problems": [line, ...]}``:
one line per problem, each naming its culprit (a node, a link, a tunnel, a variable), never a
secret's value. A run with a problem stops there, before any module is called. In this order:

1. the topology: read from a file (``file`` names it as the user gave it; ``topology`` is then
   its text, or None when there is no such file), it must be YAML; then the planner
   (``_addressing.make_plan``) names every problem of it at once;
2. the roles' variables (``variables``, e.g. the host's inventory and extra variables): each
   option of a role's ``meta/argument_specs.yml`` (``specs``: ``{role: {option: spec}}``) that is
   set is validated against its spec, as the role would at its start, but now, before anything
   has run. A variable whose value cannot be templated yet (it refers to a fact of the run) is
   left to the role;

and, once the topology is planned:

3. segment prefixes against the placeholder pool (``topology_placeholder_pool``, by default the
   topology role's), from which every segment's Docker network takes its IPAM subnet; not on real
   boards (``boards`` given), whose segments are their own ports;
4. the secrets (``inputs``, None or absent when not set; none has a default):
   ``vnet_lab_ipsec_psk`` (a string, or a mapping of tunnel name to key, of at least
   ``PSK_MIN_LENGTH`` characters) for each tunnel with ``auth: psk``, ``vnet_lab_ftp_users``
   when the lab runs ftp, ``vnet_lab_voip_extensions`` when it runs voip;
5. what each service role of the lab (``_lab.lab_services``) derives from the plan, with the same
   functions the roles call (``_dhcp.scopes``, ``_dns.zones`` and ``server``, ``_web.vhosts`` with
   ``vnet_lab_web_sites``, ``_voip.server``, ``_ospf.frr_config``), so that a service option that
   cannot work stops the run here rather than halfway through the services;
6. the boards of a real lab (``inputs["boards"]``: ``{board: [its interfaces]}`` from gathered
   facts): every interface the plan gives a board's node must exist on the board;
7. a lab placed over several engines (``inputs["engines"]``: the inventory hosts the lab runs on):
   every node's ``placement`` must be one of them (``_placement.engine_problems``). Each engine's
   view of the plan (``_placement.engine_plan``) is made after this check, once the engines'
   underlay addresses are known.

What only the Docker host can tell (its own addresses, containers of the same names, a missing
macvlan parent) is checked by ``vnet.lab.segments`` before it makes anything (``_segments``).
This module imports nothing of Docker: the filter runs in every Ansible worker.
"""

from __future__ import annotations

import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.yaml import HAS_YAML, yaml_load

from ansible_collections.vnet.lab.plugins.module_utils import _dhcp, _dns, _ospf, _voip, _web
from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
from ansible_collections.vnet.lab.plugins.module_utils._lab import lab_services, placeholder_clashes
from ansible_collections.vnet.lab.plugins.module_utils._placement import engine_problems
from ansible_collections.vnet.lab.plugins.module_utils._topology import TopologyError, name_key, shorten, what

if HAS_YAML:
    from yaml import YAMLError
else:
    class YAMLError(Exception):
        """Stands in for yaml.YAMLError; without PyYAML no file is read."""

# What ``inputs`` may hold (playbooks/tasks/check.yml gives each, null when not set).
INPUTS = ("vnet_lab_ipsec_psk", "vnet_lab_ftp_users", "vnet_lab_voip_extensions", "vnet_lab_web_sites",
          "topology_placeholder_pool", "boards", "engines")
PSK_MIN_LENGTH = 16
DOCKER_LINKS = ("veth", "br-", "docker")
DEFAULT_PLACEHOLDER_POOL = "100.64.0.0/10"

FTP_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}\Z")
FTP_USER_RULE = "1-32 characters a-z, 0-9, _ and -, starting with a letter or _"
# Accounts of the ftp image (Debian's base accounts and vsftpd's own): a user of one of these
# names would make the container's entrypoint fail at every start (roles/ftp/vars/main.yml).
FTP_SYSTEM_ACCOUNTS = frozenset((
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "_apt", "ftp", "systemd-network",
    "systemd-timesync", "messagebus"))


def check(topology, inputs=None, variables=None, specs=None, file=None):
    """The plan and every problem of a lab run (see the module docstring)."""
    inputs = inputs or {}
    problems = []
    plan = None
    if file is not None:
        topology = _read(topology, file, problems)
    if not problems:
        try:
            plan = make_plan(topology)
        except TopologyError as exc:
            problems.extend(exc.errors)
    problems.extend(role_variable_problems(variables or {}, specs or {}))
    if plan is None:
        return {"plan": None, "problems": problems}
    if not inputs.get("boards"):
        pool = inputs.get("topology_placeholder_pool") or DEFAULT_PLACEHOLDER_POOL
        problems.extend(placeholder_clashes(plan["segments"], pool))
    problems.extend(secret_problems(plan, inputs))
    problems.extend(service_problems(plan, inputs.get("vnet_lab_web_sites")))
    problems.extend(board_problems(plan, inputs.get("boards")))
    if inputs.get("engines") is not None:
        problems.extend(engine_problems(plan, inputs["engines"]))
    return {"plan": plan if not problems else None, "problems": problems}


def _read(text, file, problems):
    """The topology of a file's text; a problem (and None) when there is none to read."""
    if text is None:
        problems.append("topology file %s: no such file" % file)
        return None
    try:
        return yaml_load(str(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark else ""
        problems.append("topology file %s is not YAML%s: %s" % (
            file, where, getattr(exc, "problem", None) or str(exc).splitlines()[0]))
        return None


# --- the roles' variables ------------------------------------------------------------------------

def _plain(value):
    """``value`` as plain dicts, lists and scalars (the validator takes nothing else)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def role_variable_problems(variables, specs):
    """Each role option set in ``variables`` that its argument spec refuses, one line each."""
    problems = []
    for role in sorted(specs):
        options = specs[role] or {}
        given = {}
        for name in sorted(options):
            if name not in variables:
                continue
            try:
                given[name] = _plain(variables[name])
            except Exception:  # pylint: disable=broad-exception-caught  # a fact of the run: left to the role
                continue
        if not given:
            continue
        spec = {}
        for name in given:
            spec[name] = {k: v for k, v in options[name].items() if k not in ("required", "default")}
        result = ArgumentSpecValidator(spec).validate(given, validate_role_argument_spec=True)
        secrets = sorted(_no_log_values(spec, given), key=len, reverse=True)
        for message in result.error_messages:
            for secret in secrets:
                message = message.replace(secret, "********")
            problems.append("role vnet.lab.%s: %s" % (role, message))
    return problems


def _no_log_values(spec, values):
    """Texts of the values of ``no_log`` options (sub-options included), to keep out of messages."""
    found = set()
    for name, option in spec.items():
        if not isinstance(values, dict) or name not in values:
            continue
        value = values[name]
        if option.get("no_log") and value not in (None, ""):
            found.update({str(value), repr(value)})
        if option.get("options"):
            for item in value if isinstance(value, list) else [value]:
                found |= _no_log_values(option["options"], item)
    return found


# --- secrets -------------------------------------------------------------------------------------

def _lab_roles(plan):
    roles = {}
    for deployment in lab_services(plan):
        roles.setdefault(deployment["role"], []).append(deployment["node"])
    return roles


def secret_problems(plan, inputs):
    """Missing, empty or unusable secrets of the lab; names only, never a value."""
    roles = _lab_roles(plan)
    problems = psk_problems(plan.get("vpn") or {}, inputs.get("vnet_lab_ipsec_psk"))
    if "ftp" in roles:
        problems += ftp_user_problems(inputs.get("vnet_lab_ftp_users"), roles["ftp"])
    if "voip" in roles:
        extensions = inputs.get("vnet_lab_voip_extensions")
        if extensions is None or extensions == []:
            problems.append("vnet_lab_voip_extensions: not set or empty, and %s runs voip: give a list"
                            " of {number, password} from a vault (make lab generates them); there are"
                            " no default extensions" % _nodes_text(roles["voip"]))
        else:
            problems += ["vnet_lab_voip_extensions: %s" % line
                         for line in _voip.extension_problems(extensions)]
    return problems


def _nodes_text(nodes):
    return ("node " if len(nodes) == 1 else "nodes ") + shorten(nodes)


def psk_problems(vpn, psk, where="vnet_lab_ipsec_psk", whole_lab=True):
    """The pre-shared keys of the tunnels that use one: set, strings, long enough.

    ``vpn`` is ``{tunnel: {auth...}}``: the lab's vpn section, or one node's connections (the
    ipsec role's check, through the filter ``vnet.lab.ipsec_psk_problems``). ``where`` names the
    variable in the messages. A mapping may name tunnels of other nodes unless ``whole_lab``."""
    tunnels = sorted((name for name, spec in vpn.items()
                      if isinstance(spec, dict) and spec.get("auth", "psk") == "psk"), key=name_key)
    if not tunnels:
        return []
    using = "tunnel%s %s" % ("" if len(tunnels) == 1 else "s", shorten(tunnels))
    if psk is None or psk == "":
        return ["%s: not set or empty, and %s authenticate%s with a pre-shared key: give one from a"
                " vault (make lab generates one); there is no default"
                % (where, using, "s" if len(tunnels) == 1 else "")]
    if isinstance(psk, str):
        return _psk_length(where, psk, using)
    if not isinstance(psk, dict):
        return ["%s must be a string, or a mapping of tunnel name to key, not %s" % (where, what(psk))]
    problems = []
    for tunnel in tunnels:
        key = psk.get(tunnel)
        if key is None or key == "":
            problems.append("%s: no key for tunnel %s" % (where, tunnel))
        elif not isinstance(key, str):
            problems.append("%s: the key of tunnel %s must be a string, not %s" % (where, tunnel, what(key)))
        else:
            problems += _psk_length(where, key, "tunnel %s" % tunnel)
    for name in sorted((n for n in psk if whole_lab and n not in vpn), key=lambda n: name_key(str(n))):
        problems.append("%s: no tunnel %s in the lab's vpn section (tunnels: %s)" % (
            where, name, ", ".join(sorted(vpn, key=name_key))))
    return problems


def _psk_length(where, key, using):
    if len(key) < PSK_MIN_LENGTH:
        return ["%s: the key of %s has %d characters; a pre-shared key needs at least %d" % (
            where, using, len(key), PSK_MIN_LENGTH)]
    return []


def ftp_user_problems(users, nodes):
    """``vnet_lab_ftp_users``: a non-empty list of {name, password}; names only in messages."""
    where = "vnet_lab_ftp_users"
    if users is None or users == []:
        return ["%s: not set or empty, and %s runs ftp: give a list of {name, password} from a vault"
                " (make lab generates one); there are no default users" % (where, _nodes_text(nodes))]
    if not isinstance(users, list):
        return ["%s must be a list of {name, password}, not %s" % (where, what(users))]
    problems = []
    seen = set()
    for index, user in enumerate(users, 1):
        if not isinstance(user, dict):
            problems.append("%s: user #%d is not a mapping with name and password" % (where, index))
            continue
        name = user.get("name")
        label = "user %s" % name if isinstance(name, str) and name else "user #%d" % index
        unknown = sorted(str(k) for k in user if k not in ("name", "password"))
        if unknown:
            problems.append("%s: %s: unknown key(s) %s (known: name, password)" % (
                where, label, ", ".join(unknown)))
        if not isinstance(name, str) or not FTP_USER_NAME.match(name):
            problems.append("%s: %s: the name must be %s" % (where, label, FTP_USER_RULE))
        elif name in FTP_SYSTEM_ACCOUNTS:
            problems.append("%s: %s: the name is an account of the ftp image" % (where, label))
        elif name in seen:
            problems.append("%s: %s is listed twice" % (where, label))
        seen.add(name)
        password = user.get("password")
        if password is None or password == "":
            problems.append("%s: %s has no password (there is no default)" % (where, label))
        elif not isinstance(password, str):
            problems.append("%s: the password of %s must be a string, not %s" % (where, label, what(password)))
        elif "\n" in password or "\r" in password:
            problems.append("%s: the password of %s holds a line break" % (where, label))
    return problems


# --- services ------------------------------------------------------------------------------------

def _errors(exc):
    return list(getattr(exc, "errors", None) or [str(exc)])


def service_problems(plan, web_sites=None):
    """What the lab's service roles would refuse, found with the functions they use."""
    problems = []
    roles = _lab_roles(plan)
    if "dns" in roles:
        try:
            _dns.zones(plan)
        except _dns.DnsError as exc:
            problems += _errors(exc)
    checks = {
        "ospf": lambda node: _ospf.frr_config(plan, node),
        "dns": lambda node: _dns.server(plan, node),
        "dhcp": lambda node: _dhcp.scopes(plan, node),
        "web": lambda node: _web.vhosts(plan, node, web_sites),
        "voip": lambda node: _voip.server(plan, node),
    }
    failures = {
        "ospf": _ospf.OspfError, "dns": _dns.DnsError, "dhcp": _dhcp.DhcpError,
        "web": _web.WebError, "voip": _voip.VoipError,
    }
    for role, nodes in roles.items():
        if role not in checks:
            continue
        for node in nodes:
            try:
                checks[role](node)
            except failures[role] as exc:
                lines = _errors(exc)
                if role == "web":
                    lines = ["vnet_lab_web_sites: %s" % line if line.startswith("override") else line
                             for line in lines]
                problems += lines
    return problems


# --- real boards ---------------------------------------------------------------------------------

def board_problems(plan, boards):
    """Interfaces the plan gives a board's node that the board lacks (``boards``: gathered facts)."""
    problems = []
    for board in sorted(boards or {}, key=name_key):
        present = boards[board]
        node = plan["nodes"].get(board)
        if node is None or present is None:
            continue
        missing = [ifname for ifname in node["interfaces"] if ifname not in present]
        if missing:
            # Docker's own links (veth pairs, bridges) are never a lab port: left out of the list.
            ports = sorted((name for name in present if not name.startswith(DOCKER_LINKS)), key=name_key)
            problems.append("node %s: board %s has no interface %s (it has: %s)" % (
                board, board, ", ".join(missing), shorten(ports, 10) or "none"))
    return problems
