package modules

import (
	"fmt"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/ansible"
	"github.com/mxadmin/synapse/modules-src/session"
	"github.com/mxadmin/synapse/modules-src/synapse"
)

// Names of the connection options, shared by every module.
const (
	optHomeserverURL = "homeserver_url"
	optServerName    = "server_name"
	optAdminToken    = "admin_token"
	optAdminUser     = "admin_user"
	optAdminPassword = "admin_password"
	optSharedSecret  = "registration_shared_secret"
	optValidateCerts = "validate_certs"
	optCAPath        = "ca_path"
	optTimeout       = "timeout"
	optRetries       = "retries"
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
		{Name: optValidateCerts, Type: ansible.TypeBool, Default: true},
		{Name: optCAPath, Type: ansible.TypePath},
		// Bounded so that a typo cannot make a run wait for days, nor wrap
		// around when turned into a time.Duration.
		{Name: optTimeout, Type: ansible.TypeInt, Default: 30, Min: 1, Max: maxTimeout},
		{Name: optRetries, Type: ansible.TypeInt, Default: 3, Min: 0, Max: 20},
	}
}

// The rules between connection options, for a module spec.
var (
	connectionMutuallyExclusive = [][]string{{optAdminToken, optAdminUser}}
	connectionRequiredTogether  = [][]string{{optAdminUser, optAdminPassword}}
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
		ValidateCerts: p.Bool(optValidateCerts),
		CAPath:        p.String(optCAPath),
		Timeout:       time.Duration(p.Int(optTimeout)) * time.Second,
		Retries:       p.Int(optRetries),
		Version:       Version,
		AddSecret:     ansible.AddSecret,
	}
	var problems []string
	if _, err := synapse.ParseBaseURL(o.HomeserverURL); err != nil {
		problems = append(problems, fmt.Sprintf("option homeserver_url: %q %v (for example https://matrix.example.com or http://127.0.0.1:8008)", o.HomeserverURL, err))
	}
	if p.Given(optAdminToken) && o.AdminToken == "" {
		problems = append(problems, "option admin_token: may not be empty")
	}
	if p.Given(optAdminPassword) && o.AdminPassword == "" {
		problems = append(problems, "option admin_password: may not be empty")
	}
	if p.Given(optSharedSecret) && o.SharedSecret == "" {
		problems = append(problems, "option registration_shared_secret: may not be empty")
	}
	if p.Int(optTimeout) < 1 {
		problems = append(problems, "option timeout: must be at least 1 (seconds)")
	}
	if o.Retries < 0 || o.Retries > 20 {
		problems = append(problems, "option retries: must be between 0 and 20")
	}
	if strings.ContainsAny(o.ServerName, "/@ ") {
		problems = append(problems, fmt.Sprintf("option server_name: %q is not a server name (for example example.com)", o.ServerName))
	}
	if len(problems) > 0 {
		return o, &ansible.ValidationError{Problems: problems}
	}
	return o, nil
}
