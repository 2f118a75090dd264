//go:build loadtest

package faults_test

// The pipeline benchmark behind `make bench` (scripts/bench.sh): both real binaries on a fresh database,
// 50 installations.
//
//   - TestPipelineLag: the console running, BENCH_LAG_RATE signed GitHub pushes per second (default 500)
//     for BENCH_LAG_DURATION (default 10 s), open loop; the lag of each delivery from the gateway
//     recording it to its observation being written (received_at → created_at, both stamped by
//     Postgres), p50 / p99 / max.
//   - TestPipelineBacklog: the console stopped, BENCH_PIPELINE_BACKLOG (default 20,000) pushes go into
//     the gateway over 64 keep-alive connections; then the console starts on that backlog, and the time
//     until every delivery is an observation gives the drain rate through both services. Each service's
//     peak resident memory (VmHWM) is read from /proc at the end of its phase.
//
// They print their figures, as BENCH lines too, and assert correctness only (every delivery exactly once).
//
//	go test -tags loadtest -count=1 -run TestPipeline -v ./faults/

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestPipelineLag(t *testing.T) {
	rate := envInt("BENCH_LAG_RATE", 500)
	duration := time.Duration(envInt("BENCH_LAG_SECONDS", 10)) * time.Second
	s := newStack(t, stackOptions{tenants: 50})
	s.startGateway()
	s.startConsole()

	// Open loop: one send per tick whatever the answers take, by a pool of senders.
	n := rate * int(duration/time.Second)
	client := newClient(64)
	defer client.CloseIdleConnections()
	work := make(chan int, n)
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for seq := range work {
				answers[seq] = s.deliver(client, seq)
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for seq := range n {
		<-tick.C
		work <- seq
	}
	tick.Stop()
	close(work)
	wg.Wait()
	achieved := float64(n) / time.Since(start).Seconds()
	require.Equal(t, map[string]int{"202": n}, statuses(answers))
	s.waitProcessed(n, 2*time.Minute)
	s.requireExactlyOnce(n)

	var p50, p99, worst float64
	require.NoError(t, s.pool.QueryRow(context.Background(), `
		SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag)
		FROM (SELECT extract(epoch FROM o.created_at - d.received_at) * 1000 AS lag
		      FROM lightfast_workspace_observations o JOIN lightfast_gw_webhook_deliveries d ON d.id = o.delivery_id) l`).Scan(&p50, &p99, &worst))
	fmt.Printf("pipeline lag: %d pushes at %d/s target (%.0f/s achieved) through both binaries: received → observation p50 %.1fms, p99 %.1fms, max %.1fms\n",
		n, rate, achieved, p50, p99, worst)
	fmt.Printf("BENCH pipeline.lag_p50_ms %.1f ms\n", p50)
	fmt.Printf("BENCH pipeline.lag_p99_ms %.1f ms\n", p99)
	fmt.Printf("BENCH pipeline.lag_max_ms %.1f ms\n", worst)
}

func TestPipelineBacklog(t *testing.T) {
	n := envInt("BENCH_PIPELINE_BACKLOG", 20_000)
	const conns = 64
	s := newStack(t, stackOptions{tenants: 50})
	gateway := s.startGateway()

	start := time.Now()
	answers := s.burst(context.Background(), 0, n, conns, false, nil)
	ingest := time.Since(start)
	require.Equal(t, map[string]int{"202": n}, statuses(answers))
	gatewayPeak, err := readRSS(gateway.Pid())
	require.NoError(t, err)
	// Answer times are from the send to the answer; the sends are back to back per connection.
	lat := make([]time.Duration, 0, n)
	for _, a := range answers {
		lat = append(lat, a.took)
	}
	slices.Sort(lat)
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]

	start = time.Now()
	console := s.startConsole()
	s.waitProcessed(n, 10*time.Minute)
	drain := time.Since(start)
	consolePeak, err := readRSS(console.Pid())
	require.NoError(t, err)
	s.requireExactlyOnce(n)

	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	fmt.Printf("pipeline ingest: %d deliveries over %d connections, console stopped: %.0f accepted/s, p99 %.2fms\n",
		n, conns, float64(n)/ingest.Seconds(), float64(p99.Microseconds())/1000)
	fmt.Printf("pipeline drain: console started on a backlog of %d deliveries, all observations written in %s: %.0f obs/s (from exec, including start-up)\n",
		n, drain.Round(time.Millisecond), float64(n)/drain.Seconds())
	fmt.Printf("peak memory (VmHWM): gateway %.1f MiB after ingesting %d, console %.1f MiB after draining %d\n", mib(gatewayPeak), n, mib(consolePeak), n)
	fmt.Printf("BENCH pipeline.drain_obs_per_s %.0f obs/s\n", float64(n)/drain.Seconds())
	fmt.Printf("BENCH pipeline.ingest_accepted_per_s %.0f req/s\n", float64(n)/ingest.Seconds())
	fmt.Printf("BENCH memory.gateway_peak_mib %.1f MiB\n", mib(gatewayPeak))
	fmt.Printf("BENCH memory.console_peak_mib %.1f MiB\n", mib(consolePeak))
}

// readRSS returns a process's peak resident set size (VmHWM) in KiB, from /proc.
func readRSS(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
