package api

import (
	"context"
	"fmt"
	"strconv"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/listcap"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// integrationService implements IntegrationService.
type integrationService struct{ *server }

const (
	// maxLinkBatch bounds one link call (one transaction).
	maxLinkBatch = 100
	// maxListed bounds how many provider resources a link reads to check the requested ones.
	maxListed = 5000
	maxEvents = 50
)

// linkItem is one resource to link, as the provider reports it (never as the caller described it: names
// and metadata come from the provider, so a caller cannot link or rename a resource it cannot see).
type linkItem struct {
	resourceID string
	name       string
	meta       *types.ResourceMeta
}

// resolver reads the resources reachable through a connection, by provider resource id.
type resolver func(ctx context.Context, inst dbq.Installation, token string) (map[string]linkItem, error)

// linkRequest is what every link procedure asks for.
type linkRequest struct {
	workspaceID, installationID string
	provider                    types.Provider
	kind                        string   // "repository", "project", "team": for messages
	resourceIDs                 []string // from linkIDs: distinct, in request order
	startBackfill               bool
	backfill                    *consolev1.BackfillOptions
	resolve                     resolver
	// newWorkspace, when set, is created inside the link's transaction instead of workspaceID being read
	// (CreateWorkspace with resources); the row written is stored back in it.
	newWorkspace *workspaceToCreate
}

// workspaceToCreate is the workspace a link creates, and then the row it wrote.
type workspaceToCreate struct {
	params dbq.CreateWorkspaceParams
	row    dbq.Workspace
}

// maxResourceIDLen is the width of provider_resource_id.
const maxResourceIDLen = 191

// linkIDs turns the resources a link call names into distinct ids, in request order. The raw list is
// capped before anything else is done with it, so a call naming tens of thousands costs one comparison;
// duplicates are then dropped in one pass.
func linkIDs[T any](kind string, items []T, id func(T) string) ([]string, error) {
	if err := listcap.Check(len(items), maxLinkBatch); err != nil {
		return nil, errInvalid("at most %d %s per call (got %d)", maxLinkBatch, plural(kind), len(items))
	}
	if len(items) == 0 {
		return nil, errInvalid("at least one %s is required", kind)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s := id(it)
		if s == "" || len(s) > maxResourceIDLen {
			return nil, errInvalid("every %s needs its id", kind)
		}
		out = append(out, s)
	}
	return listcap.Unique(out, maxLinkBatch)
}

func plural(kind string) string {
	if kind == "repository" {
		return "repositories"
	}
	return kind + "s"
}

// link links resources to a workspace: it checks the workspace and connection belong to the caller's
// organisation, reads the resources from the provider with the stored token, then in one transaction
// writes workspace_integrations and gw_resources (and backfill jobs when asked), and after the commit puts
// the routes in the cache. Repeating a link changes nothing but reactivating and refreshing metadata.
func (s integrationService) link(ctx context.Context, r linkRequest) ([]dbq.Integration, int32, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	if (r.workspaceID == "" && r.newWorkspace == nil) || r.installationID == "" {
		return nil, 0, errInvalid("workspace_id and installation_id are required")
	}
	wanted := r.resourceIDs
	var job backfillJob
	if r.startBackfill {
		if job, err = backfillJobFor(r.provider, r.backfill); err != nil {
			return nil, 0, err
		}
	}
	var ws dbq.Workspace
	if r.newWorkspace == nil {
		if ws, err = s.workspaceForOrg(ctx, p.OrgID, r.workspaceID); err != nil {
			return nil, 0, err
		}
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, r.installationID, r.provider)
	if err != nil {
		return nil, 0, err
	}
	token, err := s.token(ctx, p.OrgID, inst.ID)
	if err != nil {
		return nil, 0, err
	}
	// The provider is asked before anything is written: when it fails, nothing is half-written.
	reachable, err := r.resolve(ctx, inst, token)
	if err != nil {
		return nil, 0, err
	}
	items := make([]linkItem, 0, len(wanted))
	for _, id := range wanted {
		it, ok := reachable[id]
		if !ok {
			return nil, 0, connect.NewError(connect.CodeNotFound, fmt.Errorf("%s %s is not reachable through connection %s", r.kind, id, inst.ID))
		}
		items = append(items, it)
	}

	var (
		out     []dbq.Integration
		created int32
	)
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		out, created = out[:0], 0
		if r.newWorkspace != nil {
			w, err := q.CreateWorkspace(ctx, r.newWorkspace.params)
			if err != nil {
				return db.Interpret(err)
			}
			ws, r.newWorkspace.row = w, w
		}
		for _, it := range items {
			name := it.name
			if _, err := q.UpsertResource(ctx, dbq.UpsertResourceParams{
				ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: it.resourceID, ResourceName: &name,
			}); err != nil {
				return fmt.Errorf("link: resource: %w", db.Interpret(err))
			}
			row, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
				ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: r.provider,
				ProviderResourceID: it.resourceID, ResourceName: it.name, ResourceMeta: it.meta,
				SyncConfig: types.SyncConfigForLink(r.provider, it.meta), ConnectedBy: &p.UserID,
			})
			if err != nil {
				return fmt.Errorf("link: integration: %w", db.Interpret(err))
			}
			integ := linkRowIntegration(row)
			if row.Created {
				created++
			}
			if r.startBackfill {
				if integ.BackfillState, err = s.startBackfill(ctx, tx, p, integ.ID, job); err != nil {
					return err
				}
			}
			out = append(out, integ)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	for _, it := range items {
		s.Routes.PutResource(ctx, r.provider, it.resourceID, inst.ID)
	}
	return out, created, nil
}

