package reconcile

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestForEachBoundsConcurrencyAndCatchesPanics(t *testing.T) {
	var inFlight, peak atomic.Int32
	errs := forEach(50, 4, func(i int) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		switch i {
		case 7:
			panic("bad answer")
		case 9:
			return errors.New("refused")
		}
		return nil
	})
	assert.LessOrEqual(t, peak.Load(), int32(4))
	assert.EqualError(t, errs[7], "internal error: bad answer")
	assert.EqualError(t, errs[9], "refused")
	assert.NoError(t, errs[8])
}
