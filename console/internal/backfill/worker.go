package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
)

// Config tunes the Worker. Zero values take the defaults.
type Config struct {
	// RunTimeout bounds one run of a backfill.run job (River's per-job timeout). A run works for half of
	// it, then saves its place and yields (snoozes for 0 s) so long backfills share the workers and a run
	// never outlives its timeout. Set it no higher than JOB_RESCUE_AFTER: River does not rescue a job
	// before its timeout has passed, so a crashed run is picked up after max(RunTimeout, rescue horizon).
	// Default 60 s.
	RunTimeout time.Duration
	// TokenRetry is how long a run snoozes when the vault's token has expired (the Gateway refreshes
	// tokens ahead, so it is only behind for a moment). Default 30 s.
	TokenRetry time.Duration
	// MaxSnooze caps a rate-limit snooze, in case a provider names a reset far away. Default 1 h.
	MaxSnooze time.Duration
	// PageSize is the number of items asked for per page (providers cap it: GitHub, Vercel and Sentry at
	// 100, Linear at 250). Default 100.
	PageSize int
}

func (c Config) withDefaults() Config {
	if c.RunTimeout <= 0 {
		c.RunTimeout = 60 * time.Second
	}
	if c.TokenRetry <= 0 {
		c.TokenRetry = 30 * time.Second
	}
	if c.MaxSnooze <= 0 {
		c.MaxSnooze = time.Hour
	}
	if c.PageSize <= 0 {
		c.PageSize = 100
	}
	return c
}

// Worker runs backfill.run jobs (queue backfill).
type Worker struct {
	river.WorkerDefaults[jobs.BackfillRun]
	pool    *pgxpool.Pool
	keyring *secrets.Keyring
	api     *providerapi.Clients
	log     *zap.Logger
	cfg     Config
}

// NewWorker returns the backfill.run worker. It reads tokens from the vault with keyring and calls the
// providers through api.
func NewWorker(pool *pgxpool.Pool, keyring *secrets.Keyring, api *providerapi.Clients, log *zap.Logger, cfg Config) *Worker {
	return &Worker{pool: pool, keyring: keyring, api: api, log: log.Named("backfill"), cfg: cfg.withDefaults()}
}

// DefaultWorkers is how many backfills one Console process runs at once: each is a long sequence of
// provider calls, so a few at a time keeps the providers' rate limits for everything else.
const DefaultWorkers = 2

// Register adds w to workers and the backfill queue to queues.
func Register(workers *river.Workers, queues map[string]river.QueueConfig, w *Worker) error {
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return fmt.Errorf("register backfill worker: %w", err)
	}
	queues[jobs.QueueBackfill] = river.QueueConfig{MaxWorkers: DefaultWorkers}
	return nil
}

// Timeout implements river.Worker: one run's time limit.
func (w *Worker) Timeout(*river.Job[jobs.BackfillRun]) time.Duration { return w.cfg.RunTimeout }

// errStopped is a page write that found the backfill no longer running for this job: it was cancelled
// (or replaced by a newer backfill) while the page was being fetched.
var errStopped = errors.New("backfill was cancelled or replaced")

