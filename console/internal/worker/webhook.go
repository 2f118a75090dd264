package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
)

// Delivery statuses (gw_webhook_deliveries.status).
const (
	StatusReceived  = "received"
	StatusDelivered = "delivered"
	StatusIgnored   = "ignored"
	StatusUnrouted  = "unrouted"
	StatusDLQ       = "dlq"
)

// maxErrorLen caps last_error; errors here name what failed, never payload bytes or secrets.
const maxErrorLen = 1000

// WebhookWorker is webhook.process (SPEC §6.3): one delivery becomes observations in every active
// integration of its resource that allows the event. The observations, the delivery's new status and
// the job's completion commit in one transaction, so a retry, a rescue after a crash or a replay never
// writes a fact twice (and source ids make a second write a no-op anyway).
type WebhookWorker struct {
	river.WorkerDefaults[jobs.WebhookProcess]

	pool    *pgxpool.Pool
	metrics *Metrics
	log     *zap.Logger
	now     func() time.Time

	// beforeComplete runs inside the transaction after the writes and before the job is completed; tests
	// use it to crash there.
	beforeComplete func(ctx context.Context) error
}

// NewWebhookWorker returns the webhook.process worker. metrics may be nil.
func NewWebhookWorker(pool *pgxpool.Pool, metrics *Metrics, log *zap.Logger) *WebhookWorker {
	return &WebhookWorker{pool: pool, metrics: metrics, log: log, now: time.Now}
}

// result is what one successful run did, for metrics and logs after the commit.
type result struct {
	provider   types.Provider
	event      string
	outcome    string
	inserted   int
	receivedAt time.Time
}

// errDeliveryGone marks a job whose delivery row no longer exists (retention deleted it).
var errDeliveryGone = errors.New("delivery not found")

// Work implements river.Worker.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[jobs.WebhookProcess]) (err error) {
	var res result
	defer func() {
		// A panic must reach the dead-letter bookkeeping below like any other failure.
		if p := recover(); p != nil {
			err = w.failed(ctx, job, res, fmt.Errorf("panic: %v", p))
		}
	}()
	res, err = w.process(ctx, job)
	if err != nil {
		return w.failed(ctx, job, res, err)
	}
	if res.outcome == "" {
		return nil // already processed by an earlier run, or unrouted: nothing new happened
	}
	w.metrics.outcome(res.provider, res.event, res.outcome)
	if res.outcome == OutcomeProcessed {
		w.metrics.committed(res.provider, res.inserted, res.receivedAt, w.now())
	}
	return nil
}

// failed records a failed attempt on the delivery and returns what River should do with the job.
func (w *WebhookWorker) failed(ctx context.Context, job *river.Job[jobs.WebhookProcess], res result, err error) error {
	if errors.Is(err, errDeliveryGone) {
		return river.JobCancel(err)
	}
	// An unreadable payload stays unreadable: dead-letter it now rather than after every retry.
	permanent := errors.Is(err, transform.ErrInvalidPayload)
	dead := permanent || job.Attempt >= job.MaxAttempts
	msg := err.Error()
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	// The job's own context may be what failed (timeout, shutdown); the bookkeeping must still land.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := dbq.New(w.pool).RecordDeliveryFailure(bctx, dbq.RecordDeliveryFailureParams{
		ID: job.Args.DeliveryID, LastError: &msg, Dead: dead,
	}); rerr != nil {
		w.log.Error("record delivery failure", zap.String("delivery", job.Args.DeliveryID), zap.Error(rerr))
	}
	outcome := OutcomeFailed
	if dead {
		outcome = OutcomeDLQ
	}
	w.metrics.outcome(res.provider, res.event, outcome)
	w.log.Warn("webhook delivery failed", zap.String("delivery", job.Args.DeliveryID),
		zap.Int("attempt", job.Attempt), zap.Int("max_attempts", job.MaxAttempts), zap.Bool("dead", dead), zap.Error(err))
	if permanent {
		return river.JobCancel(err)
	}
	return err
}

func (w *WebhookWorker) process(ctx context.Context, job *river.Job[jobs.WebhookProcess]) (result, error) {
	var res result
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		res = result{}
		q := dbq.New(tx)
		d, err := q.LockDeliveryForProcessing(ctx, job.Args.DeliveryID)
		if err != nil {
			if db.IsNotFound(err) {
				return errDeliveryGone
			}
			return fmt.Errorf("load delivery: %w", db.Interpret(err))
		}
		res.provider, res.event, res.receivedAt = d.Provider, transform.BaseEvent(d.EventType), d.ReceivedAt
		switch d.Status {
		case StatusDelivered, StatusIgnored, StatusUnrouted:
			// Done before (a duplicate job), or never routed: only the job is left to finish.
			return w.complete(ctx, tx, job)
		}
		status, inserted, err := w.apply(ctx, tx, q, d)
		if err != nil {
			return err
		}
		if err := q.SetDeliveryStatus(ctx, dbq.SetDeliveryStatusParams{ID: d.ID, Status: status}); err != nil {
			return fmt.Errorf("set delivery status: %w", db.Interpret(err))
		}
		res.inserted = inserted
		res.outcome = OutcomeIgnored
		if status == StatusDelivered {
			res.outcome = OutcomeProcessed
		}
		return w.complete(ctx, tx, job)
	})
	return res, err
}

