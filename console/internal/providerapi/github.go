package providerapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GitHub calls the GitHub REST API with an installation access token.
type GitHub struct{ c caller }

// GitHubAccount is the user or organisation an installation belongs to.
type GitHubAccount struct {
	ID        int64  `json:"id"`
	Login     string `json:"login"`
	Type      string `json:"type"`
	AvatarURL string `json:"avatar_url"`
}

// GitHubRepo is a repository as the installation repositories endpoint reports it.
type GitHubRepo struct {
	ID            int64         `json:"id"`
	Name          string        `json:"name"`
	FullName      string        `json:"full_name"`
	DefaultBranch string        `json:"default_branch"`
	Private       bool          `json:"private"`
	Archived      bool          `json:"archived"`
	HTMLURL       string        `json:"html_url"`
	Owner         GitHubAccount `json:"owner"`
}

// GitHubRepoPage is one page of an installation's repositories.
type GitHubRepoPage struct {
	Repos      []GitHubRepo
	TotalCount int
	// Selection is "all" or "selected" (which repositories the installation was granted).
	Selection string
	// NextPage is the page to ask for next (from the Link header); 0 on the last page.
	NextPage int
}

// GitHub paging limits: per_page defaults to 30 and may not exceed 100.
const (
	githubDefaultPerPage = 30
	githubMaxPerPage     = 100
)

func (g *GitHub) rateLimited(r *response) (time.Time, bool) {
	// GitHub answers a used-up primary limit with 403 (sometimes 429) and X-RateLimit-Remaining: 0; a
	// secondary limit with 403 and Retry-After.
	if r.status != http.StatusForbidden && r.status != http.StatusTooManyRequests {
		return time.Time{}, false
	}
	if r.header.Get("X-RateLimit-Remaining") == "0" {
		if t, ok := unixHeader(r.header, "X-RateLimit-Reset", false); ok {
			return t, true
		}
		return g.c.retryAfter(r.header, time.Minute), true
	}
	if r.header.Get("Retry-After") != "" {
		return g.c.retryAfter(r.header, time.Minute), true
	}
	return time.Time{}, false
}

func (g *GitHub) get(ctx context.Context, op, token, path string, query map[string]string, accept string) (*response, error) {
	return g.c.do(ctx, request{
		op: op, method: http.MethodGet, path: path, query: query, token: token,
		header: map[string]string{"Accept": accept, "X-GitHub-Api-Version": "2022-11-28"},
	}, g.rateLimited)
}

// ListRepositories returns one page (1-based) of the repositories the installation token can access.
func (g *GitHub) ListRepositories(ctx context.Context, token string, page, perPage int) (GitHubRepoPage, error) {
	const op = "list repositories"
	if page <= 0 {
		page = 1
	}
	resp, err := g.get(ctx, op, token, "/installation/repositories", map[string]string{
		"page": strconv.Itoa(page), "per_page": strconv.Itoa(clamp(perPage, githubDefaultPerPage, githubMaxPerPage)),
	}, "application/vnd.github+json")
	if err != nil {
		return GitHubRepoPage{}, err
	}
	var body struct {
		TotalCount          int          `json:"total_count"`
		RepositorySelection string       `json:"repository_selection"`
		Repositories        []GitHubRepo `json:"repositories"`
	}
	if err := g.c.decode(op, resp, &body); err != nil {
		return GitHubRepoPage{}, err
	}
	out := GitHubRepoPage{Repos: body.Repositories, TotalCount: body.TotalCount, Selection: body.RepositorySelection}
	if next, _ := linkNext(resp.header); next != "" {
		if u, err := url.Parse(next); err == nil {
			out.NextPage, _ = strconv.Atoi(u.Query().Get("page"))
		}
	}
	return out, nil
}

// AllRepositories pages through every repository the token can access, up to maxRepos.
func (g *GitHub) AllRepositories(ctx context.Context, token string, maxRepos int) ([]GitHubRepo, error) {
	var all []GitHubRepo
	for page := 1; page > 0 && len(all) < maxRepos; {
		p, err := g.ListRepositories(ctx, token, page, githubMaxPerPage)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Repos...)
		page = p.NextPage
	}
	return all, nil
}

// GetFile returns the content of path in repository fullName ("owner/name") at ref (the default branch
// when empty). found is false when the file (or the ref) does not exist.
func (g *GitHub) GetFile(ctx context.Context, token, fullName, path, ref string) (content []byte, found bool, err error) {
	const op = "get file"
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, false, fmt.Errorf("get file: repository must be owner/name")
	}
	resp, err := g.get(ctx, op, token,
		"/repos/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/contents/"+escapePath(path),
		map[string]string{"ref": ref}, "application/vnd.github+json")
	if IsStatus(err, http.StatusNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var body struct {
		Type     string `json:"type"`
		Encoding string `json:"encoding"`
		Content  string `json:"content"`
	}
	if err := g.c.decode(op, resp, &body); err != nil {
		return nil, false, err
	}
	if body.Type != "file" {
		return nil, false, nil // a directory named like the file is not a config file
	}
	if body.Encoding != "base64" {
		return nil, false, &Error{Provider: g.c.provider, Op: op, Status: resp.status, Message: "unexpected encoding " + strconv.Quote(body.Encoding)}
	}
	// The contents API wraps base64 at 60 columns.
	b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(body.Content))
	if err != nil {
		return nil, false, &Error{Provider: g.c.provider, Op: op, Status: resp.status, Err: fmt.Errorf("decode content: %w", err)}
	}
	return b, true, nil
}

func escapePath(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
