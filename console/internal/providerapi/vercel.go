package providerapi

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Vercel calls the Vercel REST API with an integration token. Every call of a team installation carries
// teamId, or Vercel answers 403.
type Vercel struct{ c caller }

// VercelProject is a project as the projects endpoint reports it.
type VercelProject struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	AccountID string `json:"accountId"`
	UpdatedAt int64  `json:"updatedAt"`
}

// VercelProjectPage is one page of projects.
type VercelProjectPage struct {
	Projects []VercelProject
	// Next is the `until` value of the following page (pagination.next); empty on the last page.
	Next string
}

// Vercel paging limits: limit defaults to 20 and may not exceed 100.
const (
	vercelDefaultLimit = 20
	vercelMaxLimit     = 100
)

func (v *Vercel) rateLimited(r *response) (time.Time, bool) {
	if r.status != http.StatusTooManyRequests {
		return time.Time{}, false
	}
	if t, ok := unixHeader(r.header, "X-RateLimit-Reset", false); ok {
		return t, true
	}
	return v.c.retryAfter(r.header, time.Minute), true
}

// ListProjects returns one page of the projects the token can access, in teamID when set. until is the
// Next of the previous page ("" for the first).
func (v *Vercel) ListProjects(ctx context.Context, token, teamID string, limit int, until string) (VercelProjectPage, error) {
	const op = "list projects"
	if until != "" {
		if _, err := strconv.ParseInt(until, 10, 64); err != nil {
			return VercelProjectPage{}, &Error{Provider: v.c.provider, Op: op, Message: "bad page cursor"}
		}
	}
	resp, err := v.c.do(ctx, request{op: op, method: http.MethodGet, path: "/v9/projects", token: token,
		query: map[string]string{"teamId": teamID, "limit": strconv.Itoa(clamp(limit, vercelDefaultLimit, vercelMaxLimit)), "until": until},
	}, v.rateLimited)
	if err != nil {
		return VercelProjectPage{}, err
	}
	var body struct {
		Projects   []VercelProject `json:"projects"`
		Pagination struct {
			Next *int64 `json:"next"`
		} `json:"pagination"`
	}
	if err := v.c.decode(op, resp, &body); err != nil {
		return VercelProjectPage{}, err
	}
	out := VercelProjectPage{Projects: body.Projects}
	if body.Pagination.Next != nil {
		out.Next = strconv.FormatInt(*body.Pagination.Next, 10)
	}
	return out, nil
}

// AllProjects pages through every project, up to max.
func (v *Vercel) AllProjects(ctx context.Context, token, teamID string, max int) ([]VercelProject, error) {
	var all []VercelProject
	next := ""
	for {
		p, err := v.ListProjects(ctx, token, teamID, vercelMaxLimit, next)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Projects...)
		if p.Next == "" || len(all) >= max {
			return all, nil
		}
		next = p.Next
	}
}
