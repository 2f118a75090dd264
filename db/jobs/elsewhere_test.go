package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/jobs"
)

// A River client that works only the gateway queue is the leader while a console's webhook.process job
// is stuck in "running" (its console was killed). With the console's kinds registered as Elsewhere it
// rescues the job for the console to run again; without them River discards it, and the delivery would
// never be processed.
func TestLeaderRescuesTheOtherServicesStuckJobs(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		register func(*river.Workers) error
		want     []string
	}{
		"with the console's kinds":    {jobs.AddConsoleKinds, []string{"retryable", "available"}},
		"without the console's kinds": {func(*river.Workers) error { return nil }, []string{"discarded"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := dbtest.NewPool(t)
			inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
			require.NoError(t, err)
			res, err := inserter.Insert(ctx, jobs.WebhookProcess{DeliveryID: "d1"}, nil)
			require.NoError(t, err)
			// As a console killed mid-job leaves it.
			_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour',
				attempted_by = ARRAY['killed-console'] WHERE id = $1`, res.Job.ID)
			require.NoError(t, err)

			workers := river.NewWorkers()
			require.NoError(t, c.register(workers))
			river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[jobs.TokenRefreshAhead]) error { return nil }))
			leader, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{
				Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
				RescueStuckJobsAfter: time.Second, JobTimeout: time.Second,
				Workers: workers, Queues: map[string]river.QueueConfig{jobs.QueueGateway: {MaxWorkers: 1}},
			})
			require.NoError(t, err)
			require.NoError(t, leader.Start(ctx))
			t.Cleanup(func() { _ = leader.Stop(context.WithoutCancel(ctx)) })

			var state string
			require.Eventually(t, func() bool {
				require.NoError(t, pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state))
				return state != "running"
			}, 20*time.Second, 20*time.Millisecond, "the leader never rescued the job")
			require.Contains(t, c.want, state)
		})
	}
}
