# SPDX-License-Identifier: GPL-3.0-or-later
"""_wire.py: what it counts on a transit wire, on frames built here, and its output on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import struct

import pytest

from ansible_collections.vnet.lab.plugins.module_utils import _wire as W

MAC = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02"


def ipv4(protocol, payload, fragment=0):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, fragment, 64, protocol, 0,
                         bytes([198, 51, 100, 1]), bytes([198, 51, 100, 2]))
    return MAC + struct.pack("!H", W.ETH_P_IP) + header + payload


def ipv6(next_header, payload, extension=None):
    if extension is not None:  # a hop-by-hop header of 8 bytes before the payload
        payload = bytes([next_header, 0]) + b"\0" * 6 + payload
        next_header = extension
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), next_header, 64, b"\xfd" + b"\0" * 15, b"\xfd" + b"\0" * 14 + b"\1")
    return MAC + struct.pack("!H", W.ETH_P_IPV6) + header + payload


def udp(source, destination, body):
    return struct.pack("!HHHH", source, destination, 8 + len(body), 0) + body


def vlan(frame):
    return frame[:12] + struct.pack("!HH", W.ETH_P_8021Q, 7) + frame[12:]


@pytest.mark.parametrize("frame, kind", [
    (ipv4(W.ESP, b"\x00\x00\x10\x01" + b"x" * 40), "esp"),
    (ipv6(W.ESP, b"\x00\x00\x10\x01" + b"x" * 40), "esp"),
    (ipv6(W.ESP, b"\x00\x00\x10\x01" + b"x" * 40, extension=0), "esp"),
    (vlan(ipv4(W.ESP, b"\x00\x00\x10\x01" + b"x" * 40)), "esp"),
    (ipv4(W.UDP, udp(4500, 4500, b"\x00\x00\x10\x01" + b"x" * 40)), "esp"),   # ESP in UDP
    (ipv4(W.UDP, udp(4500, 4500, b"\xff")), None),                             # NAT-T keepalive
    (ipv4(W.UDP, udp(4500, 4500, b"\0\0\0\0" + b"ike" * 10)), None),           # IKE on 4500
    (ipv4(W.UDP, udp(500, 500, b"ike" * 10)), None),                           # IKE
    (ipv4(W.ICMP, b"\x08\x00" + b"\0" * 30), "plain"),                        # echo request
    (ipv4(W.ICMP, b"\x00\x00" + b"\0" * 30), "plain"),                        # echo reply
    (ipv4(W.ICMP, b"\x03\x03" + b"\0" * 30), None),                           # unreachable
    (ipv6(W.ICMPV6, b"\x80\x00" + b"\0" * 30), "plain"),
    (ipv6(W.ICMPV6, b"\x81\x00" + b"\0" * 30), "plain"),
    (ipv6(W.ICMPV6, b"\x87\x00" + b"\0" * 30), None),                         # neighbour solicitation
    (ipv4(W.ICMP, b"\x08\x00" + b"\0" * 30, fragment=10), None),              # a later fragment
    (MAC + struct.pack("!H", 0x0806) + b"\0" * 28, None),                      # ARP
    (b"\0" * 10, None),
])
def test_classify(frame, kind):
    assert W.classify(frame) == kind


def test_count():
    frames = [ipv4(W.ESP, b"s" * 20)] * 6 + [ipv4(W.ICMP, b"\x08\x00" + b"\0" * 10)] + [ipv4(W.UDP, udp(500, 500, b"i"))]
    assert W.count(frames) == {"esp": 6, "plain": 1}


def test_usage():
    assert W.main(["eth0"]) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="a packet socket needs root (NET_RAW)")
@pytest.mark.skipif(shutil.which("ping") is None, reason="no ping here")
def test_a_ping_on_loopback_is_counted_in_clear(capsys):
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except PermissionError:
        pytest.skip("no NET_RAW here")
    assert W.main(["lo", "127.0.0.1", "127.0.0.1", "2"]) == 0
    figures = dict(line.split("=") for line in capsys.readouterr().out.split())
    # On loopback each request and reply is seen once per direction of the same device.
    assert figures["replies"] == "2"
    assert int(figures["plain"]) >= 4 and figures["esp"] == "0"
