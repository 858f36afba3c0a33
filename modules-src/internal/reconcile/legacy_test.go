package reconcile

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

func TestCaseIndex(t *testing.T) {
	idx := newCaseIndex([]synapse.User{{Name: "@john:x"}, {Name: "@John:x"}, {Name: "@JOHN:x"}, {Name: "@johnny:x"}, {Name: "@Bob:x"}, {Name: "@Carl:x"}, {Name: "@CARL:x"}})
	for id, want := range map[string]string{"@john:x": "@john:x", "@bob:x": "@Bob:x", "@alice:x": "@alice:x", "@johnny:x": "@johnny:x"} {
		got, err := idx.match(id)
		assert.NoError(t, err, id)
		assert.Equal(t, want, got, id)
	}
	_, err := idx.match("@carl:x")
	assert.ErrorContains(t, err, "several accounts that differ only in case (@CARL:x, @Carl:x)")
}
