# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module of this collection from its Go binary.

The modules are Go programs. One binary per platform serves every module of
the collection, so a module's action plugin has to pick the binary built for
the OS and architecture of the host the task runs on (the target, or the
controller with delegate_to: localhost) and tell it which module to run.

Ansible would copy the 7 MB binary and an args file holding the admin token
to the target for every task. Instead the binary is kept on the target in a
cache, under the remote temp root of the user the module runs as
(``<remote_tmp>/mxadmin_synapse/``, by default ``~/.ansible/tmp/mxadmin_synapse``,
mode 0700), one file per version, platform and SHA-256, and the arguments go
to it on standard input:

* one remote command finds the platform (``uname -sm``), checks the cached
  binary's SHA-256 and, when it matches, runs it with the arguments on stdin;
* only when that command reports a miss (first run, new version, changed or
  truncated file) is the binary uploaded, verified and renamed into place (a
  temp name first, so that concurrent runs never see half a file), old
  versions are removed, and the command is run again.

With ``async`` Ansible's async_wrapper needs a module file and an args file
in the task's temp dir, and a few connection and become plugins (``su``, for
one) cannot pass data on stdin; those tasks take Ansible's own path, and the
binary removes the args file as soon as it has read it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import shlex

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:  # up to ansible-core 2.20; 2.21 parses a result into an object that cleans itself
    from ansible.vars.clean import remove_internal_keys
except ImportError:  # pragma: no cover - newer ansible-core
    remove_internal_keys = None

try:  # ansible-core 2.19+: module args are encoded with the module's profile
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:  # pragma: no cover - older ansible-core
    Direction = get_module_encoder = None

display = Display()

# The binaries are plugins/modules/__mxadmin_synapse_<os>_<arch>.
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

# The cache directory, inside the remote temp root (ansible_remote_tmp) of
# the user the module runs as.
CACHE_DIR = "mxadmin_synapse"
# Cached binaries are named <CACHE_PREFIX><version>-<platform>-<sha256>.
CACHE_PREFIX = "mxadmin_synapse-"

# First line of what the remote command prints when it did not run the binary.
MISS_MARKER = "MXADMIN-SYNAPSE-CACHE-MISS"
# What it prints on stderr, followed by the cache name, when it runs one.
RUN_MARKER = "MXADMIN-SYNAPSE-RUN "

# A SHA-256 with whichever tool the target has: coreutils (Linux), shasum
# (macOS, perl), openssl (BSDs and the rest). Prints the hex digest, or
# nothing when no tool works.
SHA256_FUNC = (
    'sha256() { { sha256sum "$1" || shasum -a 256 "$1" || openssl dgst -sha256 -r "$1"; } 2>/dev/null'
    " | { read -r h _ && echo \"$h\"; }; }"
)

# The cache directory must be ours, a real directory, and private: anything
# else (another user's directory under a shared /tmp, a symlink) is refused
# rather than trusted.
CHECK_DIR = '[ -d "$d" ] && [ ! -h "$d" ] && [ -O "$d" ]'


def _local_sha256(path):
    """SHA-256 of a controller file, computed once per ansible-playbook run.

    Every task runs in a new worker process, so the digest is remembered in
    the run's local temp dir (removed when the run ends), keyed by the
    file's identity.
    """
    st = os.stat(path)
    key = hashlib.sha256(("%s|%d|%d|%d" % (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)).encode()).hexdigest()[:32]
    memo = None
    local_tmp = C.DEFAULT_LOCAL_TMP
    if local_tmp and os.path.isdir(local_tmp):
        memo = os.path.join(local_tmp, "mxadmin_synapse-sha256-" + key)
        try:
            with open(memo) as f:
                digest = f.read().strip()
            if re.fullmatch(r"[0-9a-f]{64}", digest):
                return digest
        except OSError:
            pass
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if memo:
        tmp = "%s.%d" % (memo, os.getpid())
        try:
            with open(tmp, "w") as f:
                f.write(digest)
            os.replace(tmp, memo)
        except OSError:
            pass
    return digest


