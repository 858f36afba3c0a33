#!/usr/bin/env bash
# Runs ansible-test sanity on the collection, as Galaxy and Ansible's CI do.
# ansible-test needs the collection at .../ansible_collections/mxadmin/synapse
# and checks what git tracks, so the tracked files are copied there (the Go
# binaries are not tracked and so not checked; Go code is linted by go vet and
# staticcheck). Each sanity test gets its own pinned virtualenv (--venv).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${MXADMIN_VENV:-$root/.venv}"
python_version="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
dest="$root/build/sanity/ansible_collections/mxadmin/synapse"
rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$dest"
cd "$dest"
git init -q . && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
"$venv/bin/ansible-test" sanity --venv --python "$python_version" --color no "$@"