// run is what one execution of a job works with.
type run struct {
	job   *river.Job[jobs.BackfillRun]
	integ dbq.Integration
	state types.BackfillState
	log   *zap.Logger
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[jobs.BackfillRun]) error {
	started := time.Now()
	r, err := w.begin(ctx, job)
	if r == nil || err != nil {
		return err
	}
	if w.keyring == nil {
		return w.fail(ctx, r, "the console has no ENCRYPTION_KEYS, so it cannot read connection tokens")
	}
	tok, err := vault.GetForIntegration(ctx, w.pool, w.keyring, r.integ.ID)
	switch {
	case errors.Is(err, vault.ErrTokenExpired):
		r.log.Info("token expired, waiting for the gateway to refresh it", zap.Duration("snooze", w.cfg.TokenRetry))
		return river.JobSnooze(w.cfg.TokenRetry)
	case errors.Is(err, vault.ErrReauthRequired):
		return w.fail(ctx, r, "the provider refused to refresh the connection's token: connect it again, then restart the backfill")
	case errors.Is(err, vault.ErrNotActive), errors.Is(err, vault.ErrNotFound):
		return w.fail(ctx, r, "the connection is not active: connect it again, then restart the backfill")
	case err != nil:
		return w.retry(ctx, r, err)
	}
	since := r.state.StartedAt.AddDate(0, 0, -job.Args.DepthDays)
	conn, err := newConnector(w.api, r.integ.Provider, r.integ.ResourceMeta, since, w.cfg.PageSize)
	if err != nil {
		return w.fail(ctx, r, err.Error())
	}

	budget := w.cfg.RunTimeout / 2
	for _, entity := range job.Args.EntityTypes {
		cp := r.state.Checkpoint
		if cp != nil && slices.Contains(cp.Done, entity) {
			continue
		}
		cursor := ""
		if cp != nil && cp.EntityType == entity {
			cursor = cp.Cursor
		}
		for {
			// River cancels ctx when the job is cancelled (CancelBackfill) or the process shuts down.
			if err := ctx.Err(); err != nil {
				return w.interrupted(ctx, r, err)
			}
			p, err := conn.fetch(ctx, tok.AccessToken.Reveal(), entity, cursor)
			if err != nil {
				return w.fetchFailed(ctx, r, tok, err)
			}
			if err := w.commit(ctx, r, entity, p); err != nil {
				return err
			}
			if p.next == "" {
				break
			}
			cursor = p.next
			if time.Since(started) >= budget {
				// Yield: the checkpoint is saved and the job is available again at once.
				return river.JobSnooze(0)
			}
		}
	}
	return w.finish(ctx, r)
}

