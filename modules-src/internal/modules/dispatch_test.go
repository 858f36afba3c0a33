package modules

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestServedModulesAreNamedByTheirKey(t *testing.T) {
	assert.Equal(t, []string{"matrix_registration_token", "matrix_user", "matrix_user_admin", "matrix_user_info"}, Names())
	for name, m := range served {
		assert.Equal(t, name, m.Name, "the action plugin names the module by its key; the result by Name")
		assert.Equal(t, "mxadmin.synapse."+name, m.Spec().Module)
	}
}
