package modules

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/session"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Names of the connection options, shared by every module.
const (
	optHomeserverURL = "homeserver_url"
	optServerName    = "server_name"
	optAdminToken    = "admin_token"
	optAdminUser     = "admin_user"
	optAdminPassword = "admin_password"
	optSharedSecret  = "registration_shared_secret"
	optServiceAcct   = "service_account"
	optValidateCerts = "validate_certs"
	optCAPath        = "ca_path"
	optTimeout       = "timeout"
	optRetries       = "retries"
	// The MAS connection (docs/mas.md).
	optMASURL          = "mas_url"
	optMASClientID     = "mas_client_id"
	optMASClientSecret = "mas_client_secret"
	optAuthBackend     = "auth_backend"
)

// maxTimeout is the largest timeout option accepted, in seconds (an hour).
const maxTimeout = 3600

// connectionOptions is the argument spec of the connection options.
func connectionOptions() []ansible.Option {
	return []ansible.Option{
		{Name: optHomeserverURL, Type: ansible.TypeStr, Default: "http://127.0.0.1:8008"},
		{Name: optServerName, Type: ansible.TypeStr},
		{Name: optAdminToken, Type: ansible.TypeStr, NoLog: true},
		{Name: optAdminUser, Type: ansible.TypeStr},
		{Name: optAdminPassword, Type: ansible.TypeStr, NoLog: true},
		{Name: optSharedSecret, Type: ansible.TypeStr, NoLog: true},
		{Name: optServiceAcct, Type: ansible.TypeStr, Default: session.DefaultServiceAccount},
		{Name: optValidateCerts, Type: ansible.TypeBool, Default: true},
		{Name: optCAPath, Type: ansible.TypePath},
		// Bounded so that a typo cannot make a run wait for days, nor wrap
		// around when turned into a time.Duration.
		{Name: optTimeout, Type: ansible.TypeInt, Default: 30, Min: 1, Max: maxTimeout},
		{Name: optRetries, Type: ansible.TypeInt, Default: 3, Min: 0, Max: 20},
		{Name: optMASURL, Type: ansible.TypeStr},
		{Name: optMASClientID, Type: ansible.TypeStr},
		{Name: optMASClientSecret, Type: ansible.TypeStr, NoLog: true},
		{Name: optAuthBackend, Type: ansible.TypeStr, Default: session.BackendAuto, Choices: []string{session.BackendAuto, session.BackendSynapse, session.BackendMAS}},
	}
}

// The rules between connection options, for a module spec.
var (
	connectionMutuallyExclusive = [][]string{{optAdminToken, optAdminUser}}
	connectionRequiredTogether  = [][]string{{optAdminUser, optAdminPassword}, {optMASURL, optMASClientID, optMASClientSecret}}
)

