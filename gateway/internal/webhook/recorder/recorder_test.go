package recorder_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/webhook/recorder"
)

// testInstallation is the installation newPool creates; delivery routes to it.
const testInstallation = "inst"

// newPool returns a fresh database with the installation deliveries are routed to (the insert refuses a
// delivery whose installation has no row).
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := dbtest.NewPool(t)
	seedInstallation(t, pool)
	return pool
}

func seedInstallation(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	_, err := dbq.New(pool).UpsertInstallation(context.Background(), dbq.UpsertInstallationParams{
		ID: testInstallation, Provider: types.GitHub, ExternalID: "1", ConnectedBy: "user_1", OrgID: "org_1",
	})
	require.NoError(t, err)
}

func delivery(deliveryID string, payload []byte) recorder.Delivery {
	id := ids.New()
	return recorder.Delivery{
		ID: id, Provider: types.GitHub, DeliveryID: deliveryID, EventType: "push", InstallationID: testInstallation,
		Status: types.DeliveryReceived, Payload: payload, Headers: types.Headers{"x-github-event": "push"},
		Job: jobs.WebhookProcess{DeliveryID: id},
	}
}

func TestConcurrentRecordsGroupAndDedupe(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	var batches, largest, failed atomic.Int64
	rec := recorder.New(pool, client, recorder.Config{Writers: 2, OnFlush: func(size int, _ time.Duration, err error) {
		if err != nil {
			failed.Add(1)
		}
		batches.Add(1)
		for {
			cur := largest.Load()
			if int64(size) <= cur || largest.CompareAndSwap(cur, int64(size)) {
				break
			}
		}
	}})
	t.Cleanup(func() { _ = rec.Stop(context.Background()) })

	// 200 distinct deliveries, each sent twice at once.
	var accepted, duplicate atomic.Int64
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			out, err := rec.Record(context.Background(), delivery(fmt.Sprintf("d-%d", i/2), []byte(`{}`)))
			if err != nil {
				t.Error(err)
				return
			}
			if out == recorder.Accepted {
				accepted.Add(1)
			} else {
				duplicate.Add(1)
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "no batch failed (no deadlock between batches sharing deliveries)")
	require.Equal(t, int64(200), accepted.Load())
	require.Equal(t, int64(200), duplicate.Load())
	var rows, jobCount int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM lightfast_gw_webhook_deliveries), (SELECT count(*) FROM river_job WHERE kind = 'webhook.process')`).Scan(&rows, &jobCount))
	require.Equal(t, 200, rows)
	require.Equal(t, 200, jobCount)
	require.Less(t, batches.Load(), int64(400), "concurrent records share transactions")
	require.Greater(t, largest.Load(), int64(1))
}

func TestFailedBatchFailsEveryRequestAndStopRefuses(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	rec := recorder.New(pool, client, recorder.Config{Writers: 1})
	// A delivery that violates the schema (unknown provider) fails its whole batch.
	bad := delivery("bad", nil)
	bad.Provider = "gitlab"
	_, err = rec.Record(context.Background(), bad)
	require.Error(t, err)

	require.NoError(t, rec.Stop(context.Background()))
	_, err = rec.Record(context.Background(), delivery("late", nil))
	require.ErrorIs(t, err, recorder.ErrStopped)
	var rows int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM lightfast_gw_webhook_deliveries`).Scan(&rows))
	require.Zero(t, rows)
}