def _collection_version(binary_path):
    """The collection version, from the installed MANIFEST.json or the source galaxy.yml."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(binary_path))))
    for candidate in (os.path.dirname(os.path.dirname(os.path.dirname(binary_path))), root):
        try:
            with open(os.path.join(candidate, "MANIFEST.json")) as f:
                return str(json.load(f)["collection_info"]["version"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            with open(os.path.join(candidate, "galaxy.yml")) as f:
                m = re.search(r"^version:\s*['\"]?([0-9A-Za-z.+-]+)", f.read(), re.M)
            if m:
                return m.group(1)
        except OSError:
            pass
    return "dev"


def _shell_path(path):
    """A remote path as one shell word, expanded on the target as Ansible expands remote_tmp.

    A leading ~ or ~user is left to the shell, and so are $VARIABLES (Ansible
    puts remote_tmp into its mkdir command unquoted); the rest is in double
    quotes, so that spaces and globs stay literal.
    """
    m = re.match(r"^(~[A-Za-z0-9._-]*(?:/|$))(.*)$", path)
    # The slash after ~ stays unquoted: a quoted one would stop the shell
    # from expanding the ~.
    head, rest = (m.group(1), m.group(2)) if m else ("", path)
    if not rest:
        return head
    return head + '"' + re.sub(r'(["\\`])', r"\\\1", rest) + '"'


class GoBinaryAction(ActionBase):
    """Action plugin base for a module implemented by the collection binary."""

    MODULE = ""  # set by each module's action plugin

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        if task_vars is None:
            task_vars = {}

        module_args = dict(self._task.args)
        module_args[MODULE_KEY] = self.MODULE

        if self._task.async_val or not self._stdin_works():
            # async_wrapper runs '<module file> <args file>' in the background,
            # and some connection and become plugins cannot pass data on
            # stdin: Ansible's own path, binary and args file in the task's
            # temp dir (the binary removes the args file once it has read it).
            binary = BINARY_PREFIX + self._platform()
            self._require_binary(binary)
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            result.update(self._execute_module(module_name=binary, module_args=module_args, task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        try:
            result.update(self._run_cached(module_args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _stdin_works(self):
        """Whether the connection and become plugins pass data on stdin (what pipelining needs too)."""
        if not getattr(self._connection, "has_pipelining", False):
            return False
        become = self._connection.become
        return not become or getattr(become, "pipelining", True)

    # --- the cached binary --------------------------------------------------

    def _candidates(self):
        """The binaries shipped on the controller: {platform: (local path, cache name, sha256)}."""
        version = None
        out = {}
        for platform in sorted(set(PLATFORMS.values())):
            path = self._shared_loader_obj.module_loader.find_plugin(BINARY_PREFIX + platform)
            if not path or not os.path.isfile(path):
                continue
            if version is None:
                version = re.sub(r"[^0-9A-Za-z.+_-]", "_", _collection_version(path))
            digest = _local_sha256(path)
            out[platform] = (path, "%s%s-%s-%s" % (CACHE_PREFIX, version, platform, digest), digest)
        return out

    def _cache_dir(self):
        remote_tmp = self.get_shell_option("remote_tmp", default="~/.ansible/tmp") or "~/.ansible/tmp"
        return _shell_path(remote_tmp.rstrip("/") + "/" + CACHE_DIR)

    def _run_script(self, candidates):
        """The one remote command of a task: platform, cache check, and the run itself on a hit."""
        cases = []
        for (os_name, arch), platform in sorted(PLATFORMS.items()):
            if platform in candidates:
                name, digest = candidates[platform][1:]
                cases.append("%s) n=%s; s=%s ;;" % (shlex.quote("%s %s" % (os_name, arch)), name, digest))
        env = self._compute_environment_string().strip()
        lines = [
            "umask 077",
            SHA256_FUNC,
            "d=%s" % self._cache_dir(),
            'p=$(uname -sm 2>/dev/null | tr "[:upper:]" "[:lower:]")',
            "n= s= h=",
            'case $p in %s *) ;; esac' % " ".join(cases),
            'if [ -n "$n" ] && %s && [ -f "$d/$n" ]; then h=$(sha256 "$d/$n"); fi' % CHECK_DIR,
            'if [ -n "$n" ] && [ "$h" = "$s" ]; then echo "%s$n" >&2; %s"$d/$n" -; exit $?; fi' % (RUN_MARKER, (env + " ") if env else ""),
            # Not run: read (and drop) the arguments so that the sender never
            # blocks, then say why.
            "cat >/dev/null",
            'echo %s; uname -sm; echo "$n"; echo "$h"' % MISS_MARKER,
        ]
        return "\n".join(lines)

    def _install(self, local_path, name, digest):
        """Upload the binary and move it into the cache, verified; remove older ones."""
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        upload = self._connection._shell.join_path(tmpdir, "mxadmin_synapse_upload")
        self._transfer_file(local_path, upload)
        self._fixup_perms2([tmpdir, upload], self._get_remote_user())
        script = "\n".join([
            "umask 077",
            SHA256_FUNC,
            "d=%s" % self._cache_dir(),
            'mkdir -p "$d" && %s && chmod 700 "$d" || { echo "the cache directory $d is not a private directory of $(id -un)" >&2; exit 1; }' % CHECK_DIR,
            't="$d/.%s.$$.tmp"' % name,
            'cp %s "$t" || { rm -f "$t"; exit 1; }' % shlex.quote(upload),
            'h=$(sha256 "$t")',
            '[ -n "$h" ] || { rm -f "$t"; echo "found none of sha256sum, shasum and openssl to verify the module binary with" >&2; exit 1; }',
            '[ "$h" = %s ] || { rm -f "$t"; echo "the uploaded binary has SHA-256 \'$h\', expected %s" >&2; exit 1; }' % (digest, digest),
            'chmod 700 "$t" && mv -f "$t" "$d/%s" || { rm -f "$t"; exit 1; }' % name,
            # Older versions go; so do temp files of uploads interrupted over an hour ago.
            'for o in "$d"/%s*; do [ "$o" = "$d/%s" ] || rm -f "$o"; done' % (CACHE_PREFIX, name),
            'find "$d" -name ".%s*.tmp" -mmin +60 -exec rm -f {} + 2>/dev/null' % CACHE_PREFIX,
            "exit 0",
        ])
        res = self._low_level_execute_command(script)
        if res.get("rc") != 0:
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: cannot install the module binary in the cache %s on the host the module runs on "
                "(rc=%s): %s. Set ansible_remote_tmp to a directory the user the module runs as can write."
                % (self.MODULE, self._cache_dir(), res.get("rc"), (res.get("stderr") or res.get("stdout") or "").strip()[:500])
            )

    def _run_cached(self, module_args, task_vars):
        candidates = self._candidates()
        self._update_module_args("mxadmin.synapse." + self.MODULE, module_args, task_vars)
        if get_module_encoder is not None:
            args_data = json.dumps(module_args, cls=get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE))
        else:
            args_data = json.dumps(module_args)
        in_data = args_data.encode("utf-8", errors="surrogateescape")
        script = self._run_script(candidates)

        for attempt in range(2):
            res = self._low_level_execute_command(script, in_data=in_data)
            stdout = res.get("stdout") or ""
            lines = stdout.splitlines()
            if MISS_MARKER not in lines:
                break
            info = lines[lines.index(MISS_MARKER) + 1:] + ["", "", ""]
            platform = self._platform_from(info[0], res.get("rc"))
            binary = BINARY_PREFIX + platform
            self._require_binary(binary)
            if attempt == 1 or platform not in candidates:
                raise AnsibleActionFail(
                    "mxadmin.synapse.%s: the module binary installed in the cache %s on the host the module runs on "
                    "does not verify (SHA-256 %r). Is the directory shared with another run or host? See the "
                    "collection README on clearing the cache." % (self.MODULE, self._cache_dir(), info[2])
                )
            self._install(*candidates[platform])

        # Which binary ran, for -vvv (as Ansible says for its own modules);
        # the marker itself is not part of the module's stderr.
        stderr = []
        for line in (res.get("stderr") or "").splitlines(True):
            if line.startswith(RUN_MARKER):
                name = line[len(RUN_MARKER):].strip()
                for cand in candidates.values():
                    if cand[1] == name:
                        display.vvv("Using module file %s (cached on the host as %s)" % (cand[0], name))
            else:
                stderr.append(line)
        res["stderr"] = "".join(stderr)
        data = self._parse(res)
        # What _execute_module does with a module's result.
        if remove_internal_keys is None:
            # ansible-core 2.21: a UnifiedTaskResult.
            if data.suppress_tmpdir_delete:
                self._cleanup_remote_tmp = False
            data.remove_internal_keys()
            return data.as_result_dict(for_round_trip=True)
        if data.pop("_ansible_suppress_tmpdir_delete", False):
            self._cleanup_remote_tmp = False
        remove_internal_keys(data)
        return data

    def _parse(self, res):
        # ansible-core 2.19 decodes with the module's serialization profile
        # (binary modules: legacy); older releases take the result alone.
        if len(inspect.signature(self._parse_returned_data).parameters) > 1:
            return self._parse_returned_data(res, "legacy")
        return self._parse_returned_data(res)

    # --- platform -----------------------------------------------------------

    def _require_binary(self, binary):
        if not self._shared_loader_obj.module_loader.has_plugin(binary):
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: the collection has no binary %s; it ships binaries for %s. "
                "Build it with 'make build' from the collection source, or run the task on a "
                "supported host (delegate_to: localhost)."
                % (self.MODULE, binary, ", ".join(sorted(set(PLATFORMS.values()))))
            )

    def _platform(self):
        """Return the platform suffix of the host the module will run on."""
        res = self._low_level_execute_command("uname -sm")
        return self._platform_from((res.get("stdout") or "").strip() if res.get("rc") == 0 else "", res.get("rc"))

    def _platform_from(self, answer, rc):
        parts = answer.split()
        if len(parts) < 2:
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: cannot tell the OS and CPU of the host the module runs on "
                "('uname -sm' answered %r, rc=%s); the modules run on Linux and macOS hosts"
                % (self.MODULE, answer, rc)
            )
        key = (parts[0].lower(), parts[-1].lower())
        if key not in PLATFORMS:
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: no binary for %s %s; the collection ships binaries for "
                "Linux and macOS on x86_64 and arm64. Run the task on such a host "
                "(for example delegate_to: localhost)." % (self.MODULE, parts[0], parts[-1])
            )
        return PLATFORMS[key]
