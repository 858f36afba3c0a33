#!/usr/bin/env bash
# Prints the unit-test coverage of each package in a Go cover profile (the
# statements its own tests run) and fails when a package named with a floor
# is below it. Usage: coverage-floor.sh PROFILE PACKAGE:PERCENT...
# (PACKAGE is the last element of the import path: reconcile, modules).
set -euo pipefail
profile="$1"
shift
floors="$*"
awk -v floors="$floors" '
	NR == 1 { next }  # the "mode:" line
	{
		file = $1; sub(/:[^:]*$/, "", file)
		pkg = file; sub(/\/[^\/]*$/, "", pkg)
		total[pkg] += $2
		if ($3 > 0) covered[pkg] += $2
	}
	END {
		n = split(floors, list, " ")
		for (i = 1; i <= n; i++) { split(list[i], kv, ":"); floor[kv[1]] = kv[2] }
		bad = 0
		for (pkg in total) {
			short = pkg; sub(/.*\//, "", short)
			pct = total[pkg] ? 100 * covered[pkg] / total[pkg] : 0
			line = sprintf("coverage %-55s %5.1f%%", pkg, pct)
			if (short in floor) {
				if (pct < floor[short]) { line = line sprintf("  BELOW the floor of %d%%", floor[short]); bad = 1 }
				else line = line sprintf("  (floor %d%%)", floor[short])
				seen[short] = 1
			}
			print line | "sort"
		}
		close("sort")
		for (short in floor) if (!(short in seen)) { printf "coverage: no package %s in the profile\n", short; bad = 1 }
		exit bad
	}' "$profile"
