# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""A bounded traffic phase that exercises a lab's services as its users would (private to vnet.lab).

``probes(plan, options)`` gives the probes (vnet.lab.probes) that load the lab's services from
its hosts' client containers, with the programs a user has there, for ``seconds`` each, all at
once, as the studies did (DNS queries, HTTP page loads, FTP transfers; the call is the voip
role's, run in the same module call by playbooks/measure.yml):

``traffic dns``
    ``dns_queries`` lookups a second (every service name forward and back, in turn) with one
    ``dig -f`` batch, sent to the lab's first DNS server;
``traffic web``
    ``web_pages`` page loads a second (every web site in turn) with one ``curl``, the names
    pinned to their addresses (``--resolve``) so that the web load adds no DNS load;
``traffic ftp``
    an upload and a download of ``ftp_kib`` KiB a second (lftp, active mode, as verify logs in),
    the file removed afterwards; the password comes on standard input, never in an argument.

Each probe runs rounds of one second (a round that overruns starts the next at once) and prints
``rounds R ok N failed F bytes B ns T``; ``figures(results)`` reads those lines back. The sources
take turns over the lab's clients (dns on the first, web on the next...). A lab without clients,
or without the service, has no probe for it.
"""

from __future__ import annotations

import re

from ansible_collections.vnet.lab.plugins.module_utils import _lab

DEFAULTS = {"seconds": 10, "dns_queries": 40, "web_pages": 10, "ftp_kib": 512}
KINDS = ("dns", "web", "ftp")
# What one operation of each kind is, for the report.
UNITS = {"dns": "queries", "web": "pages", "ftp": "transfers"}
_SUMMARY = re.compile(r"^rounds (\d+) ok (\d+) failed (\d+) bytes (\d+) ns (\d+)$", re.MULTILINE)

# The rounds around a batch: a batch adds to ok, failed and bytes; a round lasts a second at least.
_LOOP = (
    "{setup}"
    "rounds=0; ok=0; failed=0; bytes=0; begin=$(date +%s%N); end=$((begin + {seconds} * 1000000000));"
    " while [ \"$(date +%s%N)\" -lt \"$end\" ]; do start=$(date +%s%N); rounds=$((rounds + 1));"
    " {batch}"
    " left=$((1000000000 - ($(date +%s%N) - start)));"
    " if [ \"$left\" -gt 0 ]; then sleep \"$(printf '0.%09d' \"$left\")\"; fi; done;"
    " echo \"rounds $rounds ok $ok failed $failed bytes $bytes ns $(($(date +%s%N) - begin))\""
)


def _client_container(lab, node):
    return "%s-%s-client" % (lab, node)


def _quote(text):
    return "'%s'" % text.replace("'", "'\"'\"'")


def options_with_defaults(options):
    merged = dict(DEFAULTS)
    merged.update({key: value for key, value in (options or {}).items() if value is not None})
    for key in DEFAULTS:
        if not isinstance(merged[key], (int, float)) or merged[key] <= 0:
            raise ValueError("traffic option %s must be a number above 0, not %r" % (key, merged[key]))
    return merged


def _dns_probe(lab, client, server, lookups, options):
    lines = []
    for entry in lookups:
        lines.append("%s A" % entry["fqdn"])
        lines.append("-x %s" % entry["address"])
    batch = [lines[index % len(lines)] for index in range(int(options["dns_queries"]))]
    setup = "printf '%%s\\n' %s > /tmp/vnet-measure-dns; " % " ".join(_quote(line) for line in batch)
    count = len(batch)
    step = ("got=$(dig @%s +tries=1 +time=1 +noall +answer -f /tmp/vnet-measure-dns </dev/null | grep -c .);"
            " [ \"$got\" -le %d ] || got=%d; ok=$((ok + got)); failed=$((failed + %d - got));"
            % (server, count, count, count))
    return {"name": "traffic dns", "container": _client_container(lab, client),
            "argv": ["sh", "-c", _LOOP.format(setup=setup, seconds=int(options["seconds"]), batch=step)]}


def _web_probe(lab, client, sites, options):
    count = int(options["web_pages"])
    pinned = " ".join("--resolve %s:80:%s" % (name, address) for name, address in sites)
    urls = " ".join("-o /dev/null http://%s/" % sites[index % len(sites)][0] for index in range(count))
    step = ("set -- $(curl -s --max-time 2 %s -w '%%{http_code} %%{size_download}\\n' %s </dev/null"
            " | awk '$1 == 200 {n++; b += $2} END {print n + 0, b + 0}'); ok=$((ok + $1));"
            " failed=$((failed + %d - $1)); bytes=$((bytes + $2));" % (pinned, urls, count))
    return {"name": "traffic web", "container": _client_container(lab, client),
            "argv": ["sh", "-c", _LOOP.format(setup="", seconds=int(options["seconds"]), batch=step)]}


def _ftp_probe(lab, client, host, user, options):
    size = int(options["ftp_kib"]) * 1024
    remote = "vnet-measure-%s.bin" % client
    setup = ("IFS= read -r pass; head -c %d /dev/urandom > /tmp/vnet-measure.bin; " % size)
    session = ("set net:max-retries 1\nset net:timeout 5\nset ftp:passive-mode false\n"
               "set ftp:auto-passive-mode false\nopen -u \"%s,$pass\" %s\n"
               "put /tmp/vnet-measure.bin -o %s\nget %s -o /tmp/vnet-measure-back.bin\nrm %s\n"
               % (user["name"], host, remote, remote, remote))
    step = ("if lftp >/dev/null 2>&1 <<EOF\n%sEOF\nthen ok=$((ok + 1)); bytes=$((bytes + %d));"
            " else failed=$((failed + 1)); fi;" % (session, 2 * size))
    return {"name": "traffic ftp", "container": _client_container(lab, client),
            "argv": ["sh", "-c", _LOOP.format(setup=setup, seconds=int(options["seconds"]), batch=step)],
            "stdin": "%s\n" % user["password"]}


def probes(plan, options=None):
    """The traffic probes of the lab (``[]`` without clients); see the module's docstring.

    ``options``: ``seconds``, ``dns_queries``, ``web_pages``, ``ftp_kib`` (``DEFAULTS``) and
    ``ftp_user`` (``{name, password}``; without it, no FTP traffic).
    """
    options = dict(options or {})
    ftp_user = options.pop("ftp_user", None) or {}
    options = options_with_defaults(options)
    lab = plan["name"]
    clients = [entry["node"] for entry in _lab.lab_services(plan) if entry["role"] == "client"]
    if not clients:
        return []
    services = _lab.service_addresses(plan)
    dns = [entry for entry in services if entry["service"] == "dns"]
    lookups = _lab.name_lookups(plan)
    web = [(name, entry["address"]) for entry in services if entry["service"] == "web" for name in entry["names"]]
    ftp = [entry for entry in services if entry["service"] == "ftp"]
    wanted = []
    if dns and lookups:
        wanted.append(lambda client: _dns_probe(lab, client, dns[0]["address"], lookups, options))
    if web:
        wanted.append(lambda client: _web_probe(lab, client, web, options))
    if ftp and ftp_user.get("name") and ftp_user.get("password"):
        host = (ftp[0]["names"] or [ftp[0]["address"]])[0]
        wanted.append(lambda client: _ftp_probe(lab, client, host, ftp_user, options))
    return [make(clients[index % len(clients)]) for index, make in enumerate(wanted)]


def figures(results):
    """``{kind: {client, operations, failed, bytes, seconds, per_second, unit, error}}`` of the
    traffic probes that ran, from their results by name (vnet.lab.probes)."""
    out = {}
    for kind in KINDS:
        result = (results or {}).get("traffic %s" % kind)
        if result is None:
            continue
        found = _SUMMARY.search(result.get("stdout") or "")
        entry = {"unit": UNITS[kind], "operations": 0, "failed": 0, "bytes": 0, "seconds": 0.0,
                 "per_second": 0.0, "rounds": 0, "error": None}
        if found:
            rounds, ok, failed, size, nanoseconds = (int(value) for value in found.groups())
            seconds = nanoseconds / 1e9
            entry.update(rounds=rounds, operations=ok, failed=failed, bytes=size, seconds=round(seconds, 3),
                         per_second=round(ok / seconds, 2) if seconds > 0 else 0.0)
        else:
            entry["error"] = (result.get("error") or (result.get("stderr") or "").strip()[-300:]
                              or "no summary line in its output")
        out[kind] = entry
    return out
