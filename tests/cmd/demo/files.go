package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

func linkCollection(work, root string) (string, error) {
	return synapsetest.LinkCollection(work+"/collections", root)
}

func copyDir(src, dst string) error { return synapsetest.CopyDir(src, dst) }

func replaceInFile(path, old, replacement string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(data), old) {
		return fmt.Errorf("%s does not contain %q", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(data), old, replacement, 1)), 0o644)
}

func randomWord() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
