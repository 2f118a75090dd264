package transform

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lightfastai/connections/db/types"
)

// GitHub payload shapes: only the fields the observations use. Docs:
// https://docs.github.com/en/webhooks/webhook-events-and-payloads

type ghUser struct {
	ID        int64  `json:"id"`
	Login     string `json:"login"`
	AvatarURL string `json:"avatar_url"`
}

func (u *ghUser) actor() *types.Actor {
	if u == nil || (u.ID == 0 && u.Login == "") {
		return nil
	}
	a := &types.Actor{Login: u.Login, Name: u.Login, AvatarURL: u.AvatarURL}
	if u.ID != 0 {
		a.ID = strconv.FormatInt(u.ID, 10)
	}
	return a
}

type ghRepo struct {
	ID            int64           `json:"id"`
	FullName      string          `json:"full_name"`
	HTMLURL       string          `json:"html_url"`
	DefaultBranch string          `json:"default_branch"`
	PushedAt      json.RawMessage `json:"pushed_at"` // a unix number in push payloads, a string elsewhere
}

func (r ghRepo) pushedAt() time.Time {
	if len(r.PushedAt) == 0 {
		return time.Time{}
	}
	var n int64
	if json.Unmarshal(r.PushedAt, &n) == nil && n > 0 {
		return time.Unix(n, 0)
	}
	var s string
	if json.Unmarshal(r.PushedAt, &s) == nil {
		return parseTime(s)
	}
	return time.Time{}
}

type ghEnvelope struct {
	Action     string  `json:"action"`
	Repository *ghRepo `json:"repository"`
	Sender     *ghUser `json:"sender"`
}

func github(event string, payload []byte, receivedAt time.Time) ([]Observation, error) {
	switch event {
	case "push":
		return githubPush(payload, receivedAt)
	case "pull_request":
		return githubPullRequest(payload)
	case "issues":
		return githubIssue(payload)
	case "issue_comment":
		return githubIssueComment(payload)
	case "release":
		return githubRelease(payload)
	}
	return nil, nil
}

func (e ghEnvelope) repo() (*ghRepo, error) {
	if e.Repository == nil || e.Repository.ID == 0 {
		return nil, missing("repository.id")
	}
	return e.Repository, nil
}

func (e ghEnvelope) baseMeta() types.Object {
	return types.Object{"repoId": e.Repository.ID, "repoFullName": e.Repository.FullName}
}

// --- push ---

type ghCommit struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	URL       string `json:"url"`
	Author    struct {
		Name     string `json:"name"`
		Email    string `json:"email"`
		Username string `json:"username"`
	} `json:"author"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

type ghPush struct {
	ghEnvelope
	Ref        string     `json:"ref"`
	Before     string     `json:"before"`
	After      string     `json:"after"`
	Created    bool       `json:"created"`
	Deleted    bool       `json:"deleted"`
	Forced     bool       `json:"forced"`
	Compare    string     `json:"compare"`
	Commits    []ghCommit `json:"commits"`
	HeadCommit *ghCommit  `json:"head_commit"`
	Pusher     struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"pusher"`
}

func githubPush(payload []byte, receivedAt time.Time) ([]Observation, error) {
	var p ghPush
	if err := decode(payload, &p); err != nil {
		return nil, err
	}
	repo, err := p.repo()
	if err != nil {
		return nil, err
	}
	if p.Ref == "" || p.After == "" {
		return nil, missing("ref or after")
	}
	kind, name := refName(p.Ref)
	actor := p.Sender.actor()
	if actor != nil && p.Pusher.Email != "" {
		actor.Email = p.Pusher.Email
	}
	if actor == nil && p.Pusher.Name != "" {
		actor = &types.Actor{Name: p.Pusher.Name, Email: p.Pusher.Email}
	}
	meta := p.baseMeta()
	meta["ref"], meta["before"], meta["after"] = p.Ref, p.Before, p.After
	meta["commitCount"] = len(p.Commits)
	if p.Forced {
		meta["forced"] = true
	}
	o := Observation{SourceType: "push", Actor: actor, URL: or(p.Compare, repo.HTMLURL), Metadata: meta}
	switch {
	case p.Deleted:
		o.SourceID = GitHubRefDeletedSourceID(repo.ID, p.Ref, p.Before)
		o.Title = fmt.Sprintf("Deleted %s %s in %s", kind, name, repo.FullName)
		o.OccurredAt = firstTime(repo.pushedAt(), receivedAt)
	default:
		o.SourceID = GitHubPushSourceID(repo.ID, p.After)
		n := len(p.Commits)
		switch {
		case p.Created && n == 0:
			o.Title = fmt.Sprintf("Created %s %s in %s", kind, name, repo.FullName)
		case p.Created:
			o.Title = fmt.Sprintf("Created %s %s in %s with %s", kind, name, repo.FullName, plural(n, "commit"))
		default:
			o.Title = fmt.Sprintf("Pushed %s to %s in %s", plural(n, "commit"), name, repo.FullName)
		}
		var lines []string
		for _, c := range p.Commits {
			lines = append(lines, shortSHA(c.ID)+" "+firstLine(c.Message))
		}
		o.Body = strings.Join(lines, "\n")
		var headTime time.Time
		if p.HeadCommit != nil {
			headTime = parseTime(p.HeadCommit.Timestamp)
		}
		o.OccurredAt = firstTime(headTime, repo.pushedAt(), receivedAt)
	}
	return []Observation{o}, nil
}