// connectionFrom decodes the connection options and checks them, before any
// request is made.
func connectionFrom(p *ansible.Params) (session.Options, error) {
	o := session.Options{
		HomeserverURL: p.String(optHomeserverURL),
		ServerName:    strings.ToLower(strings.TrimSpace(p.String(optServerName))),
		AdminToken:    p.String(optAdminToken),
		AdminUser:     p.String(optAdminUser),
		AdminPassword: p.String(optAdminPassword),
		SharedSecret:  p.String(optSharedSecret),
		// A localpart, compared as Synapse does: in lower case.
		ServiceAccount:  strings.ToLower(strings.TrimSpace(p.String(optServiceAcct))),
		ValidateCerts:   p.Bool(optValidateCerts),
		CAPath:          p.String(optCAPath),
		Timeout:         time.Duration(p.Int(optTimeout)) * time.Second,
		Retries:         p.Int(optRetries),
		MASURL:          p.String(optMASURL),
		MASClientID:     p.String(optMASClientID),
		MASClientSecret: p.String(optMASClientSecret),
		Backend:         p.String(optAuthBackend),
		Version:         Version,
		AddSecret:       ansible.AddSecret,
	}
	var problems problemList
	add := func(format string, args ...any) {
		problems = append(problems, problem.Errorf(problem.Invalid, format, args...))
	}
	if _, err := synapse.ParseBaseURL(o.HomeserverURL); err != nil {
		add("%s: %q %s (for example https://matrix.example.com or http://127.0.0.1:8008)", problem.Option(optHomeserverURL), o.HomeserverURL, err)
	}
	if o.MASURL != "" {
		if _, err := httpapi.ParseBaseURL(o.MASURL, problem.Name(optMASClientID)); err != nil {
			add("%s: %q %s (for example https://matrix.example.com/auth or http://127.0.0.1:8080)", problem.Option(optMASURL), o.MASURL, err)
		}
	}
	if o.Backend == session.BackendMAS && o.MASURL == "" {
		add("%s=mas needs %s, %s and %s", problem.Option(optAuthBackend), problem.Name(optMASURL), problem.Name(optMASClientID), problem.Name(optMASClientSecret))
	}
	if invisibleCharacter(o.MASClientID) != "" || invisibleCharacter(o.MASClientSecret) != "" {
		add("%s and %s may not contain whitespace or control characters", problem.Option(optMASClientID), problem.Option(optMASClientSecret))
	}
	switch {
	case p.Given(optAdminToken) && o.AdminToken == "":
		add("%s: may not be empty", problem.Option(optAdminToken))
	case invisibleCharacter(o.AdminToken) != "":
		// The token is never shown, not even in part.
		add("%s: may not contain whitespace or control characters (it has %s; an access token has none: look for a space or a newline around it)", problem.Option(optAdminToken), invisibleCharacter(o.AdminToken))
	}
	if invisibleCharacter(o.AdminUser) != "" {
		add("%s: %q may not contain whitespace or control characters (it has %s; a user ID or localpart has none)", problem.Option(optAdminUser), o.AdminUser, invisibleCharacter(o.AdminUser))
	}
	if p.Given(optAdminPassword) && o.AdminPassword == "" {
		add("%s: may not be empty", problem.Option(optAdminPassword))
	}
	// The shared secret is an HMAC key that Synapse uses exactly as its
	// configuration (or the file of registration_shared_secret_path, not
	// stripped) holds it: spaces, even a final newline, are legal there.
	// Only a secret with nothing but whitespace is refused.
	if p.Given(optSharedSecret) && strings.TrimSpace(o.SharedSecret) == "" {
		what := "may not be empty"
		if o.SharedSecret != "" {
			what = "may not be only whitespace"
		}
		add("%s: %s", problem.Option(optSharedSecret), what)
	}
	if o.ServiceAccount != "" && !serviceAccountPattern.MatchString(o.ServiceAccount) {
		add("%s: %q is not a localpart Synapse registers (lower-case letters, digits and . _ = - /, not starting with _, at most 100 characters; for example %s), or \"\" to turn the service admin off",
			problem.Option(optServiceAcct), o.ServiceAccount, session.DefaultServiceAccount)
	}
	// timeout and retries need no check here: their spec bounds them.
	if strings.ContainsAny(o.ServerName, "/@ ") || invisibleCharacter(o.ServerName) != "" {
		add("%s: %q is not a server name (for example example.com)", problem.Option(optServerName), o.ServerName)
	}
	if len(problems) > 0 {
		return o, problems
	}
	return o, nil
}

// serviceAccountPattern is a localpart that shared-secret registration
// accepts on any server: Synapse's allowed characters, no leading "_" (kept
// for application services), short enough for any server name.
var serviceAccountPattern = regexp.MustCompile(`^[a-z0-9.=/-][a-z0-9._=/-]{0,99}$`)

// serviceAccountDeclared refuses a declaration of the service admin: the
// account the run authenticates as (or that a later run will) is the
// collection's, not the declarations'.
func serviceAccountDeclared(localpart string, conn *session.Options, entry problem.Entry) error {
	if conn.ServiceAccount == "" || !strings.EqualFold(localpart, conn.ServiceAccount) {
		return nil
	}
	return problem.Errorf(problem.SelfGuard, "%s is the collection's service admin (%s), which the modules authenticate as with only %s: it is never declared, changed, demoted, locked or deactivated by the users it serves. Declare another user, or choose another %s",
		conn.ServiceAccount, problem.Name(optServiceAcct), problem.Name(optSharedSecret), problem.Name(optServiceAcct)).About(entry)
}

// problemList is every problem found in one go, so that a user fixes them
// all in one run; its text joins them with "; ".
type problemList []error

func (l problemList) Error() string { return l.Render(problem.Module) }

// Render joins the problems in the user's words.
func (l problemList) Render(n problem.Naming) string {
	msgs := make([]string, len(l))
	for i, err := range l {
		msgs[i] = problem.Render(err, n)
	}
	return strings.Join(msgs, "; ")
}

// invisibleCharacter names the first whitespace, control or invisible format
// character of s (by kind and position, never by showing s), or "" when
// there is none. No access token, user ID, server name or URL holds one, and
// one there is a typo or a templating accident (a stray space, the newline
// at the end of a file).
func invisibleCharacter(s string) string {
	for i, r := range []rune(s) {
		var kind string
		switch {
		case r == ' ':
			kind = "a space"
		case r == '\n' || r == '\r':
			kind = "a line break"
		case r == '\t':
			kind = "a tab"
		case unicode.IsSpace(r):
			kind = fmt.Sprintf("a space character (U+%04X)", r)
		case unicode.IsControl(r):
			kind = fmt.Sprintf("a control character (U+%04X)", r)
		case unicode.Is(unicode.Cf, r):
			kind = fmt.Sprintf("an invisible format character (U+%04X)", r)
		default:
			continue
		}
		return fmt.Sprintf("%s at character %d", kind, i+1)
	}
	return ""
}
