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
	"strconv"
	"unicode/utf8"
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
	dec := json.NewDecoder(bytes.NewReader(markInvalidText(data)))
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

// InvalidText stands in for a JSON string of the args file that is not valid
// Unicode text: raw bytes that are not UTF-8, or an escaped lone surrogate
// (\udcXX is how Python's json writes a byte it could not decode). Go's
// decoder would quietly turn either into U+FFFD, so a password with such a
// byte would be set to something else than was written; instead the option
// holding it is refused by name. The value itself is never shown.
const InvalidText = "\x00mxadmin.synapse: not valid UTF-8\x00"

var errInvalidText = errors.New("is not valid UTF-8 text (Ansible passes bytes it cannot decode as \\udcXX escapes); write it as UTF-8")

// markInvalidText replaces every string literal of a JSON document that
// holds invalid UTF-8 or a lone surrogate escape with InvalidText. It looks at
// string literals only and copies everything else; a malformed document
// stays malformed for the decoder to report. One pass, linear in the size.
func markInvalidText(data []byte) []byte {
	var out []byte // nil until the first invalid string
	marker, _ := json.Marshal(InvalidText)
	copied := 0
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		end, valid := scanString(data, i+1)
		if !valid {
			if out == nil {
				out = make([]byte, 0, len(data))
			}
			out = append(out, data[copied:i]...)
			out = append(out, marker...)
			copied = end + 1
		}
		i = end
	}
	if out == nil {
		return data
	}
	if copied < len(data) {
		out = append(out, data[copied:]...)
	}
	return out
}

// scanString reads a string literal from its first byte after the opening
// quote to its closing quote, returning the index of that quote (or the last
// index when the string is unterminated) and whether its text is valid.
func scanString(data []byte, i int) (end int, valid bool) {
	valid = true
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i, valid
		case c == '\\':
			if i+1 < len(data) && data[i+1] == 'u' {
				r, ok := hex4(data, i+2)
				if ok && r >= 0xD800 && r <= 0xDBFF {
					// A high surrogate must be followed by a low one.
					if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						if lo, ok := hex4(data, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
							i += 12
							continue
						}
					}
					valid = false
				} else if ok && r >= 0xDC00 && r <= 0xDFFF {
					valid = false
				}
				i += 6
				continue
			}
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				valid = false
			}
			i += size
		}
	}
	return len(data) - 1, valid
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(data[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
