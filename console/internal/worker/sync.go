package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
)

// FileReader reads one file of a GitHub repository at a ref ("" = the default branch); found is false
// when it does not exist. *providerapi.GitHub implements it.
type FileReader interface {
	GetFile(ctx context.Context, token, fullName, path, ref string) (content []byte, found bool, err error)
}

var _ FileReader = (*providerapi.GitHub)(nil)

// SyncConfigWorker is sync.config: it looks for the repository's config file through the GitHub contents
// API, with the installation token from the vault, and records what it found in sync_config
// (configStatus, configPath, lastConfigCheck).
type SyncConfigWorker struct {
	river.WorkerDefaults[jobs.SyncConfig]

	pool    *pgxpool.Pool
	keyring *secrets.Keyring
	github  FileReader
	log     *zap.Logger
	now     func() time.Time
}

// NewSyncConfigWorker returns the sync.config worker.
func NewSyncConfigWorker(pool *pgxpool.Pool, keyring *secrets.Keyring, github FileReader, log *zap.Logger) *SyncConfigWorker {
	return &SyncConfigWorker{pool: pool, keyring: keyring, github: github, log: log, now: time.Now}
}

// Work implements river.Worker. Every outcome lands in the integration's sync status: success moves
// last_synced_at, a failure records its error; a snooze (rate limit) changes nothing.
func (w *SyncConfigWorker) Work(ctx context.Context, job *river.Job[jobs.SyncConfig]) error {
	err := w.sync(ctx, job)
	var snooze *river.JobSnoozeError
	if errors.As(err, &snooze) {
		return err
	}
	status, msg := types.SyncStatusSuccess, (*string)(nil)
	if err != nil {
		m := truncate(err.Error(), maxErrorLen)
		status, msg = types.SyncStatusFailed, &m
	}
	// The job's context may be what failed; the bookkeeping must still land.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := dbq.New(w.pool).RecordIntegrationSync(bctx, dbq.RecordIntegrationSyncParams{
		ID: job.Args.IntegrationID, Status: status, SyncError: msg,
	}); rerr != nil {
		w.log.Error("record sync status", zap.String("integration", job.Args.IntegrationID), zap.Error(rerr))
	}
	return err
}

func (w *SyncConfigWorker) sync(ctx context.Context, job *river.Job[jobs.SyncConfig]) error {
	q := dbq.New(w.pool)
	in, err := q.GetIntegration(ctx, job.Args.IntegrationID)
	if db.IsNotFound(err) {
		return river.JobCancel(errors.New("sync config: integration not found"))
	}
	if db.IsUnreadableRow(err) {
		// Retrying cannot repair a malformed row.
		w.log.Warn("sync config: integration skipped: its row cannot be read", zap.String("integration_id", job.Args.IntegrationID), zap.Error(db.Interpret(err)))
		return river.JobCancel(fmt.Errorf("sync config: %w", db.Interpret(err)))
	}
	if err != nil {
		return fmt.Errorf("sync config: load integration: %w", db.Interpret(err))
	}
	if in.Provider != types.GitHub || !in.IsActive {
		return nil // only GitHub repositories have config files; an unlinked one needs nothing
	}
	if in.ResourceMeta == nil || in.ResourceMeta.GitHub == nil || in.ResourceMeta.GitHub.RepoFullName == "" {
		return river.JobCancel(errors.New("sync config: integration has no repository name"))
	}
	repo := in.ResourceMeta.GitHub
	if w.keyring == nil {
		return errors.New("sync config: ENCRYPTION_KEYS is not configured, tokens cannot be read")
	}
	tok, err := vault.GetForIntegration(ctx, w.pool, w.keyring, in.ID)
	switch {
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrNotActive):
		// Disconnected or awaiting re-authorisation: retrying cannot help until someone connects again.
		return river.JobCancel(fmt.Errorf("sync config: %w", err))
	case err != nil:
		return fmt.Errorf("sync config: %w", err) // e.g. an expired token the gateway is about to re-mint
	}
	found := ""
	for _, name := range transform.ConfigFiles {
		_, ok, err := w.github.GetFile(ctx, tok.AccessToken.Reveal(), repo.RepoFullName, name, repo.DefaultBranch)
		var rl *providerapi.RateLimitError
		if errors.As(err, &rl) {
			// Waiting is not failing: snooze until the budget is back instead of spending attempts.
			return river.JobSnooze(max(time.Until(rl.Reset), time.Second))
		}
		if err != nil {
			return fmt.Errorf("sync config: %w", err)
		}
		if ok {
			found = name
			break
		}
	}
	status := types.ConfigStatusAwaitingConfig
	if found != "" {
		status = types.ConfigStatusConfigured
	}
	if err := q.SetIntegrationConfigStatus(ctx, dbq.SetIntegrationConfigStatusParams{
		ID: in.ID, ConfigStatus: status, ConfigPath: found, LastConfigCheck: w.now().UTC().Format(time.RFC3339Nano),
	}); err != nil {
		return fmt.Errorf("sync config: save: %w", db.Interpret(err))
	}
	w.log.Info("config synced", zap.String("integration", in.ID), zap.String("status", status),
		zap.String("path", found), zap.String("reason", job.Args.Reason))
	return nil
}
