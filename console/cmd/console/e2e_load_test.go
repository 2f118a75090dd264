//go:build loadtest

package main_test

// The sustained-load generator behind `make bench` (scripts/bench.sh): the real gateway and console on
// one fresh database, LOAD_RATE signed GitHub pushes per second (default 1,000) for LOAD_SECONDS
// (default 60), each a distinct fact, open loop (a slow answer does not slow the schedule). It then
// waits for the console to drain and prints the lag from the gateway receiving a delivery to its
// observation being written (p50 / p99 / max), the achieved rate, the gateway's answer times and the CPU
// each party spent per delivery, Postgres split into receiving (the gateway's backends) and processing
// (the console's). With LOAD_BUSY_CORE=1 a busy-loop process keeps one core busy for the whole run and
// the figures are printed with prefix lag_busy instead of lag. It asserts correctness only (every
// accepted delivery became exactly one observation), never a speed.
//
//	go test -tags loadtest -count=1 -run TestWebhooksToObservationsLoad -v ./cmd/console/
//	LOAD_BUSY_CORE=1 go test -tags loadtest -count=1 -run TestWebhooksToObservationsLoad -v ./cmd/console/

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
)

func TestWebhooksToObservationsLoad(t *testing.T) {
	rate := envInt("LOAD_RATE", 1000)
	duration := time.Duration(envInt("LOAD_SECONDS", 60)) * time.Second
	senders := envInt("LOAD_SENDERS", 64)
	prefix := "lag"
	if os.Getenv("LOAD_BUSY_CORE") == "1" {
		prefix = "lag_busy"
	}
	s := startSystem(t, map[string]string{"LOG_LEVEL": "warn"})
	if prefix == "lag_busy" {
		busyCore(t)
	}

	fixture := s.githubPayload(t, "github/push/with-new-branch.payload.json")
	sha := []byte("6113728f27ae82c7b1a177c8d03f9e96e0adf246")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}}
	total := rate * int(duration/time.Second)
	ticks := make(chan int, total)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[int]int{}
		wg        sync.WaitGroup
	)
	for range senders {
		wg.Go(func() {
			var lat []time.Duration
			st := map[int]int{}
			for i := range ticks {
				body := bytes.ReplaceAll(fixture, sha, fmt.Appendf(nil, "%040x", i+1))
				t0 := time.Now()
				status, _ := s.postGitHub(t, client, "push", "load-"+ids.New(), body)
				lat = append(lat, time.Since(t0))
				st[status]++
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			for k, v := range st {
				statuses[k] += v
			}
			mu.Unlock()
		})
	}
	stats0 := takePgStats(t, s.pool)
	pg := startPgCPU(t, s.pool, 200*time.Millisecond)
	gw0, co0 := testproc.CPUTicks(s.gatewayPid), testproc.CPUTicks(s.consolePid)
	busy0, all0 := testproc.MachineTicks()
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		ticks <- i
	}
	close(ticks)
	wg.Wait()
	sent := time.Since(start)
	require.Equal(t, total, statuses[http.StatusAccepted], "every delivery accepted: %v", statuses)

	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var left int
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = $1`, types.DeliveryReceived).Scan(&left))
		if left == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d deliveries still waiting", left)
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(start)
	gw1, co1, pgSpent := testproc.CPUTicks(s.gatewayPid), testproc.CPUTicks(s.consolePid), pg.finish(t)
	busy1, all1 := testproc.MachineTicks()
	stats := takePgStats(t, s.pool).since(stats0)

	var observations, distinct int
	var p50, p99, maxLag float64
	require.NoError(t, s.pool.QueryRow(ctx, `
		SELECT count(*), count(DISTINCT o.delivery_id),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at - d.received_at)),
		       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at - d.received_at)),
		       max(extract(epoch FROM o.created_at - d.received_at))
		FROM lightfast_workspace_observations o JOIN lightfast_gw_webhook_deliveries d ON d.id = o.delivery_id`).
		Scan(&observations, &distinct, &p50, &p99, &maxLag))
	require.Equal(t, total, observations, "one observation per delivery")
	require.Equal(t, total, distinct)

	slices.Sort(latencies)
	pct := func(q float64) time.Duration { return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))] }
	ms := func(sec float64) string { return fmt.Sprintf("%.1fms", sec*1000) }
	perUs := func(ticks int64) float64 { return float64(ticks) * 1e4 / float64(total) }
	fmt.Printf("webhooks→observations (%s): %d pushes at %d/s target, %.0f/s achieved over %s, drained %s after the first\n",
		prefix, total, rate, float64(total)/sent.Seconds(), sent.Round(time.Millisecond), drained.Round(time.Millisecond))
	fmt.Printf("webhooks→observations (%s) lag (gateway received → observation written): p50 %s, p99 %s, max %s (goal p99 ≤ 250 ms)\n",
		prefix, ms(p50), ms(p99), ms(maxLag))
	// Worded without "pNN" so scripts/bench.sh reads only the lag line's percentiles as lag figures.
	fmt.Printf("webhooks→observations (%s) gateway answer time: median %s, 99th percentile %s\n", prefix, ms(pct(.5).Seconds()), ms(pct(.99).Seconds()))
	fmt.Printf("webhooks→observations (%s) CPU per delivery: gateway %.0fµs, console %.0fµs, postgres receiving %.0fµs (gateway's backends), processing %.0fµs (console's backends), shared %.0fµs (WAL writer, checkpointer, bgwriter, autovacuum; whole server), other %.0fµs; whole machine %.0fµs (%.0f%% busy)\n",
		prefix, perUs(gw1-gw0), perUs(co1-co0), perUs(pgSpent[pgGateway]), perUs(pgSpent[pgConsole]), perUs(pgSpent[pgShared]), perUs(pgSpent[pgOther]),
		perUs(busy1-busy0), 100*float64(busy1-busy0)/float64(all1-all0))
	fmt.Printf("webhooks→observations (%s) writes per delivery: %s\n", prefix, stats.describe(total))
	bench := func(key string, v float64, unit string) { fmt.Printf("BENCH %s.%s %.1f %s\n", prefix, key, v, unit) }
	bench("p50", p50*1000, "ms")
	bench("p99", p99*1000, "ms")
	bench("max", maxLag*1000, "ms")
	bench("pg_receive_us", perUs(pgSpent[pgGateway]), "µs")
	bench("pg_process_us", perUs(pgSpent[pgConsole]), "µs")
	bench("pg_shared_us", perUs(pgSpent[pgShared]), "µs")
	bench("console_cpu_us", perUs(co1-co0), "µs")
	bench("gateway_cpu_us", perUs(gw1-gw0), "µs")
	bench("per_s", float64(total)/sent.Seconds(), "req/s")
}

// busyCore keeps one core busy until the test ends: a separate process spinning in a shell loop, so the
// system under test competes for the machine's CPUs the way it would beside another workload.
func busyCore(t *testing.T) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// pgStats are server-wide WAL counters and this database's row counters for the delivery path's tables.
type pgStats struct {
	walRecords, walFPI, walBytes int64
	tables                       map[string][5]int64 // inserted, updated, HOT-updated rows, sequential scans, rows they read
}

func takePgStats(t *testing.T, pool *pgxpool.Pool) pgStats {
	t.Helper()
	ctx := context.Background()
	var s pgStats
	require.NoError(t, pool.QueryRow(ctx, `SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal`).Scan(&s.walRecords, &s.walFPI, &s.walBytes))
	rows, err := pool.Query(ctx, `
		SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, seq_scan, seq_tup_read FROM pg_stat_user_tables
		WHERE relname IN ('river_job', 'lightfast_gw_webhook_deliveries', 'lightfast_workspace_observations', 'lightfast_workspace_integrations')`)
	require.NoError(t, err)
	defer rows.Close()
	s.tables = map[string][5]int64{}
	for rows.Next() {
		var name string
		var v [5]int64
		require.NoError(t, rows.Scan(&name, &v[0], &v[1], &v[2], &v[3], &v[4]))
		s.tables[name] = v
	}
	require.NoError(t, rows.Err())
	return s
}

func (s pgStats) since(before pgStats) pgStats {
	d := pgStats{walRecords: s.walRecords - before.walRecords, walFPI: s.walFPI - before.walFPI, walBytes: s.walBytes - before.walBytes, tables: map[string][5]int64{}}
	for name, v := range s.tables {
		b := before.tables[name]
		d.tables[name] = [5]int64{v[0] - b[0], v[1] - b[1], v[2] - b[2], v[3] - b[3], v[4] - b[4]}
	}
	return d
}

// describe states the counters per delivery (table counters lag by up to a second: backends report them
// when idle).
func (s pgStats) describe(n int) string {
	per := func(v int64) float64 { return float64(v) / float64(n) }
	out := fmt.Sprintf("WAL %.0f records, %.2f full-page images, %.0f bytes (whole server)", per(s.walRecords), per(s.walFPI), per(s.walBytes))
	for _, name := range []string{"lightfast_gw_webhook_deliveries", "river_job", "lightfast_workspace_observations", "lightfast_workspace_integrations"} {
		v := s.tables[name]
		out += fmt.Sprintf("; %s %.2f inserted, %.2f updated (%.2f HOT), %.3f sequential scans reading %.0f rows", name, per(v[0]), per(v[1]), per(v[2]), per(v[3]), per(v[4]))
	}
	return out
}
