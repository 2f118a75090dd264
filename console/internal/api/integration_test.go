package api_test

import (
	"context"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func ghRepos(ids ...int64) []*consolev1.GitHubRepository {
	out := make([]*consolev1.GitHubRepository, 0, len(ids))
	for _, id := range ids {
		out = append(out, &consolev1.GitHubRepository{Id: id, FullName: "caller/claims-this-name"})
	}
	return out
}

func TestBulkLinkGitHubThenRouting(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, gh, repos := e.github("org_a", 3)
	ws := e.workspace("org_a", "w")
	req := &consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[1].ID, repos[0].ID, repos[1].ID),
	}

	resp, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.EqualValues(t, 2, resp.Msg.GetCreatedCount())
	got := resp.Msg.GetIntegrations()
	require.Len(t, got, 2, "one per distinct repository, in request order")
	require.Equal(t, strconv.FormatInt(repos[1].ID, 10), got[0].GetProviderResourceId())
	require.Equal(t, repos[1].FullName, got[0].GetResourceName(), "names come from GitHub, not from the caller")
	require.Equal(t, types.DefaultEvents[types.GitHub], got[0].GetSyncConfig().GetEvents())
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_IDLE, got[0].GetBackfill().GetStatus())

	row, err := e.q.GetIntegration(ctx, got[0].GetId())
	require.NoError(t, err)
	require.Equal(t, inst.ID, row.InstallationID)
	require.Equal(t, types.GitHub, row.ResourceMeta.SourceType)
	require.Equal(t, types.GitHubResourceMeta{
		InstallationID: gh.ID, RepoID: repos[1].ID, RepoName: repos[1].Name, RepoFullName: repos[1].FullName,
		DefaultBranch: "main", IsPrivate: repos[1].Private,
	}, *row.ResourceMeta.GitHub)
	require.Equal(t, "user_org_a", *row.ConnectedBy)

	// Routing: the cache (written after the commit) and gw_resources (the fallback) both resolve.
	for _, r := range repos[:2] {
		id, src, err := e.cache.ResolveResource(ctx, types.GitHub, strconv.FormatInt(r.ID, 10))
		require.NoError(t, err)
		require.Equal(t, inst.ID, id)
		require.Equal(t, routing.FromCache, src)
		e.cache.DropResource(ctx, types.GitHub, strconv.FormatInt(r.ID, 10))
		id, src, err = e.cache.ResolveResource(ctx, types.GitHub, strconv.FormatInt(r.ID, 10))
		require.NoError(t, err)
		require.Equal(t, inst.ID, id)
		require.Equal(t, routing.FromDB, src)
	}
	resources, err := e.q.ListResourcesByInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Len(t, resources, 2)

	// Idempotent: the same call links nothing new and writes no second row.
	before := e.snapshot()
	again, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.Zero(t, again.Msg.GetCreatedCount())
	require.Equal(t, got[0].GetId(), again.Msg.GetIntegrations()[0].GetId())
	require.Len(t, e.snapshot()["lightfast_workspace_integrations"], len(before["lightfast_workspace_integrations"]))
	require.Len(t, e.snapshot()["lightfast_gw_resources"], len(before["lightfast_gw_resources"]))

	list, err := c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws.ID}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetIntegrations(), 2)
}

