package pending_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/pending"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
)

type bundle struct {
	pool *pgxpool.Pool
	q    *dbq.Queries
	jobs *river.Client[pgx.Tx]
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	jobs, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	return bundle{pool: pool, q: dbq.New(pool), jobs: jobs}
}

// installation writes an installation of org connected by user with status and deadline, and a token.
func (b bundle) installation(t *testing.T, org, user, status string, deadline *time.Time) dbq.Installation {
	t.Helper()
	ctx := context.Background()
	inst, err := b.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Sentry, ExternalID: ids.New(), ConnectedBy: user, OrgID: org,
		Status: &status, PendingExpiresAt: deadline,
	})
	require.NoError(t, err)
	_, err = b.q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: ids.New(), InstallationID: inst.ID, AccessToken: "v1:k:x"})
	require.NoError(t, err)
	return inst
}

func (b bundle) confirm(t *testing.T, id, org, user string, now time.Time) pending.Result {
	t.Helper()
	ctx := context.Background()
	var res pending.Result
	require.NoError(t, db.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		var err error
		res, err = pending.Confirm(ctx, tx, b.jobs, id, org, user, now)
		return err
	}))
	return res
}

func (b bundle) revokeJobs(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'installation.revoke'`).Scan(&n))
	return n
}

func TestConfirmOutcomes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	soon, past := now.Add(time.Minute), now.Add(-time.Second)
	for name, tc := range map[string]struct {
		status     string
		deadline   *time.Time
		org, user  string
		want       pending.Outcome
		wantStatus string
	}{
		"the user who started it":      {types.InstallationPending, &soon, "org_a", "u1", pending.Confirmed, types.InstallationActive},
		"another org":                  {types.InstallationPending, &soon, "org_b", "u1", pending.Refused, types.InstallationRevoked},
		"a colleague":                  {types.InstallationPending, &soon, "org_a", "u2", pending.Refused, types.InstallationRevoked},
		"too late":                     {types.InstallationPending, &past, "org_a", "u1", pending.Refused, types.InstallationRevoked},
		"no deadline":                  {types.InstallationPending, nil, "org_a", "u1", pending.Refused, types.InstallationRevoked},
		"active and theirs (a reload)": {types.InstallationActive, nil, "org_a", "u1", pending.AlreadyActive, types.InstallationActive},
		"active, somebody else's":      {types.InstallationActive, nil, "org_b", "u9", pending.NotFound, types.InstallationActive},
		"in error":                     {types.InstallationError, nil, "org_a", "u1", pending.NotFound, types.InstallationError},
		"revoked":                      {types.InstallationRevoked, nil, "org_a", "u1", pending.NotFound, types.InstallationRevoked},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			inst := b.installation(t, "org_a", "u1", tc.status, tc.deadline)
			res := b.confirm(t, inst.ID, tc.org, tc.user, now)
			require.Equal(t, tc.want, res.Outcome)
			got, err := b.q.GetInstallation(context.Background(), inst.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, got.Status)
			if tc.want == pending.Refused {
				require.Equal(t, teardown.ReasonUnconfirmed, *got.StatusReason)
				require.Equal(t, 1, b.revokeJobs(t))
			} else {
				require.Zero(t, b.revokeJobs(t))
			}
			if tc.want == pending.Confirmed {
				require.Nil(t, got.PendingExpiresAt)
			}
		})
	}
	b := setup(t)
	require.Equal(t, pending.NotFound, b.confirm(t, "no-such-id", "org_a", "u1", now).Outcome)
}

func TestExpireDueRemovesOnlyExpiredPendingConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	now := time.Now()
	past, soon := now.Add(-time.Second), now.Add(time.Minute)
	expired := []string{
		b.installation(t, "org_a", "u1", types.InstallationPending, &past).ID,
		b.installation(t, "org_b", "u2", types.InstallationPending, &past).ID,
	}
	waiting := b.installation(t, "org_a", "u1", types.InstallationPending, &soon).ID
	active := b.installation(t, "org_a", "u1", types.InstallationActive, nil).ID

	n, err := pending.ExpireDue(ctx, b.pool, b.jobs, nil, now, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the limit holds")
	n, err = pending.ExpireDue(ctx, b.pool, b.jobs, nil, now, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for _, id := range expired {
		got, err := b.q.GetInstallation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, types.InstallationRevoked, got.Status)
	}
	require.Equal(t, 2, b.revokeJobs(t))
	for id, status := range map[string]string{waiting: types.InstallationPending, active: types.InstallationActive} {
		got, err := b.q.GetInstallation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, status, got.Status)
	}
	n, err = pending.ExpireDue(ctx, b.pool, b.jobs, nil, now, 10)
	require.NoError(t, err)
	require.Zero(t, n)
}
