package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
)

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)

	_, err := q.GetInstallation(ctx, "missing")
	require.ErrorIs(t, db.Interpret(err), db.ErrNotFound)
	require.True(t, db.IsNotFound(err))

	_, err = q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "o", Name: "a", Slug: "dup"})
	require.NoError(t, err)
	_, err = q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "o", Name: "b", Slug: "dup"})
	var ce *db.ConstraintError
	require.ErrorAs(t, db.Interpret(err), &ce)
	require.Equal(t, db.UniqueViolation, ce.Kind)
	require.Equal(t, "org_workspaces_clerk_org_id_slug_key", ce.Constraint)
	require.True(t, db.IsConstraint(err, db.UniqueViolation, "org_workspaces_clerk_org_id_slug_key"))

	_, err = q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: ids.New(), InstallationID: "nope", AccessToken: "x"})
	require.True(t, db.IsConstraint(err, db.ForeignKeyViolation, "lightfast_gw_tokens_installation_id_fkey"), "%v", err)

	_, err = pool.Exec(ctx, `INSERT INTO lightfast_gw_installations (id, provider, external_id, connected_by, org_id, status) VALUES ('i', 'gitlab', 'x', 'u', 'o', 'active')`)
	require.True(t, db.IsConstraint(err, db.CheckViolation, ""), "%v", err)
	require.False(t, db.IsConstraint(err, db.UniqueViolation, ""))
}

func TestWithTxRollsBackOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	boom := errors.New("boom")
	err := db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := dbq.New(tx).CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "o", Name: "n", Slug: "s"})
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	rows, err := dbq.New(pool).ListWorkspacesByOrg(ctx, "o")
	require.NoError(t, err)
	require.Empty(t, rows)

	require.NoError(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := dbq.New(tx).CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "o", Name: "n", Slug: "s"})
		return err
	}))
	rows, err = dbq.New(pool).ListWorkspacesByOrg(ctx, "o")
	require.NoError(t, err)
	require.Len(t, rows, 1)
}
