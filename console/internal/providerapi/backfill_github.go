package providerapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The list calls a backfill pages through (GitHub pull requests, issues and releases of one repository).
// They return the fields the backfill turns into observations and the next page from the Link header.

// GitHubUser is the author of a pull request, issue or release.
type GitHubUser struct {
	ID        int64  `json:"id"`
	Login     string `json:"login"`
	AvatarURL string `json:"avatar_url"`
}

// GitHubBranchRef is the head or base of a pull request.
type GitHubBranchRef struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}

// GitHubPullRequest is an item of GET /repos/{owner}/{repo}/pulls.
type GitHubPullRequest struct {
	ID             int64           `json:"id"`
	Number         int64           `json:"number"`
	State          string          `json:"state"`
	Title          string          `json:"title"`
	Body           *string         `json:"body"`
	Draft          bool            `json:"draft"`
	HTMLURL        string          `json:"html_url"`
	User           GitHubUser      `json:"user"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	ClosedAt       *time.Time      `json:"closed_at"`
	MergedAt       *time.Time      `json:"merged_at"`
	MergeCommitSHA *string         `json:"merge_commit_sha"`
	Head           GitHubBranchRef `json:"head"`
	Base           GitHubBranchRef `json:"base"`
}

// GitHubLabel is an issue label.
type GitHubLabel struct {
	Name string `json:"name"`
}

// GitHubIssue is an item of GET /repos/{owner}/{repo}/issues. GitHub lists pull requests there too;
// IsPullRequest tells them apart.
type GitHubIssue struct {
	ID          int64         `json:"id"`
	Number      int64         `json:"number"`
	State       string        `json:"state"`
	StateReason *string       `json:"state_reason"`
	Title       string        `json:"title"`
	Body        *string       `json:"body"`
	HTMLURL     string        `json:"html_url"`
	User        GitHubUser    `json:"user"`
	Labels      []GitHubLabel `json:"labels"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	ClosedAt    *time.Time    `json:"closed_at"`
	PullRequest *struct{}     `json:"pull_request"`
}

// IsPullRequest reports whether the issue is the issue side of a pull request.
func (i GitHubIssue) IsPullRequest() bool { return i.PullRequest != nil }

// GitHubRelease is an item of GET /repos/{owner}/{repo}/releases.
type GitHubRelease struct {
	ID              int64      `json:"id"`
	TagName         string     `json:"tag_name"`
	TargetCommitish string     `json:"target_commitish"`
	Name            *string    `json:"name"`
	Body            *string    `json:"body"`
	Draft           bool       `json:"draft"`
	Prerelease      bool       `json:"prerelease"`
	HTMLURL         string     `json:"html_url"`
	Author          GitHubUser `json:"author"`
	CreatedAt       time.Time  `json:"created_at"`
	PublishedAt     *time.Time `json:"published_at"`
}

// GitHubPage is one page of a repository list: its items and the page to ask for next (0 on the last).
type GitHubPage[T any] struct {
	Items    []T
	NextPage int
}

// ListPullRequests returns one page (1-based) of repository fullName's pull requests in every state,
// most recently updated first, so a backfill can stop at the first one older than its window.
func (g *GitHub) ListPullRequests(ctx context.Context, token, fullName string, page, perPage int) (GitHubPage[GitHubPullRequest], error) {
	return githubList[GitHubPullRequest](ctx, g, "list pull requests", token, fullName, "pulls", map[string]string{
		"state": "all", "sort": "updated", "direction": "desc",
	}, page, perPage)
}

// ListIssues returns one page of repository fullName's issues (and, as GitHub does, pull requests) in
// every state updated at or after since (all when zero), most recently updated first.
func (g *GitHub) ListIssues(ctx context.Context, token, fullName string, since time.Time, page, perPage int) (GitHubPage[GitHubIssue], error) {
	q := map[string]string{"state": "all", "sort": "updated", "direction": "desc"}
	if !since.IsZero() {
		q["since"] = since.UTC().Format(time.RFC3339)
	}
	return githubList[GitHubIssue](ctx, g, "list issues", token, fullName, "issues", q, page, perPage)
}

// ListReleases returns one page of repository fullName's releases, newest first.
func (g *GitHub) ListReleases(ctx context.Context, token, fullName string, page, perPage int) (GitHubPage[GitHubRelease], error) {
	return githubList[GitHubRelease](ctx, g, "list releases", token, fullName, "releases", map[string]string{}, page, perPage)
}

func githubList[T any](ctx context.Context, g *GitHub, op, token, fullName, what string, query map[string]string, page, perPage int) (GitHubPage[T], error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return GitHubPage[T]{}, fmt.Errorf("%s: repository must be owner/name", op)
	}
	if page <= 0 {
		page = 1
	}
	query["page"] = strconv.Itoa(page)
	query["per_page"] = strconv.Itoa(clamp(perPage, githubDefaultPerPage, githubMaxPerPage))
	resp, err := g.get(ctx, op, token, "/repos/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/"+what,
		query, "application/vnd.github+json")
	if err != nil {
		return GitHubPage[T]{}, err
	}
	var items []T
	if err := g.c.decode(op, resp, &items); err != nil {
		return GitHubPage[T]{}, err
	}
	out := GitHubPage[T]{Items: items}
	if next, _ := linkNext(resp.header); next != "" {
		if u, err := url.Parse(next); err == nil {
			out.NextPage, _ = strconv.Atoi(u.Query().Get("page"))
		}
	}
	return out, nil
}
