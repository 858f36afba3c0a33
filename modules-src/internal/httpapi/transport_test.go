package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The answers held at once share one budget: an answer that would take it
// past its limit is refused, and a decoded one gives its bytes back.
func TestAnswersShareOneByteBudget(t *testing.T) {
	budget := NewBudget(1536 << 10) // 1.5 MiB
	answer := func() *http.Response {
		body := `{"name":"@a:test","displayname":"` + strings.Repeat("x", 900<<10) + `"}`
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1, Body: io.NopCloser(strings.NewReader(body))}
	}
	first, err := readAnswer(answer(), Limit(1<<20), budget)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20+1), budget.held.Load(), "the buffer doubled up to the limit (and the byte that tells a longer answer)")

	_, err = readAnswer(answer(), Limit(1<<20), budget)
	var refused *refusedAnswer
	require.ErrorAs(t, err, &refused)
	assert.Contains(t, err.Error(), "would take the answers held at once past 1536 KiB")
	assert.Equal(t, int64(1<<20+1), budget.held.Load(), "the refused answer gave back what it took")

	first.release()
	assert.Zero(t, budget.held.Load())
	second, err := readAnswer(answer(), Limit(1<<20), budget)
	require.NoError(t, err, "room again once the first is released")
	second.release()
}

// An answer of exactly its limit is read; one byte more is refused.
func TestAnswerOfExactlyItsLimit(t *testing.T) {
	for _, known := range []bool{true, false} {
		for size, ok := range map[int]bool{1000: true, 1001: false, 0: true} {
			resp := &http.Response{Header: http.Header{}, ContentLength: -1, Body: io.NopCloser(strings.NewReader(strings.Repeat("x", size)))}
			if known {
				resp.ContentLength = int64(size)
			}
			budget := NewBudget(1 << 20)
			held, err := readAnswer(resp, 1000, budget)
			if ok {
				require.NoError(t, err, "size %d, length known %v", size, known)
				assert.Len(t, held.data, size)
				held.release()
			} else {
				assert.Error(t, err, "size %d, length known %v", size, known)
			}
			assert.Zero(t, budget.held.Load())
		}
	}
}

// A 429 or 5xx body is peeked at (for retry_after_ms) without losing its
// rest, and without reading more than a Matrix error can be.
func TestPeekBodyKeepsTheWholeAnswer(t *testing.T) {
	body := strings.Repeat("y", 200<<10)
	resp := &http.Response{Body: io.NopCloser(strings.NewReader(body))}
	assert.Len(t, peekBody(resp), int(LimitSmall))
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, body, string(rest))
}

// The lines are bounded, the counts stay exact.
func TestRetryLogIsBounded(t *testing.T) {
	log := NewRetryLog()
	for i := range maxRetryLines + 5 {
		log.note(http.MethodGet, fmt.Sprintf("/p%d", i), "503", 0)
	}
	assert.Equal(t, maxRetryLines+5, log.Counts()["total"])
	lines := log.Lines()
	require.Len(t, lines, maxRetryLines+1)
	assert.Equal(t, "and 5 more retries", lines[maxRetryLines])
}
