package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db/types"
)

// A connector pages through one provider's history for one integration. It does not observe facts
// itself: each provider item is wrapped in the webhook envelope that announces it (a pull request that
// was merged as pull_request/closed, a READY deployment as deployment.succeeded, ...) and handed to the
// webhook transformers, so a backfilled fact has exactly the source id, source type and shape of the
// same fact delivered by webhook, and the two meet on one row.

// page is one page of an entity's history.
type page struct {
	observations []transform.Observation
	// items counts the provider items handled (backfill_state.progress.processed).
	items int
	// next is the cursor of the following page; empty when the entity is done.
	next string
}

type connector interface {
	fetch(ctx context.Context, token, entity, cursor string) (page, error)
}

// errBadCheckpoint is a stored cursor the connector cannot read; the backfill fails rather than guess.
var errBadCheckpoint = errors.New("the saved checkpoint cannot be read")

// newConnector builds the connector for integ's provider. since is the start of the backfill window.
func newConnector(api *providerapi.Clients, provider types.Provider, meta *types.ResourceMeta, since time.Time, perPage int) (connector, error) {
	if meta == nil || meta.SourceType != provider {
		return nil, fmt.Errorf("the integration has no %s resource metadata", provider)
	}
	switch provider {
	case types.GitHub:
		if meta.GitHub.RepoID == 0 || meta.GitHub.RepoFullName == "" {
			return nil, errors.New("the integration's repository id or name is missing")
		}
		return &githubConnector{api: api.GitHub, repo: *meta.GitHub, since: since, perPage: perPage}, nil
	case types.Vercel:
		if meta.Vercel.ProjectID == "" {
			return nil, errors.New("the integration's project id is missing")
		}
		return &vercelConnector{api: api.Vercel, project: *meta.Vercel, since: since, perPage: perPage}, nil
	case types.Linear:
		if meta.Linear.TeamID == "" {
			return nil, errors.New("the integration's team id is missing")
		}
		return &linearConnector{api: api.Linear, team: *meta.Linear, since: since, perPage: perPage}, nil
	case types.Sentry:
		if meta.Sentry.OrgSlug == "" || meta.Sentry.ProjectSlug == "" {
			return nil, errors.New("the integration's organization or project slug is missing")
		}
		return &sentryConnector{api: api.Sentry, project: *meta.Sentry, since: since, perPage: perPage}, nil
	}
	return nil, fmt.Errorf("no backfill for provider %q", provider)
}

// observe runs one synthesized webhook payload through the webhook transformers.
func observe(provider types.Provider, eventType string, envelope any, at time.Time) ([]transform.Observation, error) {
	payload, err := json.Marshal(envelope)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", provider, eventType, err)
	}
	return transform.Transform(transform.Input{Provider: provider, EventType: eventType, Payload: payload, ReceivedAt: at})
}

// --- GitHub: pull requests, issues, releases (Link header paging, 100 per page) ---

type githubConnector struct {
	api     *providerapi.GitHub
	repo    types.GitHubResourceMeta
	since   time.Time
	perPage int
}

func (c *githubConnector) fetch(ctx context.Context, token, entity, cursor string) (page, error) {
	n := 1
	if cursor != "" {
		var err error
		if n, err = strconv.Atoi(cursor); err != nil || n < 1 {
			return page{}, errBadCheckpoint
		}
	}
	switch entity {
	case EntityPullRequest:
		p, err := c.api.ListPullRequests(ctx, token, c.repo.RepoFullName, n, c.perPage)
		if err != nil {
			return page{}, err
		}
		return githubPage(p, func(pr providerapi.GitHubPullRequest) (bool, bool) {
			return pr.UpdatedAt.Before(c.since), false
		}, c.pullRequest)
	case EntityIssue:
		p, err := c.api.ListIssues(ctx, token, c.repo.RepoFullName, c.since, n, c.perPage)
		if err != nil {
			return page{}, err
		}
		// GitHub lists pull requests among issues; they were fetched as pull requests.
		return githubPage(p, func(is providerapi.GitHubIssue) (bool, bool) {
			return is.UpdatedAt.Before(c.since), is.IsPullRequest()
		}, c.issue)
	case EntityRelease:
		p, err := c.api.ListReleases(ctx, token, c.repo.RepoFullName, n, c.perPage)
		if err != nil {
			return page{}, err
		}
		return githubPage(p, func(r providerapi.GitHubRelease) (bool, bool) {
			return r.CreatedAt.Before(c.since), false
		}, c.release)
	}
	return page{}, fmt.Errorf("github has no entity type %q", entity)
}

