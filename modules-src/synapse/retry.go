package synapse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// retryPolicy says which failures of one request may be retried.
type retryPolicy struct {
	transport   bool // connection refused, reset, timeout, cut answer
	rateLimited bool // 429
	serverError bool // 5xx
}

type retryPolicyKey struct{}

var retryAll = retryPolicy{transport: true, rateLimited: true, serverError: true}

// withRetryPolicy overrides the default (retry everything) for one request.
// Shared-secret registration must never be retried alone (its nonce is
// single-use), and a rate-limited login must fail at once.
func withRetryPolicy(ctx context.Context, p retryPolicy) context.Context {
	return context.WithValue(ctx, retryPolicyKey{}, p)
}

func policyOf(ctx context.Context) retryPolicy {
	if p, ok := ctx.Value(retryPolicyKey{}).(retryPolicy); ok {
		return p
	}
	return retryAll
}

// retryAfterHeader carries the wait Synapse asked for from checkRetry, which
// can read the body, to backoff, which runs after the body is drained.
const retryAfterHeader = "X-Mxadmin-Retry-After-Ms"

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	policy := policyOf(ctx)
	if err != nil {
		return policy.transport && !permanentTransportError(err), nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := c.recordRetryAfter(resp)
		// A wait longer than the cap fails now with Synapse's number in the
		// message, rather than sleeping for minutes inside a task.
		return policy.rateLimited && wait <= c.maxWait, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		if resp.StatusCode == http.StatusServiceUnavailable {
			c.recordRetryAfter(resp)
		}
		return policy.serverError, nil
	}
	return false, nil
}

// permanentTransportError picks the connection errors a retry cannot fix.
func permanentTransportError(err error) bool {
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
	var body matrixErrorBody
	_ = json.Unmarshal(readAllAndRestore(resp), &body)
	wait := retryAfter(resp.Header, body.RetryAfterMs)
	resp.Header.Set(retryAfterHeader, strconv.FormatInt(wait.Milliseconds(), 10))
	return wait
}

// retryAfter is the larger of the Retry-After header (seconds or an HTTP
// date) and the retry_after_ms of a Matrix 429 body.
func retryAfter(h http.Header, retryAfterMs *int64) time.Duration {
	var wait time.Duration
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			wait = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			wait = time.Until(t)
		}
	}
	if retryAfterMs != nil && *retryAfterMs > 0 {
		if ms := time.Duration(*retryAfterMs) * time.Millisecond; ms > wait {
			wait = ms
		}
	}
	if wait < 0 {
		wait = 0
	}
	return wait
}

// backoff waits what Synapse asked for when it said, otherwise an
// exponentially growing, jittered wait between the configured bounds.
func (c *Client) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if ms, err := strconv.ParseInt(resp.Header.Get(retryAfterHeader), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	wait := float64(lo) * math.Pow(2, float64(attempt))
	if wait > float64(hi) {
		wait = float64(hi)
	}
	// Jitter spreads the retries of a concurrent batch so that they do not
	// hit a recovering server all at once.
	return time.Duration(wait * (0.75 + rand.Float64()/2))
}
