package synapsetest

import (
	"io/fs"
	"os"
	"path/filepath"
)

// LinkCollection makes base/ansible_collections/mxadmin/synapse point at the
// collection source tree (root), and returns base: a value for
// ANSIBLE_COLLECTIONS_PATH that runs the source tree with the binaries that
// 'make build' put in plugins/modules.
func LinkCollection(base, root string) (string, error) {
	ns := filepath.Join(base, "ansible_collections", "mxadmin")
	if err := os.MkdirAll(ns, 0o755); err != nil {
		return "", err
	}
	if err := os.Symlink(root, filepath.Join(ns, "synapse")); err != nil {
		return "", err
	}
	return base, nil
}

// CopyDir copies a directory tree of regular files.
func CopyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
