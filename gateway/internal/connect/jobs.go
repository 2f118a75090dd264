package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/pending"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

// StateCleanupInterval is how often expired connect states are deleted. They are refused once expired
// whatever their age; the cleanup only keeps the table small.
const StateCleanupInterval = 10 * time.Minute

// ExpirePendingInterval is how often pending connections past their deadline are removed. A late one is
// refused by ConfirmConnection anyway; the sweep revokes its grant at the provider.
const ExpirePendingInterval = time.Minute

// expirePendingBatch bounds the connections one sweep removes; the next run continues.
const expirePendingBatch = 500

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

// RevokeWorker runs jobs.InstallationRevoke: the provider side of a teardown made where the provider
// cannot be called (the Console's Disconnect, a refused or expired pending connection).
type RevokeWorker struct {
	river.WorkerDefaults[jobs.InstallationRevoke]
	svc *Service
}

// Work revokes the grant at the provider, then deletes the token. A provider failure that may pass is
// retried; on the last attempt, or when the provider refuses for good, the token is deleted anyway.
func (w *RevokeWorker) Work(ctx context.Context, job *river.Job[jobs.InstallationRevoke]) error {
	return w.svc.revokeTornDown(ctx, job.Args.InstallationID, job.Attempt >= job.MaxAttempts)
}

func (s *Service) revokeTornDown(ctx context.Context, id string, lastAttempt bool) error {
	q := dbq.New(s.pool)
	inst, err := q.GetInstallation(ctx, id)
	if db.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("installation revoke: read installation: %w", err)
	}
	log := s.log.With(zap.String("provider", string(inst.Provider)), zap.String("installation_id", id))
	if inst.Status != types.InstallationRevoked {
		// Connected again since the teardown: the stored token is the new connection's.
		log.Info("installation was connected again; nothing to revoke")
		return nil
	}
	version, err := s.revokeWithStoredToken(ctx, inst)
	var perr *providers.Error
	if err != nil && !lastAttempt && (!errors.As(err, &perr) || perr.Temporary()) {
		return fmt.Errorf("installation revoke: %w", err)
	}
	if err != nil {
		log.Warn("provider revoke failed; deleting the token anyway", zap.Error(err))
	}
	if version != 0 {
		if _, err := q.DeleteTokenOfRevokedInstallation(ctx, dbq.DeleteTokenOfRevokedInstallationParams{InstallationID: id, Version: version}); err != nil {
			return fmt.Errorf("installation revoke: delete token: %w", err)
		}
	}
	if s.opts.Revoked != nil {
		s.opts.Revoked(id)
	}
	reason := teardown.ReasonUnconfirmed
	if inst.StatusReason != nil && *inst.StatusReason == reason {
		if _, err := q.DeleteRevokedInstallation(ctx, dbq.DeleteRevokedInstallationParams{ID: id, StatusReason: &reason}); err != nil {
			return fmt.Errorf("installation revoke: delete unconfirmed installation: %w", err)
		}
	}
	log.Info("revoked at the provider")
	return nil
}

// ExpirePendingWorker runs jobs.InstallationExpirePending.
type ExpirePendingWorker struct {
	river.WorkerDefaults[jobs.InstallationExpirePending]
	svc *Service
}

// Work removes the pending connections whose confirmation deadline passed, each with its
// installation.revoke job, enqueued through the River client running this job.
func (w *ExpirePendingWorker) Work(ctx context.Context, _ *river.Job[jobs.InstallationExpirePending]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("expire pending connections: %w", err)
	}
	n, err := pending.ExpireDue(ctx, w.svc.pool, client, w.svc.routes, time.Now(), expirePendingBatch)
	if n > 0 {
		w.svc.log.Info("removed pending connections nobody confirmed", zap.Int("count", n))
	}
	return err
}

// Register adds the connect flow's workers.
func Register(workers *river.Workers, svc *Service) {
	river.AddWorker(workers, NewStateCleanupWorker(svc.pool))
	river.AddWorker(workers, &RevokeWorker{svc: svc})
	river.AddWorker(workers, &ExpirePendingWorker{svc: svc})
}

// PeriodicJobs are the connect flow's periodic jobs.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(
			river.PeriodicInterval(StateCleanupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.OAuthStateCleanup{}, nil },
			nil,
		),
		river.NewPeriodicJob(
			river.PeriodicInterval(ExpirePendingInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.InstallationExpirePending{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		),
	}
}