// begin locks the integration and moves its backfill from pending to running (a rescued or snoozed run
// finds it running already and carries on from the checkpoint). It returns nil when there is nothing to
// do: the backfill was cancelled, has ended, or belongs to another job.
func (w *Worker) begin(ctx context.Context, job *river.Job[jobs.BackfillRun]) (*run, error) {
	log := w.log.With(zap.String("integration_id", job.Args.IntegrationID), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
	var r *run
	var stop error
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		integ, err := q.LockIntegrationForBackfill(ctx, dbq.LockIntegrationForBackfillParams{ID: job.Args.IntegrationID})
		if err != nil {
			if db.IsNotFound(err) {
				stop = river.JobCancel(errors.New("the integration no longer exists"))
				return nil
			}
			if db.IsUnreadableRow(err) {
				// A malformed row stays malformed: end the backfill now rather than after every retry. The
				// state is rewritten whole, so this works even when backfill_state is the broken column.
				log.Warn("backfill failed: the integration's row cannot be read", zap.Error(db.Interpret(err)))
				st := ended(types.BackfillState{JobID: job.ID}, types.BackfillFailed, "the integration's stored settings cannot be read")
				if err := q.SetBackfillState(ctx, dbq.SetBackfillStateParams{BackfillState: st, ID: job.Args.IntegrationID}); err != nil {
					return fmt.Errorf("save backfill state: %w", db.Interpret(err))
				}
				stop = river.JobCancel(errors.New(st.Error))
				return nil
			}
			return fmt.Errorf("load integration: %w", db.Interpret(err))
		}
		st := integ.BackfillState
		switch {
		case st.JobID != job.ID:
			log.Info("backfill belongs to another job; nothing to do")
			return nil
		case st.Status == types.BackfillCancelled:
			stop = river.JobCancel(errStopped)
			return nil
		case !st.Status.Active():
			return nil
		}
		r = &run{job: job, integ: integ, state: st, log: log}
		if !integ.IsActive {
			r.state = ended(st, types.BackfillFailed, "the integration was unlinked")
			if err := q.SetBackfillState(ctx, dbq.SetBackfillStateParams{BackfillState: r.state, ID: integ.ID}); err != nil {
				return fmt.Errorf("save backfill state: %w", db.Interpret(err))
			}
			stop, r = river.JobCancel(errors.New(r.state.Error)), nil
			return nil
		}
		if st.Status == types.BackfillPending {
			now := time.Now().UTC()
			r.state.Status, r.state.StartedAt = types.BackfillRunning, &now
			if err := q.SetBackfillState(ctx, dbq.SetBackfillStateParams{BackfillState: r.state, ID: integ.ID}); err != nil {
				return fmt.Errorf("save backfill state: %w", db.Interpret(err))
			}
			log.Info("backfill started", zap.String("provider", string(integ.Provider)), zap.Strings("entity_types", job.Args.EntityTypes))
		} else {
			log.Info("backfill resumed", zap.Any("checkpoint", st.Checkpoint), zap.Int64("processed", st.Progress.Processed))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, stop
}

// obsRow is one row of InsertObservationsBulk's JSON input.
type obsRow struct {
	ID         string       `json:"id"`
	SourceType string       `json:"source_type"`
	SourceID   string       `json:"source_id"`
	Title      string       `json:"title"`
	Body       *string      `json:"body"`
	Actor      *types.Actor `json:"actor"`
	URL        *string      `json:"url"`
	OccurredAt time.Time    `json:"occurred_at"`
	Metadata   types.Object `json:"metadata"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// commit writes one page: its observations, the checkpoint after it and the progress, in one
// transaction that lands only while the backfill is still this job's and running.
func (w *Worker) commit(ctx context.Context, r *run, entity string, p page) error {
	next := r.state
	next.Progress.Processed += int64(p.items)
	var done []string
	if r.state.Checkpoint != nil {
		done = slices.Clone(r.state.Checkpoint.Done)
	}
	if p.next == "" {
		next.Checkpoint = &types.BackfillCheckpoint{Done: append(done, entity)}
	} else {
		next.Checkpoint = &types.BackfillCheckpoint{EntityType: entity, Cursor: p.next, Done: done}
	}
	var rows []byte
	if len(p.observations) > 0 {
		batch := make([]obsRow, len(p.observations))
		for i, o := range p.observations {
			batch[i] = obsRow{
				ID: ids.New(), SourceType: o.SourceType, SourceID: o.SourceID, Title: o.Title, Body: nullable(o.Body),
				Actor: o.Actor, URL: nullable(o.URL), OccurredAt: o.OccurredAt, Metadata: o.Metadata,
			}
		}
		var err error
		if rows, err = json.Marshal(batch); err != nil {
			return fmt.Errorf("encode observations: %w", err)
		}
	}
	var inserted int64
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if rows != nil {
			n, err := q.InsertObservationsBulk(ctx, dbq.InsertObservationsBulkParams{
				WorkspaceID: r.integ.WorkspaceID, IntegrationID: r.integ.ID, Provider: string(r.integ.Provider), Rows: rows,
			})
			if err != nil {
				return fmt.Errorf("insert observations: %w", db.Interpret(err))
			}
			inserted = n
		}
		// document_count counts every observation of the integration: only the rows this page added,
		// so facts the webhook worker (or an earlier attempt) already wrote are not counted twice.
		if inserted > 0 {
			if err := q.AddIntegrationsDocuments(ctx, dbq.AddIntegrationsDocumentsParams{
				Ids: []string{r.integ.ID}, Added: []int32{int32(inserted)},
			}); err != nil {
				return fmt.Errorf("count documents: %w", db.Interpret(err))
			}
		}
		n, err := q.AdvanceBackfillState(ctx, dbq.AdvanceBackfillStateParams{BackfillState: next, ID: r.integ.ID, JobID: r.job.ID})
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", db.Interpret(err))
		}
		if n == 0 {
			return errStopped
		}
		return nil
	})
	switch {
	case errors.Is(err, errStopped):
		r.log.Info("backfill stopped at a page boundary: cancelled or replaced")
		return river.JobCancel(errStopped)
	case err != nil:
		if ctx.Err() != nil {
			return w.interrupted(ctx, r, err)
		}
		return w.retry(ctx, r, err)
	}
	r.state = next
	r.log.Debug("page committed", zap.String("entity", entity), zap.Int("items", p.items),
		zap.Int64("inserted", inserted), zap.Int64("processed", next.Progress.Processed))
	return nil
}

// finish marks the backfill completed.
func (w *Worker) finish(ctx context.Context, r *run) error {
	st := ended(r.state, types.BackfillCompleted, "")
	if err := w.save(ctx, r, st); err != nil {
		return err
	}
	r.log.Info("backfill completed", zap.Int64("processed", st.Progress.Processed))
	return nil
}

// fail marks the backfill failed with msg (shown to users: no secrets, no provider payloads) and cancels
// the job, so River does not retry what retrying cannot fix.
func (w *Worker) fail(ctx context.Context, r *run, msg string) error {
	if err := w.save(ctx, r, ended(r.state, types.BackfillFailed, msg)); err != nil {
		return err
	}
	r.log.Warn("backfill failed", zap.String("reason", msg))
	return river.JobCancel(errors.New(msg))
}

// save writes an ending state; a cancel that landed first wins.
func (w *Worker) save(ctx context.Context, r *run, st types.BackfillState) error {
	n, err := dbq.New(w.pool).AdvanceBackfillState(ctx, dbq.AdvanceBackfillStateParams{BackfillState: st, ID: r.integ.ID, JobID: r.job.ID})
	if err != nil {
		return fmt.Errorf("save backfill state: %w", db.Interpret(err))
	}
	if n == 0 {
		return river.JobCancel(errStopped)
	}
	r.state = st
	return nil
}

func ended(st types.BackfillState, status types.BackfillStatus, msg string) types.BackfillState {
	now := time.Now().UTC()
	st.Status, st.CompletedAt, st.Error = status, &now, msg
	return st
}

// retry returns a transient error for River to retry with backoff; on the last attempt it marks the
// backfill failed first, so the state never stays running for a job River has given up on.
func (w *Worker) retry(ctx context.Context, r *run, err error) error {
	if r.job.Attempt >= r.job.MaxAttempts {
		return w.fail(ctx, r, fmt.Sprintf("gave up after %d attempts: %v", r.job.Attempt, err))
	}
	r.log.Warn("backfill page failed, will retry", zap.Error(err))
	return err
}

// interrupted handles a run whose context ended: a River cancellation ends the job cancelled, a
// shutdown hands it straight back to the queue (without using up an attempt), a timeout is retried.
func (w *Worker) interrupted(ctx context.Context, r *run, err error) error {
	switch {
	case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		r.log.Info("backfill job cancelled")
		return river.JobCancel(errStopped)
	case errors.Is(ctx.Err(), context.Canceled):
		r.log.Info("backfill interrupted by shutdown; it continues from its checkpoint")
		return river.JobSnooze(0)
	}
	return w.retry(context.WithoutCancel(ctx), r, err)
}

// fetchFailed decides what a provider error means for the run.
func (w *Worker) fetchFailed(ctx context.Context, r *run, tok vault.Token, err error) error {
	var rl *providerapi.RateLimitError
	var pe *providerapi.Error
	switch {
	case errors.As(err, &rl):
		d := min(max(time.Until(rl.Reset)+time.Second, time.Second), w.cfg.MaxSnooze)
		r.log.Info("rate limited by the provider; snoozing until the limit resets", zap.Duration("snooze", d))
		return river.JobSnooze(d)
	case ctx.Err() != nil:
		return w.interrupted(ctx, r, err)
	case errors.Is(err, errBadCheckpoint):
		return w.fail(ctx, r, err.Error())
	case providerapi.IsStatus(err, http.StatusUnauthorized):
		// The Gateway may have refreshed the token since this run read it; only the current token being
		// refused means the connection is broken.
		cur, verr := vault.GetForIntegration(ctx, w.pool, w.keyring, r.integ.ID)
		switch {
		case verr == nil && cur.Version != tok.Version:
			return river.JobSnooze(0)
		case errors.Is(verr, vault.ErrTokenExpired):
			return river.JobSnooze(w.cfg.TokenRetry)
		}
		return w.fail(ctx, r, fmt.Sprintf("%s rejected the connection's token (401): connect it again, then restart the backfill", r.integ.Provider))
	case errors.As(err, &pe) && (pe.Status == 0 || pe.Status >= 500):
		return w.retry(ctx, r, err)
	case errors.As(err, &pe):
		return w.fail(ctx, r, pe.Error())
	}
	return w.retry(ctx, r, err)
}

var _ river.Worker[jobs.BackfillRun] = (*Worker)(nil)
