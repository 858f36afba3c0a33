package session

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func TestExplainAddsWhatToDo(t *testing.T) {
	s := &Session{Mode: ModeToken, Me: "@bob:example.com"}
	notAdmin := &synapse.Error{Method: "GET", Path: "/_synapse/admin/v2/users/@x:example.com", Status: http.StatusForbidden, Errcode: synapse.ErrcodeForbidden, Message: "You are not a server admin"}
	assert.Contains(t, s.Explain(notAdmin).Error(), "@bob:example.com (the admin token) is not a server admin")
	assert.True(t, errors.Is(s.Explain(notAdmin), notAdmin), "the typed error stays reachable")

	badToken := &synapse.Error{Status: http.StatusUnauthorized, Errcode: synapse.ErrcodeUnknownToken, Path: "/_matrix/client/v3/account/whoami"}
	assert.Contains(t, s.Explain(badToken).Error(), "not valid")

	hmac := &synapse.Error{Status: http.StatusForbidden, Errcode: synapse.ErrcodeUnknown, Message: "HMAC incorrect", Path: "/matrix/_synapse/admin/v1/register"}
	assert.Contains(t, (&Session{Mode: ModeSharedSecret}).Explain(hmac).Error(), "registration_shared_secret does not match")

	exclusive := &synapse.Error{Status: http.StatusBadRequest, Errcode: synapse.ErrcodeExclusive}
	assert.Contains(t, s.Explain(exclusive).Error(), "application service")

	plain := errors.New("plain")
	assert.Equal(t, plain, s.Explain(plain))
}

func TestLoginErrors(t *testing.T) {
	limited := &synapse.Error{Status: http.StatusTooManyRequests, Errcode: synapse.ErrcodeLimitExceeded, RetryAfter: 297 * time.Second}
	msg := loginError("admin", limited).Error()
	assert.Contains(t, msg, "wait 4m57s")
	assert.Contains(t, msg, "use admin_token")
	assert.Contains(t, loginError("admin", &synapse.Error{Status: http.StatusForbidden, Errcode: synapse.ErrcodeForbidden}).Error(), "wrong admin_user or admin_password")
	assert.Contains(t, loginError("admin", &synapse.Error{Status: http.StatusNotFound, Errcode: synapse.ErrcodeUnrecognized}).Error(), "no password login")
}
