// Package stranded is the delivery.sweep periodic job (SPEC §7): it dead-letters deliveries left
// `received` after their job is gone.
//
// A delivery is settled by its job (webhook.process in the console, webhook.lifecycle here), which writes
// the delivery's status in the transaction that completes it, or records the failure after each attempt.
// When the last attempt dies with its worker (SIGKILL, OOM), River rescues the job after JOB_RESCUE_AFTER
// and, its attempts spent, discards it, and nobody writes the delivery's status: it would stay `received`
// forever, invisible to the DLQ. The same happens when a failure could not be recorded, or when River's
// job cleaner has deleted a finished job. The sweep finds such deliveries (received, older than a grace
// period, whose newest job is missing or finalized) and moves them to `dlq` with a last_error that says
// why.
//
// Dead-lettering rather than re-queuing: a delivery whose every attempt took its worker down is the likely
// cause of the crashes, and re-queuing it automatically would repeat them; in the DLQ it is visible and the
// operator replays it (POST /admin/dlq/replay) once the cause is fixed, which gives it a fresh job.
package stranded

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
)

// Interval is how often the sweep runs.
const Interval = 5 * time.Minute

// GraceAfterRescue is added to JOB_RESCUE_AFTER to make the grace period: only deliveries received
// longer ago than that are looked at, so a job that is being rescued is never raced.
const GraceAfterRescue = 5 * time.Minute

const (
	// batch bounds the rows one statement looks at and locks.
	batch = 500
	// maxScan bounds the candidates one run looks at, so a large backlog of deliveries still waiting
	// for their (live) jobs costs each run a bounded amount of work; the next run starts again from the
	// oldest, which is what the workers drain first.
	maxScan = 20 * batch
)

// deliveryKinds are the job kinds that settle a delivery; their args carry deliveryId.
var deliveryKinds = []string{jobs.WebhookProcess{}.Kind(), jobs.WebhookLifecycle{}.Kind()}

// Register adds the sweep worker. grace is how old a received delivery must be to be looked at
// (JOB_RESCUE_AFTER + GraceAfterRescue in the gateway). reg receives the counter (may be nil).
func Register(workers *river.Workers, pool *pgxpool.Pool, grace time.Duration, reg prometheus.Registerer, log *zap.Logger) {
	w := &Worker{pool: pool, grace: grace, log: log, swept: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_deliveries_stranded_total",
		Help: "Deliveries left received after their job was gone, dead-lettered by the delivery.sweep job.",
	}, []string{"provider"})}
	if reg != nil {
		reg.MustRegister(w.swept)
	}
	river.AddWorker(workers, w)
}

// PeriodicJobs schedules the sweep every Interval (and at start).
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(Interval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.DeliverySweep{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)}
}

// Worker runs jobs.DeliverySweep.
type Worker struct {
	river.WorkerDefaults[jobs.DeliverySweep]
	pool  *pgxpool.Pool
	grace time.Duration
	log   *zap.Logger
	swept *prometheus.CounterVec
}

// Work sweeps once.
func (w *Worker) Work(ctx context.Context, _ *river.Job[jobs.DeliverySweep]) error {
	swept, err := Sweep(ctx, w.pool, time.Now().Add(-w.grace))
	for _, d := range swept {
		w.swept.WithLabelValues(string(d.Provider)).Inc()
		w.log.Warn("stranded delivery dead-lettered", zap.String("delivery_id", d.ID), zap.String("provider", string(d.Provider)),
			zap.String("event_type", d.EventType), zap.String("reason", d.Reason))
	}
	return err
}

// Swept is one delivery the sweep dead-lettered.
type Swept struct {
	ID        string
	Provider  types.Provider
	EventType string
	Reason    string // what became of its job
}

// deadLetter moves the given candidates that are still received and have no live job to dlq, skipping
// rows another transaction holds (a worker settling one, a replay, another replica's sweep). River's
// tables are not in sqlc's schema, so the statement lives here. Only the newest job of a delivery
// counts: a replay retries that one, or inserts a fresh one when it is gone.
const deadLetter = `
UPDATE lightfast_gw_webhook_deliveries d
SET status = 'dlq', processed_at = now(),
    last_error = 'stranded: ' || s.reason || ' but the delivery was never settled (its last attempt died with its worker, or its failure was not recorded); replay it with POST /admin/dlq/replay'
FROM (
    SELECT c.id, CASE WHEN j.state IS NULL THEN 'its job is gone' ELSE 'its job ended ' || j.state END AS reason
    FROM lightfast_gw_webhook_deliveries c
    LEFT JOIN LATERAL (
        SELECT rj.state::text AS state FROM river_job rj
        WHERE rj.kind = ANY($2::text[]) AND rj.args @> jsonb_build_object('deliveryId', c.id::text)
        ORDER BY rj.id DESC LIMIT 1
    ) j ON true
    WHERE c.id = ANY($1::text[]) AND c.status = 'received'
      AND (j.state IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'))
    FOR UPDATE OF c SKIP LOCKED
) s
WHERE d.id = s.id
RETURNING d.id, d.provider, d.event_type, s.reason`

// Sweep dead-letters the stranded deliveries received before `before`, in batches, looking at no more
// than maxScan candidates. It returns what it dead-lettered, also when it stops on an error.
func Sweep(ctx context.Context, pool *pgxpool.Pool, before time.Time) ([]Swept, error) {
	var (
		out     []Swept
		afterAt time.Time // zero: from the oldest
		afterID string
	)
	for scanned := 0; scanned < maxScan; {
		candidates, err := dbq.New(pool).ListReceivedBefore(ctx, dbq.ListReceivedBeforeParams{
			Before: before, AfterAt: afterAt, AfterID: afterID, MaxRows: batch,
		})
		if err != nil {
			return out, fmt.Errorf("sweep stranded deliveries: %w", db.Interpret(err))
		}
		if len(candidates) == 0 {
			return out, nil
		}
		scanned += len(candidates)
		last := candidates[len(candidates)-1]
		afterAt, afterID = last.ReceivedAt, last.ID
		ids := make([]string, len(candidates))
		for i, c := range candidates {
			ids[i] = c.ID
		}
		rows, err := pool.Query(ctx, deadLetter, ids, deliveryKinds)
		if err != nil {
			return out, fmt.Errorf("sweep stranded deliveries: %w", db.Interpret(err))
		}
		swept, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Swept, error) {
			var s Swept
			return s, r.Scan(&s.ID, &s.Provider, &s.EventType, &s.Reason)
		})
		if err != nil {
			return out, fmt.Errorf("sweep stranded deliveries: %w", db.Interpret(err))
		}
		out = append(out, swept...)
		if len(candidates) < batch {
			return out, nil
		}
	}
	return out, nil
}
