package api_test

import (
	"context"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestSecurityUnreadableIntegrationIsListedApart: a workspace with one integration whose resource_meta
// holds GitHub ids as numeric strings (the seed's shape), one with numbers, and one malformed. ListSources
// and FindByGithubRepoId answer with the readable two and list the third apart with its reason instead of
// failing; calls that need the malformed row are FailedPrecondition and write nothing; it can still be
// unlinked, which is how it is repaired (link again).
func TestSecurityUnreadableIntegrationIsListedApart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	bf := e.backfillClient(token(t, "user_org_a", "org_a", "admin"))
	inst, _, repos := e.github("org_a", 3)
	ws := e.workspace("org_a", "w")
	linked, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID, repos[1].ID, repos[2].ID),
	}))
	require.NoError(t, err)
	ids := []string{}
	for _, in := range linked.Msg.GetIntegrations() {
		ids = append(ids, in.GetId())
	}
	seedShape, numbers, bad := ids[0], ids[1], ids[2]
	var kind string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT jsonb_typeof(resource_meta->'repoId') FROM lightfast_workspace_integrations WHERE id = $1`, seedShape).Scan(&kind))
	require.Equal(t, "string", kind, "links write GitHub ids as numeric strings")
	_, err = e.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = jsonb_set(jsonb_set(resource_meta,
		'{repoId}', to_jsonb((resource_meta->>'repoId')::bigint)), '{installationId}', to_jsonb((resource_meta->>'installationId')::bigint)) WHERE id = $1`, numbers)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = resource_meta || '{"repoId": true}' WHERE id = $1`, bad)
	require.NoError(t, err)

	list, err := c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws.ID}))
	require.NoError(t, err)
	var listed []string // one transaction linked them: same created_at, so the order is by id
	for _, in := range list.Msg.GetIntegrations() {
		listed = append(listed, in.GetId())
	}
	require.ElementsMatch(t, []string{seedShape, numbers}, listed)
	require.Len(t, list.Msg.GetUnreadable(), 1)
	u := list.Msg.GetUnreadable()[0]
	require.Equal(t, bad, u.GetId())
	require.Equal(t, consolev1.Provider_PROVIDER_GITHUB, u.GetProvider())
	require.Equal(t, strconv.FormatInt(repos[2].ID, 10), u.GetProviderResourceId())
	require.Equal(t, repos[2].FullName, u.GetResourceName())
	require.Contains(t, u.GetReason(), "resource_meta: ")
	require.Contains(t, u.GetReason(), "repoId")

	// The M2M lookup reads both shapes and lists the malformed one apart too.
	src := e.as(m2mKey).src
	found, err := src.FindByGithubRepoId(ctx, connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repos[1].ID}))
	require.NoError(t, err)
	require.Len(t, found.Msg.GetSources(), 1)
	require.Equal(t, numbers, found.Msg.GetSources()[0].GetId())
	found, err = src.FindByGithubRepoId(ctx, connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repos[2].ID}))
	require.NoError(t, err)
	require.Empty(t, found.Msg.GetSources())
	require.Equal(t, bad, found.Msg.GetUnreadable()[0].GetId())

	before := e.snapshot()
	_, err = c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: bad, Events: []string{"push"}}))
	requireCode(t, err, connect.CodeFailedPrecondition)
	_, err = bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: bad}))
	requireCode(t, err, connect.CodeFailedPrecondition)
	require.Equal(t, before, e.snapshot(), "nothing written")

	_, err = c.integ.UnlinkIntegration(ctx, connect.NewRequest(&consolev1.UnlinkIntegrationRequest{IntegrationId: bad}))
	require.NoError(t, err)
	relinked, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[2].ID),
	}))
	require.NoError(t, err)
	list, err = c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws.ID}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetIntegrations(), 3)
	require.Empty(t, list.Msg.GetUnreadable())
	row, err := e.q.GetIntegration(ctx, relinked.Msg.GetIntegrations()[0].GetId())
	require.NoError(t, err)
	require.Equal(t, repos[2].ID, row.ResourceMeta.GitHub.RepoID)
	require.Equal(t, types.GitHub, row.Provider)
}