// resolverFor is the resolver and resource word of a provider's link calls.
func (s integrationService) resolverFor(p types.Provider) (resolver, string) {
	switch p {
	case types.GitHub:
		return s.githubRepos, "repository"
	case types.Vercel:
		return s.vercelProjects, "project"
	case types.Linear:
		return s.linearTeams, "team"
	case types.Sentry:
		return s.sentryProjects, "project"
	}
	return nil, ""
}

func (s integrationService) ListSources(ctx context.Context, req *connect.Request[consolev1.ListSourcesRequest]) (*connect.Response[consolev1.ListSourcesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := s.workspaceForOrg(ctx, p.OrgID, req.Msg.GetWorkspaceId())
	if err != nil {
		return nil, err
	}
	rows, unreadable, err := integrations.ListByWorkspace(ctx, s.q(), ws.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.ListSourcesResponse{
		Integrations: integrationsMsg(rows), Unreadable: s.unreadable(unreadable),
	}), nil
}

func (s integrationService) BulkLinkGitHubRepositories(ctx context.Context, req *connect.Request[consolev1.BulkLinkGitHubRepositoriesRequest]) (*connect.Response[consolev1.BulkLinkGitHubRepositoriesResponse], error) {
	m := req.Msg
	idList, err := linkIDs("repository", m.GetRepositories(), func(r *consolev1.GitHubRepository) string {
		if r.GetId() <= 0 {
			return ""
		}
		return strconv.FormatInt(r.GetId(), 10)
	})
	if err != nil {
		return nil, err
	}
	rows, created, err := s.link(ctx, linkRequest{
		workspaceID: m.GetWorkspaceId(), installationID: m.GetInstallationId(), provider: types.GitHub, kind: "repository",
		resourceIDs: idList, startBackfill: m.GetStartBackfill(), backfill: m.GetBackfillOptions(), resolve: s.githubRepos,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.BulkLinkGitHubRepositoriesResponse{Integrations: integrationsMsg(rows), CreatedCount: created}), nil
}

func (s integrationService) githubRepos(ctx context.Context, inst dbq.Installation, token string) (map[string]linkItem, error) {
	repos, err := s.Providers.GitHub.AllRepositories(ctx, token, maxListed)
	if err != nil {
		return nil, err
	}
	ghInstallation, _ := strconv.ParseInt(inst.ExternalID, 10, 64)
	out := make(map[string]linkItem, len(repos))
	for _, r := range repos {
		id := strconv.FormatInt(r.ID, 10)
		out[id] = linkItem{resourceID: id, name: r.FullName, meta: types.NewGitHubResourceMeta(types.GitHubResourceMeta{
			InstallationID: ghInstallation, RepoID: r.ID, RepoName: r.Name, RepoFullName: r.FullName,
			DefaultBranch: r.DefaultBranch, IsPrivate: r.Private, IsArchived: r.Archived,
		})}
	}
	return out, nil
}

func (s integrationService) BulkLinkVercelProjects(ctx context.Context, req *connect.Request[consolev1.BulkLinkVercelProjectsRequest]) (*connect.Response[consolev1.BulkLinkVercelProjectsResponse], error) {
	m := req.Msg
	idList, err := linkIDs("project", m.GetProjects(), (*consolev1.VercelProject).GetId)
	if err != nil {
		return nil, err
	}
	rows, created, err := s.link(ctx, linkRequest{
		workspaceID: m.GetWorkspaceId(), installationID: m.GetInstallationId(), provider: types.Vercel, kind: "project",
		resourceIDs: idList, startBackfill: m.GetStartBackfill(), backfill: m.GetBackfillOptions(), resolve: s.vercelProjects,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.BulkLinkVercelProjectsResponse{Integrations: integrationsMsg(rows), CreatedCount: created}), nil
}

func (s integrationService) LinkVercelProject(ctx context.Context, req *connect.Request[consolev1.LinkVercelProjectRequest]) (*connect.Response[consolev1.LinkVercelProjectResponse], error) {
	m := req.Msg
	if m.GetProject() == nil {
		return nil, errInvalid("project is required")
	}
	idList, err := linkIDs("project", []*consolev1.VercelProject{m.GetProject()}, (*consolev1.VercelProject).GetId)
	if err != nil {
		return nil, err
	}
	rows, created, err := s.link(ctx, linkRequest{
		workspaceID: m.GetWorkspaceId(), installationID: m.GetInstallationId(), provider: types.Vercel, kind: "project",
		resourceIDs: idList, startBackfill: m.GetStartBackfill(), backfill: m.GetBackfillOptions(), resolve: s.vercelProjects,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.LinkVercelProjectResponse{Integration: integrationMsg(rows[0]), Created: created == 1}), nil
}

func (s integrationService) vercelProjects(ctx context.Context, inst dbq.Installation, token string) (map[string]linkItem, error) {
	var acct types.VercelAccountInfo
	if inst.ProviderAccountInfo != nil && inst.ProviderAccountInfo.Vercel != nil {
		acct = *inst.ProviderAccountInfo.Vercel
	}
	projects, err := s.Providers.Vercel.AllProjects(ctx, token, acct.TeamID, maxListed)
	if err != nil {
		return nil, err
	}
	out := make(map[string]linkItem, len(projects))
	for _, p := range projects {
		out[p.ID] = linkItem{resourceID: p.ID, name: p.Name, meta: types.NewVercelResourceMeta(types.VercelResourceMeta{
			ProjectID: p.ID, ProjectName: p.Name, TeamID: acct.TeamID, TeamSlug: acct.TeamSlug, ConfigurationID: inst.ExternalID,
		})}
	}
	return out, nil
}

func (s integrationService) BulkLinkLinearTeams(ctx context.Context, req *connect.Request[consolev1.BulkLinkLinearTeamsRequest]) (*connect.Response[consolev1.BulkLinkLinearTeamsResponse], error) {
	m := req.Msg
	idList, err := linkIDs("team", m.GetTeams(), (*consolev1.LinearTeam).GetId)
	if err != nil {
		return nil, err
	}
	rows, created, err := s.link(ctx, linkRequest{
		workspaceID: m.GetWorkspaceId(), installationID: m.GetInstallationId(), provider: types.Linear, kind: "team",
		resourceIDs: idList, startBackfill: m.GetStartBackfill(), backfill: m.GetBackfillOptions(), resolve: s.linearTeams,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.BulkLinkLinearTeamsResponse{Integrations: integrationsMsg(rows), CreatedCount: created}), nil
}

func (s integrationService) linearTeams(ctx context.Context, _ dbq.Installation, token string) (map[string]linkItem, error) {
	teams, err := s.Providers.Linear.AllTeams(ctx, token, maxListed)
	if err != nil {
		return nil, err
	}
	out := make(map[string]linkItem, len(teams))
	for _, t := range teams {
		out[t.ID] = linkItem{resourceID: t.ID, name: t.Name, meta: types.NewLinearResourceMeta(types.LinearResourceMeta{
			TeamID: t.ID, TeamKey: t.Key, TeamName: t.Name,
		})}
	}
	return out, nil
}

func (s integrationService) BulkLinkSentryProjects(ctx context.Context, req *connect.Request[consolev1.BulkLinkSentryProjectsRequest]) (*connect.Response[consolev1.BulkLinkSentryProjectsResponse], error) {
	m := req.Msg
	idList, err := linkIDs("project", m.GetProjects(), (*consolev1.SentryProject).GetId)
	if err != nil {
		return nil, err
	}
	rows, created, err := s.link(ctx, linkRequest{
		workspaceID: m.GetWorkspaceId(), installationID: m.GetInstallationId(), provider: types.Sentry, kind: "project",
		resourceIDs: idList, startBackfill: m.GetStartBackfill(), backfill: m.GetBackfillOptions(), resolve: s.sentryProjects,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.BulkLinkSentryProjectsResponse{Integrations: integrationsMsg(rows), CreatedCount: created}), nil
}

func (s integrationService) sentryProjects(ctx context.Context, inst dbq.Installation, token string) (map[string]linkItem, error) {
	org := sentryOrgSlug(inst)
	if org == "" {
		return nil, errPrecondition("connection %s has no Sentry organization recorded", inst.ID)
	}
	projects, err := s.Providers.Sentry.AllProjects(ctx, token, org, maxListed)
	if err != nil {
		return nil, err
	}
	out := make(map[string]linkItem, len(projects))
	for _, p := range projects {
		name := p.Name
		if name == "" {
			name = p.Slug
		}
		out[p.ID] = linkItem{resourceID: p.ID, name: name, meta: types.NewSentryResourceMeta(types.SentryResourceMeta{
			ProjectID: p.ID, ProjectSlug: p.Slug, OrgSlug: org,
		})}
	}
	return out, nil
}

func (s integrationService) UpdateEvents(ctx context.Context, req *connect.Request[consolev1.UpdateEventsRequest]) (*connect.Response[consolev1.UpdateEventsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetIntegrationId() == "" {
		return nil, errInvalid("integration_id is required")
	}
	events, err := listcap.Unique(req.Msg.GetEvents(), maxEvents)
	if err != nil {
		return nil, errInvalid("at most %d events (got %d)", maxEvents, len(req.Msg.GetEvents()))
	}
	in, err := s.q().GetIntegrationForOrg(ctx, dbq.GetIntegrationForOrgParams{ID: req.Msg.GetIntegrationId(), ClerkOrgID: p.OrgID})
	if db.IsNotFound(err) {
		return nil, errNotFound("integration")
	}
	if err != nil {
		return nil, err
	}
	events, err = knownEvents(in.Provider, events)
	if err != nil {
		return nil, err
	}
	row, err := s.q().UpdateIntegrationEventsForOrg(ctx, dbq.UpdateIntegrationEventsForOrgParams{ID: in.ID, ClerkOrgID: p.OrgID, Events: events})
	if db.IsNotFound(err) {
		return nil, errNotFound("integration") // unlinked meanwhile
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.UpdateEventsResponse{Integration: integrationMsg(row)}), nil
}

func (s integrationService) UnlinkIntegration(ctx context.Context, req *connect.Request[consolev1.UnlinkIntegrationRequest]) (*connect.Response[consolev1.UnlinkIntegrationResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetIntegrationId() == "" {
		return nil, errInvalid("integration_id is required")
	}
	var (
		gone    dbq.DeleteIntegrationForOrgRow
		unroute bool
	)
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		var err error
		gone, err = q.DeleteIntegrationForOrg(ctx, dbq.DeleteIntegrationForOrgParams{ID: req.Msg.GetIntegrationId(), ClerkOrgID: p.OrgID})
		if db.IsNotFound(err) {
			return errNotFound("integration")
		}
		if err != nil {
			return err
		}
		// The resource keeps routing while another workspace still links it through the same connection.
		n, err := q.CountActiveIntegrationsForResource(ctx, dbq.CountActiveIntegrationsForResourceParams{
			InstallationID: gone.InstallationID, ProviderResourceID: gone.ProviderResourceID,
		})
		if err != nil {
			return err
		}
		if n == 0 {
			unroute = true
			return q.SetResourceStatus(ctx, dbq.SetResourceStatusParams{
				Status: "removed", InstallationID: gone.InstallationID, ProviderResourceID: gone.ProviderResourceID,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if unroute {
		s.Routes.DropResource(ctx, gone.Provider, gone.ProviderResourceID)
	}
	return connect.NewResponse(&consolev1.UnlinkIntegrationResponse{}), nil
}
