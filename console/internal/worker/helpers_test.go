package worker_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lightfastai/connections/console/internal/worker"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
)

// retryNow retries a failed job at once, so tests do not wait for River's backoff.
type retryNow struct{}

func (retryNow) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }

// bundle is a running webhook worker and what the tests need around it.
type bundle struct {
	pool    *pgxpool.Pool
	q       *dbq.Queries
	client  *river.Client[pgx.Tx] // the worker's client
	webhook *worker.WebhookWorker
	reg     *prometheus.Registry
	events  <-chan *river.Event
	logs    *observer.ObservedLogs // the worker's log lines (they also go to the test log)
}

// setup starts a River client working the webhooks queue on a fresh database. crash, when set, runs
// inside the worker's transaction after its writes and before the job's completion.
func setup(t *testing.T, crash func(ctx context.Context) error) *bundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	reg := prometheus.NewRegistry()
	observed, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), observed))
	ww := worker.NewWebhookWorker(pool, worker.NewMetrics(reg), log)
	if crash != nil {
		worker.SetBeforeComplete(ww, crash)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, ww)
	// Registered so webhook.process can queue sync.config; the sync queue is not worked here.
	river.AddWorker(workers, worker.NewSyncConfigWorker(pool, nil, nil, zaptest.NewLogger(t)))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{jobs.QueueWebhooks: {MaxWorkers: 4}},
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		RetryPolicy:       retryNow{},
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		TestOnly:          true,
	})
	require.NoError(t, err)
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	ctx := context.Background()
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		cancel()
		stopCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer done()
		_ = client.Stop(stopCtx)
	})
	return &bundle{pool: pool, q: dbq.New(pool), client: client, webhook: ww, reg: reg, events: events, logs: logs}
}

// tenant is a workspace with an installation in its org.
type tenant struct {
	org, workspace, installation string
}

func (b *bundle) tenant(t *testing.T, provider types.Provider) tenant {
	t.Helper()
	ctx := context.Background()
	org := "org_" + ids.New()
	ws, err := b.q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	inst, err := b.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: provider, ExternalID: ids.New(), ConnectedBy: "user_1", OrgID: org,
	})
	require.NoError(t, err)
	return tenant{org: org, workspace: ws.ID, installation: inst.ID}
}

// link links resource in another workspace of the same org to the tenant's installation.
func (b *bundle) workspace(t *testing.T, tn tenant, slug string) string {
	t.Helper()
	ws, err := b.q.CreateWorkspace(context.Background(), dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: tn.org, Name: slug, Slug: slug})
	require.NoError(t, err)
	return ws.ID
}

// integrate links resource to workspace with the given allow-list (nil: the provider's defaults).
func (b *bundle) integrate(t *testing.T, tn tenant, workspace string, provider types.Provider, resource string, events []string, meta *types.ResourceMeta) dbq.UpsertIntegrationRow {
	t.Helper()
	cfg := types.DefaultSyncConfig(provider)
	if events != nil {
		cfg.Events = events
	}
	in, err := b.q.UpsertIntegration(context.Background(), dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: workspace, InstallationID: tn.installation, Provider: provider,
		ProviderResourceID: resource, ResourceName: "resource " + resource, ResourceMeta: meta, SyncConfig: cfg,
	})
	require.NoError(t, err)
	return in
}

// delivery is a delivery row as the gateway writes it.
type delivery struct {
	provider     types.Provider
	event        string
	installation string // "" = unrouted
	resource     string
	payload      []byte
	status       string // default received
}

// ingest writes the delivery and its webhook.process job in one transaction, the way the gateway does,
// and returns the delivery id and the job id.
func (b *bundle) ingest(t *testing.T, d delivery, opts *river.InsertOpts) (string, int64) {
	t.Helper()
	ctx := context.Background()
	id := ids.New()
	var jobID int64
	require.NoError(t, db.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		_, err := b.insertDelivery(ctx, dbq.New(tx), id, d)
		if err != nil {
			return err
		}
		res, err := b.client.InsertTx(ctx, tx, jobs.WebhookProcess{DeliveryID: id}, opts)
		if err != nil {
			return err
		}
		jobID = res.Job.ID
		return nil
	}))
	return id, jobID
}

