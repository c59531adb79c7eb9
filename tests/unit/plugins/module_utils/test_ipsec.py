# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import copy

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _ipsec


def iface(segment, ipv4=None, ipv6=None, dhcp=False):
    return {"segment": segment, "ipv4": ipv4, "ipv6": ipv6, "dhcp": dhcp, "mtu": None}


def router(**interfaces):
    return {"kind": "router", "loopback": {"ipv4": None, "ipv6": None}, "gateway": {"ipv4": None, "ipv6": None},
            "interfaces": interfaces, "routes": []}


def segment(kind, ipv4, ipv6, *endpoints):
    return {"type": kind, "ipv4": ipv4, "ipv6": ipv6, "endpoints": sorted(endpoints), "mtu": None,
            "link": {"type": "bridge"}}


# gw1 and gw2 share "backup" (p2p, IPv4 only) and "transit" (a lan, IPv4 and IPv6): IPv4 peers
# meet on backup (first in name order), IPv6 ones on transit; neither is protected by site-to-site.
# gw3 shares nothing with gw1; gw4 has no lan and a DHCP interface.
PLAN = {
    "name": "demo",
    "routing": "static",
    "nodes": {
        "gw1": router(eth0=iface("transit", "198.51.100.1/24", "2001:db8:100::1/64"),
                      eth1=iface("lan1", "10.1.1.1/24", "2001:db8:1::1/64"),
                      eth2=iface("lan1b", "10.1.2.1/24"),
                      eth3=iface("backup", "10.9.0.1/30")),
        "gw2": router(eth0=iface("transit", "198.51.100.2/24", "2001:db8:100::2/64"),
                      eth1=iface("lan2", "10.2.1.1/24", "2001:db8:2::1/64"),
                      eth3=iface("backup", "10.9.0.2/30")),
        "gw3": router(eth0=iface("wan3", "203.0.113.3/24"),
                      eth1=iface("lan3", "10.3.1.1/24")),
        "gw4": router(eth0=iface("wan4", None, dhcp=True),
                      eth1=iface("p2p4", "10.4.0.1/30")),
    },
    "segments": {
        "transit": segment("lan", "198.51.100.0/24", "2001:db8:100::/64", "gw1:eth0", "gw2:eth0"),
        "lan1": segment("lan", "10.1.1.0/24", "2001:db8:1::/64", "gw1:eth1"),
        "lan1b": segment("lan", "10.1.2.0/24", None, "gw1:eth2"),
        "lan2": segment("lan", "10.2.1.0/24", "2001:db8:2::/64", "gw2:eth1"),
        "lan3": segment("lan", "10.3.1.0/24", None, "gw3:eth1"),
        "backup": segment("p2p", "10.9.0.0/30", None, "gw1:eth3", "gw2:eth3"),
        "wan3": segment("lan", "203.0.113.0/24", None, "gw3:eth0"),
        "wan4": segment("lan", None, None, "gw4:eth0"),
        "p2p4": segment("p2p", "10.4.0.0/30", None, "gw4:eth1"),
    },
}


def conn(name, local_addr, remote_addr, local_ts, remote_ts, local_id="gw1", remote_id="gw2", initiator=True,
         mode="site-to-site", family="ipv4", auth="psk", proposals=("aes256-sha256-modp3072",),
         esp_proposals=("aes256-sha256",)):
    return {
        "name": name, "mode": mode, "family": family, "peer": remote_id, "initiator": initiator,
        "start_action": "trap", "local_addr": local_addr, "remote_addr": remote_addr,
        "local_ts": list(local_ts), "remote_ts": list(remote_ts), "local_id": local_id, "remote_id": remote_id,
        "auth": auth, "proposals": list(proposals), "esp_proposals": list(esp_proposals),
    }


