# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the vnet.lab collection: no compatibility promise outside it.
"""What crosses a wire while a ping goes through a tunnel (private to vnet.lab).

Standard library only: the node image holds this file, and verify.yml runs it in a tunnel's first
peer (``docker exec``, as a probe, with the node's own NET_RAW; no container is made)::

    python3 /usr/lib/vnet/_wire.py TRANSIT SOURCE DESTINATION [COUNT]

It opens a packet socket on the interface TRANSIT (the one that carries IKE), pings DESTINATION
from SOURCE every 0.1 s until COUNT replies (3) came back, within 5 s (``-w``: a request lost while
a busy machine settles the tunnel is sent again, it is not a broken tunnel; no reply in 5 s is),
keeps reading for a moment
after the last reply, and prints what
came back and what crossed the wire, as ``tcpdump 'icmp or icmp6 or esp or udp port 4500'``
would have counted it::

    replies=3
    esp=6
    plain=0

``esp`` counts ESP packets (IP protocol 50) and UDP-encapsulated ESP (port 4500, not a NAT-T
keepalive); ``plain`` counts ICMP and ICMPv6 echo requests and replies, i.e. the ping in clear.
Not tcpdump: tcpdump keeps root only with SETUID and SETGID, which a node does not have.
"""

from __future__ import annotations

import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q = 0x0800, 0x86DD, 0x8100
ESP, UDP, ICMP, ICMPV6 = 50, 17, 1, 58
NAT_T = 4500
# Echo request and reply: ICMP types 8 and 0, ICMPv6 types 128 and 129.
ECHO = {ICMP: (8, 0), ICMPV6: (128, 129)}
# IPv6 extension headers that may come before the upper layer (hop-by-hop, routing, destination).
IPV6_EXTENSIONS = (0, 43, 60)


def _ip_payload(frame):
    """(protocol, payload) of an Ethernet frame's IPv4 or IPv6 packet; (None, b'') for anything else."""
    if len(frame) < 14:
        return None, b""
    ethertype, offset = struct.unpack("!H", frame[12:14])[0], 14
    if ethertype == ETH_P_8021Q and len(frame) >= 18:
        ethertype, offset = struct.unpack("!H", frame[16:18])[0], 18
    packet = frame[offset:]
    if ethertype == ETH_P_IP and len(packet) >= 20:
        header = (packet[0] & 0x0F) * 4
        fragment = struct.unpack("!H", packet[6:8])[0] & 0x1FFF
        if fragment:  # a later fragment carries no upper-layer header
            return None, b""
        return packet[9], packet[header:]
    if ethertype == ETH_P_IPV6 and len(packet) >= 40:
        protocol, rest = packet[6], packet[40:]
        while protocol in IPV6_EXTENSIONS and len(rest) >= 8:
            protocol, rest = rest[0], rest[(rest[1] + 1) * 8:]
        return protocol, rest
    return None, b""


def classify(frame):
    """``'esp'``, ``'plain'`` (an ICMP or ICMPv6 echo) or None for an Ethernet frame."""
    protocol, payload = _ip_payload(frame)
    if protocol == ESP:
        return "esp"
    if protocol == UDP and len(payload) >= 8:
        source, destination, length = struct.unpack("!HHH", payload[:6])
        # A NAT-T keepalive is one byte 0xFF; a non-ESP marker (four zero bytes) starts IKE.
        body = payload[8:length] if length >= 8 else payload[8:]
        if NAT_T in (source, destination) and len(body) > 1 and body[:4] != b"\0\0\0\0":
            return "esp"
        return None
    if protocol in ECHO and payload and payload[0] in ECHO[protocol]:
        return "plain"
    return None


def count(frames):
    """``{esp, plain}`` counts of the frames."""
    found = {"esp": 0, "plain": 0}
    for frame in frames:
        kind = classify(frame)
        if kind:
            found[kind] += 1
    return found


def capture(interface, command, linger=0.1, timeout=30.0):
    """The frames seen on ``interface`` (both directions) while ``command`` runs, and for ``linger``
    seconds after; returns (frames, the command's completed process)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.bind((interface, 0))
        sock.setblocking(False)
        frames = []
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline, ended = time.monotonic() + timeout, None
        while True:
            now = time.monotonic()
            if ended is None and proc.poll() is not None:
                ended = now
            if (ended is not None and now - ended >= linger) or now >= deadline:
                break
            readable, _w, _x = select.select([sock], [], [], 0.05)
            while readable:
                try:
                    frames.append(sock.recv(65535))
                except BlockingIOError:
                    break
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
        return frames, subprocess.CompletedProcess(command, proc.returncode, output)
    finally:
        sock.close()


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (3, 4):
        sys.stderr.write("usage: _wire.py TRANSIT SOURCE DESTINATION [COUNT]\n")
        return 2
    interface, source, destination = args[:3]
    pings = args[3] if len(args) == 4 else "3"
    frames, ping = capture(interface, ["ping", "-c", pings, "-i", "0.1", "-W", "2", "-w", "5", "-I", source, destination])
    found = count(frames)
    replies = sum(1 for line in ping.stdout.splitlines() if "bytes from" in line)
    sys.stdout.write("replies=%d\nesp=%d\nplain=%d\n" % (replies, found["esp"], found["plain"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
