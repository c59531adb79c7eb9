# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter of site.yml and the board_network role: the interfaces a board forwards the lab's
traffic between.

Documented in forward_interfaces.yml beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

# kernel-libipsec's TUN device (the ipsec role's backend where the kernel has no ESP): decrypted
# traffic comes in and clear traffic to protect goes out through it. With kernel ESP there is no
# such device and its rules match nothing.
TUNNEL_DEVICES = ("ipsec0",)


def forward_interfaces(plan, node, tunnel_devices=TUNNEL_DEVICES):
    """The node's planned interfaces (sorted), then the tunnel devices when it is a VPN peer."""
    try:
        nodes = plan["nodes"]
        if node not in nodes:
            raise AnsibleFilterError("vnet.lab.forward_interfaces: node %s is not in the plan (nodes: %s)"
                                     % (node, ", ".join(sorted(nodes)) or "none"))
        names = sorted(nodes[node].get("interfaces") or {})
        peers = {peer.split(":", 1)[0] for tunnel in (plan.get("vpn") or {}).values()
                 for peer in tunnel.get("peers") or []}
        if node in peers:
            names += [device for device in tunnel_devices if device not in names]
        return names
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("vnet.lab.forward_interfaces: malformed plan (%s: %s)"
                                 % (type(exc).__name__, exc)) from None


class FilterModule:
    def filters(self):
        return {"forward_interfaces": forward_interfaces}
