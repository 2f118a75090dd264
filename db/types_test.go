package db_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
)

// Each typed jsonb column survives a write and a read through the generated queries unchanged, and nil
// maps and slices are stored as {} and [].

func newInstallation(t *testing.T, q *dbq.Queries, info *types.ProviderAccountInfo, meta types.Object) dbq.Installation {
	t.Helper()
	inst, err := q.UpsertInstallation(context.Background(), dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: info.SourceType, ExternalID: ids.New(), ConnectedBy: "user_1", OrgID: "org_1",
		Metadata: meta, ProviderAccountInfo: info,
	})
	require.NoError(t, err)
	return inst
}

func rawColumn(t *testing.T, pool *pgxpool.Pool, query string, args ...any) string {
	t.Helper()
	var raw string
	require.NoError(t, pool.QueryRow(context.Background(), query, args...).Scan(&raw))
	return raw
}

func TestProviderAccountInfoRoundTrip(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)
	now := time.Now().UTC().Truncate(time.Second)

	for _, info := range []*types.ProviderAccountInfo{
		types.NewGitHubAccountInfo(types.GitHubAccountInfo{Installations: []types.GitHubInstallation{{
			ID: 42, AccountID: 7, AccountLogin: "octo-org", AccountType: "Organization", AvatarURL: "https://a/x.png",
			Permissions: map[string]string{"contents": "read"}, InstalledAt: &now, LastValidatedAt: &now,
		}}}),
		types.NewVercelAccountInfo(types.VercelAccountInfo{UserID: "u1", TeamID: "team_1", TeamSlug: "acme", ConfigurationID: "icfg_1"}),
		types.NewLinearAccountInfo(types.LinearAccountInfo{OrganizationID: "o1", OrganizationName: "Acme", URLKey: "acme"}),
		types.NewSentryAccountInfo(types.SentryAccountInfo{InstallationUUID: "uuid-1", OrgSlug: "acme"}),
	} {
		t.Run(string(info.SourceType), func(t *testing.T) {
			inst := newInstallation(t, q, info, types.Object{"k": "v"})
			got, err := q.GetInstallation(context.Background(), inst.ID)
			require.NoError(t, err)
			require.Equal(t, info, got.ProviderAccountInfo)
			require.Equal(t, types.Object{"k": "v"}, got.Metadata)

			raw := rawColumn(t, pool, `SELECT provider_account_info::text FROM lightfast_gw_installations WHERE id = $1`, inst.ID)
			var tag map[string]any
			require.NoError(t, json.Unmarshal([]byte(raw), &tag))
			require.EqualValues(t, 1, tag["version"])
			require.Equal(t, string(info.SourceType), tag["sourceType"])
		})
	}

	t.Run("nil collections", func(t *testing.T) {
		inst := newInstallation(t, q, types.NewGitHubAccountInfo(types.GitHubAccountInfo{Installations: []types.GitHubInstallation{{ID: 1}}}), nil)
		require.Equal(t, "{}", rawColumn(t, pool, `SELECT metadata::text FROM lightfast_gw_installations WHERE id = $1`, inst.ID))
		raw := rawColumn(t, pool, `SELECT provider_account_info->'installations'->0->>'permissions' FROM lightfast_gw_installations WHERE id = $1`, inst.ID)
		require.Equal(t, "{}", raw)
		empty := newInstallation(t, q, types.NewGitHubAccountInfo(types.GitHubAccountInfo{}), nil)
		require.Equal(t, "[]", rawColumn(t, pool, `SELECT provider_account_info->>'installations' FROM lightfast_gw_installations WHERE id = $1`, empty.ID))
	})
}

func TestIntegrationColumnsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)
	inst := newInstallation(t, q, types.NewGitHubAccountInfo(types.GitHubAccountInfo{}), nil)
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "org_1", Name: "W", Slug: "w"})
	require.NoError(t, err)
	require.Equal(t, "{}", rawColumn(t, pool, `SELECT settings::text FROM lightfast_org_workspaces WHERE id = $1`, ws.ID))

	now := time.Now().UTC().Truncate(time.Second)
	metas := []*types.ResourceMeta{
		types.NewGitHubResourceMeta(types.GitHubResourceMeta{InstallationID: 42, RepoID: 9, RepoName: "r", RepoFullName: "o/r", DefaultBranch: "main", IsPrivate: true}),
		types.NewVercelResourceMeta(types.VercelResourceMeta{ProjectID: "prj_1", ProjectName: "web", TeamID: "team_1", ConfigurationID: "icfg"}),
		types.NewLinearResourceMeta(types.LinearResourceMeta{TeamID: "t1", TeamKey: "ENG", TeamName: "Engineering"}),
		types.NewSentryResourceMeta(types.SentryResourceMeta{ProjectID: "11", ProjectSlug: "api", OrgSlug: "acme"}),
	}
	for i, meta := range metas {
		sync := types.SyncConfig{Events: []string{"push"}, AutoSync: true, ConfigStatus: "found", ConfigPath: "lightfast.yml", LastConfigCheck: &now}
		in, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
			ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: meta.SourceType,
			ProviderResourceID: string(rune('a' + i)), ResourceName: "res", ResourceMeta: meta, SyncConfig: sync,
		})
		require.NoError(t, err)
		got, err := q.GetIntegration(ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, meta, got.ResourceMeta)
		require.Equal(t, []string{"push"}, got.SyncConfig.Events)
		require.Equal(t, &now, got.SyncConfig.LastConfigCheck)
		require.Equal(t, types.BackfillIdle, got.BackfillState.Status, "column default")
		// nil branches / paths were written as [].
		require.Equal(t, "[]", rawColumn(t, pool, `SELECT sync_config->>'branches' FROM lightfast_workspace_integrations WHERE id = $1`, in.ID))
	}

	total := int64(10)
	state := types.BackfillState{Status: types.BackfillRunning, StartedAt: &now,
		Checkpoint: &types.BackfillCheckpoint{EntityType: "pull_request", Cursor: "page=3"},
		Progress:   types.BackfillProgress{Processed: 4, Total: &total}}
	var id string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM lightfast_workspace_integrations LIMIT 1`).Scan(&id))
	_, err = pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET backfill_state = $2 WHERE id = $1`, id, state)
	require.NoError(t, err)
	got, err := q.GetIntegration(ctx, id)
	require.NoError(t, err)
	require.Equal(t, state, got.BackfillState)

	actor := &types.Actor{ID: "1", Login: "octocat"}
	obsID, err := q.InsertObservation(ctx, dbq.InsertObservationParams{
		ID: ids.New(), WorkspaceID: ws.ID, IntegrationID: &id, Provider: types.GitHub, SourceType: "push",
		SourceID: "github:push:1", Title: "t", Actor: actor, OccurredAt: now,
	})
	require.NoError(t, err)
	rows, err := q.ListObservations(ctx, dbq.ListObservationsParams{WorkspaceID: ws.ID, Lim: 10})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, obsID, rows[0].ID)
	require.Equal(t, actor, rows[0].Actor)
	require.Equal(t, "{}", rawColumn(t, pool, `SELECT metadata::text FROM lightfast_workspace_observations WHERE id = $1`, obsID))

	_, err = q.InsertDelivery(ctx, dbq.InsertDeliveryParams{ID: ids.New(), Provider: types.GitHub, DeliveryID: "d1", EventType: "push", Status: "received", Payload: []byte(`{}`)})
	require.NoError(t, err)
	require.Equal(t, "{}", rawColumn(t, pool, `SELECT headers::text FROM lightfast_gw_webhook_deliveries WHERE delivery_id = 'd1'`))
}