func TestLinkOtherProviders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	ws := e.workspace("org_a", "w")
	vcInst, vc := e.vercel("org_a", 2)
	lnInst, _ := e.linear("org_a", 2)
	seInst, _ := e.sentry("org_a", 2)

	projects, err := c.vc.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: vcInst.ID}))
	require.NoError(t, err)
	one, err := c.integ.LinkVercelProject(ctx, connect.NewRequest(&consolev1.LinkVercelProjectRequest{
		WorkspaceId: ws.ID, InstallationId: vcInst.ID, Project: projects.Msg.GetProjects()[0],
	}))
	require.NoError(t, err)
	require.True(t, one.Msg.GetCreated())
	bulk, err := c.integ.BulkLinkVercelProjects(ctx, connect.NewRequest(&consolev1.BulkLinkVercelProjectsRequest{
		WorkspaceId: ws.ID, InstallationId: vcInst.ID, Projects: projects.Msg.GetProjects(),
	}))
	require.NoError(t, err)
	require.EqualValues(t, 1, bulk.Msg.GetCreatedCount(), "the first was already linked")
	row, err := e.q.GetIntegration(ctx, one.Msg.GetIntegration().GetId())
	require.NoError(t, err)
	require.Equal(t, vc.TeamID, row.ResourceMeta.Vercel.TeamID)
	require.Equal(t, vc.ConfigurationID, row.ResourceMeta.Vercel.ConfigurationID)
	again, err := c.integ.LinkVercelProject(ctx, connect.NewRequest(&consolev1.LinkVercelProjectRequest{
		WorkspaceId: ws.ID, InstallationId: vcInst.ID, Project: projects.Msg.GetProjects()[0],
	}))
	require.NoError(t, err)
	require.False(t, again.Msg.GetCreated())

	teams, err := c.ln.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: lnInst.ID}))
	require.NoError(t, err)
	lt, err := c.integ.BulkLinkLinearTeams(ctx, connect.NewRequest(&consolev1.BulkLinkLinearTeamsRequest{
		WorkspaceId: ws.ID, InstallationId: lnInst.ID, Teams: teams.Msg.GetTeams(),
	}))
	require.NoError(t, err)
	require.EqualValues(t, 2, lt.Msg.GetCreatedCount())
	row, err = e.q.GetIntegration(ctx, lt.Msg.GetIntegrations()[0].GetId())
	require.NoError(t, err)
	require.Equal(t, teams.Msg.GetTeams()[0].GetKey(), row.ResourceMeta.Linear.TeamKey)

	sp, err := c.se.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: seInst.ID}))
	require.NoError(t, err)
	st, err := c.integ.BulkLinkSentryProjects(ctx, connect.NewRequest(&consolev1.BulkLinkSentryProjectsRequest{
		WorkspaceId: ws.ID, InstallationId: seInst.ID, Projects: sp.Msg.GetProjects(),
	}))
	require.NoError(t, err)
	require.EqualValues(t, 2, st.Msg.GetCreatedCount())

	for _, in := range append(append(bulk.Msg.GetIntegrations(), lt.Msg.GetIntegrations()...), st.Msg.GetIntegrations()...) {
		p := map[consolev1.Provider]types.Provider{
			consolev1.Provider_PROVIDER_VERCEL: types.Vercel, consolev1.Provider_PROVIDER_LINEAR: types.Linear, consolev1.Provider_PROVIDER_SENTRY: types.Sentry,
		}[in.GetProvider()]
		id, _, err := e.cache.ResolveResource(ctx, p, in.GetProviderResourceId())
		require.NoError(t, err)
		require.Equal(t, in.GetInstallationId(), id)
	}
}

func TestLinkBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 1)
	other, _, otherRepos := e.github("org_a", 1) // another connection's repository
	_ = other
	vcInst := e.installation("org_a", types.Vercel, "icfg_bad", "tok", nil)
	ws := e.workspace("org_a", "w")
	revoked := e.installation("org_a", types.GitHub, "999999", "tok", nil)
	_, err := e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: revoked.ID, Status: "revoked"})
	require.NoError(t, err)
	before := e.snapshot()

	cases := []struct {
		name string
		req  *consolev1.BulkLinkGitHubRepositoriesRequest
		code connect.Code
	}{
		{"empty list", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID}, connect.CodeInvalidArgument},
		{"zero id", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(0)}, connect.CodeInvalidArgument},
		{"no workspace", &consolev1.BulkLinkGitHubRepositoriesRequest{InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID)}, connect.CodeInvalidArgument},
		{"no installation", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, Repositories: ghRepos(repos[0].ID)}, connect.CodeInvalidArgument},
		{"wrong provider", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: vcInst.ID, Repositories: ghRepos(repos[0].ID)}, connect.CodeInvalidArgument},
		{"unknown workspace", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ids.New(), InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID)}, connect.CodeNotFound},
		{"unknown installation", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: ids.New(), Repositories: ghRepos(repos[0].ID)}, connect.CodeNotFound},
		{"repository of another connection", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID, otherRepos[0].ID)}, connect.CodeNotFound},
		{"revoked connection", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: revoked.ID, Repositories: ghRepos(repos[0].ID)}, connect.CodeFailedPrecondition},
		{"bad backfill depth", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
			StartBackfill: true, BackfillOptions: &consolev1.BackfillOptions{DepthDays: -1}}, connect.CodeInvalidArgument},
		{"bad backfill entity", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
			StartBackfill: true, BackfillOptions: &consolev1.BackfillOptions{EntityTypes: []string{"deployment"}}}, connect.CodeInvalidArgument},
	}
	tooMany := make([]int64, 101)
	for i := range tooMany {
		tooMany[i] = int64(i + 1)
	}
	cases = append(cases, struct {
		name string
		req  *consolev1.BulkLinkGitHubRepositoriesRequest
		code connect.Code
	}{"too many", &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(tooMany...)}, connect.CodeInvalidArgument})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(tc.req))
			requireCode(t, err, tc.code)
		})
	}
	_, err = c.integ.LinkVercelProject(ctx, connect.NewRequest(&consolev1.LinkVercelProjectRequest{WorkspaceId: ws.ID, InstallationId: vcInst.ID}))
	requireCode(t, err, connect.CodeInvalidArgument)
	for _, call := range []func() error{
		func() error {
			_, err := c.integ.BulkLinkVercelProjects(ctx, connect.NewRequest(&consolev1.BulkLinkVercelProjectsRequest{WorkspaceId: ws.ID, InstallationId: vcInst.ID}))
			return err
		},
		func() error {
			_, err := c.integ.BulkLinkLinearTeams(ctx, connect.NewRequest(&consolev1.BulkLinkLinearTeamsRequest{WorkspaceId: ws.ID, InstallationId: vcInst.ID, Teams: []*consolev1.LinearTeam{{}}}))
			return err
		},
		func() error {
			_, err := c.integ.BulkLinkSentryProjects(ctx, connect.NewRequest(&consolev1.BulkLinkSentryProjectsRequest{WorkspaceId: ws.ID, InstallationId: vcInst.ID}))
			return err
		},
	} {
		requireCode(t, call(), connect.CodeInvalidArgument)
	}
	require.Equal(t, before, e.snapshot(), "nothing written")
}

