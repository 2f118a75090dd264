package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/migrations"
	"github.com/lightfastai/connections/db/types"
)

// TestDocumentCountRecount: rows written before 000007, whose document_count missed backfilled
// observations (or counted wrongly), are recounted from workspace_observations by migrating up.
func TestDocumentCountRecount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, url)
	// Roll back to just before 000007, whatever later migrations exist.
	downTo(t, url, 6) // just before 000007

	q := dbq.New(pool)
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "org_1", Name: "W", Slug: "w"})
	require.NoError(t, err)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: types.GitHub, ExternalID: "1", ConnectedBy: "u", OrgID: "org_1"})
	require.NoError(t, err)
	integration := func(resource string, count int) string {
		in, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID,
			Provider: types.GitHub, ProviderResourceID: resource, ResourceName: resource, SyncConfig: types.DefaultSyncConfig(types.GitHub)})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET document_count = $2 WHERE id = $1`, in.ID, count)
		require.NoError(t, err)
		return in.ID
	}
	undercounted := integration("1", 2) // 2 by webhooks, 3 more by a backfill
	overcounted := integration("2", 9)  // none left
	for i := range 5 {
		id := undercounted
		_, err := q.InsertObservation(ctx, dbq.InsertObservationParams{ID: ids.New(), WorkspaceID: ws.ID, IntegrationID: &id,
			Provider: types.GitHub, SourceType: "push", SourceID: "github:push:" + string(rune('a'+i)), Title: "t", OccurredAt: time.Now()})
		require.NoError(t, err)
	}

	require.NoError(t, migrations.Up(ctx, url))
	for id, want := range map[string]int32{undercounted: 5, overcounted: 0} {
		in, err := q.GetIntegration(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, in.DocumentCount)
	}
}
