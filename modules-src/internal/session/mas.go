package session

import (
	"context"
	"strings"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
)

// The backends a run can be forced to (the auth_backend option).
const (
	BackendAuto    = "auto"
	BackendSynapse = "synapse"
	BackendMAS     = "mas"
)

// checkBackend compares what the probes found with the options, before any
// write: MAS options for a Synapse that does not delegate, or the reverse,
// fail naming the option that fixes it.
func (o Options) checkBackend(url string, delegated bool) error {
	masGiven := o.MASURL != "" || o.MASClientID != "" || o.MASClientSecret != ""
	switch {
	case delegated && o.Backend == BackendSynapse:
		return problem.Errorf(problem.Unsupported, "%s is synapse, but the homeserver at %s delegates authentication to Matrix Authentication Service (MAS): its accounts live in MAS, and Synapse's own user endpoints would create accounts MAS knows nothing about; set %s, %s and %s (and %s to mas or auto)",
			problem.Name("auth_backend"), url, problem.Name("mas_url"), problem.Name("mas_client_id"), problem.Name("mas_client_secret"), problem.Name("auth_backend"))
	case delegated && !masGiven:
		return problem.Errorf(problem.Unsupported, "the homeserver at %s delegates authentication to Matrix Authentication Service (MAS): its accounts and passwords live in MAS; set %s, %s and %s (an admin client of MAS, docs/mas.md) to manage them through MAS's admin API",
			url, problem.Name("mas_url"), problem.Name("mas_client_id"), problem.Name("mas_client_secret"))
	case !delegated && o.Backend == BackendMAS:
		return problem.Errorf(problem.Invalid, "%s is mas, but the homeserver at %s does not delegate authentication to MAS: its accounts live in Synapse; set %s to synapse or auto", problem.Name("auth_backend"), url, problem.Name("auth_backend"))
	case !delegated && masGiven:
		return problem.Errorf(problem.Invalid, "%s is set, but the homeserver at %s does not delegate authentication to MAS: its accounts live in Synapse; remove %s, %s and %s (or point %s at the homeserver that uses this MAS)",
			problem.Name("mas_url"), url, problem.Name("mas_url"), problem.Name("mas_client_id"), problem.Name("mas_client_secret"), problem.Name("homeserver_url"))
	}
	if delegated && (o.MASURL == "" || o.MASClientID == "" || o.MASClientSecret == "") {
		return problem.Errorf(problem.Invalid, "the homeserver at %s delegates authentication to MAS: %s, %s and %s are all needed", url, problem.Name("mas_url"), problem.Name("mas_client_id"), problem.Name("mas_client_secret"))
	}
	return nil
}

// openMAS opens the MAS side of a session: the admin client, whose first
// request (MAS's site config) gets the admin token, proving the client's
// credentials, and names the homeserver MAS serves.
func (s *Session) openMAS(ctx context.Context) error {
	o := s.opts
	c, err := mas.New(mas.Config{Config: httpapi.Config{
		BaseURL:            o.MASURL,
		InsecureSkipVerify: !o.ValidateCerts,
		CAFile:             o.CAPath,
		Timeout:            o.Timeout,
		Retries:            o.Retries,
		MaxConns:           o.MaxConns,
		UserAgent:          "mxadmin.synapse/" + o.Version,
	}, ClientID: o.MASClientID, ClientSecret: o.MASClientSecret})
	if err != nil {
		return err
	}
	c.AddSecret = o.AddSecret
	site, err := c.SiteConfig(ctx)
	if err != nil {
		if st := mas.StatusOf(err); st == 400 || st == 401 || st == 403 {
			return problem.Errorf(problem.Credentials, "MAS at %s refused the admin client: %s; check %s and %s, and that the client is in MAS's policy.data.admin_clients (docs/mas.md)",
				c.BaseURL(), err, problem.Name("mas_client_id"), problem.Name("mas_client_secret"))
		}
		return problem.Errorf(problem.Server, "reading MAS's site config at %s: %s; check %s", c.BaseURL(), err, problem.Name("mas_url"))
	}
	if o.ServerName != "" && !strings.EqualFold(o.ServerName, site.ServerName) {
		return problem.Errorf(problem.OtherServer, "%s is %s, but the MAS at %s serves %s", problem.Option("server_name"), o.ServerName, c.BaseURL(), site.ServerName)
	}
	s.MAS, s.ServerName = c, site.ServerName
	if o.CheckMode {
		c.ReadOnly()
		s.Client.ReadOnly()
	}
	return nil
}
