package mas

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mxadmin/synapse/modules-src/internal/httpapi"
)

// Email is one of a user's email addresses in MAS.
type Email struct {
	ID    httpapi.Identifier `json:"-"`
	Email string             `json:"email"`
}

// maxEmails bounds the emails read for one user: MAS sets no limit, and a
// user with more than this is refused rather than half read.
const maxEmails = 1000

// UserEmails reads a user's email addresses:
// GET /api/admin/v1/user-emails?filter[user]=<id>&page[first]=1000.
func (c *Client) UserEmails(ctx context.Context, id string) ([]Email, error) {
	var page struct {
		Data []struct {
			ID         httpapi.Identifier `json:"id"`
			Attributes Email              `json:"attributes"`
		} `json:"data"`
		Links struct {
			Next string `json:"next"`
		} `json:"links"`
	}
	q := url.Values{"filter[user]": {id}, "page[first]": {strconv.Itoa(maxEmails)}, "count": {"false"}}
	if _, err := c.call(ctx, http.MethodGet, path("user-emails"), q, nil, &page, httpapi.LimitSmall+maxEmails*1024); err != nil {
		return nil, err
	}
	if page.Links.Next != "" {
		return nil, &httpapi.ResponseError{Server: "MAS", URLOption: "mas_url", Method: http.MethodGet, Path: "/api/admin/v1/user-emails", Status: http.StatusOK, Size: -1,
			Reason: "the user has more than " + strconv.Itoa(maxEmails) + " email addresses, more than this module reads"}
	}
	out := make([]Email, 0, len(page.Data))
	for _, d := range page.Data {
		e := d.Attributes
		e.ID = d.ID
		out = append(out, e)
	}
	return out, nil
}

// AddUserEmail adds an email address to a user:
// POST /api/admin/v1/user-emails {"user_id", "email"}. MAS treats it as
// verified; one in use by anyone is a 409.
func (c *Client) AddUserEmail(ctx context.Context, id, email string) error {
	_, err := c.call(ctx, http.MethodPost, path("user-emails"), nil, map[string]any{"user_id": id, "email": email}, nil, httpapi.LimitSmall)
	return err
}

// DeleteUserEmail removes one email address:
// DELETE /api/admin/v1/user-emails/<email id> (204).
func (c *Client) DeleteUserEmail(ctx context.Context, emailID string) error {
	_, err := c.call(ctx, http.MethodDelete, path("user-emails", emailID), nil, nil, nil, httpapi.LimitSmall)
	return err
}
