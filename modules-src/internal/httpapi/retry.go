package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RetryPolicy says which failures of one request may be retried.
type RetryPolicy struct {
	Transport   bool // connection refused, reset, timeout, cut answer
	RateLimited bool // 429
	ServerError bool // 5xx
}

type retryPolicyKey struct{}

var retryAll = RetryPolicy{Transport: true, RateLimited: true, ServerError: true}

// WithRetryPolicy overrides the default (retry everything) for one request.
// Shared-secret registration must never be retried alone (its nonce is
// single-use).
func WithRetryPolicy(ctx context.Context, p RetryPolicy) context.Context {
	return context.WithValue(ctx, retryPolicyKey{}, p)
}

func policyOf(ctx context.Context) RetryPolicy {
	if p, ok := ctx.Value(retryPolicyKey{}).(RetryPolicy); ok {
		return p
	}
	return retryAll
}

// retryAfterHeader carries the wait the server asked for from checkRetry, which
// can read the body, to backoff, which runs after the body is drained.
const retryAfterHeader = "X-Mxadmin-Retry-After-Ms"

// waitBudget bounds the time one request (one call, all its attempts) spends
// waiting between attempts: at most Config.MaxRetryWait in total, whatever
// the server asks for and whatever the status. With the timeout bounding
// each attempt, a request ends within (retries + 1) × timeout plus that cap.
type waitBudget struct {
	mu      sync.Mutex
	max     time.Duration
	spent   time.Duration
	granted int
	// refused is a wait the server asked for that did not fit: the error
	// then says why the request was not retried.
	refused time.Duration
}

type waitBudgetKey struct{}

// WithWaitBudget gives ctx a budget unless it has one: a registration's
// nonce and POST pairs share one, as do all attempts of one request.
func (c *Client) WithWaitBudget(ctx context.Context) context.Context {
	if _, ok := ctx.Value(waitBudgetKey{}).(*waitBudget); ok {
		return ctx
	}
	return context.WithValue(ctx, waitBudgetKey{}, &waitBudget{max: c.maxWait})
}

func budgetOf(ctx context.Context) *waitBudget {
	b, _ := ctx.Value(waitBudgetKey{}).(*waitBudget)
	return b
}

// grant takes wait from the budget, or reports that it does not fit.
func (b *waitBudget) grant(wait time.Duration, serverAsked bool) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spent+wait > b.max {
		if serverAsked {
			b.refused = wait
		}
		return false
	}
	b.spent += wait
	b.granted++
	return true
}

func (b *waitBudget) retriesGranted() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.granted
}

func (b *waitBudget) refusedWait() time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refused
}

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	policy := policyOf(ctx)
	retry := false
	switch {
	case err != nil:
		retry = policy.Transport && !permanentTransportError(err)
	case resp.StatusCode == http.StatusTooManyRequests:
		retry = policy.RateLimited
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		retry = policy.ServerError
	}
	if !retry {
		return false, nil
	}
	// A wait the server asks for (Retry-After on any status, retry_after_ms)
	// is obeyed only while it fits in the request's budget; one asking for
	// longer fails now, with the server's number in the message, rather than
	// sleeping for an hour inside a task. Our own backoff is counted at its
	// largest (jitter included) so that the real waits never exceed it.
	budget := budgetOf(ctx)
	var granted bool
	if wait := c.waitAsked(resp); wait > 0 {
		granted = budget.grant(wait, true)
	} else {
		granted = budget.grant(c.BackoffUpper(budget.retriesGranted()), false)
	}
	if granted {
		pending, _ := ctx.Value(pendingRetryKey{}).(*pendingRetry)
		pending.set(retryCause(resp, err))
	}
	return granted, nil
}

// waitAsked is the wait an answer asks for; 0 without an answer.
func (c *Client) waitAsked(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	return c.recordRetryAfter(resp)
}

// permanentTransportError picks the connection errors a retry cannot fix.
func permanentTransportError(err error) bool {
	var refused *refusedAnswer
	if errors.As(err, &refused) {
		return true // the same request brings the same answer
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// recordRetryAfter reads the wait a 429 or 503 asks for and stores it in a
// header of the response for backoff.
// go-retryablehttp asks the policy twice about a final answer (before and
// after the response handler read the body), so the first reading is kept.
func (c *Client) recordRetryAfter(resp *http.Response) time.Duration {
	if v := resp.Header.Get(retryAfterHeader); v != "" {
		ms, _ := strconv.ParseInt(v, 10, 64)
		return time.Duration(ms) * time.Millisecond
	}
	var bodyWait time.Duration
	if c.dialect.Wait != nil {
		bodyWait = c.dialect.Wait(peekBody(resp))
	}
	wait := RetryAfter(resp.Header, bodyWait)
	resp.Header.Set(retryAfterHeader, strconv.FormatInt(wait.Milliseconds(), 10))
	return wait
}

// RetryAfter is the larger of the Retry-After header (seconds or an HTTP
// date) and the wait the body asked for (a Matrix 429's retry_after_ms).
func RetryAfter(h http.Header, bodyWait time.Duration) time.Duration {
	var wait time.Duration
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			wait = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			wait = time.Until(t)
		}
	}
	if bodyWait > wait {
		wait = bodyWait
	}
	if wait < 0 {
		wait = 0
	}
	return wait
}

// backoff waits what the server asked for when it said (checkRetry found it
// within the budget), otherwise an exponentially growing, jittered wait
// between the configured bounds.
func (c *Client) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if ms, err := strconv.ParseInt(resp.Header.Get(retryAfterHeader), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	wait := exponential(lo, hi, attempt)
	// Jitter spreads the retries of a concurrent batch so that they do not
	// hit a recovering server all at once.
	return time.Duration(float64(wait) * (0.75 + rand.Float64()/2))
}

// BackoffUpper is the longest wait Backoff can pick for an attempt.
func (c *Client) BackoffUpper(attempt int) time.Duration {
	return time.Duration(float64(exponential(c.http.RetryWaitMin, c.http.RetryWaitMax, attempt)) * 1.25)
}

func exponential(lo, hi time.Duration, attempt int) time.Duration {
	wait := float64(lo) * math.Pow(2, float64(attempt))
	if wait > float64(hi) {
		wait = float64(hi)
	}
	return time.Duration(wait)
}

// Backoff is a jittered, exponentially growing wait for the attempt-th
// retry of a sequence of requests the caller retries itself (a
// registration's nonce and POST pair).
func (c *Client) Backoff(attempt int) time.Duration {
	return c.backoff(c.http.RetryWaitMin, c.http.RetryWaitMax, attempt, nil)
}

// MaxRetries is Config.Retries.
func (c *Client) MaxRetries() int { return c.http.RetryMax }

// Grant takes wait from the wait budget of ctx (WithWaitBudget), or
// reports that it does not fit; serverAsked says the server asked for it
// (then NoteRefusedWait names it).
func (c *Client) Grant(ctx context.Context, wait time.Duration, serverAsked bool) bool {
	return budgetOf(ctx).grant(wait, serverAsked)
}