GOOD = [
    pytest.param(
        {"h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}}, "gw1",
        [conn("h", "10.9.0.1", "10.9.0.2", ["10.9.0.1/32"], ["10.9.0.2/32"], mode="host-to-host")],
        id="host-to-host-first-peer"),
    pytest.param(
        {"h": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "auth": "pubkey"}}, "gw2",
        [conn("h", "10.9.0.2", "10.9.0.1", ["10.9.0.2/32"], ["10.9.0.1/32"], local_id="gw2",
              remote_id="gw1", initiator=False, mode="host-to-host", auth="pubkey")],
        id="host-to-host-second-peer"),
    pytest.param(
        {"h6": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "family": "ipv6"}}, "gw1",
        [conn("h6", "2001:db8:100::1", "2001:db8:100::2", ["2001:db8:100::1/128"], ["2001:db8:100::2/128"],
              mode="host-to-host", family="ipv6")],
        id="host-to-host-ipv6"),
    pytest.param(
        {"s": {"mode": "site-to-site", "peers": ["gw1", "gw2"]}}, "gw1",
        [conn("s", "10.9.0.1", "10.9.0.2", ["10.1.1.0/24", "10.1.2.0/24"], ["10.2.1.0/24"])],
        id="site-to-site-lans-not-shared-ones"),
    pytest.param(
        {"s": {"mode": "site-to-site", "peers": ["gw1", "gw2"]}}, "gw2",
        [conn("s", "10.9.0.2", "10.9.0.1", ["10.2.1.0/24"], ["10.1.1.0/24", "10.1.2.0/24"],
              local_id="gw2", remote_id="gw1", initiator=False)],
        id="site-to-site-second-peer"),
    pytest.param(
        {"s6": {"mode": "site-to-site", "peers": ["gw2", "gw1"], "family": "ipv6"}}, "gw1",
        [conn("s6", "2001:db8:100::1", "2001:db8:100::2", ["2001:db8:1::/64"], ["2001:db8:2::/64"],
              local_id="gw1", remote_id="gw2", initiator=False, family="ipv6")],
        id="site-to-site-ipv6"),
    pytest.param(
        {"s": {"mode": "site-to-site", "peers": ["gw1:eth0", "gw2"]}}, "gw1",
        [conn("s", "198.51.100.1", "10.9.0.2", ["10.1.1.0/24", "10.1.2.0/24"], ["10.2.1.0/24"])],
        id="named-interface-wins-over-shared-segment"),
    pytest.param(
        {"x": {"mode": "site-to-site", "peers": ["gw1:eth0", "gw3:eth0"]}}, "gw3",
        [conn("x", "203.0.113.3", "198.51.100.1", ["10.3.1.0/24"], ["10.1.1.0/24", "10.1.2.0/24"],
              local_id="gw3", remote_id="gw1", initiator=False)],
        id="no-shared-segment-named-interfaces"),
    pytest.param(
        {"s": {"mode": "site-to-site", "peers": ["gw1", "gw2"], "local_ts": "10.1.0.0/16",
               "remote_ts": ["10.2.1.0/24", "10.2.9.0/24"]}}, "gw2",
        [conn("s", "10.9.0.2", "10.9.0.1", ["10.2.1.0/24", "10.2.9.0/24"], ["10.1.0.0/16"],
              local_id="gw2", remote_id="gw1", initiator=False)],
        id="selectors-overridden"),
    pytest.param(
        {"s": {"mode": "host-to-host", "peers": ["gw1:eth0", "gw2:eth0"],
               "proposals": "aes128-sha256-ecp256, aes256-sha384-modp3072",
               "esp_proposals": ["aes128gcm16", "aes256-sha256-modp3072"]}}, "gw1",
        [conn("s", "198.51.100.1", "198.51.100.2", ["198.51.100.1/32"], ["198.51.100.2/32"], mode="host-to-host",
              proposals=["aes128-sha256-ecp256", "aes256-sha384-modp3072"],
              esp_proposals=["aes128gcm16", "aes256-sha256-modp3072"])],
        id="proposals-string-and-list"),
    pytest.param(
        {"b": {"mode": "host-to-host", "peers": ["gw1", "gw2"]},
         "a": {"mode": "site-to-site", "peers": ["gw2", "gw1"]},
         "c": {"mode": "site-to-site", "peers": ["gw1:eth0", "gw3:eth0"]}}, "gw2",
        [conn("a", "10.9.0.2", "10.9.0.1", ["10.2.1.0/24"], ["10.1.1.0/24", "10.1.2.0/24"],
              local_id="gw2", remote_id="gw1"),
         conn("b", "10.9.0.2", "10.9.0.1", ["10.9.0.2/32"], ["10.9.0.1/32"],
              local_id="gw2", remote_id="gw1", initiator=False, mode="host-to-host")],
        id="only-the-nodes-tunnels-in-name-order"),
    pytest.param({"h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}}, "gw4", [], id="node-in-no-tunnel"),
    pytest.param(None, "gw1", [], id="no-vpn-section"),
    pytest.param({}, "gw1", [], id="empty-vpn-section"),
]


@pytest.mark.parametrize("vpn, node, expected", GOOD)
def test_connections(vpn, node, expected):
    plan = copy.deepcopy(PLAN)
    assert _ipsec.connections(plan, copy.deepcopy(vpn), node) == expected
    assert plan == PLAN


BAD = [
    pytest.param({"t": {"peers": ["gw1", "gw2"]}},
                 ["tunnel t: mode must be one of host-to-host, site-to-site, not None"], id="mode-missing"),
    pytest.param({"t": {"mode": "h2h", "peers": ["gw1", "gw2"]}},
                 ["tunnel t: mode must be one of host-to-host, site-to-site, not 'h2h'"], id="mode-unknown"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "family": "ipv5"}},
                 ["tunnel t: family must be one of ipv4, ipv6, not 'ipv5'"], id="family"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "auth": "cert"}},
                 ["tunnel t: auth must be one of psk, pubkey, not 'cert'"], id="auth"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1"]}},
                 ["tunnel t: peers must be a list of exactly two nodes (node or node:ifname)"], id="one-peer"),
    pytest.param({"t": {"mode": "host-to-host", "peers": "gw1,gw2"}},
                 ["tunnel t: peers must be a list of exactly two nodes (node or node:ifname)"], id="peers-string"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw9"]}},
                 ["tunnel t: peer gw9 is not a node of the plan"], id="unknown-node"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1:eth7", "gw2"]}},
                 ["tunnel t: peer gw1 has no interface eth7 (it has: eth0, eth1, eth2, eth3)"], id="unknown-interface"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw1:eth3"]}},
                 ["tunnel t: peers must be two different nodes (both are gw1)"], id="same-node"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw3"]}},
                 ["tunnel t: peer gw1 shares no segment with gw3 where both have an ipv4 address; "
                  "name the interface to use as gw1:<ifname>",
                  "tunnel t: peer gw3 shares no segment with gw1 where both have an ipv4 address; "
                  "name the interface to use as gw3:<ifname>"], id="no-shared-segment"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1:eth0", "gw3:eth0"], "family": "ipv6"}},
                 ["tunnel t: peer gw3:eth0 has no ipv6 address"], id="interface-without-family"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1:eth0", "gw4:eth0"]}},
                 ["tunnel t: peer gw4:eth0 has no ipv4 address"], id="dhcp-interface"),
    pytest.param({"t": {"mode": "site-to-site", "peers": ["gw1:eth0", "gw4:eth1"]}},
                 ["tunnel t: peer gw4 is on no lan segment with ipv4 prefixes (other than its IKE address's "
                  "and those it shares with gw1); give the tunnel's remote_ts"], id="site-without-lan"),
    pytest.param({"t": {"mode": "site-to-site", "peers": ["gw1", "gw2"], "family": "ipv6",
                        "local_ts": ["10.1.0.0/16"]}},
                 ["tunnel t: local_ts: 10.1.0.0/16 is not an ipv6 prefix"], id="selector-family"),
    pytest.param({"t": {"mode": "site-to-site", "peers": ["gw1", "gw2"], "remote_ts": "10.2.1.1/24"}},
                 ["tunnel t: remote_ts: 10.2.1.1/24 has host bits set (the prefix is 10.2.1.0/24)"],
                 id="selector-host-bits"),
    pytest.param({"t": {"mode": "site-to-site", "peers": ["gw1", "gw2"], "remote_ts": ["lan2"]}},
                 ["tunnel t: remote_ts: 'lan2' is not a prefix"], id="selector-not-a-prefix"),
    pytest.param({"t": {"mode": "site-to-site", "peers": ["gw1", "gw2"], "local_ts": []}},
                 ["tunnel t: local_ts must be a prefix or a non-empty list of prefixes"], id="selector-empty"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "proposals": "AES256/SHA256"}},
                 ["tunnel t: proposals: 'AES256/SHA256' is not a strongSwan proposal (e.g. aes256-sha256-modp3072)"],
                 id="proposal-syntax"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "esp_proposals": 256}},
                 ["tunnel t: esp_proposals must be a proposal string or a list of them"], id="proposal-type"),
    pytest.param({"t": {"mode": "host-to-host", "peers": ["gw1", "gw2"], "psk": "x", "type": "ikev2"}},
                 ["tunnel t: unknown key(s) psk, type (known: mode, peers, family, auth, proposals, esp_proposals, "
                  "local_ts, remote_ts)"], id="unknown-keys"),
    pytest.param({"a b": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}},
                 ["tunnel 'a b': the name must be letters, digits, '-' and '_', starting with a letter or digit"],
                 id="tunnel-name"),
    pytest.param({"t": ["gw1", "gw2"]}, ["tunnel t: must be a mapping (mode, peers, ...)"], id="tunnel-not-mapping"),
    pytest.param(["t"], ["vpn must be a mapping of tunnel names to tunnels"], id="vpn-not-mapping"),
    pytest.param({"b": {"mode": "host-to-host", "peers": ["gw1", "gw9"]},
                  "a": {"mode": "tunnel", "peers": ["gw1", "gw2"], "family": "ip"},
                  "c": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}},
                 ["tunnel a: mode must be one of host-to-host, site-to-site, not 'tunnel'",
                  "tunnel a: family must be one of ipv4, ipv6, not 'ip'",
                  "tunnel b: peer gw9 is not a node of the plan"], id="all-errors-at-once-in-name-order"),
]


