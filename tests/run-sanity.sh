#!/usr/bin/env bash
# Runs ansible-test sanity on the collection, as Galaxy and Ansible's CI do.
# ansible-test needs the collection at .../ansible_collections/mxadmin/synapse
# and checks what git tracks, so the tracked files are copied there (the Go
# binaries are not tracked and so not checked; Go code is linted by go vet and
# staticcheck). Each sanity test gets its own pinned virtualenv (--venv).
# A sanity test that ansible-test skips (shellcheck missing: 'make shellcheck')
# fails the run: tests/cmd/testsummary reads the console log and the --junit
# results, prints what was skipped and counts the tests for make test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
go_home="${HOME:-}"
venv="${MXADMIN_VENV:-$root/.venv}"
python_version="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
dest="$root/build/sanity/ansible_collections/mxadmin/synapse"
rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$dest"
cd "$dest"
git init -q . && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity

# ansible-test gives each sanity test a virtualenv of its own, with pinned
# requirements from PyPI, and bootstraps pip in it with a get-pip script it
# downloads from ci-files.testing.ansible.com. Where only PyPI is reachable,
# this stand-in does the same from what Python ships (ensurepip) and PyPI.
# HOME points into build/ so that these venvs and the cache stay in the tree.
export HOME="$root/build/ansible-test-home"
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for version in 24.2 25.0 25.1 25.2 25.3; do
  cat > "$cache/get_pip_${version//./_}.py" <<'PY'
import ensurepip, os, subprocess, sys
ensurepip.bootstrap(upgrade=True)
# ensurepip hides pip's configuration (PIP_CONFIG_FILE=/dev/null) in this
# process; the real install must see it (a site CA bundle, a mirror).
env = {k: v for k, v in os.environ.items() if k != "PIP_CONFIG_FILE"}
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args, env=env)
PY
done
log="$root/build/sanity.log"
status=0
"$venv/bin/ansible-test" sanity --requirements --python "$python_version" --color no --junit "$@" 2>&1 | tee "$log" || status=$?
# Go keeps its build cache under the real HOME.
(cd "$root" && HOME="$go_home" "${GO:-go}" build -o build/testsummary ./tests/cmd/testsummary) &&
  "$root/build/testsummary" sanity -log "$log" -junit "$dest/tests/output/junit" || status=1
exit "$status"
