package providerapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Sentry calls Sentry's REST API with an integration token.
type Sentry struct{ c caller }

// SentryProject is a project as the organization projects endpoint reports it.
type SentryProject struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// SentryProjectPage is one page of projects.
type SentryProjectPage struct {
	Projects []SentryProject
	// NextCursor is the cursor of the following page; empty on the last page.
	NextCursor string
}

// Sentry paging limit: 100 per page.
const sentryMaxPerPage = 100

func (s *Sentry) rateLimited(r *response) (time.Time, bool) {
	if r.status != http.StatusTooManyRequests {
		return time.Time{}, false
	}
	if r.header.Get("Retry-After") == "" {
		if t, ok := unixHeader(r.header, "X-Sentry-Rate-Limit-Reset", false); ok {
			return t, true
		}
	}
	return s.c.retryAfter(r.header, time.Minute), true
}

// ListProjects returns one page of organization orgSlug's projects. cursor is the NextCursor of the
// previous page.
func (s *Sentry) ListProjects(ctx context.Context, token, orgSlug, cursor string, perPage int) (SentryProjectPage, error) {
	const op = "list projects"
	resp, err := s.c.do(ctx, request{op: op, method: http.MethodGet, token: token,
		path:  "/api/0/organizations/" + url.PathEscape(orgSlug) + "/projects/",
		query: map[string]string{"cursor": cursor, "per_page": strconv.Itoa(clamp(perPage, sentryMaxPerPage, sentryMaxPerPage))},
	}, s.rateLimited)
	if err != nil {
		return SentryProjectPage{}, err
	}
	var projects []SentryProject
	if err := s.c.decode(op, resp, &projects); err != nil {
		return SentryProjectPage{}, err
	}
	out := SentryProjectPage{Projects: projects}
	// Sentry always sends rel="next"; results="true" says whether following it yields anything.
	if _, attrs := linkNext(resp.header); attrs["results"] == "true" {
		out.NextCursor = attrs["cursor"]
	}
	return out, nil
}

// AllProjects pages through every project of orgSlug, up to max.
func (s *Sentry) AllProjects(ctx context.Context, token, orgSlug string, max int) ([]SentryProject, error) {
	var all []SentryProject
	cursor := ""
	for {
		p, err := s.ListProjects(ctx, token, orgSlug, cursor, sentryMaxPerPage)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Projects...)
		if p.NextCursor == "" || len(all) >= max {
			return all, nil
		}
		cursor = p.NextCursor
	}
}
