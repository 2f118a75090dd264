//go:build loadtest

package main_test

// The sustained-load generator behind `make bench` (scripts/bench.sh): the real gateway and console on
// one fresh database, LOAD_RATE signed GitHub pushes per second (default 1,000) for LOAD_DURATION
// (default 60 s), each a distinct fact, open loop (a slow answer does not slow the schedule). It then
// waits for the console to drain and prints the lag from the gateway receiving a delivery to its
// observation being written (p50 / p99 / max), the achieved rate and the gateway's answer times. It
// asserts correctness only (every accepted delivery became exactly one observation), never a speed.
//
//	go test -tags loadtest -count=1 -run TestWebhooksToObservationsLoad -v ./cmd/console/

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/ids"
)

func TestWebhooksToObservationsLoad(t *testing.T) {
	rate := envInt("LOAD_RATE", 1000)
	duration := time.Duration(envInt("LOAD_SECONDS", 60)) * time.Second
	senders := envInt("LOAD_SENDERS", 64)
	s := startSystem(t, map[string]string{"LOG_LEVEL": "warn"})

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
	pg0 := pgTicks(t, s.pool)
	gw0, co0 := cpuTicks(s.gatewayPid), cpuTicks(s.consolePid)
	busy0, all0 := machineTicks()
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
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = 'received'`).Scan(&left))
		if left == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d deliveries still waiting", left)
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(start)
	gw1, co1, pgSpent := cpuTicks(s.gatewayPid), cpuTicks(s.consolePid), pg0.since(t, s.pool)
	busy1, all1 := machineTicks()

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
	fmt.Printf("webhooks→observations: %d pushes at %d/s target, %.0f/s achieved over %s, drained %s after the first\n",
		total, rate, float64(total)/sent.Seconds(), sent.Round(time.Millisecond), drained.Round(time.Millisecond))
	fmt.Printf("webhooks→observations lag (gateway received → observation written): p50 %s, p99 %s, max %s (goal p99 ≤ 250 ms)\n",
		ms(p50), ms(p99), ms(maxLag))
	// Worded without "pNN" so scripts/bench.sh reads only the lag line's percentiles as lag figures.
	fmt.Printf("webhooks→observations gateway answer time: median %s, 99th percentile %s\n", ms(pct(.5).Seconds()), ms(pct(.99).Seconds()))
	per := func(ticks int64) string { return fmt.Sprintf("%.0fµs", float64(ticks)*1e4/float64(total)) }
	fmt.Printf("webhooks→observations CPU per delivery: gateway %s, console %s, postgres %s, whole machine %s (%.0f%% busy)\n",
		per(gw1-gw0), per(co1-co0), per(pgSpent), per(busy1-busy0), 100*float64(busy1-busy0)/float64(all1-all0))
}
