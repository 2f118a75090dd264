package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func list(v ...string) *consolev1.StringList { return &consolev1.StringList{Values: v} }

// vercelProjects lists a Vercel connection's projects through the API, as a page would before linking.
func vercelProjects(t *testing.T, c clients, installationID string) []*consolev1.VercelProject {
	t.Helper()
	resp, err := c.vc.ListProjects(context.Background(), connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: installationID}))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Msg.GetProjects())
	return resp.Msg.GetProjects()
}

func repeat(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestLinkSeedsSyncConfigAndListsResourceMeta: a new link starts with the SPEC's defaults (for GitHub the
// repository's default branch and every path), and every listed integration carries its resource_meta and
// sync_config.
func TestLinkSeedsSyncConfigAndListsResourceMeta(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, gh, repos := e.github("org_a", 1)
	vc, _ := e.vercel("org_a", 1)
	ws := e.workspace("org_a", "w")
	_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
	}))
	require.NoError(t, err)
	_, err = c.integ.BulkLinkVercelProjects(ctx, connect.NewRequest(&consolev1.BulkLinkVercelProjectsRequest{
		WorkspaceId: ws.ID, InstallationId: vc.ID, Projects: vercelProjects(t, c, vc.ID),
	}))
	require.NoError(t, err)

	resp, err := c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws.ID}))
	require.NoError(t, err)
	got := resp.Msg.GetIntegrations()
	require.Len(t, got, 2)

	ghCfg := got[0].GetSyncConfig()
	require.Equal(t, types.DefaultEvents[types.GitHub], ghCfg.GetEvents())
	require.Equal(t, []string{"main"}, ghCfg.GetBranches(), "the repository's default branch")
	require.Equal(t, []string{"**/*"}, ghCfg.GetPaths())
	require.True(t, ghCfg.GetAutoSync())
	meta := got[0].GetResourceMeta().GetGithub()
	require.NotNil(t, meta)
	require.Equal(t, strconv.FormatInt(repos[0].ID, 10), meta.GetRepoId())
	require.Equal(t, strconv.FormatInt(gh.ID, 10), meta.GetInstallationId())
	require.Equal(t, repos[0].FullName, meta.GetRepoFullName())
	require.Equal(t, "main", meta.GetDefaultBranch())

	vcCfg := got[1].GetSyncConfig()
	require.Equal(t, []string{"deployment"}, vcCfg.GetEvents())
	require.Empty(t, vcCfg.GetBranches())
	require.Empty(t, vcCfg.GetPaths())
	require.True(t, vcCfg.GetAutoSync())
	require.Equal(t, got[1].GetProviderResourceId(), got[1].GetResourceMeta().GetVercel().GetProjectId())

	row, err := e.q.GetIntegration(ctx, got[0].GetId())
	require.NoError(t, err)
	require.Equal(t, []string{"main"}, row.SyncConfig.Branches, "stored, not only shown")
	require.Equal(t, []string{types.AllPaths}, row.SyncConfig.Paths)
}