func (b *bundle) insertDelivery(ctx context.Context, q *dbq.Queries, id string, d delivery) (string, error) {
	status := d.status
	if status == "" {
		status = types.DeliveryReceived
	}
	p := dbq.InsertDeliveryParams{
		ID: id, Provider: d.provider, DeliveryID: ids.New(), EventType: d.event, Status: status, Payload: d.payload,
		Headers: types.Headers{},
	}
	if d.installation != "" {
		p.InstallationID = &d.installation
	}
	if d.resource != "" {
		p.ProviderResourceID = &d.resource
	}
	return q.InsertDelivery(ctx, p)
}

// requeue inserts another webhook.process job for an existing delivery (a duplicate job, or the
// gateway's replay after it has moved the delivery back to received).
func (b *bundle) requeue(t *testing.T, deliveryID string) int64 {
	t.Helper()
	res, err := b.client.Insert(context.Background(), jobs.WebhookProcess{DeliveryID: deliveryID}, nil)
	require.NoError(t, err)
	return res.Job.ID
}

// wait returns the event that ended job id (completed, cancelled, or failed for good). Failed attempts
// that will be retried are skipped.
func (b *bundle) wait(t *testing.T, jobID int64) *river.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-b.events:
			if ev.Job.ID != jobID {
				continue
			}
			if ev.Kind == river.EventKindJobFailed && ev.Job.State != rivertype.JobStateDiscarded {
				continue
			}
			return ev
		case <-timeout:
			t.Fatalf("job %d did not finish", jobID)
		}
	}
}

func (b *bundle) delivery(t *testing.T, id string) dbq.Delivery {
	t.Helper()
	d, err := b.q.GetDelivery(context.Background(), id)
	require.NoError(t, err)
	return d
}

func (b *bundle) observations(t *testing.T, workspace string) []dbq.Observation {
	t.Helper()
	obs, err := b.q.ListObservations(context.Background(), dbq.ListObservationsParams{WorkspaceID: workspace, Lim: 100})
	require.NoError(t, err)
	return obs
}

func (b *bundle) countObservations(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM lightfast_workspace_observations`).Scan(&n))
	return n
}

func (b *bundle) counter(t *testing.T, provider, event, outcome string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "console_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == provider && labels["event"] == event && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// metricValue is the value of the counter name with the given labels (0 when it has no such series).
func (b *bundle) metricValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if maps.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// lagSamples is how many lag observations the histogram holds.
func (b *bundle) lagSamples(t *testing.T) uint64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	require.NoError(t, err)
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == "console_observation_lag_seconds" {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func fixture(t *testing.T, rel string) []byte {
	t.Helper()
	return dbtest.Fixture(t, rel)
}

// ingestMany writes deliveries and their jobs in one transaction, so River fetches them together.
func (b *bundle) ingestMany(t *testing.T, ds []delivery) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	require.NoError(t, db.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		var params []river.InsertManyParams
		for _, d := range ds {
			id := ids.New()
			if _, err := b.insertDelivery(ctx, dbq.New(tx), id, d); err != nil {
				return err
			}
			out = append(out, id)
			params = append(params, river.InsertManyParams{Args: jobs.WebhookProcess{DeliveryID: id}})
		}
		_, err := b.client.InsertManyTx(ctx, tx, params)
		return err
	}))
	return out
}

// waitDone waits until no webhook.process job is left to run or retry.
func (b *bundle) waitDone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left int
		require.NoError(t, b.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'webhook.process' AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&left))
		if left == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d jobs still pending", left)
		time.Sleep(20 * time.Millisecond)
	}
}
