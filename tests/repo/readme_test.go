package repo

import (
	"io/fs"
	"os"
	"path/filepath"
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

// markdownFiles are the README and every page under docs/ (what the
// collection ships and Galaxy shows).
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir("../../docs", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, strings.TrimPrefix(path, "../../"))
		}
		return err
	})
	require.NoError(t, err)
	return files
}

// TestReadmeLinksWorkInTheInstalledCollection: the README and the docs/
// pages are read from the installed collection and on Galaxy, so a relative
// link must point at a file the tarball ships; links into the repository
// must name a file that exists.
func TestReadmeLinksWorkInTheInstalledCollection(t *testing.T) {
	patterns := buildIgnore(t)
	assert.True(t, shipped("docs/README.md", patterns), "the check itself: docs/ is shipped")
	assert.True(t, shipped("docs/examples/demo/site.yml", patterns), "the check itself")
	assert.False(t, shipped("docs/dev/mas-facts.md", patterns), "the check itself: docs/dev is not shipped")
	assert.False(t, shipped("modules-src/go.mod", patterns), "the check itself")
	assert.False(t, shipped("ansible.cfg", patterns), "the checkout's ansible.cfg is not the collection's")
	assert.True(t, shipped("CHANGELOG.md", patterns), "the check itself")

	const repoBlob = "https://github.com/mxadmin/synapse/blob/main/"
	const repoTree = "https://github.com/mxadmin/synapse/tree/main/"
	for _, file := range markdownFiles(t) {
		data, err := os.ReadFile("../../" + file)
		require.NoError(t, err)
		if !shipped(file, patterns) {
			continue // read in the repository only
		}
		links := regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(string(data), -1)
		if file == "README.md" {
			require.NotEmpty(t, links)
		}
		for _, m := range links {
			target, _, _ := strings.Cut(m[1], "#")
			switch {
			case target == "":
			case strings.HasPrefix(target, repoBlob), strings.HasPrefix(target, repoTree):
				_, err := os.Stat("../../" + strings.TrimPrefix(strings.TrimPrefix(target, repoBlob), repoTree))
				assert.NoError(t, err, "%s links %s, which is not in the repository", file, m[1])
			case strings.Contains(target, "://"):
			default:
				path := filepath.ToSlash(filepath.Join(filepath.Dir(file), target))
				_, err := os.Stat("../../" + path)
				assert.NoError(t, err, "%s links %s, which does not exist", file, m[1])
				assert.True(t, shipped(path, patterns),
					"%s links %s, which the collection tarball does not ship (galaxy.yml build_ignore): link %s%s instead", file, m[1], repoBlob, path)
			}
		}
	}
}