// githubPage turns one list page into observations. Lists come newest first, so the first item older
// than the window ends the entity; skip leaves an item out without counting it.
func githubPage[T any](p providerapi.GitHubPage[T], judge func(T) (old, skip bool), obs func(T) ([]transform.Observation, error)) (page, error) {
	var out page
	for _, item := range p.Items {
		old, skip := judge(item)
		if old {
			return out, nil
		}
		if skip {
			continue
		}
		o, err := obs(item)
		if err != nil {
			return page{}, err
		}
		out.items++
		out.observations = append(out.observations, o...)
	}
	if p.NextPage > 0 {
		out.next = strconv.Itoa(p.NextPage)
	}
	return out, nil
}

func (c *githubConnector) envelope(action, key string, item any) map[string]any {
	return map[string]any{
		"action":     action,
		key:          item,
		"repository": map[string]any{"id": c.repo.RepoID, "full_name": c.repo.RepoFullName},
	}
}

// pullRequest is the pull request's current state as the webhook that reached it: merged and closed pull
// requests as pull_request/closed (merged_at tells the two apart), open ones as pull_request/opened.
func (c *githubConnector) pullRequest(pr providerapi.GitHubPullRequest) ([]transform.Observation, error) {
	action := "opened"
	if pr.State == "closed" {
		action = "closed"
	}
	return observe(types.GitHub, "pull_request", c.envelope(action, "pull_request", pr), pr.UpdatedAt)
}

func (c *githubConnector) issue(is providerapi.GitHubIssue) ([]transform.Observation, error) {
	action := "opened"
	if is.State == "closed" {
		action = "closed"
	}
	return observe(types.GitHub, "issues", c.envelope(action, "issue", is), is.UpdatedAt)
}

// release yields release/published for published releases; a draft has not happened yet and yields
// nothing (but still counts as processed).
func (c *githubConnector) release(r providerapi.GitHubRelease) ([]transform.Observation, error) {
	if r.Draft || r.PublishedAt == nil {
		return nil, nil
	}
	return observe(types.GitHub, "release", c.envelope("published", "release", r), *r.PublishedAt)
}

// --- Vercel: deployments of the project (until cursor, teamId scoping) ---

type vercelConnector struct {
	api     *providerapi.Vercel
	project types.VercelResourceMeta
	since   time.Time
	perPage int
}

// vercelEvents maps a deployment's state to the webhook event that announces it.
var vercelEvents = map[string]string{
	"READY":    "deployment.succeeded",
	"ERROR":    "deployment.error",
	"CANCELED": "deployment.canceled",
}

func (c *vercelConnector) fetch(ctx context.Context, token, entity, cursor string) (page, error) {
	if entity != EntityDeployment {
		return page{}, fmt.Errorf("vercel has no entity type %q", entity)
	}
	if cursor != "" {
		if _, err := strconv.ParseInt(cursor, 10, 64); err != nil {
			return page{}, errBadCheckpoint
		}
	}
	p, err := c.api.ListDeployments(ctx, token, c.project.TeamID, c.project.ProjectID, c.since.UnixMilli(), cursor, c.perPage)
	if err != nil {
		return page{}, err
	}
	out := page{next: p.Next}
	for _, d := range p.Deployments {
		obs, err := c.deployment(d)
		if err != nil {
			return page{}, err
		}
		out.items++
		out.observations = append(out.observations, obs...)
	}
	return out, nil
}

