package stranded_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/gateway/internal/stranded"
)

type bundle struct {
	pool  *pgxpool.Pool
	river *river.Client[pgx.Tx] // insert-only
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	return &bundle{pool: pool, river: client}
}

// delivery inserts a delivery row received age ago, with a job of each given state (oldest first; ""
// for none), and returns its id.
func (b *bundle) delivery(t *testing.T, status string, age time.Duration, lifecycle bool, jobStates ...string) string {
	t.Helper()
	ctx := context.Background()
	id := ids.New()
	_, err := dbq.New(b.pool).InsertDeliveries(ctx, dbq.InsertDeliveriesParams{
		Ids: []string{id}, Providers: []string{"github"}, DeliveryIds: []string{id}, EventTypes: []string{"push"},
		InstallationIds: []string{""}, ResourceIds: []string{""}, Statuses: []string{status},
		Payloads: [][]byte{[]byte(`{}`)}, Headers: []string{"{}"},
	})
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE lightfast_gw_webhook_deliveries SET received_at = now() - $2::interval WHERE id = $1`, id, age.String())
	require.NoError(t, err)
	for _, state := range jobStates {
		var args river.JobArgs = jobs.WebhookProcess{DeliveryID: id}
		if lifecycle {
			args = jobs.WebhookLifecycle{DeliveryID: id}
		}
		res, err := b.river.Insert(ctx, args, nil)
		require.NoError(t, err)
		if state != "available" {
			// As River leaves it: rescued and discarded after the last attempt, cancelled, completed …
			_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = $2::river_job_state, attempt = max_attempts, attempted_at = now(),
				finalized_at = CASE WHEN $2 IN ('completed', 'cancelled', 'discarded') THEN now() END WHERE id = $1`, res.Job.ID, state)
			require.NoError(t, err)
		}
	}
	return id
}

type row struct {
	Status    string
	LastError *string
	Processed bool
}