func TestLinkWithBackfillQueuesOneJobPerIntegration(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 2)
	ws := e.workspace("org_a", "w")
	req := &consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID, repos[1].ID),
		StartBackfill: true, BackfillOptions: &consolev1.BackfillOptions{DepthDays: 30, EntityTypes: []string{"pull_request"}},
	}
	resp, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	for _, in := range resp.Msg.GetIntegrations() {
		require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_PENDING, in.GetBackfill().GetStatus())
	}
	var jobs int
	var args string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*), min(args::text) FROM river_job WHERE kind = 'backfill.run'`).Scan(&jobs, &args))
	require.Equal(t, 2, jobs)
	require.Contains(t, args, `"depthDays": 30`)
	row, err := e.q.GetIntegration(ctx, resp.Msg.GetIntegrations()[0].GetId())
	require.NoError(t, err)
	require.NotZero(t, row.BackfillState.JobID)

	// Linking again while they are pending queues nothing more.
	_, err = c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'backfill.run'`).Scan(&jobs))
	require.Equal(t, 2, jobs)
}

func TestUpdateEventsAndUnlink(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 1)
	ws1, ws2 := e.workspace("org_a", "one"), e.workspace("org_a", "two")
	link := func(ws string) *consolev1.Integration {
		resp, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
			WorkspaceId: ws, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
		}))
		require.NoError(t, err)
		return resp.Msg.GetIntegrations()[0]
	}
	a, b := link(ws1.ID), link(ws2.ID)

	up, err := c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: a.GetId(), Events: []string{"push", "release", "push"}}))
	require.NoError(t, err)
	require.Equal(t, []string{"push", "release"}, up.Msg.GetIntegration().GetSyncConfig().GetEvents())
	up, err = c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: a.GetId()}))
	require.NoError(t, err)
	require.Empty(t, up.Msg.GetIntegration().GetSyncConfig().GetEvents(), "an empty set pauses ingestion")

	before := e.snapshot()
	_, err = c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: a.GetId(), Events: []string{"push", "deployment"}}))
	requireCode(t, err, connect.CodeInvalidArgument)
	_, err = c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{Events: []string{"push"}}))
	requireCode(t, err, connect.CodeInvalidArgument)
	_, err = c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: ids.New(), Events: []string{"push"}}))
	requireCode(t, err, connect.CodeNotFound)
	_, err = c.integ.UnlinkIntegration(ctx, connect.NewRequest(&consolev1.UnlinkIntegrationRequest{}))
	requireCode(t, err, connect.CodeInvalidArgument)
	require.Equal(t, before, e.snapshot())

	repo := strconv.FormatInt(repos[0].ID, 10)
	_, err = c.integ.UnlinkIntegration(ctx, connect.NewRequest(&consolev1.UnlinkIntegrationRequest{IntegrationId: a.GetId()}))
	require.NoError(t, err)
	id, _, err := e.cache.ResolveResource(ctx, types.GitHub, repo)
	require.NoError(t, err)
	require.Equal(t, inst.ID, id, "still linked in the other workspace: still routed")

	_, err = c.integ.UnlinkIntegration(ctx, connect.NewRequest(&consolev1.UnlinkIntegrationRequest{IntegrationId: b.GetId()}))
	require.NoError(t, err)
	_, src, err := e.cache.ResolveResource(ctx, types.GitHub, repo)
	require.NoError(t, err)
	require.Equal(t, routing.NotFound, src, "the last link gone: no longer routed")
	_, err = c.integ.UnlinkIntegration(ctx, connect.NewRequest(&consolev1.UnlinkIntegrationRequest{IntegrationId: b.GetId()}))
	requireCode(t, err, connect.CodeNotFound)
}