// BenchmarkRecord measures the database side of ingest alone: parallel Record calls with 4 KB payloads.
// It reports the Go CPU (this process) and Postgres CPU (this database's backends plus the WAL writer,
// checkpointer and background writer) per delivery. Knobs: BENCH_WRITERS, BENCH_LINGER_US,
// BENCH_PARALLEL, BENCH_PAYLOAD_BYTES, BENCH_NO_JOB=1 (rows without River jobs, to see the jobs' share).
//
//	go test -run '^$' -bench Record -benchtime 20000x ./internal/webhook/recorder/
func BenchmarkRecord(b *testing.B) {
	pool := dbtest.Pool(b, dbtest.NewDatabaseURL(b))
	seedInstallation(b, pool)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(b, err)
	rec := recorder.New(pool, client, recorder.Config{Writers: benchEnv("BENCH_WRITERS", 4), Linger: time.Duration(benchEnv("BENCH_LINGER_US", 0)) * time.Microsecond})
	b.Cleanup(func() { _ = rec.Stop(context.Background()) })
	payload := make([]byte, benchEnv("BENCH_PAYLOAD_BYTES", 4096))
	for i := range payload {
		payload[i] = "abcdefghijklmnopqrstuvwxyz{}\":,"[i*7%31]
	}
	var seq atomic.Int64
	noJob := os.Getenv("BENCH_NO_JOB") != "" // isolates the River insert's share
	b.SetParallelism(benchEnv("BENCH_PARALLEL", 32))
	b.ResetTimer()
	// Open every connection first, so the backends measured are the ones that do the work.
	conns := make([]*pgxpool.Conn, 0, 4)
	for range 4 {
		c, err := pool.Acquire(context.Background())
		require.NoError(b, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	pids := benchPids(b, pool)
	pg0, self0 := postgresCPU(pids), selfCPU()
	defer func() {
		b.ReportMetric(float64(postgresCPU(pids)-pg0)/float64(b.N)/1e3, "pg-cpu-µs/op")
		b.ReportMetric(float64(selfCPU()-self0)/float64(b.N)/1e3, "go-cpu-µs/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := delivery(fmt.Sprintf("b-%d", seq.Add(1)), payload)
			if noJob {
				d.Job = nil
			}
			if out, err := rec.Record(context.Background(), d); err != nil || out != recorder.Accepted {
				b.Fatal(out, err)
			}
		}
	})
}

func benchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

// postgresCPU is the CPU time (ns) used so far by the given Postgres processes.
func postgresCPU(pids []int32) int64 {
	var ticks int64
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return ticks * 1e7 // 100 ticks a second
}

// benchPids are the backends of this benchmark's database plus the shared WAL writer, checkpointer and
// background writer (other databases on the server belong to other test suites).
func benchPids(b *testing.B, pool *pgxpool.Pool) []int32 {
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`)
	require.NoError(b, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(b, err)
	return pids
}

// selfCPU is this process's CPU time (ns).
func selfCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// A delivery routed to an installation id without a row (a routing-cache entry from another database)
// is refused and written nowhere, alone: its batch neighbours are recorded. The same refused delivery
// sent again after a correct one is still refused, not called a duplicate, so the caller re-routes it.
func TestUnknownInstallationIsRefusedAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	rec := recorder.New(pool, client, recorder.Config{Writers: 1, Linger: 50 * time.Millisecond})
	t.Cleanup(func() { _ = rec.Stop(context.Background()) })

	stale := delivery("stale", []byte(`{}`))
	stale.InstallationID = "inst_from_another_database"
	unrouted := delivery("unrouted", []byte(`{}`))
	unrouted.InstallationID, unrouted.Status, unrouted.Job = "", types.DeliveryUnrouted, nil
	good := delivery("good", []byte(`{}`))
	outcomes := map[string]recorder.Outcome{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range []recorder.Delivery{stale, unrouted, good} {
		wg.Go(func() {
			out, err := rec.Record(ctx, d)
			require.NoError(t, err)
			mu.Lock()
			outcomes[d.DeliveryID] = out
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Equal(t, map[string]recorder.Outcome{"stale": recorder.UnknownInstallation, "unrouted": recorder.Accepted, "good": recorder.Accepted}, outcomes)
	var rows, jobCount, staleRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lightfast_gw_webhook_deliveries),
		(SELECT count(*) FROM river_job), (SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE delivery_id = 'stale')`).Scan(&rows, &jobCount, &staleRows))
	require.Equal(t, 2, rows)
	require.Equal(t, 1, jobCount, "the good one's job only")
	require.Zero(t, staleRows)

	// Routed again (as the handler does), it is recorded; the good one sent again is a duplicate.
	stale.InstallationID = testInstallation
	out, err := rec.Record(ctx, stale)
	require.NoError(t, err)
	require.Equal(t, recorder.Accepted, out)
	out, err = rec.Record(ctx, good)
	require.NoError(t, err)
	require.Equal(t, recorder.Duplicate, out)
	// A duplicate of a recorded delivery that arrives with a wrong route is refused for the route first;
	// routed again it is the duplicate it is.
	again := stale
	again.ID, again.InstallationID = ids.New(), "inst_from_another_database"
	out, err = rec.Record(ctx, again)
	require.NoError(t, err)
	require.Equal(t, recorder.UnknownInstallation, out)
	again.InstallationID = testInstallation
	out, err = rec.Record(ctx, again)
	require.NoError(t, err)
	require.Equal(t, recorder.Duplicate, out)
}
