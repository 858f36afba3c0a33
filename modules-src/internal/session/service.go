package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/hkdf"

	"github.com/mxadmin/synapse/modules-src/internal/problem"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// The service admin: with only the registration shared secret, the
// collection registers an admin of its own once (shared-secret registration
// can make admins, so this grants nothing the secret does not already
// grant) and logs in as it on every later run, with a password derived from
// the secret. Nothing is stored: the secret, the server name and the
// account's localpart give the password again on every run.

// DefaultServiceAccount is the default localpart of the service admin. A
// localpart Synapse's registration accepts on every server (a leading "_" is
// refused unless an application service claims it), recognisable as ours.
const DefaultServiceAccount = "mxadmin-synapse"

// ServiceDisplayname says what the account is to whoever lists the users.
const ServiceDisplayname = "mxadmin.synapse service admin (Ansible; derived from the registration shared secret)"

// serviceUserType is the service admin's user_type: not a person.
// Shared-secret registration takes it (the MAC covers it) on every Synapse
// release we support.
const serviceUserType = "bot"

// serviceKDFSalt versions the derivation: a new scheme gets a new salt, so
// that it can never yield a password of the old one.
const serviceKDFSalt = "mxadmin.synapse/service-admin/v1"

// servicePasswordPrefix makes every derived password pass a typical
// password_config.policy (an upper-case and a lower-case letter, a digit, a
// symbol) whatever the random part holds.
const servicePasswordPrefix = "Mx1-"

// ServicePassword derives the service admin's password with HKDF-SHA-256
// from the registration shared secret (the input key material: it is a
// high-entropy secret, so a slow KDF would add cost without adding
// strength), a fixed versioned salt, and the server name and localpart as
// context (info), so that each server and account gets its own password.
// 32 derived bytes, base64url without padding, after a fixed prefix: 47
// ASCII characters, which NFKC leaves as they are and which stay whole
// within bcrypt's 72 bytes (Synapse appends its pepper after the password,
// so a long pepper is what bcrypt cuts, never the derived part).
func ServicePassword(secret, serverName, localpart string) string {
	info := "server_name=" + strings.ToLower(serverName) + "\x00localpart=" + strings.ToLower(localpart)
	r := hkdf.New(sha256.New, []byte(secret), []byte(serviceKDFSalt), []byte(info))
	key := make([]byte, 32)
	if _, err := io.ReadFull(r, key); err != nil {
		// HKDF-SHA-256 yields up to 8160 bytes: 32 never fail.
		panic("hkdf: " + err.Error())
	}
	return servicePasswordPrefix + base64.RawURLEncoding.EncodeToString(key)
}

// ChangedService reports whether the run wrote to the service admin (created
// it, or reset its password), or in check mode would: the result then says
// changed, as for any other write.
func (s *Session) ChangedService() bool {
	return s.ServiceCreated || s.ServiceReset || s.ServiceMissing || s.serviceWouldReset
}

// ServiceAdminID is the service admin's user ID on serverName, or "" when
// the mechanism is off or the server name is unknown.
func ServiceAdminID(localpart, serverName string) string {
	if localpart == "" || serverName == "" {
		return ""
	}
	return "@" + strings.ToLower(localpart) + ":" + strings.ToLower(serverName)
}

// openService authenticates as the service admin: a login with the
// derived password; when that is refused because the account does not
// exist, a shared-secret registration that creates it (an admin, user_type
// bot) and logs it in on this run's device in the same request. Check mode
// creates nothing: it reports that the first real run will, and reads
// nothing (the session then cannot read, as with the shared secret alone).
func (s *Session) openService(ctx context.Context) error {
	o, client := s.opts, s.Client
	if s.ServerName == "" {
		name, err := client.ServerNameFromKeys(ctx)
		if err != nil || name == "" {
			return problem.Errorf(problem.Credentials, "set %s: the service admin %s (%s) is named after the server, whose name could not be read from %s (its keys endpoint did not answer)",
				problem.Name("server_name"), o.ServiceAccount, problem.Name("service_account"), client.BaseURL())
		}
		s.ServerName = strings.ToLower(name)
	}
	id := ServiceAdminID(o.ServiceAccount, s.ServerName)
	s.ServiceAdmin = id
	password := ServicePassword(o.SharedSecret, s.ServerName, o.ServiceAccount)
	if o.AddSecret != nil {
		o.AddSecret(password)
	}
	s.ownPassword = password
	s.deviceID = newDeviceID(time.Now())

	res, err := client.Login(ctx, o.ServiceAccount, password, s.deviceID)
	switch {
	case err == nil:
		if err := s.loggedInAs(ctx, res.UserID, res.AccessToken); err != nil {
			return err
		}
	case synapse.StatusOf(err) == http.StatusForbidden && synapse.HasErrcode(err, synapse.ErrcodeForbidden):
		// Wrong password or no such account: Synapse does not say which.
		if err := s.createService(ctx, id, password); err != nil {
			return err
		}
	default:
		return serviceLoginError(id, err)
	}
	if s.Me != "" && !strings.EqualFold(s.Me, id) {
		s.Close(ctx)
		return problem.Errorf(problem.OtherServer, "the service admin logged in as %s, not %s: %s is not the server's name; fix %s", s.Me, id, s.ServerName, problem.Name("server_name"))
	}
	return nil
}

