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

* one remote command (run_script) finds the platform (``uname -sm``), checks
  the cache and, on a hit, runs the binary with the arguments on stdin. The
  check is made on every run: the directory must be a real directory (not a
  symlink) of the user's with mode 0700 (on macOS no ACL), the binary a regular file
  of the user's (not a symlink) with the expected SHA-256. Where /proc is
  mounted (Linux) the binary is opened once and the open descriptor is what
  is checked, hashed and executed (``/proc/self/fd/9``), so that what runs is
  what verified even if the name is swapped in between; elsewhere (macOS) the
  name is executed in the directory just found private, which only the user
  and root can change. That leaves the directories above the cache: another
  user who can rename entries in one of them can swap the whole cache
  directory on macOS, as they could Ansible's own temp files.
* anything else is a miss. Only then (first run, new version, a changed,
  truncated, foreign or symlinked file, a loosened directory) is the binary
  uploaded and the install (install_script) run: it makes the directory
  private again (0700, a macOS ACL removed, with a warning), removes whatever others
  could have put in it while it was open, verifies the upload, renames it
  into place (a temp name first, so that concurrent runs never see half a
  file), removes old versions, and the command is run again. What cannot be
  repaired safely (the cache path is a symlink, another user's directory, or
  a file) fails, naming the path and ansible_remote_tmp.
* a binary the host refuses to execute (exit code 126: remote_tmp on a
  filesystem mounted noexec) fails saying so, naming ansible_remote_tmp.
* the script's messages are read from both output streams: the install runs
  on a tty over SSH, where stderr is merged into stdout and ends in ssh's
  "Shared connection ... closed".

With ``async`` Ansible's async_wrapper needs a module file and an args file
in the task's temp dir, and a few connection and become plugins (``su``, for
one) cannot pass data on stdin; those tasks take Ansible's own path, and the
binary removes the args file as soon as it has read it.

The binary stops its run (requests cancelled, a login run logged out) when it
gets SIGTERM, SIGINT or SIGHUP, and when its standard output hangs up: over
SSH nothing signals it when ansible-playbook is interrupted, but sshd closes
the pipe its result would go to (see modules-src/internal/modules/controller.go).
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
# What it prints on stdout, followed by the binary's path, when the shell
# found the verified binary and could not execute it (exit code 126: a
# noexec mount, most often).
NOEXEC_MARKER = "MXADMIN-SYNAPSE-CANNOT-EXECUTE "
# What the install script prints, followed by the reason, when the cache
# cannot be used, and when it repaired the cache. Both go to stdout, and are
# looked for in both streams: the install runs on a tty over SSH, where the
# two are one stream and stderr ends in 'Shared connection ... closed.'.
ERROR_MARKER = "MXADMIN-SYNAPSE-CACHE-ERROR: "
REPAIRED_MARKER = "MXADMIN-SYNAPSE-CACHE-REPAIRED: "

# The setting that moves the cache (and Ansible's own remote temp dirs),
# named in every message about the cache.
REMOTE_TMP_FIX = "ansible_remote_tmp (remote_tmp in ansible.cfg's [defaults], ANSIBLE_REMOTE_TEMP)"

# A SHA-256 with whichever tool the target has: coreutils (Linux), shasum
# (macOS, perl), openssl (BSDs and the rest). Prints the hex digest, or
# nothing when no tool works.
SHA256_FUNC = (
    'sha256() { { sha256sum "$1" || shasum -a 256 "$1" || openssl dgst -sha256 -r "$1"; } 2>/dev/null'
    " | { read -r h _ && echo \"$h\"; }; }"
)

# Whether the directory "$1" is private: 'ls -ld' says drwx------. An ACL
# ('+' after the mode) is accepted on Linux only, where the group bits show
# the ACL's mask, so that ------ leaves every other entry without rights; on
# macOS an ACL grants what it says whatever the mode. $p is 'uname -s[m]'.
# The one command a hit runs that it did not run before.
PRIVATE_FUNC = (
    'private() { case $(ls -ld "$1" 2>/dev/null) in drwx------|drwx------[!+]*) return 0 ;;'
    " drwx------+*) case $p in [Ll]inux*) return 0 ;; esac ;; esac; return 1; }"
)


def _any_case(text):
    """A case pattern matching text in any letter case ('linux x86_64' matches 'Linux x86_64'), without running tr."""
    return "".join("[%s%s]" % (c.upper(), c.lower()) if c.isalpha() else shlex.quote(c) if not c.isalnum() else c for c in text)


