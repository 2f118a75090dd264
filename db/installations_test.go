package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
)

// Only a revoked installation moves to another org: UpsertInstallation leaves one that is pending, active
// or in error in another org untouched (no row), and the connect callback reports installation_claimed.
func TestUpsertInstallationMovesOnlyARevokedOneToAnotherOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := dbq.New(dbtest.NewPool(t))
	for _, status := range []string{types.InstallationPending, types.InstallationActive, types.InstallationError, types.InstallationRevoked} {
		t.Run(status, func(t *testing.T) {
			external := ids.New()
			first, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
				ID: ids.New(), Provider: types.Linear, ExternalID: external, ConnectedBy: "u1", OrgID: "org_a", Status: &status,
			})
			require.NoError(t, err)
			require.Equal(t, status, first.Status)
			pendingStatus, deadline := types.InstallationPending, time.Now().Add(time.Minute)
			moved, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
				ID: ids.New(), Provider: types.Linear, ExternalID: external, ConnectedBy: "u2", OrgID: "org_b",
				Status: &pendingStatus, PendingExpiresAt: &deadline,
			})
			got, gerr := q.GetInstallation(ctx, first.ID)
			require.NoError(t, gerr)
			if status != types.InstallationRevoked {
				require.True(t, db.IsNotFound(err), "a %s installation stays in its org: %v", status, err)
				require.Equal(t, first, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, first.ID, moved.ID)
			require.Equal(t, "org_b", got.OrgID)
			require.Equal(t, types.InstallationPending, got.Status)
			require.NotNil(t, got.PendingExpiresAt)
		})
	}
}