func (c *vercelConnector) deployment(d providerapi.VercelDeployment) ([]transform.Observation, error) {
	state := d.State
	if state == "" {
		state = d.ReadyState
	}
	event, ok := vercelEvents[state]
	if !ok {
		event = "deployment.created" // still queued or building
	}
	at := d.Created
	if event == "deployment.succeeded" && d.Ready != nil {
		at = *d.Ready
	}
	payload := map[string]any{
		"deployment": map[string]any{"id": d.UID, "name": d.Name, "url": d.URL, "inspectorUrl": d.InspectorURL, "meta": d.Meta},
		"name":       d.Name,
		"url":        d.URL,
		"target":     d.Target,
		"project":    map[string]any{"id": c.project.ProjectID},
	}
	if d.Creator.UID != "" {
		payload["user"] = map[string]any{"id": d.Creator.UID}
	}
	if c.project.TeamID != "" {
		payload["team"] = map[string]any{"id": c.project.TeamID}
	}
	return observe(types.Vercel, event, map[string]any{"type": event, "createdAt": at, "payload": payload}, time.UnixMilli(at))
}

// --- Linear: the team's issues (GraphQL cursor) ---

type linearConnector struct {
	api     *providerapi.Linear
	team    types.LinearResourceMeta
	since   time.Time
	perPage int
}

func (c *linearConnector) fetch(ctx context.Context, token, entity, cursor string) (page, error) {
	if entity != EntityIssue {
		return page{}, fmt.Errorf("linear has no entity type %q", entity)
	}
	p, err := c.api.ListTeamIssues(ctx, token, c.team.TeamID, c.since, c.perPage, cursor)
	if err != nil {
		return page{}, err
	}
	out := page{next: p.EndCursor}
	for _, is := range p.Issues {
		obs, err := c.issue(is)
		if err != nil {
			return page{}, err
		}
		out.items++
		out.observations = append(out.observations, obs...)
	}
	return out, nil
}

// issue is the issue's latest version: Issue/create while it was never changed, else Issue/update. Both
// source ids carry updatedAt verbatim, as the webhook that delivered that version does.
func (c *linearConnector) issue(is providerapi.LinearIssue) ([]transform.Observation, error) {
	action := "update"
	if is.CreatedAt == is.UpdatedAt {
		action = "create"
	}
	data := map[string]any{
		"id": is.ID, "identifier": is.Identifier, "title": is.Title, "description": is.Description,
		"url": is.URL, "createdAt": is.CreatedAt, "updatedAt": is.UpdatedAt, "teamId": c.team.TeamID,
		"priority": is.Priority, "state": is.State, "creator": is.Creator,
	}
	at, _ := time.Parse(time.RFC3339Nano, is.UpdatedAt)
	return observe(types.Linear, "Issue", map[string]any{
		"action": action, "type": "Issue", "createdAt": is.UpdatedAt, "url": is.URL, "data": data,
	}, at)
}

// --- Sentry: the project's issues (cursor in the Link header) ---

type sentryConnector struct {
	api     *providerapi.Sentry
	project types.SentryResourceMeta
	since   time.Time
	perPage int
}

func (c *sentryConnector) fetch(ctx context.Context, token, entity, cursor string) (page, error) {
	if entity != EntityIssue {
		return page{}, fmt.Errorf("sentry has no entity type %q", entity)
	}
	p, err := c.api.ListProjectIssues(ctx, token, c.project.OrgSlug, c.project.ProjectSlug, c.since, cursor, c.perPage)
	if err != nil {
		return page{}, err
	}
	out := page{next: p.NextCursor}
	for _, is := range p.Issues {
		obs, err := c.issue(is)
		if err != nil {
			return page{}, err
		}
		out.items++
		out.observations = append(out.observations, obs...)
	}
	return out, nil
}

// issue is the issue's current state: issue/resolved for resolved issues, issue/created otherwise.
func (c *sentryConnector) issue(is providerapi.SentryIssue) ([]transform.Observation, error) {
	action := "created"
	if is.Status == "resolved" {
		action = "resolved"
	}
	// Sentry does not say when an issue was resolved; its last sighting is the closest provider time.
	return observe(types.Sentry, "issue", map[string]any{"action": action, "data": map[string]any{"issue": is}}, is.LastSeen)
}
