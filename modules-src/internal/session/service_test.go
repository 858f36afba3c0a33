package session

import (
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"golang.org/x/text/unicode/norm"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// The derivation is pinned: a change would lock every existing service
// admin out (its password would no longer be the one derived), so a new
// scheme needs a new salt and a migration, not an edit.
func TestServicePasswordIsPinned(t *testing.T) {
	t.Parallel()
	pw := ServicePassword("s3cret", "example.com", "mxadmin-synapse")
	assert.Equal(t, "Mx1-", pw[:4])
	assert.Equal(t, pw, ServicePassword("s3cret", "Example.COM", "MXADMIN-synapse"), "server names and localparts compare in lower case")
	assert.Equal(t, servicePasswordGolden, pw)
}

// Computed independently (RFC 5869 with Python's hmac module).
const servicePasswordGolden = "Mx1-1kBPQeFoAm-pt8a04GpkF6E_qqo7p9DJ1QYnoHPzAO4"

// Each secret, server and account has its own password, and none leaks
// the secret.
func TestServicePasswordSeparatesInputs(t *testing.T) {
	t.Parallel()
	base := ServicePassword("s3cret", "example.com", "svc")
	for name, other := range map[string]string{
		"secret":    ServicePassword("s3cret2", "example.com", "svc"),
		"server":    ServicePassword("s3cret", "example.org", "svc"),
		"localpart": ServicePassword("s3cret", "example.com", "svc2"),
		// The info fields are delimited: moving a character from one to
		// the other gives another password.
		"boundary": ServicePassword("s3cret", "example.co", "msvc"),
	} {
		assert.NotEqual(t, base, other, name)
	}
	assert.NotContains(t, base, "s3cret")
}

// Synapse hashes NFKC(password) + pepper with bcrypt, which reads 72 bytes:
// the derived part must be whole within them, unchanged by NFKC.
func TestServicePasswordFitsBcrypt(t *testing.T) {
	t.Parallel()
	pw := ServicePassword("a long shared secret with spaces and ünïcödé", "matrix.example.com", "mxadmin-synapse")
	assert.Equal(t, pw, norm.NFKC.String(pw))
	assert.Equal(t, 47, len(pw))
	assert.True(t, utf8.ValidString(pw))
	assert.LessOrEqual(t, len(pw), 72)
	assert.Regexp(t, `^Mx1-[A-Za-z0-9_-]{43}$`, pw)
}

func TestServiceAdminID(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "@mxadmin-synapse:example.com", ServiceAdminID("MXADMIN-synapse", "Example.com"))
	assert.Equal(t, "", ServiceAdminID("", "example.com"))
	assert.Equal(t, "", ServiceAdminID("svc", ""))
}

func TestServiceLoginErrorsNameTheAccountAndTheFix(t *testing.T) {
	t.Parallel()
	id := "@mxadmin-synapse:example.com"
	limited := serviceLoginError(id, &synapse.Error{Status: http.StatusTooManyRequests, Errcode: synapse.ErrcodeLimitExceeded, RetryAfter: 330 * time.Second}).Error()
	assert.Contains(t, limited, id)
	assert.Contains(t, limited, "wait 5m30s")
	assert.Contains(t, limited, "matrix_synapse_rc_login")
	assert.Contains(t, limited, "rc_login")
	deactivated := serviceLoginError(id, &synapse.Error{Status: http.StatusForbidden, Errcode: synapse.ErrcodeUserDeactivated}).Error()
	assert.Contains(t, deactivated, "deactivated")
	assert.Contains(t, deactivated, "service_account")
	locked := serviceLoginError(id, &synapse.Error{Status: http.StatusUnauthorized, Errcode: synapse.ErrcodeUserLocked}).Error()
	assert.Contains(t, locked, "is locked")
	refused := serviceRefused(id).Error()
	assert.Contains(t, refused, id)
	assert.Contains(t, refused, "Nothing was changed")
	assert.Contains(t, refused, "admin_token")
}