func TestUpdateSyncConfig(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	d := seedOrg(t, e, "org_a")
	// A config status recorded meanwhile survives the update.
	_, err := e.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET sync_config = sync_config || '{"configStatus":"configured","configPath":"lightfast.yml"}' WHERE id = $1`, d.integ)
	require.NoError(t, err)

	autoSync := false
	resp, err := c.integ.UpdateSyncConfig(ctx, connect.NewRequest(&consolev1.UpdateSyncConfigRequest{
		IntegrationId: d.integ, Branches: list("main", "release/**", "main"), AutoSync: &autoSync,
	}))
	require.NoError(t, err)
	cfg := resp.Msg.GetIntegration().GetSyncConfig()
	require.Equal(t, []string{"main", "release/**"}, cfg.GetBranches(), "repeats dropped")
	require.False(t, cfg.GetAutoSync())
	require.Equal(t, types.DefaultEvents[types.GitHub], cfg.GetEvents(), "unset fields keep their values")
	require.Equal(t, []string{"**/*"}, cfg.GetPaths())
	require.Equal(t, consolev1.ConfigStatus_CONFIG_STATUS_CONFIGURED, cfg.GetConfigStatus())

	resp, err = c.integ.UpdateSyncConfig(ctx, connect.NewRequest(&consolev1.UpdateSyncConfigRequest{
		IntegrationId: d.integ, Events: list("push", "release"), Paths: list("src/**/*.go", "docs/*"),
	}))
	require.NoError(t, err)
	require.Equal(t, []string{"push", "release"}, resp.Msg.GetIntegration().GetSyncConfig().GetEvents(), "the answer carries the saved settings")
	row, err := e.q.GetIntegration(ctx, d.integ)
	require.NoError(t, err)
	require.Equal(t, []string{"push", "release"}, row.SyncConfig.Events)
	require.Equal(t, []string{"src/**/*.go", "docs/*"}, row.SyncConfig.Paths)
	require.Equal(t, []string{"main", "release/**"}, row.SyncConfig.Branches)
	require.False(t, row.SyncConfig.AutoSync)
	require.Equal(t, "lightfast.yml", row.SyncConfig.ConfigPath)

	// An empty list clears a rule: every branch.
	resp, err = c.integ.UpdateSyncConfig(ctx, connect.NewRequest(&consolev1.UpdateSyncConfigRequest{IntegrationId: d.integ, Branches: list()}))
	require.NoError(t, err)
	require.Empty(t, resp.Msg.GetIntegration().GetSyncConfig().GetBranches())
	row, err = e.q.GetIntegration(ctx, d.integ)
	require.NoError(t, err)
	require.Equal(t, []string{}, row.SyncConfig.Branches)
}

// TestUpdateSyncConfigBadInput: every refused request is InvalidArgument (NotFound for an unknown id) and
// writes nothing.
func TestUpdateSyncConfigBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	d := seedOrg(t, e, "org_a")
	ws := e.workspace("org_a", "vercel-ws")
	vcInst, _ := e.vercel("org_a", 1)
	vc, err := c.integ.BulkLinkVercelProjects(ctx, connect.NewRequest(&consolev1.BulkLinkVercelProjectsRequest{
		WorkspaceId: ws.ID, InstallationId: vcInst.ID, Projects: vercelProjects(t, c, vcInst.ID),
	}))
	require.NoError(t, err)
	vcInteg := vc.Msg.GetIntegrations()[0].GetId()
	before := e.snapshot()

	on := true
	cases := map[string]*consolev1.UpdateSyncConfigRequest{
		"no integration id":       {Events: list("push")},
		"nothing to change":       {IntegrationId: d.integ},
		"unknown event":           {IntegrationId: d.integ, Events: list("push", "deployment")},
		"too many events":         {IntegrationId: d.integ, Events: list(repeat(types.MaxSyncEvents+1, func(int) string { return "push" })...)},
		"too many branches":       {IntegrationId: d.integ, Branches: list(repeat(types.MaxSyncBranches+1, func(i int) string { return "b" + strconv.Itoa(i) })...)},
		"too many paths":          {IntegrationId: d.integ, Paths: list(repeat(types.MaxSyncPaths+1, func(i int) string { return "p" + strconv.Itoa(i) })...)},
		"pattern too long":        {IntegrationId: d.integ, Paths: list(strings.Repeat("a", types.MaxSyncPatternLen+1))},
		"empty pattern":           {IntegrationId: d.integ, Branches: list("main", "")},
		"unclosed class":          {IntegrationId: d.integ, Paths: list("src/[abc")},
		"unclosed alternatives":   {IntegrationId: d.integ, Branches: list("{main,dev")},
		"newline in a pattern":    {IntegrationId: d.integ, Branches: list("main\nx")},
		"valid glob with bad one": {IntegrationId: d.integ, Paths: list("**/*", "[")},
		"branches on vercel":      {IntegrationId: vcInteg, Branches: list("main")},
		"paths on vercel":         {IntegrationId: vcInteg, Paths: list("**"), AutoSync: &on},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.integ.UpdateSyncConfig(ctx, connect.NewRequest(req))
			requireCode(t, err, connect.CodeInvalidArgument)
		})
	}
	_, err = c.integ.UpdateSyncConfig(ctx, connect.NewRequest(&consolev1.UpdateSyncConfigRequest{IntegrationId: "no-such-id", AutoSync: &on}))
	requireCode(t, err, connect.CodeNotFound)
	require.Equal(t, before, e.snapshot(), "nothing written")
}
