package reconcile

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mxadmin/synapse/modules-src/synapse"
)

func TestCaseVariants(t *testing.T) {
	list := []synapse.User{{Name: "@john:x"}, {Name: "@John:x"}, {Name: "@JOHN:x"}, {Name: "@johnny:x"}, {Name: "@Bob:x"}}
	assert.Equal(t, []string{"@JOHN:x", "@John:x"}, caseVariants(list, "@john:x"))
	assert.Equal(t, []string{"@Bob:x"}, caseVariants(list, "@bob:x"))
	assert.Empty(t, caseVariants(list, "@alice:x"))
}
