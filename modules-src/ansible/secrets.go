package ansible

// The values of no_log options, collected from the raw arguments so that the
// result writer can mask them.

// SecretValues returns the values of every no_log option in the raw
// arguments, at any depth. The result writer scrubs them from all output as a
// last line of defence, the way Ansible masks no_log values.
func SecretValues(spec Spec, raw map[string]any) []string {
	var out []string
	collectSecrets(spec.Options, raw, &out)
	return out
}

func collectSecrets(opts []Option, raw map[string]any, out *[]string) {
	for _, o := range opts {
		for _, key := range append([]string{o.Name}, o.Aliases...) {
			val, ok := raw[key]
			if !ok || val == nil {
				continue
			}
			if o.NoLog {
				if s := scalarString(val); s != "" {
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
