package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// TestInfoHundredThousandAccountsWithinMemory: matrix_user_info lists
// 100,000 accounts (written by the fixture builder the bench uses) within the
// memory bound of issue 22 (200 MB peak RSS), with the whole answer (every
// account) and with counts only, in list pages only (no per-account read).
func TestInfoHundredThousandAccountsWithinMemory(t *testing.T) {
	t.Parallel()
	bridge := synapsetest.AppService{ID: "bridge", SenderLocalpart: "bridgebot", Regex: "@bridge_.*:test.local"}
	srv := synapsetest.New(t, synapsetest.Config{AppServices: []synapsetest.AppService{bridge}})
	fx := synapsetest.Fixture{Prefix: "scale", Users: 99_000, Admins: 10, Deactivated: 500, AppService: "bridge", AppServiceUsers: 500}
	require.NoError(t, srv.Populate(fx))
	f := fixtureOn(t, srv)
	const bound = 200 << 20
	for _, countsOnly := range []bool{false, true} {
		f.proxy.Reset()
		start := time.Now()
		r, rss := runMeasured(t, "matrix_user_info", f.args(map[string]any{"deactivated": false, "counts_only": countsOnly}))
		took := time.Since(start)
		require.False(t, r.failed(), r.Stdout[:min(len(r.Stdout), 2000)])
		t.Logf("SCALE matrix_user_info of %d accounts (counts_only=%v): %s, peak RSS %d MB, %d requests, result %d KB",
			fx.Total()+1, countsOnly, took.Round(time.Millisecond), rss>>20, len(f.proxy.Requests()), len(r.Stdout)>>10)
		assert.Less(t, rss, int64(bound), "peak RSS")
		counts := r.Result["counts"].(map[string]any)
		assert.Equal(t, float64(fx.Users+fx.AppServiceUsers+1), counts["total"], "every active account, the admin too")
		assert.Equal(t, float64(fx.Total()+1), r.Result["listed"])
		assert.Equal(t, float64(fx.Admins+1), counts["admins"])
		assert.Empty(t, f.proxy.Writes())
		if countsOnly {
			assert.NotContains(t, r.Result, "accounts")
			assert.Less(t, len(r.Stdout), 2000, "the answer is as large as what was asked for")
		} else {
			assert.Len(t, r.Result["accounts"], fx.Users+fx.AppServiceUsers+1)
		}
	}
}
