package providerapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SentryIssueProject is the project reference inside an issue.
type SentryIssueProject struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// SentryIssue is an item of GET /api/0/projects/{org}/{project}/issues/.
type SentryIssue struct {
	ID        string             `json:"id"`
	ShortID   string             `json:"shortId"`
	Title     string             `json:"title"`
	Culprit   string             `json:"culprit"`
	Permalink string             `json:"permalink"`
	Level     string             `json:"level"`
	Status    string             `json:"status"`
	Platform  string             `json:"platform"`
	FirstSeen time.Time          `json:"firstSeen"`
	LastSeen  time.Time          `json:"lastSeen"`
	Count     string             `json:"count"`
	UserCount int                `json:"userCount"`
	Project   SentryIssueProject `json:"project"`
	Metadata  map[string]any     `json:"metadata"`
}

// SentryIssuePage is one page of a project's issues.
type SentryIssuePage struct {
	Issues []SentryIssue
	// NextCursor is the cursor of the following page; empty on the last page.
	NextCursor string
}

// ListProjectIssues returns one page of project projectSlug's issues (of organization orgSlug) in every
// status, last seen at or after since (all when zero), most recently seen first. cursor is the
// NextCursor of the previous page.
func (s *Sentry) ListProjectIssues(ctx context.Context, token, orgSlug, projectSlug string, since time.Time, cursor string, perPage int) (SentryIssuePage, error) {
	const op = "list issues"
	// An explicit query lifts Sentry's default of is:unresolved, so resolved issues come too; without a
	// window it still needs a term, and every issue was last seen after the epoch.
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	query := "lastSeen:>=" + since.UTC().Format("2006-01-02T15:04:05")
	resp, err := s.c.do(ctx, request{op: op, method: http.MethodGet, token: token,
		path: "/api/0/projects/" + url.PathEscape(orgSlug) + "/" + url.PathEscape(projectSlug) + "/issues/",
		query: map[string]string{
			"cursor": cursor, "per_page": strconv.Itoa(clamp(perPage, sentryMaxPerPage, sentryMaxPerPage)), "query": query,
		},
	}, s.rateLimited)
	if err != nil {
		return SentryIssuePage{}, err
	}
	var issues []SentryIssue
	if err := s.c.decode(op, resp, &issues); err != nil {
		return SentryIssuePage{}, err
	}
	out := SentryIssuePage{Issues: issues}
	if _, attrs := linkNext(resp.header); attrs["results"] == "true" {
		out.NextCursor = attrs["cursor"]
	}
	return out, nil
}
