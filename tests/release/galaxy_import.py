"""Run Galaxy's importer on the built collection tarball and fail on any finding.

galaxy-importer is what Galaxy and Automation Hub run on every uploaded
collection. It logs its findings (ansible-doc, flake8, ansible-lint, changelog,
metadata) as "WARNING: ..." / "ERROR: ..." lines and still exits 0 for most of
them, and it skips a check with only a warning when the tool is not on PATH.
So this wrapper fails on any such line, on a non-zero exit, on a missing
"completed successfully" line and on a result that lacks the collection's
content, and prints the whole log either way.

Usage: galaxy_import.py <tarball> <work dir>   (run with .venv-release's python,
with its bin directory first on PATH; make galaxy-import does both).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

# ansible-test needs a container engine (none on CI); everything else Galaxy
# runs on upload is on. The keys are galaxy_importer.config.Config's.
CONFIG = """\
[galaxy-importer]
run_ansible_test = False
run_ansible_doc = True
run_ansible_lint = True
run_flake8 = True
check_changelog = True
log_level_main = INFO
"""

# What the collection ships; the importer must have found and documented it.
EXPECTED_CONTENT = {
    ("module", "matrix_user"),
    ("module", "matrix_user_admin"),
    ("action", "matrix_user"),
    ("action", "matrix_user_admin"),
    ("role", "matrix_users"),
    ("playbook", "users.yml"),
}
FINDING = re.compile(r"^(WARNING|ERROR|CRITICAL)\b")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tarball, workdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(workdir, exist_ok=True)
    cfg = os.path.join(workdir, "galaxy-importer.cfg")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(CONFIG)
    result_path = os.path.join(workdir, "importer_result.json")
    if os.path.exists(result_path):
        os.remove(result_path)

    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=cfg, ANSIBLE_NOCOLOR="1")
    # The importer writes importer_result.json into its working directory.
    proc = subprocess.run(
        [sys.executable, "-m", "galaxy_importer.main", tarball],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    print(proc.stdout, end="")

    problems = []
    if proc.returncode != 0:
        problems.append(f"galaxy-importer exited with {proc.returncode}")
    findings = [line for line in proc.stdout.splitlines() if FINDING.match(line)]
    problems += [f"finding: {line}" for line in findings]
    if "Importer processing completed successfully" not in proc.stdout:
        problems.append("galaxy-importer did not report a successful import")

    try:
        with open(result_path, encoding="utf-8") as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"no import result: {e}")
        result = {}
    found = {(c.get("content_type"), c.get("name")) for c in result.get("contents") or []}
    for missing in sorted(EXPECTED_CONTENT - found):
        problems.append("the import did not find the %s %s" % missing)
    # ansible-doc ran and returned the modules' docs (Galaxy's module pages).
    for c in (result.get("docs_blob") or {}).get("contents") or []:
        if c.get("content_type") == "module" and not (c.get("doc_strings") or {}).get("doc"):
            problems.append(f"no documentation imported for the module {c.get('content_name')}")

    if problems:
        print("galaxy-importer: the collection would not import cleanly:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"galaxy-importer: {os.path.basename(tarball)} imports with no error or warning "
          f"({len(found)} content items)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
