package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestCreateWorkspaceWithResources is the seed's workspaceAccess.create: the workspace, its integrations,
// their routes and backfills in one call, through the same link path as the BulkLink procedures.
func TestCreateWorkspaceWithResources(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 3)

	resp, err := c.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{
		Name: "Acme", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID,
			ResourceIds:    []string{strconv.FormatInt(repos[2].ID, 10), strconv.FormatInt(repos[0].ID, 10)},
			StartBackfill:  true,
		},
	}))
	require.NoError(t, err)
	ws := resp.Msg.GetWorkspace()
	require.Equal(t, "acme", ws.GetSlug())
	got := resp.Msg.GetIntegrations()
	require.Len(t, got, 2)
	require.Equal(t, strconv.FormatInt(repos[2].ID, 10), got[0].GetProviderResourceId(), "in request order")
	for _, in := range got {
		require.Equal(t, ws.GetId(), in.GetWorkspaceId())
		require.Equal(t, []string{"main"}, in.GetSyncConfig().GetBranches(), "link defaults")
		require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_PENDING, in.GetBackfill().GetStatus())
		_, src, err := e.cache.ResolveResource(ctx, types.GitHub, in.GetProviderResourceId())
		require.NoError(t, err)
		require.Equal(t, routing.FromCache, src, "routed at once")
	}
	rows, err := e.q.ListIntegrationsByWorkspace(ctx, ws.GetId())
	require.NoError(t, err)
	require.Len(t, rows, 2)
	n, _ := e.backfillJobs()
	require.Equal(t, 2, n)
	sources, err := c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws.GetId()}))
	require.NoError(t, err)
	require.Len(t, sources.Msg.GetIntegrations(), 2)
}

// TestCreateWorkspaceWithResourcesIsAllOrNothing: when a resource cannot be linked, or the slug is taken,
// no workspace, integration, resource or job is written.
func TestCreateWorkspaceWithResourcesIsAllOrNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 2)
	other, _, _ := e.github("org_b", 1)
	e.workspace("org_a", "taken")
	before := e.snapshot()
	good := strconv.FormatInt(repos[0].ID, 10)

	cases := []struct {
		name string
		req  *consolev1.CreateWorkspaceRequest
		code connect.Code
	}{
		{"unreachable repository", &consolev1.CreateWorkspaceRequest{Name: "A", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID, ResourceIds: []string{good, "123456789"}}}, connect.CodeNotFound},
		{"slug taken", &consolev1.CreateWorkspaceRequest{Name: "Taken", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID, ResourceIds: []string{good}}}, connect.CodeAlreadyExists},
		{"another org's connection", &consolev1.CreateWorkspaceRequest{Name: "B", Resources: &consolev1.WorkspaceResources{
			InstallationId: other.ID, ResourceIds: []string{good}}}, connect.CodeNotFound},
		{"no connection", &consolev1.CreateWorkspaceRequest{Name: "C", Resources: &consolev1.WorkspaceResources{
			ResourceIds: []string{good}}}, connect.CodeInvalidArgument},
		{"no resources", &consolev1.CreateWorkspaceRequest{Name: "D", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID}}, connect.CodeInvalidArgument},
		{"too many resources", &consolev1.CreateWorkspaceRequest{Name: "E", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID, ResourceIds: repeat(101, func(i int) string { return strconv.Itoa(i + 1) })}}, connect.CodeInvalidArgument},
		{"bad backfill options", &consolev1.CreateWorkspaceRequest{Name: "F", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID, ResourceIds: []string{good}, StartBackfill: true,
			BackfillOptions: &consolev1.BackfillOptions{EntityTypes: []string{"deployment"}}}}, connect.CodeInvalidArgument},
		{"bad name", &consolev1.CreateWorkspaceRequest{Name: " ", Resources: &consolev1.WorkspaceResources{
			InstallationId: inst.ID, ResourceIds: []string{good}}}, connect.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ws.CreateWorkspace(ctx, connect.NewRequest(tc.req))
			requireCode(t, err, tc.code)
		})
	}
	require.Equal(t, before, e.snapshot(), "nothing written")
	_, src, err := e.cache.ResolveResource(ctx, types.GitHub, good)
	require.NoError(t, err)
	require.Equal(t, routing.NotFound, src, "no route was written")
}

