// Package session turns the connection options every module of the
// collection shares (decoded from Ansible's arguments by package modules)
// into an authenticated Synapse client: it picks the auth
// mode (admin token, password login, or registration shared secret only),
// learns who the module acts as and the server name, refuses homeservers
// that delegate auth to MAS, and logs out again at the end of a login run.
package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mxadmin/synapse/modules-src/internal/mas"
	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// Mode is how the module authenticates.
type Mode int

// The auth modes, from most to least capable.
const (
	ModeToken        Mode = iota // admin_token
	ModeLogin                    // admin_user + admin_password
	ModeSharedSecret             // registration_shared_secret only, service_account ""
	// ModeService: registration_shared_secret with service_account, the
	// service admin's login (service.go).
	ModeService
	ModeMAS // mas_client_id + mas_client_secret: MAS's admin API (mas.go)
)

// Options are the connection options.
type Options struct {
	HomeserverURL string
	ServerName    string
	AdminToken    string
	AdminUser     string
	AdminPassword string
	SharedSecret  string
	// ServiceAccount is the localpart of the service admin; "" turns the
	// mechanism off.
	ServiceAccount string
	// RepairService: with an admin token or login and the shared secret,
	// reset the service admin's password when it no longer logs in
	// (matrix_user does; Pepper is password_config.pepper, to compare it).
	RepairService bool
	Pepper        string
	ValidateCerts bool
	CAPath        string
	Timeout       time.Duration
	Retries       int
	// MaxConns is set by modules that send requests concurrently.
	MaxConns int
	// Version goes into the User-Agent.
	Version string
	// CheckMode: the run only reads. The devices of earlier killed runs
	// are left for the next real run to remove, and once authenticated the
	// client refuses every write (synapse.Client.ReadOnly).
	CheckMode bool
	// The MAS connection (mas.go): MAS's URL, its admin client, and the
	// backend the user forces ("" or "auto": detected).
	MASURL          string
	MASClientID     string
	MASClientSecret string
	Backend         string
	// AddSecret is told every credential the session obtains (the token
	// of a login), so that the caller keeps it out of everything it
	// prints. The session does not know how its caller reports.
	AddSecret func(secret string)
}

// Warnings are what every module using these options must tell the user.
func (o Options) Warnings() []*problem.Message {
	if !o.ValidateCerts {
		return []*problem.Message{problem.Errorf(problem.Note, "%s is false: the TLS certificate of Synapse is not checked, so the connection (and the admin credentials in it) can be intercepted", problem.Name("validate_certs"))}
	}
	return nil
}

// Mode is the auth mode the options select.
func (o Options) Mode() (Mode, error) {
	switch {
	case o.MASClientID != "" || o.Backend == BackendMAS:
		return ModeMAS, nil
	case o.AdminToken != "":
		return ModeToken, nil
	case o.AdminUser != "":
		return ModeLogin, nil
	case o.SharedSecret != "" && o.ServiceAccount != "":
		return ModeService, nil
	case o.SharedSecret != "":
		return ModeSharedSecret, nil
	}
	return 0, problem.Errorf(problem.Credentials, "no way to authenticate: give %s, or %s with %s, or %s (which can only create users)",
		problem.Name("admin_token"), problem.Name("admin_user"), problem.Name("admin_password"), problem.Name("registration_shared_secret"))
}

// Session is an open connection to Synapse.
type Session struct {
	Client *synapse.Client
	// MAS is MAS's admin API client in ModeMAS (nil otherwise).
	MAS  *mas.Client
	Mode Mode
	// Me is the admin the module acts as; "" in shared-secret mode.
	Me string
	// ServerName is the homeserver's name; "" when not learned (shared
	// secret mode, server_name not given, keys endpoint not served).
	ServerName   string
	SharedSecret string
	// Warnings are what the session has to tell the user (a cleanup of
	// old devices that failed).
	Warnings []*problem.Message
	// ServiceAdmin is the service admin's user ID whenever service_account
	// is set and the server name known, in every mode: the declarations
	// never touch it.
	ServiceAdmin string
	// ServiceCreated: this run registered the service admin.
	// ServiceMissing: a check run found no service admin, and reads
	// nothing.
	ServiceCreated, ServiceMissing bool
	// ServiceReset: this run reset the service admin's password;
	// serviceWouldReset: a check run found it should.
	ServiceReset, serviceWouldReset bool
	// cfg is the client's configuration, for a probe client of its own.
	cfg synapse.Config
	// ownPassword is the password this session logged in with.
	ownPassword string
	loggedIn    bool
	// deviceID is this run's device in login mode.
	deviceID      string
	stopKeepalive chan struct{}
	opts          Options
}

