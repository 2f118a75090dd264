//go:build loadtest

package vault_test

// The token endpoint load generator behind `make bench` (scripts/bench.sh): a real gateway binary on
// loopback, one installation with a fresh token (no refresh on the hot path), LOAD_CONNS keep-alive
// connections (default 16) sending GET /connections/:id/token back to back for LOAD_DURATION (default
// 10s) after a warm-up; and, in the same run against the same database and installation, the
// reference server (cmd/benchref token: the endpoint's one query and AES-GCM decrypt per request and
// nothing else), since the goal is a ratio to it (issue #16). It prints p50 / p90 / p99 / max latency and
// requests per second of each, and BENCH lines <key>.p99 / <key>.per_s and <key>_ref.p99 /
// <key>_ref.per_s (key: LOAD_BENCH_KEY, default token); it asserts only that every answer was 200,
// never a speed.
//
//	go test -tags loadtest -run TestTokenEndpointLoad -v ./internal/vault/

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestTokenEndpointLoad(t *testing.T) {
	conns := envInt("LOAD_CONNS", 16)
	duration := envDuration("LOAD_DURATION", 10*time.Second)
	warmup := envDuration("LOAD_WARMUP", 2*time.Second)
	key := os.Getenv("LOAD_BENCH_KEY")
	if key == "" {
		key = "token"
	}

	bin := testproc.Build(t, "../../cmd/gateway")
	sim, simURLs := gatewaytest.StartSim(t)
	dbURL := dbtest.NewDatabaseURL(t)
	addr := testproc.FreeAddr(t)
	base := "http://" + addr
	env := gatewaytest.Env(dbURL, dbtest.RedisURL(t), simURLs, base)
	env["GATEWAY_ADDR"] = addr
	env["LOG_LEVEL"] = os.Getenv("LOAD_LOG_LEVEL") // empty: the default (info, with the access log)
	if env["LOG_LEVEL"] == "" {
		delete(env, "LOG_LEVEL")
	}
	p := testproc.Start(t, bin, env, "serve")
	p.WaitReady(t, base+"/readyz", 30*time.Second)
	require.NoError(t, sim.SetGatewayURL(base))
	g := &gatewaytest.Gateway{URL: base, Pool: dbtest.Pool(t, dbURL), Sim: sim, SimURLs: simURLs, Seen: &gatewaytest.Secrets{}}
	id := g.Connect(t, types.Linear, "org_bench", "user_bench") // fresh for an hour

	refAddr := testproc.FreeAddr(t)
	ref := testproc.Start(t, testproc.Build(t, "../../cmd/benchref"), map[string]string{
		"DATABASE_URL": dbURL, "ENCRYPTION_KEYS": env["ENCRYPTION_KEYS"], "BENCHREF_ADDR": refAddr,
	}, "token")
	ref.WaitReady(t, "http://"+refAddr+"/readyz", 30*time.Second)

	targets := []struct {
		name, url string
		pid       int
		lat       []time.Duration
		elapsed   time.Duration
		ticks     int64 // the server's CPU over its rounds
	}{
		{name: key + "_ref", url: "http://" + refAddr + "/connections/" + id + "/token", pid: ref.Pid()},
		{name: key, url: base + "/connections/" + id + "/token", pid: p.Pid()},
	}
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var failures atomic.Int64
	run := func(url string, d time.Duration) ([]time.Duration, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var mu sync.Mutex
		var all []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		for range conns {
			wg.Go(func() {
				lat := make([]time.Duration, 0, 1<<16)
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("X-API-Key", gatewaytest.APIKey)
				for ctx.Err() == nil {
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						failures.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failures.Add(1)
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return all, time.Since(start)
	}

	for _, tg := range targets {
		run(tg.url, warmup)
	}
	// Half the duration each, in the order reference, gateway, gateway, reference: whatever else the
	// machine does drifts over the run, and this order gives both the same share of early and late.
	for _, i := range []int{0, 1, 1, 0} {
		ticks := testproc.CPUTicks(targets[i].pid)
		lat, elapsed := run(targets[i].url, duration/2)
		targets[i].ticks += testproc.CPUTicks(targets[i].pid) - ticks
		targets[i].lat = append(targets[i].lat, lat...)
		targets[i].elapsed += elapsed
	}

	require.Zero(t, failures.Load(), "every request answered 200")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, tg := range targets {
		lat := tg.lat
		require.NotEmpty(t, lat)
		slices.Sort(lat)
		pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
		perS := float64(len(lat)) / tg.elapsed.Seconds()
		what := "token endpoint"
		if tg.name != key {
			what = "token reference (one query + AES-GCM decrypt)"
		}
		cpuUS := float64(tg.ticks) * 10_000 / float64(len(lat)) // ticks are 10 ms
		fmt.Printf("%s: %d connections, %s: %d requests, %.0f req/s, p50 %.3fms, p90 %.3fms, p99 %.3fms, max %.3fms, server CPU %.1f µs/request\n",
			what, conns, duration, len(lat), perS, ms(pct(0.50)), ms(pct(0.90)), ms(pct(0.99)), ms(lat[len(lat)-1]), cpuUS)
		fmt.Printf("BENCH %s.p99 %.3f ms\n", tg.name, ms(pct(0.99)))
		fmt.Printf("BENCH %s.per_s %.0f req/s\n", tg.name, perS)
		fmt.Printf("BENCH %s.cpu_us %.1f µs/request\n", tg.name, cpuUS)
	}
}
