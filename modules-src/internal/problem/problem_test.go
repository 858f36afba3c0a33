package problem

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// roleNaming names options as a role does, for these tests.
type roleNaming struct{}

func (roleNaming) Option(name string) string { return "role_" + name }
func (roleNaming) Name(name string) string   { return "role_" + name }
func (roleNaming) Entry(e Entry) string      { return fmt.Sprintf("list[%d] (%s)", e.Index, e.Name) }

func TestJoin(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "", Join(nil))
	assert.Equal(t, "admin", Join([]string{"admin"}))
	assert.Equal(t, "admin and locked", Join([]string{"admin", "locked"}))
	assert.Equal(t, "a, b and c", Join([]string{"a", "b", "c"}))
}

// A message names options and entries only when rendered: as the module
// does, or as the role does, never by rewriting text (a user ID that looks
// like an option stays what it is).
func TestMessagesRenderTheirReferences(t *testing.T) {
	t.Parallel()
	cause := errors.New("Synapse answered 403")
	m := Errorf(Credentials, "%s exists; give %s (%s is %t): %s", "@admin_token:example.com", AdminCredentials{}, Option("exclusive"), true, cause).
		About(Entry{List: true, Index: 2, Name: "bob"})
	assert.Equal(t, "users[2] (bob): @admin_token:example.com exists; give admin_token or admin_user/admin_password (option exclusive is true): Synapse answered 403", m.Error())
	assert.Equal(t, "list[2] (bob): @admin_token:example.com exists; give role_admin_token or role_admin_user/role_admin_password (role_exclusive is true): Synapse answered 403", m.Render(roleNaming{}))
	assert.Equal(t, []string{"exclusive"}, m.Options)
	assert.Equal(t, Credentials, m.Code)
	assert.ErrorIs(t, m, cause, "the cause is unwrapped")

	inner := Errorf(Password, "%s is wrong", Name("password_pepper")).About(Entry{Name: "alice"})
	outer := Errorf(Server, "cannot update: %s", inner)
	assert.Equal(t, "cannot update: role_password_pepper is wrong", outer.Render(roleNaming{}), "a message inside another is rendered without its entry")
	assert.Equal(t, []string{"password_pepper"}, outer.Options)
	var got *Message
	assert.ErrorAs(t, outer, &got)

	wrapped := fmt.Errorf("reading: %w", inner)
	assert.Equal(t, "reading: list[0] (alice): role_password_pepper is wrong", Render(wrapped, roleNaming{}), "an fmt wrapping keeps its text, the inner part rendered")
	assert.Equal(t, "plain", Render(errors.New("plain"), roleNaming{}))
	assert.Equal(t, "", Render(nil, roleNaming{}))
}