def run_script(cases, cache_dir, env):
    """The one remote command of a task: platform, cache check, and the run itself on a hit.

    cases are ((os, arch), cache name, sha256) of the binaries the controller
    has. Every run checks what it is about to execute: the cache directory
    (a real directory of the user's, mode 0700) and the binary (a regular
    file of the user's, not a symlink); anything else is a miss, which the
    install repairs. Where /proc is mounted (Linux) the binary is opened once,
    on descriptor 9, and that descriptor is checked, hashed and executed
    (/proc/self/fd/9): what runs is the file that verified, whatever happens
    to its name meanwhile. Without /proc (macOS) the name is executed; it lies
    in a directory just found private, where only the user (and root) can
    replace it.
    """
    table = " ".join("%s) n=%s; s=%s ;;" % (_any_case("%s %s" % key), name, digest) for key, name, digest in cases)
    return "\n".join([
        "umask 077",
        SHA256_FUNC,
        PRIVATE_FUNC,
        "d=%s" % cache_dir,
        "p=$(uname -sm 2>/dev/null)",
        "n= s= h= f=",
        "case $p in %s *) ;; esac" % table,
        # w: why a miss missed, for the message when a fresh install misses too.
        'w="no binary for this platform"',
        'if [ -n "$n" ]; then',
        ' w="$d is missing, a symbolic link, not the user\'s or not private (0700)"',
        ' if [ -d "$d" ] && [ ! -h "$d" ] && [ -O "$d" ] && private "$d"; then',
        '  w="the binary is missing, a symbolic link or not the user\'s"',
        '  if [ -f "$d/$n" ] && [ ! -h "$d/$n" ] && [ -O "$d/$n" ]; then',
        '   f="$d/$n"',
        '   if { command exec 9<"$f"; } 2>/dev/null && [ -e /proc/self/fd/9 ]; then f=/proc/self/fd/9; fi',
        '   w="the binary does not verify"',
        '   if [ -f "$f" ] && [ -O "$f" ]; then h=$(sha256 "$f"); fi',
        "  fi",
        " fi",
        "fi",
        'if [ -n "$h" ] && [ "$h" = "$s" ]; then',
        ' echo "%s$n" >&2' % RUN_MARKER,
        ' %s"$f" -; r=$?' % ((env + " ") if env else ""),
        # 126: the shell found the file and could not execute it.
        ' [ "$r" = 126 ] && echo "%s$d/$n"' % NOEXEC_MARKER,
        ' exit "$r"',
        "fi",
        # Not run: read (and drop) the arguments so that the sender never
        # blocks, then say why.
        "cat >/dev/null",
        'echo %s; uname -sm; echo "$n"; echo "$h"; echo "$w"' % MISS_MARKER,
    ])


def install_script(cache_dir, upload, name, digest):
    """Make the cache directory private, or say why it cannot be, and move the uploaded binary into it, verified.

    It repairs what is the user's to repair: a directory with a looser mode
    or an ACL is made 0700 again, and whatever others could have put in it
    while it was open (their files, links, directories, FIFOs, hard links to
    the user's own files) is removed. What it cannot repair safely (a
    symlink, another user's directory, a file in the way) fails, naming the
    path.
    """
    # Entries that are not a regular file of the user's with a single name.
    foreign = 'find . ! -name . -prune \\( ! -type f -o ! -user "$u" -o -links +1 \\)'
    return "\n".join([
        "umask 077",
        SHA256_FUNC,
        PRIVATE_FUNC,
        'fail() { echo "%s$*"; exit 1; }' % ERROR_MARKER,
        "d=%s" % cache_dir,
        "p=$(uname -s 2>/dev/null) u=$(id -u)",
        '[ -h "$d" ] && fail "$d is a symbolic link; the cache must be a directory of its own: remove the link"',
        'if [ ! -d "$d" ]; then',
        ' [ -e "$d" ] && fail "$d exists and is not a directory: remove it"',
        ' m=$(mkdir -p "$d" 2>&1) || fail "cannot create $d: $m"',
        "fi",
        # From here on "." is the directory that was checked, whatever
        # happens to its name.
        'cd -P "$d" 2>/dev/null || fail "cannot enter $d"',
        '[ -O . ] || fail "$d belongs to another user (uid $(ls -ldn . | { read -r _ _ o _ && echo "$o"; })), not to $(id -un) (uid $u):'
        ' remove it, as root or as its owner"',
        "if ! private .; then",
        ' was=$(ls -ld . | { read -r m _ && echo "$m"; })',
        " chmod 700 . 2>/dev/null",
        " private . || chmod -N . 2>/dev/null || setfacl -b . 2>/dev/null",
        ' private . || fail "cannot make $d private (mode 0700, no ACL); it is $(ls -ld . | { read -r m _ && echo "$m"; })"',
        ' echo "%s$d was $was, open to other users: made 0700, and what others may have put in it removed"' % REPAIRED_MARKER,
        "fi",
        foreign + " -exec rm -rf {} + 2>/dev/null",
        # Up to three of the names, in characters that cannot fake a terminal line.
        'x=$(%s -print | head -n 3 | tr -c "[:alnum:]._/+\\n-" "_" | tr "\\n" " ")' % foreign,
        '[ -z "$x" ] || fail "cannot remove what another user left in $d (${x% }): remove it as root"',
        "t=.%s.$$.tmp" % name,
        'rm -f "$t"',
        'cp %s "$t" || { rm -f "$t"; fail "cannot copy the uploaded binary into $d"; }' % shlex.quote(upload),
        'h=$(sha256 "$t")',
        '[ -n "$h" ] || { rm -f "$t"; fail "found none of sha256sum, shasum and openssl to verify the module binary with"; }',
        '[ "$h" = %s ] || { rm -f "$t"; fail "the uploaded binary has SHA-256 \'$h\', expected %s"; }' % (digest, digest),
        'chmod 700 "$t" && mv -f "$t" %s || { rm -f "$t"; fail "cannot move the binary into place in $d"; }' % name,
        # Older versions go; so do temp files of uploads interrupted over an hour ago.
        'for o in %s*; do [ "$o" = %s ] || rm -f "$o"; done' % (CACHE_PREFIX, name),
        'find . -name ".%s*.tmp" -mmin +60 -exec rm -f {} + 2>/dev/null' % CACHE_PREFIX,
        "exit 0",
    ])


