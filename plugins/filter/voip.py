# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the voip role: the server and its test phones from a lab's plan, the extensions'
checks and digests, and the RTP figures of a capture.

Each filter is documented in the YAML file of its name beside this one; the logic is
plugins/module_utils/_voip.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils import _voip


def _wrap(name, function, secret=False):
    def filter_(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except _voip.VoipError as exc:
            raise AnsibleFilterError("vnet.lab.%s: %s" % (name, exc)) from exc
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if secret:
                # The exception's text is left out: it could quote a password.
                raise AnsibleFilterError("vnet.lab.%s: malformed input (%s)" % (name, type(exc).__name__)) from None
            raise AnsibleFilterError("vnet.lab.%s: malformed input (%s: %s)"
                                     % (name, type(exc).__name__, exc)) from exc
    filter_.__name__ = name
    return filter_


class FilterModule:
    def filters(self):
        return {
            "voip_server": _wrap("voip_server", _voip.server),
            "voip_extension_problems": _wrap("voip_extension_problems", _voip.extension_problems, secret=True),
            "voip_accounts": _wrap("voip_accounts", _voip.accounts, secret=True),
            "voip_phones": _wrap("voip_phones", _voip.phones),
            "voip_rtp_streams": _wrap("voip_rtp_streams", _voip.rtp_streams),
            "voip_media_problems": _wrap("voip_media_problems", _voip.media_problems),
        }
