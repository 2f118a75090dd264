package api_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func TestGitHubInstallationsAndRepositories(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, gh, repos := e.github("org_a", 5)

	got, err := c.gh.GetInstallations(ctx, connect.NewRequest(&consolev1.GetInstallationsRequest{}))
	require.NoError(t, err)
	require.Len(t, got.Msg.GetConnections(), 1)
	require.Equal(t, "stale-login", got.Msg.GetConnections()[0].GetGithub().GetInstallations()[0].GetAccountLogin(), "as recorded; no GitHub call")

	v, err := c.gh.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: inst.ID}))
	require.NoError(t, err)
	in := v.Msg.GetConnection().GetGithub().GetInstallations()[0]
	require.Equal(t, gh.ID, in.GetId())
	require.Equal(t, gh.Account, in.GetAccountLogin(), "re-read from GitHub")
	require.Equal(t, gh.AccountID, in.GetAccountId())
	require.NotNil(t, in.GetInstalledAt(), "what GitHub does not report is kept")
	require.WithinDuration(t, time.Now(), in.GetLastValidatedAt().AsTime(), 5*time.Second)
	stored, err := e.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, gh.Account, stored.ProviderAccountInfo.GitHub.Installations[0].AccountLogin)

	var seen []int64
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		resp, err := c.gh.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: inst.ID, PageSize: 2, Cursor: cursor}))
		require.NoError(t, err)
		for _, r := range resp.Msg.GetRepositories() {
			seen = append(seen, r.GetId())
		}
		if cursor = resp.Msg.GetNextCursor(); cursor == "" {
			break
		}
	}
	require.Len(t, seen, 5)
	require.Equal(t, repos[0].ID, seen[0])

	for _, req := range []*consolev1.ListRepositoriesRequest{
		{InstallationId: inst.ID, Cursor: "abc"},
		{InstallationId: inst.ID, Cursor: "-1"},
		{InstallationId: inst.ID, PageSize: -1},
		{},
	} {
		_, err := c.gh.ListRepositories(ctx, connect.NewRequest(req))
		requireCode(t, err, connect.CodeInvalidArgument)
	}
	vc := e.installation("org_a", types.Vercel, "icfg_x", "tok", nil)
	_, err = c.gh.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: vc.ID}))
	requireCode(t, err, connect.CodeInvalidArgument)
	_, err = c.gh.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: ids.New()}))
	requireCode(t, err, connect.CodeNotFound)
}

func TestDetectConfig(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 2)
	e.sim.SetGitHubFile(t, repos[0].FullName, "", ".lightfast.yml", "version: 1\n")
	e.sim.SetGitHubFile(t, repos[1].FullName, "other-branch", "lightfast.yml", "version: 1\n")

	resp, err := c.gh.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_Repository_{
		Repository: &consolev1.DetectConfigRequest_Repository{InstallationId: inst.ID, FullName: repos[0].FullName},
	}}))
	require.NoError(t, err)
	require.True(t, resp.Msg.GetFound())
	require.Equal(t, ".lightfast.yml", resp.Msg.GetPath())
	require.Equal(t, "version: 1\n", resp.Msg.GetContent())

	// Linked: the result is recorded in sync_config. A file on another branch does not count.
	ws := e.workspace("org_a", "w")
	linked, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: []*consolev1.GitHubRepository{{Id: repos[0].ID}, {Id: repos[1].ID}},
	}))
	require.NoError(t, err)
	for i, want := range []consolev1.ConfigStatus{consolev1.ConfigStatus_CONFIG_STATUS_CONFIGURED, consolev1.ConfigStatus_CONFIG_STATUS_AWAITING_CONFIG} {
		id := linked.Msg.GetIntegrations()[i].GetId()
		resp, err := c.gh.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_IntegrationId{IntegrationId: id}}))
		require.NoError(t, err)
		require.Equal(t, i == 0, resp.Msg.GetFound())
		got, err := e.q.GetIntegration(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, map[string]consolev1.ConfigStatus{
			types.ConfigStatusConfigured: consolev1.ConfigStatus_CONFIG_STATUS_CONFIGURED, types.ConfigStatusAwaitingConfig: consolev1.ConfigStatus_CONFIG_STATUS_AWAITING_CONFIG,
		}[got.SyncConfig.ConfigStatus])
		require.Equal(t, resp.Msg.GetPath(), got.SyncConfig.ConfigPath)
		require.NotNil(t, got.SyncConfig.LastConfigCheck)
		require.Equal(t, types.DefaultEvents[types.GitHub], got.SyncConfig.Events, "other sync_config keys are untouched")
	}

	for _, req := range []*consolev1.DetectConfigRequest{
		{},
		{Target: &consolev1.DetectConfigRequest_IntegrationId{}},
		{Target: &consolev1.DetectConfigRequest_Repository_{Repository: &consolev1.DetectConfigRequest_Repository{InstallationId: inst.ID, FullName: "no-slash"}}},
		{Target: &consolev1.DetectConfigRequest_Repository_{Repository: &consolev1.DetectConfigRequest_Repository{InstallationId: inst.ID, FullName: "a/b/c"}}},
	} {
		_, err := c.gh.DetectConfig(ctx, connect.NewRequest(req))
		requireCode(t, err, connect.CodeInvalidArgument)
	}
	// A Vercel integration is not a repository.
	vcInst := e.installation("org_a", types.Vercel, "icfg_d", "tok", nil)
	vcInteg, err := e.q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: vcInst.ID, Provider: types.Vercel, ProviderResourceID: "prj", ResourceName: "p",
		SyncConfig: types.DefaultSyncConfig(types.Vercel),
	})
	require.NoError(t, err)
	_, err = c.gh.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_IntegrationId{IntegrationId: vcInteg.ID}}))
	requireCode(t, err, connect.CodeInvalidArgument)
}