def _marked(res, marker):
    """The text after marker on the lines of a command's stdout and stderr that start with it."""
    out = []
    for stream in ("stdout", "stderr"):
        for line in (res.get(stream) or "").splitlines():
            line = line.strip("\r")
            if line.startswith(marker):
                out.append(line[len(marker):].strip())
    return out


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
        """The cache directory as one shell word (see _shell_path)."""
        remote_tmp = self.get_shell_option("remote_tmp", default="~/.ansible/tmp") or "~/.ansible/tmp"
        return _shell_path(remote_tmp.rstrip("/") + "/" + CACHE_DIR)

    def _run_script(self, candidates):
        """The one remote command of a task (see run_script)."""
        cases = []
        for key, platform in sorted(PLATFORMS.items()):
            if platform in candidates:
                cases.append((key,) + tuple(candidates[platform][1:]))
        return run_script(cases, self._cache_dir(), self._compute_environment_string().strip())

    def _install(self, local_path, name, digest):
        """Upload the binary and move it into the cache, verified; repair the cache or fail saying why."""
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        upload = self._connection._shell.join_path(tmpdir, "mxadmin_synapse_upload")
        self._transfer_file(local_path, upload)
        self._fixup_perms2([tmpdir, upload], self._get_remote_user())
        res = self._low_level_execute_command(install_script(self._cache_dir(), upload, name, digest))
        for repaired in _marked(res, REPAIRED_MARKER):
            display.warning("mxadmin.synapse.%s: the module binary cache on %s: %s." % (self.MODULE, self._host_name(), repaired))
        if res.get("rc") != 0:
            reasons = _marked(res, ERROR_MARKER)
            if reasons:
                reason = "; ".join(reasons)
            else:
                # Not the script's own refusal (the shell could not even
                # start it, say): whatever it printed.
                reason = "rc=%s: %s" % (res.get("rc"), (res.get("stderr") or res.get("stdout") or "").strip()[:500])
            raise AnsibleActionFail(
                "mxadmin.synapse.%s: cannot use the module binary cache on the host the module runs on: %s. "
                "Either fix that, or set %s to a directory that belongs to the user the module runs as; "
                "the cache is its mxadmin_synapse/ directory." % (self.MODULE, reason, REMOTE_TMP_FIX)
            )

    def _host_name(self):
        return getattr(self._play_context, "remote_addr", None) or "the host"

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
            refused = _marked({"stdout": stdout}, NOEXEC_MARKER)
            if res.get("rc") == 126 and refused:
                stderr = "".join(line for line in (res.get("stderr") or "").splitlines(True) if not line.startswith(RUN_MARKER))
                raise AnsibleActionFail(
                    "mxadmin.synapse.%s: the host the module runs on refused to execute the module binary %s (%s): "
                    "its remote temp dir is most likely on a filesystem mounted noexec (a /tmp mounted so, for one). "
                    "Set %s to a directory on a filesystem that allows execution, such as ~/.ansible/tmp."
                    % (self.MODULE, refused[-1], stderr.strip()[:300] or "exit code 126", REMOTE_TMP_FIX)
                )
            if MISS_MARKER not in lines:
                break
            info = lines[lines.index(MISS_MARKER) + 1:] + ["", "", "", ""]
            platform = self._platform_from(info[0], res.get("rc"))
            binary = BINARY_PREFIX + platform
            self._require_binary(binary)
            if attempt == 1 or platform not in candidates:
                raise AnsibleActionFail(
                    "mxadmin.synapse.%s: the module binary just installed in the cache on the host the module runs on "
                    "cannot be run: %s (SHA-256 %r). Is the directory changed by another user or process at the same "
                    "time? Set %s to a directory of the user the module runs as that nothing else changes."
                    % (self.MODULE, info[3] or "it does not verify", info[2], REMOTE_TMP_FIX)
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
