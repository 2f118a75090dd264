// Package retention is the delivery.retention periodic job: the delivery log keeps payloads of settled
// deliveries for DELIVERY_PAYLOAD_RETENTION and rows for DELIVERY_RETENTION. Dead-lettered deliveries
// keep their payload (replay needs it) until their row's time is up; deliveries still in flight
// (received) are never touched.
package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
)

// Interval is how often the job runs.
const Interval = time.Hour

// batch bounds the rows one statement changes, so a run never holds many locks or one long transaction.
const batch = 5000

// Policy is how long things are kept.
type Policy struct {
	PayloadRetention time.Duration // DELIVERY_PAYLOAD_RETENTION
	RowRetention     time.Duration // DELIVERY_RETENTION
}

// Register adds the retention worker.
func Register(workers *river.Workers, pool *pgxpool.Pool, p Policy, log *zap.Logger) {
	river.AddWorker(workers, &Worker{pool: pool, policy: p, log: log})
}

// PeriodicJobs schedules the job hourly (and at start).
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(Interval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.DeliveryRetention{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)}
}

// Worker runs jobs.DeliveryRetention.
type Worker struct {
	river.WorkerDefaults[jobs.DeliveryRetention]
	pool   *pgxpool.Pool
	policy Policy
	log    *zap.Logger
}

// Work applies the policy once.
func (w *Worker) Work(ctx context.Context, _ *river.Job[jobs.DeliveryRetention]) error {
	res, err := Apply(ctx, w.pool, w.policy, time.Now())
	if err != nil {
		return err
	}
	w.log.Info("delivery retention", zap.Int64("payloads_dropped", res.PayloadsDropped), zap.Int64("rows_deleted", res.RowsDeleted))
	return nil
}

// Result counts what a run changed.
type Result struct {
	PayloadsDropped int64
	RowsDeleted     int64
}

// Apply drops payloads and deletes rows older than the policy allows, as of now.
func Apply(ctx context.Context, pool *pgxpool.Pool, p Policy, now time.Time) (Result, error) {
	q := dbq.New(pool)
	var res Result
	for {
		n, err := q.DropDeliveryPayloads(ctx, dbq.DropDeliveryPayloadsParams{Before: now.Add(-p.PayloadRetention), MaxRows: batch})
		if err != nil {
			return res, fmt.Errorf("retention: drop payloads: %w", db.Interpret(err))
		}
		res.PayloadsDropped += n
		if n < batch {
			break
		}
	}
	for {
		n, err := q.DeleteOldDeliveries(ctx, dbq.DeleteOldDeliveriesParams{Before: now.Add(-p.RowRetention), MaxRows: batch})
		if err != nil {
			return res, fmt.Errorf("retention: delete rows: %w", db.Interpret(err))
		}
		res.RowsDeleted += n
		if n < batch {
			break
		}
	}
	return res, nil
}
