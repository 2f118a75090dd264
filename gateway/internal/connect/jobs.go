package connect

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
)

// StateCleanupInterval is how often expired connect states are deleted. They are refused once expired
// whatever their age; the cleanup only keeps the table small.
const StateCleanupInterval = 10 * time.Minute

// StateCleanupWorker runs jobs.OAuthStateCleanup.
type StateCleanupWorker struct {
	river.WorkerDefaults[jobs.OAuthStateCleanup]
	pool *pgxpool.Pool
}

// NewStateCleanupWorker returns the worker for pool.
func NewStateCleanupWorker(pool *pgxpool.Pool) *StateCleanupWorker {
	return &StateCleanupWorker{pool: pool}
}

// Work deletes every expired state.
func (w *StateCleanupWorker) Work(ctx context.Context, _ *river.Job[jobs.OAuthStateCleanup]) error {
	if _, err := dbq.New(w.pool).DeleteExpiredOAuthStates(ctx); err != nil {
		return fmt.Errorf("delete expired oauth states: %w", err)
	}
	return nil
}

// Register adds the connect flow's workers.
func Register(workers *river.Workers, pool *pgxpool.Pool) {
	river.AddWorker(workers, NewStateCleanupWorker(pool))
}

// PeriodicJobs are the connect flow's periodic jobs.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(StateCleanupInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.OAuthStateCleanup{}, nil },
		nil,
	)}
}