func TestUpsertInstallationMergesMetadataAndRefusesAnotherOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := dbq.New(dbtest.NewPool(t))
	info := types.NewLinearAccountInfo(types.LinearAccountInfo{OrganizationID: "o1"})
	first, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Linear, ExternalID: "o1", ConnectedBy: "u", OrgID: "org_a",
		Metadata: types.Object{"a": "1"}, ProviderAccountInfo: info,
	})
	require.NoError(t, err)
	again, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Linear, ExternalID: "o1", ConnectedBy: "u2", OrgID: "org_a",
		Metadata: types.Object{"b": "2"}, ProviderAccountInfo: info,
	})
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "the conflict updates the existing row")
	require.Equal(t, types.Object{"a": "1", "b": "2"}, again.Metadata)

	_, err = q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Linear, ExternalID: "o1", ConnectedBy: "u3", OrgID: "org_b",
		ProviderAccountInfo: info,
	})
	require.True(t, db.IsNotFound(err), "an installation active in another org is not taken over: %v", err)
	got, err := q.GetInstallation(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, "org_a", got.OrgID)
}

// TestGitHubIDsAreNumericStrings: GitHub ids in resource_meta and provider_account_info are written as
// numeric strings (the seed's shape) and read back from a string or a number alike; a value that is
// neither is an error naming the field.
func TestGitHubIDsAreNumericStrings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)
	inst := newInstallation(t, q, types.NewGitHubAccountInfo(types.GitHubAccountInfo{Installations: []types.GitHubInstallation{{ID: 42, AccountID: 7}}}), nil)
	require.Equal(t, "string string", rawColumn(t, pool, `SELECT jsonb_typeof(provider_account_info->'installations'->0->'id') || ' ' ||
		jsonb_typeof(provider_account_info->'installations'->0->'accountId') FROM lightfast_gw_installations WHERE id = $1`, inst.ID))
	require.Equal(t, `"42"`, rawColumn(t, pool, `SELECT (provider_account_info->'installations'->0->'id')::text FROM lightfast_gw_installations WHERE id = $1`, inst.ID))

	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "org_1", Name: "W", Slug: "w"})
	require.NoError(t, err)
	written, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub, ProviderResourceID: "186853002", ResourceName: "o/r",
		ResourceMeta: types.NewGitHubResourceMeta(types.GitHubResourceMeta{InstallationID: 42, RepoID: 186853002, RepoFullName: "o/r"}),
	})
	require.NoError(t, err)
	require.Equal(t, `"42" "186853002"`, rawColumn(t, pool, `SELECT (resource_meta->'installationId')::text || ' ' || (resource_meta->'repoId')::text
		FROM lightfast_workspace_integrations WHERE id = $1`, written.ID))

	want := types.GitHubResourceMeta{InstallationID: 42, RepoID: 186853002, RepoName: "r", RepoFullName: "o/r", DefaultBranch: "main"}
	for name, raw := range map[string]string{
		"strings (the seed's shape)": `{"version":1,"sourceType":"github","installationId":"42","repoId":"186853002","repoName":"r","repoFullName":"o/r","defaultBranch":"main"}`,
		"numbers":                    `{"version":1,"sourceType":"github","installationId":42,"repoId":186853002,"repoName":"r","repoFullName":"o/r","defaultBranch":"main"}`,
	} {
		_, err := pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = $2::jsonb WHERE id = $1`, written.ID, raw)
		require.NoError(t, err)
		got, err := q.GetIntegration(ctx, written.ID)
		require.NoError(t, err, name)
		require.Equal(t, want, *got.ResourceMeta.GitHub, name)
	}
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_installations SET provider_account_info = '{"version":1,"sourceType":"github","installations":[{"id":42,"accountId":"7"}]}' WHERE id = $1`, inst.ID)
	require.NoError(t, err)
	got, err := q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, int64(42), got.ProviderAccountInfo.GitHub.Installations[0].ID)
	require.Equal(t, int64(7), got.ProviderAccountInfo.GitHub.Installations[0].AccountID)

	for _, bad := range []string{`true`, `{"x":1}`, `"12a"`, `1.5`, `""`} {
		var m types.ResourceMeta
		err := json.Unmarshal([]byte(`{"version":1,"sourceType":"github","repoId":`+bad+`}`), &m)
		require.ErrorContains(t, err, "resource_meta: ", bad)
		require.ErrorContains(t, err, "repoId", bad)
	}
}
