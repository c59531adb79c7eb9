# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action of vnet.lab.service_specs: each (node, role) of a lab rendered as its role would, in one task.

A service role is its defaults, its vars (what it derives, ``<role>__problems`` and ``<role>__service``
among them) and one ``vnet.lab.service`` call whose options are ``<role>__service``. Rendering that
variable with the role's variables layered as Ansible layers them gives the same options as including
the role, without the includes, set_facts and tasks that cost ~0.5 s per (node, role).

With ``background: true`` the rendering runs in a process forked from the task's worker, and the
task returns at once with a ``job``; a later task with ``job`` waits for it and returns what the
rendering returned. lab_up renders while the engine makes the lab's segments and nodes: the
rendering is the controller's CPU, the nodes are the engine's (~1 s of each on the reference lab).
The forked process's messages (warnings, deprecations) are kept and shown by the task that waits.
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
import uuid
from collections import ChainMap

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import load_extra_vars

from ansible_collections.vnet.lab.plugins.module_utils import _lab, _registry
from ansible_collections.vnet.lab.plugins.module_utils._service import SPECS_OPTIONS, argument_spec, specs_argument_spec

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
JOB_PREFIX = "vnet-service-specs-"
POLL = 0.01

display = Display()


class _Recorder:
    """Stands for the worker's queue in the forked process: Display's calls are kept, to be replayed."""

    def __init__(self):
        self.calls = []

    def send_display(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))

    def send_prompt(self, **kwargs):
        raise AnsibleActionFail("vnet.lab.service_specs: a rendering in the background cannot prompt")


def _alive(pid):
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _role_files(self, role, cache):
        """The role's directory, defaults and vars (its templates trusted, as Ansible loads them)."""
        if role not in cache:
            role_dir = os.path.join(ROLES_DIR, role)
            layers = []
            for name in ("defaults", "vars"):
                path = os.path.join(role_dir, name, "main.yml")
                data = self._loader.load_from_file(path, trusted_as_template=True) if os.path.exists(path) else None
                layers.append(dict(data or {}))
            cache[role] = (role_dir, layers[0], layers[1])
        return cache[role]

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(specs_argument_spec(), **SPECS_OPTIONS).validate(self._task.args)
        if validated.error_messages:
            raise AnsibleActionFail("vnet.lab.service_specs: %s" % "; ".join(validated.error_messages))
        args = validated.validated_parameters
        if args["job"]:
            return self._wait(result, args["job"], args["timeout"])
        if not args["background"]:
            result.update(self._render(args, task_vars))
            return result
        path = os.path.join(C.DEFAULT_LOCAL_TMP, JOB_PREFIX + uuid.uuid4().hex)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the forked process, seen through the job's outcome
            self._background(path, args, task_vars)
        result.update(changed=False, job={"path": path, "pid": pid})
        return result

    def _background(self, path, args, task_vars):
        """In the forked process: render, keep the outcome in ``path`` (the run's private temporary
        directory, mode 600: it holds secrets), and end without the worker's exit handlers."""
        code = 1
        try:
            recorder = _Recorder()
            display._final_q = recorder  # pylint: disable=protected-access
            try:
                outcome = {"result": self._render(args, task_vars)}
            except AnsibleActionFail as exc:
                outcome = {"failed": str(exc)}
            except Exception as exc:  # pylint: disable=broad-except
                outcome = {"failed": "vnet.lab.service_specs: rendering failed: %s" % exc,
                           "exception": traceback.format_exc()}
            outcome["display"] = recorder.calls
            temporary = path + ".tmp"
            with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
                pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.rename(temporary, path)
            code = 0
        finally:
            os._exit(code)  # pylint: disable=protected-access

    def _wait(self, result, job, timeout):
        """The outcome of the background rendering ``job``, once it is there."""
        path, pid = job["path"], job["pid"]
        if not os.path.basename(path).startswith(JOB_PREFIX):
            raise AnsibleActionFail("vnet.lab.service_specs: job must be the job a background rendering returned")
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if not _alive(pid) and not os.path.exists(path):
                raise AnsibleActionFail("vnet.lab.service_specs: the background rendering (pid %d) ended without "
                                        "its outcome %s" % (pid, path))
            if time.monotonic() > deadline:
                raise AnsibleActionFail("vnet.lab.service_specs: no outcome of the background rendering after %ss"
                                        % timeout)
            time.sleep(POLL)
        with open(path, "rb") as handle:
            outcome = pickle.load(handle)  # nosec - written by this run, in its private directory
        os.unlink(path)
        for method, call_args, call_kwargs in outcome.get("display", ()):
            getattr(display, method)(*call_args, **call_kwargs)
        if "failed" in outcome:
            result.update(failed=True, msg=outcome["failed"])
            if outcome.get("exception"):
                result["exception"] = outcome["exception"]
            return result
        result.update(outcome["result"])
        return result

    def _render(self, args, task_vars):
        """``{changed, services, own_tasks}``: each service rendered, or every problem at once."""
        plan, inputs = args["plan"], args["inputs"] or {}
        extra_vars = load_extra_vars(self._loader)
        service_spec = argument_spec()
        cache, specs, own, problems = {}, [], [], []
        for entry in args["services"]:
            node, role = entry["node"], entry["role"]
            if role not in _registry.SERVICE_ROLES or not os.path.isdir(os.path.join(ROLES_DIR, role)):
                problems.append("%s: no service role %s in vnet.lab" % (node, role))
                continue
            if node not in plan.get("nodes", {}):
                problems.append("%s %s: no node %s in lab %s" % (node, role, node, plan.get("name")))
                continue
            role_dir, defaults, role_vars = self._role_files(role, cache)
            where = {"role_path": role_dir, "role_name": "vnet.lab." + role, "ansible_role_name": "vnet.lab." + role,
                     "ansible_search_path": [role_dir]}
            variables = ChainMap(extra_vars, entry["vars"] or {}, _lab.role_vars(plan, node, role, inputs), role_vars,
                                 where, task_vars, defaults)
            templar = self._templar.copy_with_new_env(available_variables=variables)
            if "%s__batchable" % role in role_vars and not templar.resolve_variable_expression("%s__batchable" % role):
                own.append({"node": node, "role": role, "vars": entry["vars"] or {}})
                continue
            if "%s__problems" % role in role_vars:
                problems.extend(templar.resolve_variable_expression("%s__problems" % role))
            options = templar.resolve_variable_expression("%s__service" % role)
            checked = ArgumentSpecValidator(service_spec).validate(options)
            if checked.error_messages:
                problems.append("%s %s: %s" % (node, role, "; ".join(checked.error_messages)))
                continue
            specs.append(checked.validated_parameters)
        if problems:
            raise AnsibleActionFail("vnet.lab.service_specs: " + " ".join(str(problem) for problem in problems))
        # The options hold secrets (secret_files): the result is never shown.
        return dict(changed=False, services=specs, own_tasks=own, _ansible_no_log=True)
