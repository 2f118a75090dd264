// Package worker holds the Console's River workers for deliveries and repository config (SPEC §6.3):
// webhook.process on queue webhooks turns a delivery into observations exactly once, and sync.config on
// queue sync re-reads a repository's lightfast.yml. Every worker is idempotent, because River rescues a
// job whose worker died and runs it again.
package worker

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/secrets"
)

// Deps are what the workers need.
type Deps struct {
	Pool    *pgxpool.Pool
	Keyring *secrets.Keyring
	// GitHub reads repository files for sync.config (the providerapi GitHub client).
	GitHub  FileReader
	Metrics *Metrics
	Log     *zap.Logger
}

// Register adds webhook.process and sync.config to workers.
func Register(workers *river.Workers, d Deps) error {
	if err := river.AddWorkerSafely(workers, NewWebhookWorker(d.Pool, d.Metrics, d.Log)); err != nil {
		return fmt.Errorf("register webhook worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, NewSyncConfigWorker(d.Pool, d.Keyring, d.GitHub, d.Log)); err != nil {
		return fmt.Errorf("register sync worker: %w", err)
	}
	return nil
}

// DefaultWebhookWorkers is how many webhook.process jobs one console process holds at once. Workers are
// goroutines waiting for a group commit (see WebhookWorker), so this far exceeds the pool: at most
// maxBatches transactions run at a time. It also bounds throughput: about this many jobs complete per
// batch cycle (fetch, group, write, commit), so it must exceed maxBatch for a batch to fill while the
// one before it is written. At 100 with batches of up to 64 the rate stalled near 1,000/s whenever the
// CPU was contended; fetching itself (a cooldown of 10 ms, so up to 100 fetches/s, each for every free
// slot) never was the limit.
const DefaultWebhookWorkers = 400

// Queues are the River queues these workers run on. The webhooks queue polls often and refills quickly:
// the lag from receipt to observation is one of its goals, and without LISTEN/NOTIFY (behind a
// transaction pooler) polling is the only way a new job is noticed.
func Queues(webhookWorkers int) map[string]river.QueueConfig {
	return map[string]river.QueueConfig{
		jobs.QueueWebhooks: {MaxWorkers: webhookWorkers, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
		jobs.QueueSync:     {MaxWorkers: 2},
	}
}
