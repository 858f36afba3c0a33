package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// How much of an answer is read, and held.
//
// Every request is given, where it is built (Request.Limit), the most bytes its
// answer can legitimately have; a longer answer is refused, not cut, before
// it is decoded. The module asks for answers without a content coding
// (Accept-Encoding: identity) and refuses a compressed one, so the bytes
// read from the connection are the bytes held: there is no decompression
// for a small answer to turn into gigabytes. Synapse never compresses its
// admin API, and compresses the client API only when a listener sets
// compress: true and the client asks for gzip, which this one does not; a
// reverse proxy compresses only when asked too (MAS does not compress). Compression would save
// nothing worth its risk here: the largest answers are a few megabytes on a
// link to the homeserver.
//
// On top of the per-answer limits, every answer being read or waiting to
// be decoded takes its bytes from one budget for the whole process, so
// that many concurrent answers cannot add up beyond it either.

// Limit is the most bytes an answer may have.
type Limit int64

const (
	// LimitSmall is for answers of a few fields: whoami, login, logout, a
	// token, a registration's nonce and result, the signing keys, the MAS
	// probes, one MAS resource. Error answers of those endpoints fit too:
	// an API error is a few hundred bytes, a proxy's error page a few
	// kilobytes.
	LimitSmall Limit = 64 << 10
	// MaxAnswer is the hard cap on any answer, and the budget of all
	// answers held at once: the hash search over every user of a server
	// with a million accounts is about 150 MB.
	MaxAnswer Limit = 256 << 20
)

// Budget bounds the bytes of the answers held at the same time.
type Budget struct {
	limit int64
	held  atomic.Int64
}

// NewBudget is a budget of limit bytes (tests: clients share the process's).
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Held is the bytes of the answers held now.
func (b *Budget) Held() int64 { return b.held.Load() }

// answerBudget is shared by every client of the process: memory is the
// process's.
var answerBudget = &Budget{limit: int64(MaxAnswer)}

func (b *Budget) take(n int64) bool {
	if b.held.Add(n) > b.limit {
		b.held.Add(-n)
		return false
	}
	return true
}

func (b *Budget) give(n int64) { b.held.Add(-n) }

// refusedAnswer is an answer that is not read: compressed, or larger than
// its request allows. It is not retried (the same request brings the same
// answer) and becomes a *ResponseError naming the reason.
type refusedAnswer struct{ reason string }

func (e *refusedAnswer) Error() string { return e.reason }

// heldAnswer is the body of one answer and its share of the budget.
type heldAnswer struct {
	data   []byte
	budget *Budget
	taken  int64
}

// release gives the answer's bytes back to the budget once it is decoded.
func (h *heldAnswer) release() {
	if h != nil && h.taken > 0 {
		h.budget.give(h.taken)
		h.taken = 0
	}
}

// readAnswer reads a whole answer of at most limit bytes, taking its bytes
// from budget as they arrive. It closes the body. A compressed answer, one
// that announces or brings more than limit bytes, or one that would take
// the budget past its limit, is a *refusedAnswer.
func readAnswer(resp *http.Response, limit Limit, budget *Budget) (*heldAnswer, error) {
	defer resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(strings.TrimSpace(enc), "identity") {
		return nil, &refusedAnswer{fmt.Sprintf("a compressed answer (Content-Encoding: %s), which this module did not ask for (it sends Accept-Encoding: identity) and does not decompress; turn compression off for these paths in the proxy in front of Synapse", Untrusted(enc, MaxHeader))}
	}
	tooLarge := func(size string) error {
		return &refusedAnswer{fmt.Sprintf("an answer of %s, more than the %s this request can legitimately bring; not read", size, byteSize(int64(limit)))}
	}
	if resp.ContentLength > int64(limit) {
		return nil, tooLarge(fmt.Sprintf("%d bytes (announced)", resp.ContentLength))
	}
	// One byte more than the limit is read to tell an answer of exactly
	// limit bytes from a longer one.
	ceiling := int64(limit) + 1
	size := int64(8 << 10)
	if resp.ContentLength >= 0 {
		size = resp.ContentLength + 1
	}
	size = min(size, ceiling)
	h := &heldAnswer{budget: budget}
	grow := func(to int64) error {
		if !budget.take(to - int64(cap(h.data))) {
			return &refusedAnswer{fmt.Sprintf("an answer that would take the answers held at once past %s; not read", byteSize(budget.limit))}
		}
		h.taken += to - int64(cap(h.data))
		data := make([]byte, len(h.data), to)
		copy(data, h.data)
		h.data = data
		return nil
	}
	if err := grow(size); err != nil {
		return nil, err
	}
	for {
		if len(h.data) == cap(h.data) {
			if int64(cap(h.data)) >= ceiling {
				h.release()
				return nil, tooLarge(fmt.Sprintf("more than %d bytes", limit))
			}
			next := 2 * int64(cap(h.data))
			if next >= int64(limit) {
				next = ceiling // one buffer of the limit, not two
			}
			if err := grow(min(next, ceiling)); err != nil {
				h.release()
				return nil, err
			}
		}
		n, err := resp.Body.Read(h.data[len(h.data):cap(h.data)])
		h.data = h.data[:len(h.data)+n]
		if errors.Is(err, io.EOF) {
			if int64(len(h.data)) > int64(limit) {
				h.release()
				return nil, tooLarge(fmt.Sprintf("more than %d bytes", limit))
			}
			return h, nil
		}
		if err != nil {
			h.release()
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
	}
}

// byteSize writes a size for a message: 64 KiB, 1 MiB, 1000 bytes.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