func TestResolveFromGitHubOrgSlug(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 1)
	linked := e.workspace("org_a", "linked")
	e.workspace("org_a", "empty")
	_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: linked.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
	}))
	require.NoError(t, err)
	login := *inst.AccountLogin

	resp, err := c.ws.ResolveFromGitHubOrgSlug(ctx, connect.NewRequest(&consolev1.ResolveFromGitHubOrgSlugRequest{GithubOrgSlug: strings.ToUpper(login)}))
	require.NoError(t, err)
	require.Len(t, resp.Msg.GetWorkspaces(), 1, "logins match without regard to case")
	require.Equal(t, linked.ID, resp.Msg.GetWorkspaces()[0].GetId())

	// Another org asking for the same login sees none of org_a's workspaces.
	resp, err = e.admin("org_b").ws.ResolveFromGitHubOrgSlug(ctx, connect.NewRequest(&consolev1.ResolveFromGitHubOrgSlugRequest{GithubOrgSlug: login}))
	require.NoError(t, err)
	require.Empty(t, resp.Msg.GetWorkspaces())

	for _, bad := range []string{"", "-starts-with-dash", "has space", strings.Repeat("a", 40), "a/b"} {
		_, err := c.ws.ResolveFromGitHubOrgSlug(ctx, connect.NewRequest(&consolev1.ResolveFromGitHubOrgSlugRequest{GithubOrgSlug: bad}))
		requireCode(t, err, connect.CodeInvalidArgument)
	}
}

// TestListConnectionsShowsErrorConnections: a connection that fell into error stays listed with its
// reason, so a page can offer Reconnect; pending and revoked ones are not listed.
func TestListConnectionsShowsErrorConnections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	active := e.installation("org_a", types.Linear, "lin_a", "tok", nil)
	broken := e.installation("org_a", types.Vercel, "icfg_b", "tok", nil)
	reason := "reauth_required"
	_, err := e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: broken.ID, Status: "error", StatusReason: &reason})
	require.NoError(t, err)
	for _, status := range []string{"pending", "revoked"} {
		in := e.installation("org_a", types.Sentry, "se_"+status, "tok", nil)
		_, err := e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: in.ID, Status: status})
		require.NoError(t, err)
	}

	resp, err := e.admin("org_a").conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	got := map[string]*consolev1.Connection{}
	for _, cn := range resp.Msg.GetConnections() {
		got[cn.GetInstallationId()] = cn
	}
	require.Len(t, got, 2)
	require.Equal(t, consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE, got[active.ID].GetStatus())
	require.Equal(t, consolev1.ConnectionStatus_CONNECTION_STATUS_ERROR, got[broken.ID].GetStatus())
	require.Equal(t, "reauth_required", got[broken.ID].GetStatusReason())
}

// TestValidateInstallationsRefreshesPermissions: the permissions GitHub granted the stored token (its
// scope, as the gateway records it at mint) are written with lastValidatedAt and exposed; permissions an
// accepted-permissions event recorded after that mint are newer and kept.
func TestValidateInstallationsRefreshesPermissions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, _ := e.github("org_a", 1)
	granted := map[string]string{"contents": "read", "issues": "write", "metadata": "read"}
	_, err := e.pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET scope = $2, updated_at = now() WHERE installation_id = $1`,
		inst.ID, types.FormatGitHubPermissions(granted))
	require.NoError(t, err)

	resp, err := c.gh.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: inst.ID}))
	require.NoError(t, err)
	in := resp.Msg.GetConnection().GetGithub().GetInstallations()[0]
	require.Equal(t, granted, in.GetPermissions())
	require.WithinDuration(t, time.Now(), in.GetLastValidatedAt().AsTime(), 5*time.Second)
	stored, err := e.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, granted, stored.ProviderAccountInfo.GitHub.Installations[0].Permissions)
	listed, err := c.gh.GetInstallations(ctx, connect.NewRequest(&consolev1.GetInstallationsRequest{InstallationId: inst.ID}))
	require.NoError(t, err)
	require.Equal(t, granted, listed.Msg.GetConnections()[0].GetGithub().GetInstallations()[0].GetPermissions())

	// An event recorded newer permissions after the token was minted: validating keeps them.
	info := *stored.ProviderAccountInfo.GitHub
	newer := time.Now().Add(time.Minute).UTC()
	info.Installations[0].Permissions = map[string]string{"contents": "write"}
	info.Installations[0].LastValidatedAt = &newer
	_, err = e.q.SetInstallationAccountInfo(ctx, dbq.SetInstallationAccountInfoParams{ID: inst.ID, ProviderAccountInfo: types.NewGitHubAccountInfo(info)})
	require.NoError(t, err)
	resp, err = c.gh.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: inst.ID}))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"contents": "write"}, resp.Msg.GetConnection().GetGithub().GetInstallations()[0].GetPermissions())
}
