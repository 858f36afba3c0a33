package ansible

import (
	"encoding/json"
	"io"
	"sync"
)

// Result is the one JSON object a module prints. Ansible ignores the exit
// code of a module whose output is valid JSON, so a failure must say
// failed: true with a msg.
type Result struct {
	Changed  bool
	Failed   bool
	Msg      string
	Warnings []string
	// Diff is shown by ansible-playbook --diff: a Diff or a list of them.
	Diff any
	// Fields are the module's own return values (documented in RETURN).
	Fields map[string]any
}

// Diff is one before/after pair in the form Ansible's diff callback renders.
type Diff struct {
	Before       any    `json:"before"`
	After        any    `json:"after"`
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
}

// Fail returns a failed result with msg.
func Fail(msg string) Result { return Result{Failed: true, Msg: msg} }

// Set adds a return value.
func (r *Result) Set(key string, value any) {
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	r.Fields[key] = value
}

// runtime holds the secrets a run obtains itself (the access token of a
// password login), which are not in the arguments.
var runtime struct {
	sync.Mutex
	secrets []string
}

// AddSecret adds a secret the run obtained to those Write masks.
func AddSecret(s string) {
	runtime.Lock()
	defer runtime.Unlock()
	runtime.secrets = append(runtime.secrets, s)
}

func runtimeSecrets() []string {
	runtime.Lock()
	defer runtime.Unlock()
	return append([]string(nil), runtime.secrets...)
}

// Redacted is what a secret is replaced with, as Ansible does for no_log values.
const Redacted = "********"

// Write prints the result as one JSON object. Every string value in it has
// the secrets masked with Redacted, in any encoding (see scrub.go): modules
// never put secrets in results on purpose, and this catches what slips
// through (a server echoing a request, a library error quoting input).
func Write(w io.Writer, r Result, secrets []string) error {
	out := map[string]any{}
	for k, v := range r.Fields {
		out[k] = v
	}
	out["changed"] = r.Changed
	if r.Failed {
		out["failed"] = true
	}
	if r.Msg != "" {
		out["msg"] = r.Msg
	}
	if len(r.Warnings) > 0 {
		out["warnings"] = r.Warnings
	}
	if r.Diff != nil {
		out["diff"] = r.Diff
	}
	// Round-trip through JSON so that the scrub sees plain maps, lists and
	// strings whatever Go types the module used.
	data, err := json.Marshal(out)
	if err != nil {
		data, _ = json.Marshal(map[string]any{"failed": true, "changed": r.Changed, "msg": "internal error: cannot encode the result: " + err.Error()})
	}
	s := newScrubber(append(append([]string(nil), secrets...), runtimeSecrets()...))
	if s != nil {
		var generic any
		if err := json.Unmarshal(data, &generic); err == nil {
			data, _ = json.Marshal(s.value(generic))
		}
	}
	data = append(data, '\n')
	_, err = w.Write(data)
	return err
}
