package teardown_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
)

func TestRevokeTearsDownEverythingInOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	cache := routing.New(redis, pool, prefix)
	q := dbq.New(pool)

	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: "777", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewGitHubAccountInfo(types.GitHubAccountInfo{}),
	})
	require.NoError(t, err)
	_, err = q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: ids.New(), InstallationID: inst.ID, AccessToken: "v1:k:x"})
	require.NoError(t, err)
	_, err = q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: "55"})
	require.NoError(t, err)
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "o", Name: "W", Slug: "w"})
	require.NoError(t, err)
	integ, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub,
		ProviderResourceID: "55", ResourceName: "a/b", SyncConfig: types.DefaultSyncConfig(types.GitHub),
	})
	require.NoError(t, err)
	cache.PutInstallation(ctx, types.GitHub, "777", inst.ID)
	cache.PutResource(ctx, types.GitHub, "55", inst.ID)

	var res teardown.Result
	require.NoError(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		res, err = teardown.Revoke(ctx, tx, types.GitHub, inst.ID, teardown.ReasonDisconnected)
		return err
	}))
	teardown.DropRoutes(ctx, cache, res)
	require.Equal(t, "revoked", res.Installation.Status)
	require.Equal(t, []string{"55"}, res.ResourceIDs)
	require.EqualValues(t, 1, res.DeactivatedIntegrations)

	_, err = q.GetTokenByInstallation(ctx, inst.ID)
	require.True(t, db.IsNotFound(err), "tokens deleted")
	resources, err := q.ListResourcesByInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "removed", resources[0].Status)
	got, err := q.GetIntegration(ctx, integ.ID)
	require.NoError(t, err)
	require.False(t, got.IsActive)
	_, src, err := cache.ResolveResource(ctx, types.GitHub, "55")
	require.NoError(t, err)
	require.Equal(t, routing.NotFound, src)
	_, src, err = cache.ResolveInstallation(ctx, types.GitHub, "777")
	require.NoError(t, err)
	require.Equal(t, routing.NotFound, src)

	// Again: nothing more to do, still fine.
	require.NoError(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		res, err = teardown.Revoke(ctx, tx, types.GitHub, inst.ID, teardown.ReasonDisconnected)
		return err
	}))
	require.Zero(t, res.DeactivatedIntegrations)
}

func TestRevokeUnknownOrWrongProviderIsNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Vercel, ExternalID: "icfg_1", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewVercelAccountInfo(types.VercelAccountInfo{ConfigurationID: "icfg_1"}),
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		p  types.Provider
		id string
	}{{types.Vercel, ids.New()}, {types.GitHub, inst.ID}} {
		err := db.WithTx(ctx, pool, func(tx pgx.Tx) error {
			_, err := teardown.Revoke(ctx, tx, tc.p, tc.id, teardown.ReasonDisconnected)
			return err
		})
		require.True(t, db.IsNotFound(err), "%v", err)
	}
	got, err := q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "active", got.Status)
}

// RevokeLater tears down like Revoke but keeps the token for the installation.revoke job it enqueues in
// the same transaction; a rolled-back transaction enqueues nothing, and a revoked installation nothing more.
func TestRevokeLaterKeepsTheTokenForTheRevokeJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)
	inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: types.Linear, ExternalID: "lin", ConnectedBy: "u", OrgID: "o"})
	require.NoError(t, err)
	_, err = q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: ids.New(), InstallationID: inst.ID, AccessToken: "v1:k:x"})
	require.NoError(t, err)
	jobsFor := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'installation.revoke' AND queue = 'gateway'
			AND args->>'installationId' = $1`, inst.ID).Scan(&n))
		return n
	}

	rollback := errors.New("rolled back")
	err = db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := teardown.RevokeLater(ctx, tx, inserter, types.Linear, inst.ID, teardown.ReasonDisconnected); err != nil {
			return err
		}
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	require.Zero(t, jobsFor(), "the job belongs to the teardown's transaction")

	require.NoError(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		res, err := teardown.RevokeLater(ctx, tx, inserter, types.Linear, inst.ID, teardown.ReasonDisconnected)
		require.False(t, res.AlreadyRevoked)
		return err
	}))
	require.Equal(t, 1, jobsFor())
	got, err := q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, types.InstallationRevoked, got.Status)
	_, err = q.GetTokenByInstallation(ctx, inst.ID)
	require.NoError(t, err, "the token waits for the job")

	require.NoError(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		res, err := teardown.RevokeLater(ctx, tx, inserter, types.Linear, inst.ID, teardown.ReasonDisconnected)
		require.True(t, res.AlreadyRevoked)
		return err
	}))
	require.Equal(t, 1, jobsFor(), "revoking a revoked installation enqueues nothing")
	require.Error(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := teardown.RevokeLater(ctx, tx, nil, types.Linear, inst.ID, teardown.ReasonDisconnected)
		return err
	}), "no job client")
}