func (b *bundle) row(t *testing.T, id string) row {
	t.Helper()
	var r row
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT status, last_error, processed_at IS NOT NULL FROM lightfast_gw_webhook_deliveries WHERE id = $1`, id).
		Scan(&r.Status, &r.LastError, &r.Processed))
	return r
}

const grace = 10 * time.Minute

// Deliveries left received whose newest job is gone or finalized are dead-lettered with the reason;
// those with a live job, too recent, or already settled are left alone.
func TestSweepDeadLettersOnlyStrandedDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	old := time.Hour
	cases := []struct {
		name      string
		status    string
		age       time.Duration
		lifecycle bool
		jobs      []string
		reason    string // "" = untouched
	}{
		{"no job", "received", old, false, nil, "its job is gone"},
		{"job discarded after its last attempt", "received", old, false, []string{"discarded"}, "its job ended discarded"},
		{"job cancelled", "received", old, false, []string{"cancelled"}, "its job ended cancelled"},
		{"job completed without settling it", "received", old, false, []string{"completed"}, "its job ended completed"},
		{"lifecycle job discarded", "received", old, true, []string{"discarded"}, "its job ended discarded"},
		{"job available", "received", old, false, []string{"available"}, ""},
		{"job running", "received", old, false, []string{"running"}, ""},
		{"job retryable", "received", old, false, []string{"retryable"}, ""},
		{"job scheduled", "received", old, false, []string{"scheduled"}, ""},
		{"an old job discarded, the replayed one available", "received", old, false, []string{"discarded", "available"}, ""},
		{"recent, no job (inside the grace period)", "received", time.Minute, false, nil, ""},
		{"delivered, no job", "delivered", old, false, nil, ""},
		{"unrouted, no job", "unrouted", old, false, nil, ""},
		{"already dead-lettered", "dlq", old, false, []string{"discarded"}, ""},
	}
	idOf := map[string]string{}
	for _, c := range cases {
		idOf[c.name] = b.delivery(t, c.status, c.age, c.lifecycle, c.jobs...)
	}

	swept, err := stranded.Sweep(ctx, b.pool, time.Now().Add(-grace))
	require.NoError(t, err)
	want := 0
	for _, c := range cases {
		r := b.row(t, idOf[c.name])
		if c.reason == "" {
			require.Equal(t, c.status, r.Status, c.name)
			continue
		}
		want++
		require.Equal(t, "dlq", r.Status, c.name)
		require.True(t, r.Processed, c.name)
		require.NotNil(t, r.LastError, c.name)
		require.True(t, strings.HasPrefix(*r.LastError, "stranded: "+c.reason+" but the delivery was never settled"), "%s: %s", c.name, *r.LastError)
		require.Contains(t, *r.LastError, "POST /admin/dlq/replay", c.name)
	}
	require.Len(t, swept, want)
	for _, s := range swept {
		require.Equal(t, "push", s.EventType)
		require.EqualValues(t, "github", s.Provider)
	}

	again, err := stranded.Sweep(ctx, b.pool, time.Now().Add(-grace))
	require.NoError(t, err)
	require.Empty(t, again, "a second run finds nothing more")
}

// Candidates are looked at in batches: a stranded delivery behind a full batch of deliveries still
// waiting for their live jobs is found in the same run.
func TestSweepPagesPastLiveDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const live = 501
	params := dbq.InsertDeliveriesParams{}
	var inserts []river.InsertManyParams
	for range live {
		id := ids.New()
		params.Ids, params.DeliveryIds = append(params.Ids, id), append(params.DeliveryIds, id)
		params.Providers, params.EventTypes = append(params.Providers, "github"), append(params.EventTypes, "push")
		params.InstallationIds, params.ResourceIds = append(params.InstallationIds, ""), append(params.ResourceIds, "")
		params.Statuses, params.Payloads, params.Headers = append(params.Statuses, "received"), append(params.Payloads, []byte(`{}`)), append(params.Headers, "{}")
		inserts = append(inserts, river.InsertManyParams{Args: jobs.WebhookProcess{DeliveryID: id}})
	}
	_, err := dbq.New(b.pool).InsertDeliveries(ctx, params)
	require.NoError(t, err)
	_, err = b.river.InsertMany(ctx, inserts)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE lightfast_gw_webhook_deliveries SET received_at = now() - interval '2 hours'`)
	require.NoError(t, err)
	last := b.delivery(t, "received", time.Hour, false, "discarded") // newer than all of them

	swept, err := stranded.Sweep(ctx, b.pool, time.Now().Add(-grace))
	require.NoError(t, err)
	require.Len(t, swept, 1)
	require.Equal(t, last, swept[0].ID)
	var received int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = 'received'`).Scan(&received))
	require.Equal(t, live, received)
}

// Replicas sweeping at once share the work: every stranded delivery is dead-lettered exactly once.
func TestConcurrentSweepsShareTheWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const n = 60
	want := map[string]bool{}
	for range n {
		want[b.delivery(t, "received", time.Hour, false, "discarded")] = true
	}
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			swept, err := stranded.Sweep(ctx, b.pool, time.Now().Add(-grace))
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range swept {
				got[s.ID]++
			}
		}()
	}
	wg.Wait()
	require.Len(t, got, n)
	for id, times := range got {
		require.True(t, want[id])
		require.Equal(t, 1, times, "dead-lettered once: %s", id)
	}
}

// The periodic job as the gateway registers it: worked from queue gateway, it dead-letters the stranded
// delivery and counts it.
func TestSweepJobRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.delivery(t, "received", time.Hour, false, "discarded")
	live := b.delivery(t, "received", time.Hour, false, "running")

	workers := river.NewWorkers()
	reg := prometheus.NewRegistry()
	stranded.Register(workers, b.pool, grace, reg, zap.NewNop())
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Workers: workers, Queues: map[string]river.QueueConfig{jobs.QueueGateway: {MaxWorkers: 1}},
		PeriodicJobs:         stranded.PeriodicJobs(), // RunOnStart
		RescueStuckJobsAfter: time.Hour,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.WithoutCancel(ctx)) })

	require.Eventually(t, func() bool { return b.row(t, id).Status == "dlq" }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, "received", b.row(t, live).Status)
	require.Eventually(t, func() bool {
		return strandedCount(t, reg) == 1
	}, 5*time.Second, 10*time.Millisecond)
}

// strandedCount sums gateway_deliveries_stranded_total over its labels.
func strandedCount(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "gateway_deliveries_stranded_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
