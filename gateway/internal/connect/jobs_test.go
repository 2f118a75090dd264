package connect_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/connect"
)

func TestStateCleanupDeletesOnlyExpiredStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	fresh, err := oauthstate.CreateState(ctx, pool, types.GitHub, "org_a", "user_1", "")
	require.NoError(t, err)
	expired, err := oauthstate.CreateState(ctx, pool, types.GitHub, "org_a", "user_1", "")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_oauth_states SET expires_at = now() - interval '1 second' WHERE state_hash = $1`,
		oauthstate.Hash(expired))
	require.NoError(t, err)

	require.NoError(t, connect.NewStateCleanupWorker(pool).Work(ctx, &river.Job[jobs.OAuthStateCleanup]{}))

	_, err = oauthstate.Peek(ctx, pool, types.GitHub, fresh)
	require.NoError(t, err)
	_, err = oauthstate.Peek(ctx, pool, types.GitHub, expired)
	require.ErrorIs(t, err, oauthstate.ErrNotFound, "the expired state is gone")
	require.Len(t, connect.PeriodicJobs(), 2, "state cleanup and the pending sweep")
}
