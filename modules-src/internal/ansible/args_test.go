package ansible

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArgsFromStdin(t *testing.T) {
	args, err := readArgs(StdinArgs, strings.NewReader(`{"user": "alice", "n": 1}`))
	require.NoError(t, err)
	assert.Equal(t, "alice", args["user"])

	_, err = readArgs(StdinArgs, strings.NewReader(""))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is empty")

	_, err = readArgs(StdinArgs, strings.NewReader(`{"password": "hunter2-secret"`))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

// An args file Ansible will not keep is removed as soon as it is read; one
// written by hand (no _ansible_keep_remote_files) or kept on request stays.
func TestArgsFileRemovedOnceRead(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content string
		stays   bool
	}{
		"ansible, not kept": {`{"_ansible_keep_remote_files": false, "password": "p"}`, false},
		"ansible, kept":     {`{"_ansible_keep_remote_files": true}`, true},
		"by hand":           {`{"user": "alice"}`, true},
		"bad json":          {`{"_ansible_keep_remote_files": false,`, true},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
		_, _ = ReadArgsFile(path)
		_, err := os.Stat(path)
		assert.Equal(t, tc.stays, err == nil, name)
	}
}
