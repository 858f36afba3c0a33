# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module of this collection from its Go binary.

The modules are Go programs. One binary per platform serves every module of
the collection, so a module's action plugin has to pick the binary built for
the OS and architecture of the host the task runs on (the target, or the
controller with delegate_to: localhost) and tell it which module to run.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# The binaries are plugins/modules/mxadmin_synapse_<os>_<arch>.
BINARY_PREFIX = "mxadmin.synapse.__mxadmin_synapse_"

# The argument in which the binary expects the module name.
MODULE_KEY = "_mxadmin_module"

# `uname -sm` answers, lower-cased, to the platform a binary is built for.
PLATFORMS = {
    ("linux", "x86_64"): "linux_amd64",
    ("linux", "amd64"): "linux_amd64",
    ("linux", "aarch64"): "linux_arm64",
    ("linux", "arm64"): "linux_arm64",
    ("darwin", "x86_64"): "darwin_amd64",
    ("darwin", "arm64"): "darwin_arm64",
}


class GoBinaryAction(ActionBase):
    """Action plugin base for a module implemented by the collection binary."""

    MODULE = ""  # set by each module's action plugin

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp

        binary = BINARY_PREFIX + self._platform()
        if not self._shared_loader_obj.module_loader.has_plugin(binary):
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: the collection has no binary %s; it ships binaries for %s. "
                "Build it with 'make build' from the collection source, or run the task on a "
                "supported host (delegate_to: localhost)."
                % (self.MODULE, binary, ", ".join(sorted(set(PLATFORMS.values()))))
            )

        module_args = dict(self._task.args)
        module_args[MODULE_KEY] = self.MODULE
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(
            self._execute_module(
                module_name=binary,
                module_args=module_args,
                task_vars=task_vars,
                wrap_async=wrap_async,
            )
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _platform(self):
        """Return the platform suffix of the host the module will run on."""
        res = self._low_level_execute_command("uname -sm")
        answer = (res.get("stdout") or "").strip()
        parts = answer.split()
        if res.get("rc") != 0 or len(parts) < 2:
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: cannot tell the OS and CPU of the host the module runs on "
                "('uname -sm' answered %r, rc=%s); the modules run on Linux and macOS hosts"
                % (self.MODULE, answer, res.get("rc"))
            )
        key = (parts[0].lower(), parts[-1].lower())
        if key not in PLATFORMS:
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: no binary for %s %s; the collection ships binaries for "
                "Linux and macOS on x86_64 and arm64. Run the task on such a host "
                "(for example delegate_to: localhost)." % (self.MODULE, parts[0], parts[-1])
            )
        return PLATFORMS[key]
