package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// refreshAheadBatch bounds the tokens one run of the job handles; the next run continues.
const refreshAheadBatch = 500

// RefreshAheadInterval is how often the refresh-ahead job runs.
const RefreshAheadInterval = time.Minute

// RefreshAheadWorker runs jobs.TokenRefreshAhead.
type RefreshAheadWorker struct {
	river.WorkerDefaults[jobs.TokenRefreshAhead]
	svc *Service
}

// Work refreshes every token that is due.
func (w *RefreshAheadWorker) Work(ctx context.Context, _ *river.Job[jobs.TokenRefreshAhead]) error {
	_, err := w.svc.RefreshDue(ctx)
	return err
}

// Register adds the vault's workers.
func Register(workers *river.Workers, svc *Service) {
	river.AddWorker(workers, &RefreshAheadWorker{svc: svc})
}

// PeriodicJobs are the vault's periodic jobs: refresh-ahead every minute (and at start).
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(RefreshAheadInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.TokenRefreshAhead{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)}
}

// RefreshCounts is what one refresh-ahead run did.
type RefreshCounts struct {
	Refreshed int
	Failed    int
}

// RefreshDue refreshes tokens of active installations that expire within RefreshAheadWindow (GitHub
// installation tokens are re-minted). Each token is claimed with FOR UPDATE SKIP LOCKED in its own
// transaction, so replicas running the job at once share the work and a token being refreshed by the
// token endpoint is left to it. Failures are recorded on the token row and retried after a pause.
func (s *Service) RefreshDue(ctx context.Context) (RefreshCounts, error) {
	var counts RefreshCounts
	for range refreshAheadBatch {
		var (
			claimed bool
			a       attempt
			id      string
		)
		err := db.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
			q := dbq.New(tx)
			now := s.now()
			row, err := q.ClaimTokenDueForRefresh(ctx, dbq.ClaimTokenDueForRefreshParams{
				Due: ptr(now.Add(RefreshAheadWindow)), RetryAfter: ptr(now.Add(-retryFailedAfter)),
			})
			if err != nil {
				if db.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("claim token: %w", err)
			}
			claimed, id = true, row.Token.InstallationID
			a, err = s.refreshLocked(ctx, q, dbq.VaultReadRow(row))
			return err
		})
		if err != nil {
			return counts, fmt.Errorf("refresh ahead: %w", err)
		}
		if !claimed {
			return counts, nil
		}
		switch {
		case a.refused:
			counts.Failed++
			if _, _, err := s.giveUp(ctx, id, a.triedRefresh); err != nil && !errors.Is(err, dbvault.ErrReauthRequired) {
				s.log.Warn("refresh ahead: give up", zap.String("installation_id", id), zap.Error(err))
			}
		case a.failed != nil:
			counts.Failed++
		default:
			counts.Refreshed++
		}
	}
	return counts, nil
}
