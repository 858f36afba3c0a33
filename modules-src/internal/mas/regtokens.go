package mas

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
)

// RegistrationToken is one of MAS's user registration tokens (the
// attributes of a "user-registration_token" resource). MAS addresses a
// token by its ID, never by its value, and revokes rather than deletes: a
// revoked token stays, with RevokedAt set.
type RegistrationToken struct {
	ID    httpapi.Identifier `json:"-"`
	Token string             `json:"token"`
	// UsageLimit nil is unlimited.
	UsageLimit *int64 `json:"usage_limit"`
	TimesUsed  int64  `json:"times_used"`
	// ExpiresAt and RevokedAt are RFC 3339 times; nil is never / not revoked.
	ExpiresAt *string `json:"expires_at"`
	RevokedAt *string `json:"revoked_at"`
	Valid     bool    `json:"valid"`
}

// Revoked reports whether MAS has revoked the token.
func (t *RegistrationToken) Revoked() bool { return t.RevokedAt != nil }

type tokenResource struct {
	ID         httpapi.Identifier `json:"id"`
	Attributes RegistrationToken  `json:"attributes"`
	Meta       struct {
		Page struct {
			Cursor string `json:"cursor"`
		} `json:"page"`
	} `json:"meta"`
}

func (r tokenResource) token() *RegistrationToken {
	t := r.Attributes
	t.ID = r.ID
	return &t
}

// listedToken bounds one token of a list page (its value is at most a
// few hundred bytes; MAS sets no limit on it, so a token longer than
// this fails the read rather than being cut).
const listedToken = 4 << 10

// RegistrationTokens reads every registration token, revoked or not,
// pageSize at a time, following the cursor (MAS has no lookup by value):
// GET /api/admin/v1/user-registration-tokens?page[first]=N&page[after]=<cursor>.
func (c *Client) RegistrationTokens(ctx context.Context, pageSize int) ([]RegistrationToken, error) {
	pageSize = min(max(pageSize, 1), maxPageSize)
	var out []RegistrationToken
	total, after := -1, ""
	for {
		q := url.Values{"page[first]": {strconv.Itoa(pageSize)}, "count": {"false"}}
		if after != "" {
			q.Set("page[after]", after)
		} else {
			q.Set("count", "true")
		}
		var page struct {
			Meta struct {
				Count *int `json:"count"`
			} `json:"meta"`
			Data  []tokenResource `json:"data"`
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		limit := httpapi.LimitSmall + httpapi.Limit(pageSize)*listedToken
		if _, err := c.call(ctx, http.MethodGet, path("user-registration-tokens"), q, nil, &page, limit); err != nil {
			return nil, err
		}
		if total < 0 && page.Meta.Count != nil {
			total = *page.Meta.Count
		}
		for _, r := range page.Data {
			out = append(out, *r.token())
		}
		if page.Links.Next == "" || len(page.Data) == 0 {
			return out, nil
		}
		next := page.Data[len(page.Data)-1].Meta.Page.Cursor
		if next == "" || next == after || total >= 0 && len(out) > total+pageSize {
			return nil, &httpapi.ResponseError{Server: "MAS", URLOption: "mas_url", Method: http.MethodGet, Path: "/api/admin/v1/user-registration-tokens", Status: http.StatusOK,
				Size: -1, Reason: "its pages do not add up (a cursor that does not move, or more tokens than the count it announced)"}
		}
		after = next
	}
}

// NewRegistrationToken is what a create sets. The value is always sent:
// MAS would otherwise make one of its own.
type NewRegistrationToken struct {
	Token      string  `json:"token"`
	UsageLimit *int64  `json:"usage_limit,omitempty"`
	ExpiresAt  *string `json:"expires_at,omitempty"`
}

// CreateRegistrationToken makes a token:
// POST /api/admin/v1/user-registration-tokens (201). It is create-only: a
// value that exists (revoked or not) is a 409.
func (c *Client) CreateRegistrationToken(ctx context.Context, t NewRegistrationToken) (*RegistrationToken, error) {
	return c.tokenCall(ctx, http.MethodPost, path("user-registration-tokens"), t)
}

// RegistrationTokenUpdate is what an update sets: an absent key is left
// alone, a nil value removes the limit or the expiry. MAS cannot change a
// token's value.
type RegistrationTokenUpdate map[string]any

// UpdateRegistrationToken sets a token's usage limit and expiry:
// PUT /api/admin/v1/user-registration-tokens/<id>.
func (c *Client) UpdateRegistrationToken(ctx context.Context, id string, u RegistrationTokenUpdate) (*RegistrationToken, error) {
	return c.tokenCall(ctx, http.MethodPut, path("user-registration-tokens", id), u)
}

// RevokeRegistrationToken revokes a token (MAS deletes none; a DELETE is a
// 405): POST /api/admin/v1/user-registration-tokens/<id>/revoke. One
// already revoked is a 400.
func (c *Client) RevokeRegistrationToken(ctx context.Context, id string) (*RegistrationToken, error) {
	return c.tokenCall(ctx, http.MethodPost, path("user-registration-tokens", id, "revoke"), nil)
}

// UnrevokeRegistrationToken makes a revoked token usable again:
// POST /api/admin/v1/user-registration-tokens/<id>/unrevoke. One not
// revoked is a 400.
func (c *Client) UnrevokeRegistrationToken(ctx context.Context, id string) (*RegistrationToken, error) {
	return c.tokenCall(ctx, http.MethodPost, path("user-registration-tokens", id, "unrevoke"), nil)
}

func (c *Client) tokenCall(ctx context.Context, method string, segments []string, body any) (*RegistrationToken, error) {
	var out struct {
		Data tokenResource `json:"data"`
	}
	if _, err := c.call(ctx, method, segments, nil, body, &out, httpapi.LimitSmall); err != nil {
		return nil, err
	}
	return out.Data.token(), nil
}
