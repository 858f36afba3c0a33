// Package ansible holds the part of the Ansible module contract that a binary
// module has to implement itself: Ansible gives a binary module nothing but a
// JSON file of raw arguments and expects exactly one JSON object back on
// stdout. Type coercion, defaults, unknown-option checks and hiding secrets
// are therefore done here, the way AnsibleModule does them for Python modules.
package ansible

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxArgsSize bounds what we read from the args file. Real args files are a
// few KiB; 64 MiB leaves room for a batch of a hundred thousand users while
// keeping a wrong path (a device, a huge log) from exhausting memory.
const maxArgsSize = 64 << 20

// StdinArgs, given as the args file, makes the binary read its arguments
// from standard input: the collection's action plugin sends them that way so
// that no secret is ever written to the target's disk.
const StdinArgs = "-"

// ReadArgsFile reads the args file Ansible wrote for this run (argv[1]), or
// standard input when path is StdinArgs, and decodes it into raw arguments.
// The file holds secrets while the task runs, so it is read exactly once,
// into memory, and never copied or echoed: error messages name the file and
// the problem, never its content.
func ReadArgsFile(path string) (map[string]any, error) {
	return readArgs(path, os.Stdin)
}

func readArgs(path string, stdin io.Reader) (map[string]any, error) {
	if path == "" {
		return nil, errors.New("no args file given: a binary module runs as '<module> <args file>' (or '<module> -' with the arguments on standard input)")
	}
	in := stdin
	if path != StdinArgs {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read the args file: %w", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, maxArgsSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the args file %s: %w", path, err)
	}
	if len(data) > maxArgsSize {
		return nil, fmt.Errorf("the args file %s is larger than %d MiB", path, maxArgsSize>>20)
	}
	args, err := DecodeArgs(data)
	if err == nil && path != StdinArgs && args["_ansible_keep_remote_files"] == false {
		// Written by Ansible (async runs still need a file: async_wrapper
		// hands the module a path) and not to be kept: it holds secrets,
		// so it goes now rather than when Ansible cleans up after the task,
		// which an interrupted run never does.
		_ = os.Remove(path)
	}
	return args, err
}

// DecodeArgs decodes the content of an args file. It is separate from
// ReadArgsFile so that the fuzz test can drive it directly.
func DecodeArgs(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the args file is empty: expected a JSON object of module options")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// Numbers stay json.Number so that integers survive exactly and the
	// coercion rules below can tell 1 from 1.5.
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the args file is not valid JSON (%s): expected a JSON object of module options", describeJSONError(err))
	}
	if dec.More() {
		return nil, errors.New("the args file holds more than one JSON value: expected a single JSON object of module options")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the args file holds a JSON %s, not an object of module options", jsonKind(v))
	}
	return obj, nil
}

// describeJSONError keeps the position of a syntax error but never the
// offending text, which could be part of a password.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return "cannot decode"
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "value"
	}
}