// loggedInAs takes the session of a login or registration, and checks that
// the account is a server admin: a namesake someone else registered (or an
// account demoted since) is refused and logged out, never used or promoted.
func (s *Session) loggedInAs(ctx context.Context, userID, token string) error {
	s.Client.SetToken(token)
	if s.opts.AddSecret != nil {
		s.opts.AddSecret(token)
	}
	s.Me, s.loggedIn = userID, true
	s.stopKeepalive = make(chan struct{})
	go s.keepAlive(ctx, s.stopKeepalive)
	u, err := s.Client.GetUser(ctx, userID)
	switch {
	case err == nil && u != nil && bool(u.Admin):
		return nil
	case err == nil || synapse.StatusOf(err) == http.StatusForbidden:
		s.Close(ctx)
		return problem.Errorf(problem.Credentials, "%s is not a server admin, so it is not used as the service admin: it was demoted, or someone else registered that name. Promote it with an admin token, or choose another %s (or set it to \"\" and give %s)",
			userID, problem.Name("service_account"), problem.AdminCredentials{})
	}
	s.Close(ctx)
	return problem.Errorf(problem.Server, "checking that the service admin %s is a server admin: %s", userID, err)
}

// createService registers the service admin after its login was refused,
// or, when it exists, says why its derived password does not log in.
func (s *Session) createService(ctx context.Context, id, password string) error {
	o, client := s.opts, s.Client
	if o.CheckMode {
		exists, err := client.HasProfile(ctx, id)
		switch {
		case err != nil:
			return problem.Errorf(problem.Credentials, "the service admin %s could not log in, and whether it exists could not be told (%s): run once without check mode, or give %s", id, err, problem.AdminCredentials{})
		case exists:
			return serviceRefused(id)
		}
		// Nothing can be read until it exists: the run is one of the
		// shared secret alone, and says why.
		s.Mode, s.Me, s.ServiceMissing = ModeSharedSecret, "", true
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Unverified, "the service admin %s does not exist yet: the first run without check mode creates it (with %s) and then reads and verifies every user; this check run can verify nothing",
			id, problem.Name("registration_shared_secret")))
		return nil
	}
	// The password is derived from the server name: a wrong server_name
	// would register the account with a password no correct run derives.
	// The keys endpoint names the server (when it answers; otherwise the
	// registration's answer is checked, after the fact).
	if name, err := client.ServerNameFromKeys(ctx); err == nil && name != "" && !strings.EqualFold(name, s.ServerName) {
		return problem.Errorf(problem.OtherServer, "%s is %s, but the homeserver at %s is %s (from its signing keys): the service admin is not created; fix %s",
			problem.Option("server_name"), s.ServerName, client.BaseURL(), name, problem.Name("server_name"))
	}
	name := ServiceDisplayname
	reg, err := client.Register(ctx, o.SharedSecret, synapse.Registration{
		Localpart: strings.ToLower(o.ServiceAccount), Password: password, Admin: true, UserType: serviceUserType,
		Displayname: &name, DeviceID: s.deviceID, DeviceName: "mxadmin.synapse (Ansible)",
	})
	switch {
	case err == nil:
		s.ServiceCreated = true
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Note, "created the service admin %s (an admin of user_type bot, with a password derived from %s), which this and later runs log in as",
			reg.UserID, problem.Name("registration_shared_secret")))
		return s.loggedInAs(ctx, reg.UserID, reg.AccessToken)
	case synapse.HasErrcode(err, synapse.ErrcodeUserInUse):
		// Another run created it since our login, or an earlier attempt
		// of this registration did: one more login tells.
		res, lerr := client.Login(ctx, o.ServiceAccount, password, s.deviceID)
		if lerr == nil {
			return s.loggedInAs(ctx, res.UserID, res.AccessToken)
		}
		if synapse.HasErrcode(lerr, synapse.ErrcodeForbidden) {
			return serviceRefused(id)
		}
		return serviceLoginError(id, lerr)
	case synapse.StatusOf(err) == http.StatusForbidden:
		return problem.Errorf(problem.Credentials, "creating the service admin %s: %s; %s does not match the server's", id, err, problem.Name("registration_shared_secret"))
	}
	return problem.Errorf(problem.Server, "creating the service admin %s: %s", id, err)
}

// serviceRefused is the failure of a service admin that exists but does not
// take its derived password.
func serviceRefused(id string) error {
	return problem.Errorf(problem.Credentials, "the service admin %s exists, but the password derived from %s does not log in: the shared secret was changed since it was created, someone changed its password or deactivated the account, or someone else registered that name. Nothing was changed. Give %s once (the run then resets its password to the derived one), or choose another %s",
		id, problem.Name("registration_shared_secret"), problem.Name("admin_token"), problem.Name("service_account"))
}

