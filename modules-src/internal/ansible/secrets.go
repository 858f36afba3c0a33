package ansible

import (
	"sort"
	"sync"
)

// The values of no_log options, collected from the raw arguments so that the
// result writer can mask them.

// SecretValues returns the values of every no_log option in the raw
// arguments, at any depth. The result writer scrubs them from all output as a
// last line of defence, the way Ansible masks no_log values. It also makes
// the spec's option names public words (PublicWords), which the scrub does
// not shred.
func SecretValues(spec Spec, raw map[string]any) []string {
	var out []string
	collectSecrets(spec.Options, raw, &out)
	addOptionNames(spec.Options)
	return out
}

// publicWords are the module's own words: its option names. A piece of a
// secret that lies inside a longer one of them (a password holding
// "password", in a message naming admin_password) is that word, not an
// echo, and is left alone.
var publicWords struct {
	sync.Mutex
	words map[string]bool
}

// AddPublicWords adds words the result scrub leaves alone where a piece of
// a secret lies inside one longer than the piece.
func AddPublicWords(words ...string) {
	publicWords.Lock()
	defer publicWords.Unlock()
	if publicWords.words == nil {
		publicWords.words = map[string]bool{}
	}
	for _, w := range words {
		if w != "" {
			publicWords.words[w] = true
		}
	}
}

// PublicWords returns the public words, sorted.
func PublicWords() []string {
	publicWords.Lock()
	defer publicWords.Unlock()
	out := make([]string, 0, len(publicWords.words))
	for w := range publicWords.words {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

func addOptionNames(opts []Option) {
	for _, o := range opts {
		AddPublicWords(o.Name)
		AddPublicWords(o.Aliases...)
		addOptionNames(o.Options)
	}
}

func collectSecrets(opts []Option, raw map[string]any, out *[]string) {
	for _, o := range opts {
		for _, key := range append([]string{o.Name}, o.Aliases...) {
			val, ok := raw[key]
			if !ok || val == nil {
				continue
			}
			if o.NoLog {
				// InvalidText stands for a value that was not UTF-8: it is
				// the reader's marker, not the secret, and the message that
				// refuses the value quotes part of it.
				if s := scalarString(val); s != "" && s != InvalidText {
					*out = append(*out, s)
				}
			}
			if len(o.Options) == 0 {
				continue
			}
			// The same coercion validation applies, so that secrets in a
			// dict written as a string (users: ["user=a password=b"]) or a
			// list written as one are found as validation will read them.
			coerced, err := coerceScalar(o.Type, val)
			if err != nil {
				continue
			}
			switch x := coerced.(type) {
			case map[string]any:
				collectSecrets(o.Options, x, out)
			case []any:
				for _, el := range x {
					if m, err := coerceScalar(o.Elements, el); err == nil {
						if m, ok := m.(map[string]any); ok {
							collectSecrets(o.Options, m, out)
						}
					}
				}
			}
		}
	}
}