func TestVercelLinearSentryLookups(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	vcInst, vc := e.vercel("org_a", 3)
	lnInst, _ := e.linear("org_a", 3)
	seInst, se := e.sentry("org_a", 3)

	conn, err := c.vc.GetVercelConnection(ctx, connect.NewRequest(&consolev1.GetVercelConnectionRequest{}))
	require.NoError(t, err)
	require.Equal(t, vcInst.ID, conn.Msg.GetConnection().GetInstallationId())
	require.Equal(t, vc.TeamID, conn.Msg.GetConnection().GetVercel().GetTeamId())
	_, err = c.vc.GetVercelConnection(ctx, connect.NewRequest(&consolev1.GetVercelConnectionRequest{InstallationId: lnInst.ID}))
	requireCode(t, err, connect.CodeInvalidArgument)

	// Every page goes through the simulator, which refuses a team token without teamId.
	var projects []string
	cursor := ""
	for {
		resp, err := c.vc.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: vcInst.ID, PageSize: 2, Cursor: cursor}))
		require.NoError(t, err)
		for _, p := range resp.Msg.GetProjects() {
			projects = append(projects, p.GetId())
		}
		if cursor = resp.Msg.GetNextCursor(); cursor == "" {
			break
		}
	}
	require.Len(t, projects, 3)
	_, err = c.vc.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: vcInst.ID, Cursor: "x"}))
	requireCode(t, err, connect.CodeInvalidArgument)

	teams, err := c.ln.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: lnInst.ID, PageSize: 2}))
	require.NoError(t, err)
	require.Len(t, teams.Msg.GetTeams(), 2)
	require.NotEmpty(t, teams.Msg.GetNextCursor())
	teams, err = c.ln.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: lnInst.ID, PageSize: 2, Cursor: teams.Msg.GetNextCursor()}))
	require.NoError(t, err)
	require.Len(t, teams.Msg.GetTeams(), 1)
	require.Empty(t, teams.Msg.GetNextCursor())

	sp, err := c.se.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: seInst.ID, PageSize: 2}))
	require.NoError(t, err)
	require.Len(t, sp.Msg.GetProjects(), 2)
	require.Equal(t, se.OrgSlug, sp.Msg.GetProjects()[0].GetOrgSlug())
	sp, err = c.se.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: seInst.ID, PageSize: 2, Cursor: sp.Msg.GetNextCursor()}))
	require.NoError(t, err)
	require.Len(t, sp.Msg.GetProjects(), 1)
	require.Empty(t, sp.Msg.GetNextCursor())

	// A revoked connection is not used.
	_, err = e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: seInst.ID, Status: "revoked"})
	require.NoError(t, err)
	_, err = c.se.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: seInst.ID}))
	requireCode(t, err, connect.CodeFailedPrecondition)
	_, err = c.ln.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: vcInst.ID}))
	requireCode(t, err, connect.CodeInvalidArgument)
}
