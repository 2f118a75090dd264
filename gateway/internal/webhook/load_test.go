//go:build loadtest

package webhook_test

// The webhook ingest load generator behind `make bench` (scripts/bench.sh). It builds and starts the real
// gateway binary on loopback against a fresh database, then LOAD_CONNS keep-alive connections (default
// 64) post a 4 KB signed GitHub push, each with a unique X-GitHub-Delivery, back to back for
// LOAD_DURATION (default 15s) after a LOAD_WARMUP (default 2s). It prints accepted/s, p50 / p90 / p99 /
// max latency and CPU per request (gateway, Postgres, this generator, whole machine), then checks that
// every accepted delivery has its row and its job. It asserts correctness only, never a speed.
//
//	go test -tags loadtest -count=1 -run TestIngestLoad -v ./internal/webhook/
//
// The client is a minimal HTTP/1.1 writer and reader on raw connections (like wrk): the signature
// covers only the body, so every request is the same precomputed bytes plus its delivery id, and the
// generator spends its share of the two cores on sending rather than on net/http's client.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

func loadEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func loadEnvDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// pushBody is a GitHub push payload of about size bytes for the given installation.
func pushBody(installation int64, size int) []byte {
	commit := `{"id":"%040x","tree_id":"%040x","distinct":true,"message":"Update the ingest path %d","timestamp":"2026-01-02T03:04:05Z",` +
		`"url":"https://github.com/acme/widgets/commit/%040x","author":{"name":"Ada","email":"ada@example.com","username":"ada"},` +
		`"committer":{"name":"Ada","email":"ada@example.com","username":"ada"},"added":[],"removed":[],"modified":["README.md"]}`
	head := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%040x","after":"%040x","created":false,"deleted":false,"forced":false,`+
		`"repository":{"id":186853002,"node_id":"MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=","name":"widgets","full_name":"acme/widgets","private":false,`+
		`"owner":{"login":"acme","id":21031067},"default_branch":"main"},"pusher":{"name":"ada","email":"ada@example.com"},`+
		`"sender":{"login":"ada","id":21031067},"installation":{"id":%d,"node_id":"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},"commits":[`, 1, 2, installation)
	var b strings.Builder
	b.WriteString(head)
	for i := 0; b.Len() < size-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, commit, i, i, i, i)
	}
	b.WriteString(`],"head_commit":null}`)
	return []byte(b.String())
}

// cpuTicks returns utime+stime (clock ticks) of a process.
func cpuTicks(pid int) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	s, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + s
}

