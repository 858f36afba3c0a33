package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RetryLog counts the retries of one module run by cause, and keeps a line
// per retry for -vvv. Without it a run that survived ten 429s looks the
// same as one that had none. It travels in the run's context
// (WithRetryLog), so every request of the run is counted, the session's
// login and logout included, whichever client sends it. It never writes
// anywhere: the module puts it in its result.
type RetryLog struct {
	mu     sync.Mutex
	counts map[string]int
	lines  []string
	more   int
}

// RetryCauseConnection counts the retries after no (complete) answer came
// back: connection refused or reset, a timeout, an answer cut short.
const RetryCauseConnection = "connection"

// maxRetryLines bounds the lines a RetryLog keeps; the counts stay exact.
const maxRetryLines = 100

// NewRetryLog returns an empty RetryLog.
func NewRetryLog() *RetryLog { return &RetryLog{counts: map[string]int{}} }

type retryLogKey struct{}

// WithRetryLog makes every request sent with ctx count its retries in l.
func WithRetryLog(ctx context.Context, l *RetryLog) context.Context {
	return context.WithValue(ctx, retryLogKey{}, l)
}

func retryLogOf(ctx context.Context) *RetryLog {
	l, _ := ctx.Value(retryLogKey{}).(*RetryLog)
	return l
}

// Counts are the retries by cause: "total", "429", "connection" always,
// and each other status that was retried ("500", "502", "503", ...).
func (l *RetryLog) Counts() map[string]int {
	out := map[string]int{"total": 0, strconv.Itoa(http.StatusTooManyRequests): 0, RetryCauseConnection: 0}
	if l == nil {
		return out
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for cause, n := range l.counts {
		out[cause] += n
		out["total"] += n
	}
	return out
}

// Lines describe each retry ("GET /_synapse/admin/v2/users: 429, waited
// 1.2s"): method and path only, never a query string, header or body.
func (l *RetryLog) Lines() []string {
	out := []string{}
	if l == nil {
		return out
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out = append(out, l.lines...)
	if l.more > 0 {
		out = append(out, fmt.Sprintf("and %d more retries", l.more))
	}
	return out
}

func (l *RetryLog) note(method, path, cause string, waited time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[cause]++
	if len(l.lines) >= maxRetryLines {
		l.more++
		return
	}
	what := cause
	if cause == RetryCauseConnection {
		what = "no answer"
	}
	l.lines = append(l.lines, fmt.Sprintf("%s %s: %s, waited %s", method, path, what, waited.Round(10*time.Millisecond)))
}

// retryCause names what made an attempt fail, as RetryLog counts it.
func retryCause(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		return RetryCauseConnection
	}
	return strconv.Itoa(resp.StatusCode)
}

// pendingRetry is, for one request, why its last attempt is to be retried
// and since when: go-retryablehttp decides (checkRetry), waits, then sends
// again (countRetry), with no hook in between that knows the request.
type pendingRetry struct {
	mu    sync.Mutex
	cause string
	since time.Time
}

type pendingRetryKey struct{}

func withPendingRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, pendingRetryKey{}, &pendingRetry{})
}

func (p *pendingRetry) set(cause string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cause, p.since = cause, time.Now()
}

// countRetry is go-retryablehttp's RequestLogHook: attempt > 0 is a retry
// actually sent, after its wait, which is what RetryLog counts.
func countRetry(req *http.Request, attempt int) {
	if attempt == 0 {
		return
	}
	ctx := req.Context()
	p, _ := ctx.Value(pendingRetryKey{}).(*pendingRetry)
	cause, waited := RetryCauseConnection, time.Duration(0)
	if p != nil {
		p.mu.Lock()
		if p.cause != "" {
			cause, waited = p.cause, time.Since(p.since)
		}
		p.mu.Unlock()
	}
	retryLogOf(ctx).note(req.Method, req.URL.Path, cause, waited)
	if cause != strconv.Itoa(http.StatusTooManyRequests) {
		// Only a 429 proves that the server did nothing with the attempt.
		if lost, _ := ctx.Value(answerLostKey{}).(*AnswerLost); lost != nil {
			lost.Store(true)
		}
	}
}

// AnswerLost records, for one request, that an attempt was retried after
// no answer or a 5xx: that attempt may have been applied, so a later answer
// describes the server after it, not before.
type AnswerLost struct{ atomic.Bool }

type answerLostKey struct{}

// WithAnswerLost makes the request sent with the returned context record
// in l whether an attempt's answer was lost.
func WithAnswerLost(ctx context.Context, l *AnswerLost) context.Context {
	return context.WithValue(ctx, answerLostKey{}, l)
}

// NoteRetry counts in the run's RetryLog a retry that a caller made itself
// (a registration's nonce and POST pair, sent again).
func NoteRetry(ctx context.Context, method, path, cause string, waited time.Duration) {
	retryLogOf(ctx).note(method, path, cause, waited)
}