// serviceLoginError explains a refused login of the service admin.
func serviceLoginError(id string, err error) error {
	var e *synapse.Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusTooManyRequests:
			wait := "several minutes"
			if e.RetryAfter > 0 {
				wait = e.RetryAfter.Round(time.Second).String()
			}
			return problem.Errorf(problem.Credentials, "logging in as the service admin %s was refused by Synapse's login rate limit (rc_login, %s): it asks to wait %s, beyond what this run may wait (%s, and at most 60 s of waiting per request). Every module run logs in once; Synapse's default rc_login allows about one login per account every 5.5 minutes after a burst of 5. Raise rc_login.account and rc_login.address (matrix-docker-ansible-deploy: matrix_synapse_rc_login), run less often, or give %s",
				id, e.Errcode, wait, problem.Name("retries"), problem.Name("admin_token"))
		case e.Errcode == synapse.ErrcodeUserDeactivated:
			return problem.Errorf(problem.Credentials, "the service admin %s is deactivated, so it cannot log in. Nothing was changed. To use it again, reactivate it with an admin token (and the password derived anew on the next run); to stop using it, set %s to \"\" and give %s",
				id, problem.Name("service_account"), problem.AdminCredentials{})
		case e.Errcode == synapse.ErrcodeUserLocked:
			return problem.Errorf(problem.Credentials, "the service admin %s is locked, so it cannot log in. Nothing was changed. Unlock it with an admin token, or set %s to \"\" and give %s",
				id, problem.Name("service_account"), problem.AdminCredentials{})
		case e.Status == http.StatusNotFound || e.Errcode == synapse.ErrcodeUnknown && e.Status == http.StatusBadRequest:
			return problem.Errorf(problem.Credentials, "logging in as the service admin %s failed: this homeserver offers no password login (%s); give %s", id, err, problem.Name("admin_token"))
		}
	}
	return problem.Errorf(problem.Credentials, "logging in as the service admin %s failed: %s", id, err)
}

// repairService runs when an admin token or login is given together with
// the shared secret: it never creates the service admin, but when the
// account exists and its stored password is no longer the derived one (the
// shared secret was rotated, someone changed it), it sets the derived one
// again, so that the next run with only the shared secret logs in. The
// comparison reads the stored hash (no login); only when the hash says the
// password differs is a login tried before writing, so that a wrong pepper
// never makes every run rewrite it. Check mode says what it would do.
func (s *Session) repairService(ctx context.Context) {
	o, id := s.opts, s.ServiceAdmin
	if id == "" || o.SharedSecret == "" || !o.RepairService {
		return
	}
	u, err := s.Client.GetUser(ctx, id)
	if err != nil || u == nil || bool(u.Deactivated) {
		// Absent (created by the first run with only the shared secret),
		// unreadable, or deactivated (left to its owner): nothing to do.
		return
	}
	if !bool(u.Admin) {
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Note, "%s exists but is not a server admin: it is not the service admin (%s), and a run with only %s will refuse to use it; remove it or choose another %s",
			id, problem.Name("service_account"), problem.Name("registration_shared_secret"), problem.Name("service_account")))
		return
	}
	password := ServicePassword(o.SharedSecret, s.ServerName, o.ServiceAccount)
	if o.AddSecret != nil {
		o.AddSecret(password)
	}
	hashes, err := s.Client.PasswordHashes(ctx, s.Me, id)
	if err != nil {
		return // this Synapse serves no hashes: nothing is known, nothing is sent
	}
	if hash := hashes[id]; hash != "" && synapse.PasswordMatches(hash, password, o.Pepper) {
		return
	}
	if s.derivedLogsIn(ctx, password) {
		return
	}
	if o.CheckMode {
		s.serviceWouldReset = true
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Note, "the password of the service admin %s is no longer the one derived from %s: a run without check mode resets it", id, problem.Name("registration_shared_secret")))
		return
	}
	update := synapse.UserUpdate{}
	update.Set("password", password)
	update.Set("logout_devices", true)
	if _, _, err := s.Client.PutUser(ctx, id, update); err != nil {
		s.Warnings = append(s.Warnings, problem.Errorf(problem.Server, "could not reset the password of the service admin %s to the one derived from %s: %s", id, problem.Name("registration_shared_secret"), s.Explain(err)))
		return
	}
	s.ServiceReset = true
	s.Warnings = append(s.Warnings, problem.Errorf(problem.Note, "reset the password of the service admin %s to the one derived from %s (it no longer logged in): runs with only the shared secret can log in again", id, problem.Name("registration_shared_secret")))
}

// derivedLogsIn tries the derived password with a login of a client of its
// own (so that its logout ends that session, not this run's), and logs out
// again at once.
func (s *Session) derivedLogsIn(ctx context.Context, password string) bool {
	probe, err := synapse.New(s.cfg)
	if err != nil {
		return false
	}
	res, err := probe.Login(ctx, s.opts.ServiceAccount, password, newDeviceID(time.Now()))
	if err != nil {
		return false
	}
	if s.opts.AddSecret != nil {
		s.opts.AddSecret(res.AccessToken)
	}
	probe.SetToken(res.AccessToken)
	logoutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(LogoutTimeout, max(s.opts.Timeout, time.Second)))
	defer cancel()
	_ = probe.Logout(logoutCtx)
	return true
}