// complete finishes the job inside tx: the job is completed exactly when the transaction commits.
func (w *WebhookWorker) complete(ctx context.Context, tx pgx.Tx, job *river.Job[jobs.WebhookProcess]) error {
	if w.beforeComplete != nil {
		if err := w.beforeComplete(ctx); err != nil {
			return err
		}
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete job: %w", err)
	}
	return nil
}

// apply does the delivery's work inside the transaction and returns the status it ends in and the
// number of observation rows written.
func (w *WebhookWorker) apply(ctx context.Context, tx pgx.Tx, q *dbq.Queries, d dbq.Delivery) (string, int, error) {
	if d.InstallationID == nil || d.ProviderResourceID == nil {
		return StatusIgnored, 0, nil
	}
	integrations, err := q.ListActiveIntegrationsForResource(ctx, dbq.ListActiveIntegrationsForResourceParams{
		InstallationID: *d.InstallationID, ProviderResourceID: *d.ProviderResourceID,
	})
	if err != nil {
		return "", 0, fmt.Errorf("list integrations: %w", db.Interpret(err))
	}
	if len(integrations) == 0 {
		return StatusIgnored, 0, nil
	}
	configChanged := false
	if d.Provider == types.GitHub && transform.BaseEvent(d.EventType) == "push" {
		if configChanged, err = w.pushConfig(ctx, tx, q, d, integrations); err != nil {
			return "", 0, err
		}
	}
	var allowed []dbq.Integration
	for _, in := range integrations {
		if allows(in.SyncConfig, d.EventType) {
			allowed = append(allowed, in)
		}
	}
	if len(allowed) == 0 {
		return statusFor(configChanged, false), 0, nil
	}
	obs, err := transform.Transform(transform.Input{
		Provider: d.Provider, EventType: d.EventType, Payload: d.Payload, ReceivedAt: d.ReceivedAt,
	})
	if err != nil {
		return "", 0, err
	}
	if len(obs) == 0 {
		return statusFor(configChanged, false), 0, nil
	}
	added := make(map[string]int, len(allowed))
	total := 0
	for _, in := range allowed {
		n, err := insertObservations(ctx, q, in, d, obs)
		if err != nil {
			return "", 0, err
		}
		added[in.ID] = n
		total += n
	}
	// Counters last: the integration row locks are held for as short a time as possible.
	for _, in := range allowed {
		if n := added[in.ID]; n > 0 {
			if err := q.AddIntegrationDocuments(ctx, dbq.AddIntegrationDocumentsParams{ID: in.ID, Added: int32(n)}); err != nil {
				return "", 0, fmt.Errorf("count documents: %w", db.Interpret(err))
			}
		}
	}
	return StatusDelivered, total, nil
}

func statusFor(configChanged, observed bool) string {
	if configChanged || observed {
		return StatusDelivered
	}
	return StatusIgnored
}

// allows reports whether sync_config lets the event through. The allow-list names events without their
// action ("pull_request", "deployment", "Issue") or with it ("deployment.succeeded").
func allows(cfg types.SyncConfig, eventType string) bool {
	return cfg.Allows(eventType) || cfg.Allows(transform.BaseEvent(eventType))
}

func insertObservations(ctx context.Context, q *dbq.Queries, in dbq.Integration, d dbq.Delivery, obs []transform.Observation) (int, error) {
	inserted := 0
	for _, o := range obs {
		_, err := q.InsertObservation(ctx, dbq.InsertObservationParams{
			ID:            ids.New(),
			WorkspaceID:   in.WorkspaceID,
			IntegrationID: &in.ID,
			Provider:      d.Provider,
			SourceType:    o.SourceType,
			SourceID:      o.SourceID,
			Title:         o.Title,
			Body:          nonEmpty(o.Body),
			Actor:         o.Actor,
			Url:           nonEmpty(o.URL),
			OccurredAt:    o.OccurredAt,
			Metadata:      o.Metadata,
			DeliveryID:    &d.ID,
		})
		switch {
		case err == nil:
			inserted++
		case db.IsNotFound(err):
			// The fact is already recorded in this workspace (a retry, or a backfill got there first).
		default:
			return 0, fmt.Errorf("insert observation: %w", db.Interpret(err))
		}
	}
	return inserted, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