// refName splits "refs/heads/main" into ("branch", "main") and "refs/tags/v1" into ("tag", "v1").
func refName(ref string) (kind, name string) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		return "branch", strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		return "tag", strings.TrimPrefix(ref, "refs/tags/")
	}
	return "ref", ref
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// --- pull_request ---

type ghPullRequest struct {
	Number    int64   `json:"number"`
	Title     string  `json:"title"`
	Body      *string `json:"body"`
	HTMLURL   string  `json:"html_url"`
	State     string  `json:"state"`
	Draft     bool    `json:"draft"`
	Merged    bool    `json:"merged"`
	User      *ghUser `json:"user"`
	MergedBy  *ghUser `json:"merged_by"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	ClosedAt  string  `json:"closed_at"`
	MergedAt  string  `json:"merged_at"`
	Head      struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

type ghPullRequestEvent struct {
	ghEnvelope
	After       string         `json:"after"`
	PullRequest *ghPullRequest `json:"pull_request"`
}

func githubPullRequest(payload []byte) ([]Observation, error) {
	var p ghPullRequestEvent
	if err := decode(payload, &p); err != nil {
		return nil, err
	}
	switch p.Action {
	case "opened", "closed", "reopened", "ready_for_review", "synchronize":
	default:
		return nil, nil
	}
	repo, err := p.repo()
	if err != nil {
		return nil, err
	}
	pr := p.PullRequest
	if pr == nil || pr.Number == 0 {
		return nil, missing("pull_request.number")
	}
	var (
		transition, verb string
		sourceType       string
		at               time.Time
	)
	updated := parseTime(pr.UpdatedAt)
	switch p.Action {
	case "opened":
		transition, verb, at = TransitionOpened, "opened", parseTime(pr.CreatedAt)
	case "closed":
		if pr.Merged || pr.MergedAt != "" {
			transition, verb, at = TransitionMerged, "merged", parseTime(pr.MergedAt)
		} else {
			at = firstTime(parseTime(pr.ClosedAt), updated)
			transition, verb = ClosedTransition(at), "closed"
			sourceType = "pull_request.closed"
		}
	case "reopened":
		at = updated
		transition, verb, sourceType = AtTransition(TransitionReopened, at), "reopened", "pull_request.reopened"
	case "ready_for_review":
		at = updated
		transition, verb = AtTransition(TransitionReadyForReview, at), "marked ready for review"
		sourceType = "pull_request.ready_for_review"
	case "synchronize":
		head := or(p.After, pr.Head.SHA)
		if head == "" {
			return nil, missing("pull_request.head.sha")
		}
		at = updated
		transition, verb, sourceType = SynchronizeTransition(head), "updated", "pull_request.synchronize"
	}
	if sourceType == "" {
		sourceType = "pull_request." + transition
	}
	meta := p.baseMeta()
	meta["number"], meta["state"], meta["draft"] = pr.Number, pr.State, pr.Draft
	meta["headRef"], meta["headSha"], meta["baseRef"] = pr.Head.Ref, pr.Head.SHA, pr.Base.Ref
	actor := p.Sender.actor()
	if actor == nil {
		actor = pr.User.actor()
	}
	body := ""
	if pr.Body != nil && p.Action == "opened" {
		body = *pr.Body
	}
	return []Observation{{
		SourceType: sourceType,
		SourceID:   GitHubPullRequestSourceID(repo.ID, pr.Number, transition),
		Title:      fmt.Sprintf("PR #%d %s: %s", pr.Number, verb, pr.Title),
		Body:       body,
		Actor:      actor,
		URL:        or(pr.HTMLURL, repo.HTMLURL),
		OccurredAt: at,
		Metadata:   meta,
	}}, nil
}

// --- issues ---

type ghIssue struct {
	Number      int64           `json:"number"`
	Title       string          `json:"title"`
	Body        *string         `json:"body"`
	HTMLURL     string          `json:"html_url"`
	State       string          `json:"state"`
	User        *ghUser         `json:"user"`
	CreatedAt   string          `json:"created_at"`
	UpdatedAt   string          `json:"updated_at"`
	ClosedAt    string          `json:"closed_at"`
	PullRequest json.RawMessage `json:"pull_request"`
}

type ghIssueEvent struct {
	ghEnvelope
	Issue   *ghIssue `json:"issue"`
	Comment *struct {
		ID        int64   `json:"id"`
		Body      string  `json:"body"`
		HTMLURL   string  `json:"html_url"`
		User      *ghUser `json:"user"`
		CreatedAt string  `json:"created_at"`
	} `json:"comment"`
}

func githubIssue(payload []byte) ([]Observation, error) {
	var p ghIssueEvent
	if err := decode(payload, &p); err != nil {
		return nil, err
	}
	switch p.Action {
	case "opened", "closed", "reopened", "edited":
	default:
		return nil, nil
	}
	repo, err := p.repo()
	if err != nil {
		return nil, err
	}
	is := p.Issue
	if is == nil || is.Number == 0 {
		return nil, missing("issue.number")
	}
	updated := parseTime(is.UpdatedAt)
	var (
		transition string
		at         time.Time
	)
	switch p.Action {
	case "opened":
		transition, at = TransitionOpened, parseTime(is.CreatedAt)
	case "closed":
		at = firstTime(parseTime(is.ClosedAt), updated)
		transition = ClosedTransition(at)
	case "reopened":
		at = updated
		transition = AtTransition(TransitionReopened, at)
	case "edited":
		at = updated
		transition = AtTransition(TransitionEdited, at)
	}
	meta := p.baseMeta()
	meta["number"], meta["state"] = is.Number, is.State
	actor := p.Sender.actor()
	if actor == nil {
		actor = is.User.actor()
	}
	body := ""
	if is.Body != nil && (p.Action == "opened" || p.Action == "edited") {
		body = *is.Body
	}
	return []Observation{{
		SourceType: "issue." + p.Action,
		SourceID:   GitHubIssueSourceID(repo.ID, is.Number, transition),
		Title:      fmt.Sprintf("Issue #%d %s: %s", is.Number, p.Action, is.Title),
		Body:       body,
		Actor:      actor,
		URL:        or(is.HTMLURL, repo.HTMLURL),
		OccurredAt: at,
		Metadata:   meta,
	}}, nil
}

// --- issue_comment ---

func githubIssueComment(payload []byte) ([]Observation, error) {
	var p ghIssueEvent
	if err := decode(payload, &p); err != nil {
		return nil, err
	}
	if p.Action != "created" {
		return nil, nil
	}
	repo, err := p.repo()
	if err != nil {
		return nil, err
	}
	c := p.Comment
	if c == nil || c.ID == 0 {
		return nil, missing("comment.id")
	}
	if p.Issue == nil || p.Issue.Number == 0 {
		return nil, missing("issue.number")
	}
	what := "issue"
	if len(p.Issue.PullRequest) > 0 && string(p.Issue.PullRequest) != "null" {
		what = "PR"
	}
	meta := p.baseMeta()
	meta["number"], meta["commentId"], meta["on"] = p.Issue.Number, c.ID, what
	actor := c.User.actor()
	if actor == nil {
		actor = p.Sender.actor()
	}
	return []Observation{{
		SourceType: "issue_comment.created",
		SourceID:   GitHubIssueCommentSourceID(repo.ID, c.ID),
		Title:      fmt.Sprintf("Comment on %s #%d: %s", what, p.Issue.Number, p.Issue.Title),
		Body:       c.Body,
		Actor:      actor,
		URL:        or(c.HTMLURL, p.Issue.HTMLURL),
		OccurredAt: parseTime(c.CreatedAt),
		Metadata:   meta,
	}}, nil
}

// --- release ---

type ghReleaseEvent struct {
	ghEnvelope
	Release *struct {
		ID          int64   `json:"id"`
		TagName     string  `json:"tag_name"`
		Name        *string `json:"name"`
		Body        *string `json:"body"`
		HTMLURL     string  `json:"html_url"`
		Draft       bool    `json:"draft"`
		Prerelease  bool    `json:"prerelease"`
		Author      *ghUser `json:"author"`
		CreatedAt   string  `json:"created_at"`
		PublishedAt string  `json:"published_at"`
	} `json:"release"`
}

func githubRelease(payload []byte) ([]Observation, error) {
	var p ghReleaseEvent
	if err := decode(payload, &p); err != nil {
		return nil, err
	}
	if p.Action != "published" {
		return nil, nil
	}
	repo, err := p.repo()
	if err != nil {
		return nil, err
	}
	r := p.Release
	if r == nil || r.ID == 0 {
		return nil, missing("release.id")
	}
	name := r.TagName
	if r.Name != nil && *r.Name != "" {
		name = *r.Name
	}
	meta := p.baseMeta()
	meta["tag"], meta["prerelease"] = r.TagName, r.Prerelease
	actor := p.Sender.actor()
	if actor == nil {
		actor = r.Author.actor()
	}
	body := ""
	if r.Body != nil {
		body = *r.Body
	}
	return []Observation{{
		SourceType: "release.published",
		SourceID:   GitHubReleaseSourceID(repo.ID, r.ID, TransitionPublished),
		Title:      releaseTitle(name, repo.FullName),
		Body:       body,
		Actor:      actor,
		URL:        or(r.HTMLURL, repo.HTMLURL),
		OccurredAt: firstTime(parseTime(r.PublishedAt), parseTime(r.CreatedAt)),
		Metadata:   meta,
	}}, nil
}

// releaseTitle names a published release. Release names often start with the word already ("Release
// v1.2.0"); the title says it once.
func releaseTitle(name, repo string) string {
	if first, _, _ := strings.Cut(name, " "); strings.EqualFold(first, "release") {
		return fmt.Sprintf("%s published in %s", name, repo)
	}
	return fmt.Sprintf("Release %s published in %s", name, repo)
}
