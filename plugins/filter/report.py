# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter that renders a lab's report (checks, cost per service, call quality) as Markdown.

Documented in lab_report.yml beside this file; the logic is plugins/module_utils/_report.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vnet.lab.plugins.module_utils._report import report


def lab_report(checks, lab, containers, streams=None, lab_up_seconds=None):
    try:
        return report(lab, checks, containers, streams, lab_up_seconds)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("vnet.lab.lab_report: malformed input (%s: %s)" % (type(exc).__name__, exc)) from None


class FilterModule:
    def filters(self):
        return {"lab_report": lab_report}