@pytest.mark.parametrize("vpn, errors", BAD)
def test_errors(vpn, errors):
    with pytest.raises(_ipsec.IpsecError) as info:
        _ipsec.connections(PLAN, vpn, "gw2")
    assert info.value.errors == errors
    assert str(info.value) == "\n".join(errors)


def test_every_tunnel_is_checked_whatever_the_node():
    vpn = {"good": {"mode": "host-to-host", "peers": ["gw1", "gw2"]},
           "bad": {"mode": "host-to-host", "peers": ["gw3", "gw9"]}}
    with pytest.raises(_ipsec.IpsecError, match="^tunnel bad: peer gw9 is not a node of the plan$"):
        _ipsec.connections(PLAN, vpn, "gw1")


def test_unknown_node():
    with pytest.raises(_ipsec.IpsecError) as info:
        _ipsec.connections(PLAN, {}, "gw9")
    assert info.value.errors == ["node gw9 is not in the plan (nodes: gw1, gw2, gw3, gw4)"]


def test_filter_names_itself_in_errors():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.vnet.lab.plugins.filter.ipsec import FilterModule

    ipsec_connections = FilterModule().filters()["ipsec_connections"]
    assert ipsec_connections(PLAN, {"h": {"mode": "host-to-host", "peers": ["gw1", "gw2"]}}, "gw2")[0]["peer"] == "gw1"
    with pytest.raises(AnsibleFilterError, match=r"^vnet\.lab\.ipsec_connections: tunnel h: peer gw9 is not a node"):
        ipsec_connections(PLAN, {"h": {"mode": "host-to-host", "peers": ["gw1", "gw9"]}}, "gw1")
    with pytest.raises(AnsibleFilterError, match=r"^vnet\.lab\.ipsec_connections: malformed plan \(KeyError: 'nodes'\)"):
        ipsec_connections({}, {}, "gw1")


@pytest.mark.parametrize("mode, source, destination", [
    ("host-to-host", "198.51.100.1", "198.51.100.2"),
    ("site-to-site", "192.168.1.1", "192.168.2.1"),
])
def test_probes_ping_inside_the_selectors_from_the_first_peer(mode, source, destination):
    from ansible_collections.vnet.lab.plugins.module_utils._addressing import make_plan
    plan = make_plan({
        "name": "p",
        "nodes": {"gw1": {"kind": "router"}, "gw2": {"kind": "router"}},
        "links": [{"name": "transit", "endpoints": ["gw1:wan", "gw2:wan"], "ipv4": "198.51.100.0/30"},
                  {"endpoints": ["gw1:lan"], "ipv4": "192.168.1.0/24"},
                  {"endpoints": ["gw2:lan"], "ipv4": "192.168.2.0/24"}],
        "vpn": {"t": {"mode": mode, "peers": ["gw1", "gw2"]}},
    })
    assert _ipsec.probes(plan, plan["vpn"]) == [{
        "name": "t", "node": "gw1", "peer": "gw2", "family": "ipv4", "transit": "wan",
        "source": source, "destination": destination}]
