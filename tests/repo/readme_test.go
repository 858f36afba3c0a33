package repo

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildIgnore reads galaxy.yml's build_ignore list (a plain YAML list of
// strings, read without a YAML library).
func buildIgnore(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../galaxy.yml")
	require.NoError(t, err)
	var patterns []string
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "build_ignore:"):
			in = true
		case in && strings.HasPrefix(strings.TrimSpace(l), "- "):
			patterns = append(patterns, strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- ")), `'"`))
		case in && l != "" && !strings.HasPrefix(l, " "):
			in = false
		}
	}
	require.NotEmpty(t, patterns, "build_ignore")
	return patterns
}

// fnmatch is Python's fnmatch for '*' and '?' ('*' crosses '/'), as
// ansible-galaxy matches build_ignore patterns.
func fnmatch(pattern, name string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(name)
}

// shipped: the file is in the collection tarball (no build_ignore pattern
// matches it or a folder above it).
func shipped(path string, patterns []string) bool {
	parts := strings.Split(path, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		for _, p := range patterns {
			if fnmatch(p, prefix) {
				return false
			}
		}
	}
	return true
}

// TestReadmeLinksWorkInTheInstalledCollection: the README is read from the
// installed collection and on Galaxy, so a relative link must point at a
// file the tarball ships; links into the repository must name a file that
// exists.
func TestReadmeLinksWorkInTheInstalledCollection(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	patterns := buildIgnore(t)
	assert.False(t, shipped("docs/benchmarks.md", patterns), "the check itself: docs/ is not shipped")
	assert.True(t, shipped("CHANGELOG.md", patterns), "the check itself")

	const repoBlob = "https://github.com/mxadmin/synapse/blob/main/"
	links := regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(string(data), -1)
	require.NotEmpty(t, links)
	for _, m := range links {
		target, _, _ := strings.Cut(m[1], "#")
		switch {
		case target == "":
		case strings.HasPrefix(target, repoBlob):
			_, err := os.Stat("../../" + strings.TrimPrefix(target, repoBlob))
			assert.NoError(t, err, "README links %s, which is not in the repository", m[1])
		case strings.Contains(target, "://"):
		default:
			_, err := os.Stat("../../" + target)
			assert.NoError(t, err, "README links %s, which does not exist", m[1])
			assert.True(t, shipped(target, patterns),
				"README links %s, which the collection tarball does not ship (galaxy.yml build_ignore): link %s%s instead", m[1], repoBlob, target)
		}
	}
}
