package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
)

// SyncReasonPush is jobs.SyncConfig.Reason when a push changed the config file.
const SyncReasonPush = "push"

// pushConfig applies a GitHub push that touches lightfast.yml / .lightfast.yml on the default branch:
// every active integration of the repository gets its config status from the push (a hint) and a
// sync.config job that re-reads the repository (the truth), both in tx. It runs whatever the events,
// branches and paths rules say: the config file is about the repository, not about which events become
// observations. An integration with autoSync off gets neither.
func (w *WebhookWorker) pushConfig(ctx context.Context, tx pgx.Tx, q *dbq.Queries, change transform.PushConfigChange, integrations []dbq.Integration) (bool, error) {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return false, fmt.Errorf("queue config sync: %w", err)
	}
	status := types.ConfigStatusAwaitingConfig
	if change.Present != "" {
		status = types.ConfigStatusConfigured
	}
	checked := w.now().UTC().Format(time.RFC3339Nano)
	changed := false
	for _, in := range integrations {
		defaultBranch := change.DefaultBranch
		if defaultBranch == "" && in.ResourceMeta != nil && in.ResourceMeta.GitHub != nil {
			defaultBranch = in.ResourceMeta.GitHub.DefaultBranch
		}
		// autoSync off: the resource is not followed as it changes, so nothing is queued for it.
		if change.Branch != defaultBranch || !in.SyncConfig.AutoSync {
			continue
		}
		if err := q.SetIntegrationConfigStatus(ctx, dbq.SetIntegrationConfigStatusParams{
			ID: in.ID, ConfigStatus: status, ConfigPath: change.Present, LastConfigCheck: checked,
		}); err != nil {
			return false, fmt.Errorf("set config status: %w", db.Interpret(err))
		}
		if _, err := client.InsertTx(ctx, tx, jobs.SyncConfig{IntegrationID: in.ID, Reason: SyncReasonPush}, nil); err != nil {
			return false, fmt.Errorf("queue config sync: %w", err)
		}
		if err := q.RecordIntegrationSync(ctx, dbq.RecordIntegrationSyncParams{ID: in.ID, Status: types.SyncStatusPending}); err != nil {
			return false, fmt.Errorf("queue config sync: %w", db.Interpret(err))
		}
		changed = true
	}
	return changed, nil
}