// Open connects and authenticates: the MAS probes (synapse.DelegatesAuth,
// unauthenticated GETs sent together) to refuse a MAS homeserver, then
// whoami (token) or a login. Shared-secret mode sends nothing more.
func Open(ctx context.Context, o Options) (*Session, error) {
	mode, err := o.Mode()
	if err != nil {
		return nil, err
	}
	cfg := synapse.Config{
		BaseURL:            o.HomeserverURL,
		InsecureSkipVerify: !o.ValidateCerts,
		CAFile:             o.CAPath,
		Timeout:            o.Timeout,
		Retries:            o.Retries,
		MaxConns:           o.MaxConns,
		UserAgent:          "mxadmin.synapse/" + o.Version,
	}
	client, err := synapse.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &Session{Client: client, Mode: mode, SharedSecret: o.SharedSecret, opts: o, cfg: cfg}

	delegated, err := client.DelegatesAuth(ctx)
	if err != nil {
		return nil, problem.Errorf(problem.Server, "checking the homeserver at %s: %s", client.BaseURL(), err)
	}
	if err := o.checkBackend(client.BaseURL(), delegated); err != nil {
		return nil, err
	}

	switch mode {
	case ModeMAS:
		if err := s.openMAS(ctx); err != nil {
			return nil, err
		}
		return s, nil
	case ModeToken:
		client.SetToken(o.AdminToken)
		me, err := client.Whoami(ctx)
		if err != nil {
			return nil, problem.Errorf(problem.Credentials, "%s: %s", problem.Name("admin_token"), s.Explain(err))
		}
		s.Me = me
	case ModeLogin:
		s.deviceID = newDeviceID(time.Now())
		res, err := client.Login(ctx, o.AdminUser, o.AdminPassword, s.deviceID)
		if err != nil {
			return nil, loginError(o.AdminUser, err)
		}
		client.SetToken(res.AccessToken)
		// The token a login returns is as secret as the password.
		if o.AddSecret != nil {
			o.AddSecret(res.AccessToken)
		}
		s.Me, s.loggedIn, s.ownPassword = res.UserID, true, o.AdminPassword
		s.stopKeepalive = make(chan struct{})
		go s.keepAlive(ctx, s.stopKeepalive)
	case ModeService:
		s.ServerName = o.ServerName
		if err := s.openService(ctx); err != nil {
			return nil, err
		}
		if s.ServiceMissing {
			client.ReadOnly()
			return s, nil
		}
	case ModeSharedSecret:
		s.ServerName = o.ServerName
		if o.CheckMode {
			client.ReadOnly()
		}
		return s, nil
	}

	_, learned, _ := strings.Cut(s.Me, ":")
	if o.ServerName != "" && !strings.EqualFold(o.ServerName, learned) {
		s.Close(ctx)
		return nil, problem.Errorf(problem.OtherServer, "%s is %s, but the homeserver at %s is %s", problem.Option("server_name"), o.ServerName, client.BaseURL(), learned)
	}
	s.ServerName = learned
	s.ServiceAdmin = ServiceAdminID(o.ServiceAccount, learned)
	if s.loggedIn && !o.CheckMode {
		// Housekeeping of our own credentials is still a write: check
		// mode only reads, and a run refused above changes nothing.
		s.removeStaleDevices(ctx)
	}
	if mode == ModeToken || mode == ModeLogin {
		s.repairService(ctx)
	}
	if o.CheckMode {
		client.ReadOnly()
	}
	return s, nil
}

// LearnServerName finds the server name in shared-secret mode, where no
// authenticated request can tell it, from the server's signing keys.
func (s *Session) LearnServerName(ctx context.Context) error {
	if s.ServerName != "" {
		return nil
	}
	name, err := s.Client.ServerNameFromKeys(ctx)
	if err != nil || name == "" {
		return problem.Errorf(problem.Credentials, "set %s: with only %s the server name cannot be read from %s (its keys endpoint did not answer)",
			problem.Name("server_name"), problem.Name("registration_shared_secret"), s.Client.BaseURL())
	}
	s.ServerName = name
	return nil
}

// VerifyServerName checks server_name in shared-secret mode, where nothing
// authenticated can tell the server's name: a wrong one would register
// @user:<real name> while the task declared @user:<wrong name>. The keys
// endpoint names the server; when it does not answer, the registration's
// answer is checked instead (reconcile does).
func (s *Session) VerifyServerName(ctx context.Context) error {
	if s.Mode != ModeSharedSecret || s.opts.ServerName == "" {
		return nil
	}
	name, err := s.Client.ServerNameFromKeys(ctx)
	if err != nil || name == "" {
		return nil
	}
	if !strings.EqualFold(name, s.opts.ServerName) {
		return problem.Errorf(problem.OtherServer, "%s is %s, but the homeserver at %s is %s (from its signing keys): users would be registered as @user:%s; fix %s",
			problem.Option("server_name"), s.opts.ServerName, s.Client.BaseURL(), name, name, problem.Name("server_name"))
	}
	return nil
}