// postgresPids are the Postgres processes that work for this benchmark: the backends connected to its
// database (the gateway's pool) and the shared WAL writer, checkpointer and background writer. Other
// databases on the same server (other test suites) are left out.
func postgresPids(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT pid FROM pg_stat_activity
		WHERE (datname = current_database() AND pid <> pg_backend_pid())
		   OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`)
	require.NoError(t, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

func sumTicks(pids []int) int64 {
	var total int64
	for _, p := range pids {
		total += cpuTicks(p)
	}
	return total
}

// machineBusy returns busy and total ticks of all CPUs.
func machineBusy() (busy, total int64) {
	raw, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(raw), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

func selfTicks() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	us := ru.Utime.Sec*1e6 + ru.Utime.Usec + ru.Stime.Sec*1e6 + ru.Stime.Usec
	return us / 1e4 // ticks of 10 ms, like /proc
}

type loadResult struct {
	latencies []time.Duration
	statuses  map[int]int
	errors    int
}

// hammer runs conns raw HTTP/1.1 connections until ctx ends.
func hammer(ctx context.Context, addr, runID string, conns int, body []byte, sig string) loadResult {
	prefix := "POST /webhooks/github HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: GitHub-Hookshot/loadgen\r\n" +
		"Content-Type: application/json\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: " + sig + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nX-GitHub-Delivery: "
	var mu sync.Mutex
	res := loadResult{statuses: map[int]int{}}
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<15)
			statuses := map[int]int{}
			errs := 0
			var conn net.Conn
			var br *bufio.Reader
			req := make([]byte, 0, len(prefix)+len(body)+64)
			for seq := 0; ctx.Err() == nil; seq++ {
				if conn == nil {
					var err error
					if conn, err = net.Dial("tcp", addr); err != nil {
						errs++
						time.Sleep(10 * time.Millisecond)
						continue
					}
					br = bufio.NewReaderSize(conn, 4096)
				}
				t0 := time.Now()
				req = append(req[:0], prefix...)
				req = append(req, runID...)
				req = append(req, '-')
				req = strconv.AppendInt(req, int64(c), 10)
				req = append(req, '-')
				req = strconv.AppendInt(req, int64(seq), 10)
				req = append(req, "\r\n\r\n"...)
				req = append(req, body...)
				_, werr := conn.Write(req)
				status, keep, err := readResponse(br, werr)
				if err != nil {
					errs++
					conn.Close()
					conn = nil
					continue
				}
				lat = append(lat, time.Since(t0))
				statuses[status]++
				if !keep {
					conn.Close()
					conn = nil
				}
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			for k, v := range statuses {
				res.statuses[k] += v
			}
			res.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	return res
}

// readResponse reads one response: status, whether the connection stays open.
func readResponse(br *bufio.Reader, writeErr error) (int, bool, error) {
	if writeErr != nil {
		return 0, false, writeErr
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, errors.New("bad status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, err
	}
	length, keep := -1, true
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(h) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(bytes.TrimRight(h, "\r\n"), []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(value))
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		}
	}
	if length < 0 {
		return 0, false, errors.New("response without Content-Length")
	}
	if _, err := br.Discard(length); err != nil {
		return 0, false, err
	}
	return status, keep, nil
}

func TestIngestLoad(t *testing.T) {
	conns := loadEnvInt("LOAD_CONNS", 64)
	duration := loadEnvDuration("LOAD_DURATION", 15*time.Second)
	warmup := loadEnvDuration("LOAD_WARMUP", 2*time.Second)
	size := loadEnvInt("LOAD_BODY_BYTES", 4096)

	bin := testproc.Build(t, "../../cmd/gateway")
	dbURL := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, dbURL)
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	require.NoError(t, err)
	installation := n.Int64() + 1
	_, err = dbq.New(pool).UpsertInstallation(context.Background(), dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: strconv.FormatInt(installation, 10), ConnectedBy: "user_bench", OrgID: "org_bench",
	})
	require.NoError(t, err)

	addr := testproc.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": dbtest.RedisURL(t), "GATEWAY_ADDR": addr,
		"ENCRYPTION_KEYS":  testKeys,
		"GATEWAY_API_KEYS": "bench-api-key", "GATEWAY_ADMIN_KEYS": "bench-admin-key",
		"GITHUB_WEBHOOK_SECRETS": "bench-secret",
	}
	for _, name := range []string{"LOG_LEVEL", "GOGC", "GOMAXPROCS"} {
		if v := os.Getenv("LOAD_" + name); v != "" {
			env[name] = v
		}
	}
	p := testproc.Start(t, bin, env, "serve")
	p.WaitReady(t, "http://"+addr+"/readyz", 30*time.Second)

	body := pushBody(installation, size)
	sig := providersim.SignGitHub("bench-secret", body)
	runID := make([]byte, 6)
	_, _ = rand.Read(runID)

	wctx, cancel := context.WithTimeout(context.Background(), warmup)
	warm := hammer(wctx, addr, "warm-"+hex.EncodeToString(runID), conns, body, sig)
	cancel()
	require.Zero(t, warm.errors, "warm-up: connection errors")

	gwPid := p.Pid()
	pgPids := postgresPids(t, pool)
	gw0, pg0, self0 := cpuTicks(gwPid), sumTicks(pgPids), selfTicks()
	busy0, total0 := machineBusy()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	res := hammer(ctx, addr, "run-"+hex.EncodeToString(runID), conns, body, sig)
	cancel()
	elapsed := time.Since(start)
	gw1, pg1, self1 := cpuTicks(gwPid), sumTicks(pgPids), selfTicks()
	busy1, total1 := machineBusy()

	accepted := res.statuses[202]
	require.Zero(t, res.errors, "connection errors")
	require.Equal(t, len(res.latencies), accepted, "every answer 202: %v", res.statuses)
	slices.Sort(res.latencies)
	pct := func(q float64) time.Duration {
		return res.latencies[min(len(res.latencies)-1, int(q*float64(len(res.latencies))))]
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	perReq := func(ticks int64) string { return fmt.Sprintf("%.0fµs", float64(ticks)*1e4/float64(accepted)) }
	cores := float64(total1-total0) / elapsed.Seconds() / 100 // ticks per second per core = 100
	fmt.Printf("webhook ingest: %d connections, %s, %d B body: %d accepted, %.0f accepted/s, p50 %s, p90 %s, p99 %s, max %s\n",
		conns, duration, len(body), accepted, float64(accepted)/elapsed.Seconds(), ms(pct(.50)), ms(pct(.90)), ms(pct(.99)), ms(res.latencies[len(res.latencies)-1]))
	fmt.Printf("webhook ingest CPU per accepted request: gateway %s, postgres %s, load generator %s, whole machine %s (%.0f%% of %.0f cores busy)\n",
		perReq(gw1-gw0), perReq(pg1-pg0), perReq(self1-self0), perReq(busy1-busy0), 100*float64(busy1-busy0)/float64(total1-total0), cores)

	// How large the group commits were (the gateway's own histogram, warm-up included).
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var sum, count, seconds float64
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "gateway_webhook_commit_batch_size_sum "); ok {
				sum, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(line, "gateway_webhook_commit_batch_size_count "); ok {
				count, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(line, `gateway_webhook_commit_seconds_sum{result="ok"} `); ok {
				seconds, _ = strconv.ParseFloat(v, 64)
			}
		}
		if count > 0 {
			fmt.Printf("webhook ingest group commit: %.0f transactions, %.1f deliveries and %.2f ms per transaction on average\n",
				count, sum/count, seconds/count*1000)
		}
	}

	// Every 202 was a committed row with its job: count them for this run.
	var rows, jobs int
	require.NoError(t, pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE delivery_id LIKE $1 AND status = 'received'),
		       (SELECT count(*) FROM river_job j JOIN lightfast_gw_webhook_deliveries d ON d.id = j.args->>'deliveryId'
		        WHERE d.delivery_id LIKE $1 AND j.kind = 'webhook.process')`, "run-"+hex.EncodeToString(runID)+"-%").Scan(&rows, &jobs))
	fmt.Printf("webhook ingest durability: %d accepted, %d rows, %d jobs\n", accepted, rows, jobs)
	require.Equal(t, accepted, rows)
	require.Equal(t, accepted, jobs)
}