// OwnPassword is the password the session logged in with (admin_password,
// or the service admin's derived one), "" with a token: its stored hash can
// prove password_pepper.
func (s *Session) OwnPassword() string { return s.ownPassword }

// CanRead reports whether users can be read and modified.
func (s *Session) CanRead() bool { return s.Mode != ModeSharedSecret }

// LogoutTimeout bounds the logout at the end of a login run, which runs
// even when the run was interrupted (SIGTERM, SIGINT).
const LogoutTimeout = 10 * time.Second

// Close logs out when the session logged in, removing the token and the
// device: no valid credential is left behind by a run. It runs even when ctx
// was cancelled by a signal, within LogoutTimeout (or the timeout option if
// shorter); a run killed before it gets here leaves its device to the next
// run's cleanup (StaleDeviceAge).
func (s *Session) Close(ctx context.Context) {
	if !s.loggedIn {
		return
	}
	s.loggedIn = false
	close(s.stopKeepalive)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(LogoutTimeout, max(s.opts.Timeout, time.Second)))
	defer cancel()
	_ = s.Client.Logout(ctx)
}

// Explain adds what the user needs to know to a Synapse error about
// authentication: whose token was refused and what to do.
func (s *Session) Explain(err error) error {
	var e *synapse.Error
	if !errors.As(err, &e) {
		return err
	}
	who := problem.Errorf(problem.Note, "the admin token")
	switch s.Mode {
	case ModeLogin:
		who = problem.Errorf(problem.Note, "the session of %s %s", problem.Name("admin_user"), s.opts.AdminUser)
	case ModeService:
		who = problem.Errorf(problem.Note, "the session of the service admin %s", s.ServiceAdmin)
	case ModeSharedSecret:
		who = problem.Errorf(problem.Note, "%s", problem.Name("registration_shared_secret"))
	}
	switch {
	case e.Errcode == synapse.ErrcodeUnknownToken:
		return problem.Errorf(problem.Credentials, "%s; %s is not valid (wrong, expired or logged out)", err, who)
	case e.Errcode == synapse.ErrcodeMissingToken:
		return problem.Errorf(problem.Credentials, "%s; this needs %s", err, problem.AdminCredentials{})
	case e.Status == http.StatusForbidden && strings.HasSuffix(e.Path, "/_synapse/admin/v1/register"):
		return problem.Errorf(problem.Credentials, "%s; %s does not match the server's", err, problem.Name("registration_shared_secret"))
	case e.Status == http.StatusForbidden && e.Errcode == synapse.ErrcodeForbidden && strings.Contains(e.Path, "/_synapse/admin/") && s.Me != "":
		return problem.Errorf(problem.Credentials, "%s; %s (%s) is not a server admin", err, s.Me, who)
	case e.Errcode == synapse.ErrcodeExclusive:
		return problem.Errorf(problem.Server, "%s; the user ID is in the exclusive namespace of an application service, which manages those users itself", err)
	case e.Status == http.StatusConflict:
		return problem.Errorf(problem.Server, "%s; an %s is already linked to another user", err, problem.Name("external_id"))
	}
	return err
}

func loginError(user string, err error) error {
	var e *synapse.Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusTooManyRequests:
			wait := "a few minutes"
			if e.RetryAfter > 0 {
				wait = e.RetryAfter.Round(time.Second).String()
			}
			return problem.Errorf(problem.Credentials, "logging in as %s was refused by Synapse's login rate limit (%s): it asks to wait %s. Synapse allows a few logins and then about one every 5 minutes per account and per address, so runs that log in each time soon hit it: use %s instead",
				user, e.Errcode, wait, problem.Name("admin_token"))
		case e.Errcode == synapse.ErrcodeForbidden:
			return problem.Errorf(problem.Credentials, "logging in as %s failed: wrong %s or %s (%s)", user, problem.Name("admin_user"), problem.Name("admin_password"), e.Errcode)
		case e.Errcode == synapse.ErrcodeUserDeactivated:
			return problem.Errorf(problem.Credentials, "logging in as %s failed: the account is deactivated (%s)", user, e.Errcode)
		case e.Status == http.StatusNotFound:
			return problem.Errorf(problem.Credentials, "logging in as %s failed: this homeserver offers no password login (%s); use %s", user, err, problem.Name("admin_token"))
		}
	}
	return problem.Errorf(problem.Credentials, "logging in as %s failed: %s", user, err)
}
