//go:build faults

package faults_test

// The fault suite (`make faults`). Each test breaks one thing under load and proves the outcome with
// counts from the database. They run one after another (no t.Parallel): each starts both services and
// drives the two cores of the machine on its own, and a kill must land while work is in flight.
//
// The sixth fault of the issue — three gateway replicas and an expiring token under concurrent reads,
// exactly one provider refresh per expiry — is gateway/internal/vault's
// TestRefreshIsSingleFlightAcrossProcesses, which `make faults` runs next to this package.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/testproc"
)

// TestConsoleKilledDuringBurst: 10,000 webhooks arrive while the console works them; the console is
// SIGKILLed mid-burst and started again. Every accepted delivery ends with exactly its one observation:
// work that committed before the kill is not redone, work that did not is rescued and done once.
func TestConsoleKilledDuringBurst(t *testing.T) {
	const n = 10_000
	s := newStack(t, stackOptions{tenants: 8})
	s.startGateway()
	console := s.startConsole()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan []answer, 1)
	start := time.Now()
	go func() { done <- s.burst(ctx, 0, n, 16, false, nil) }()

	// Kill once the console is well into the work, the burst still going and jobs in flight (a killed
	// worker's jobs stay "running" until they are rescued, so they are counted after the kill). On a fast
	// machine a batch can finish between the check and the signal; then the console is started again and
	// killed again, a few times at most, so the kill really lands while jobs run.
	var atKill, running int
	for attempt := 1; attempt <= 5 && running == 0; attempt++ {
		waitFor(t, 2*time.Minute, func() bool {
			return s.runCount("delivered") >= attempt*n/10 &&
				s.count(`SELECT count(*) FROM river_job WHERE kind = 'webhook.process' AND state = 'running'`) > 0
		}, func() string {
			return fmt.Sprintf("console made no progress: %v", s.deliveryStatuses())
		})
		kill(t, console)
		atKill = s.runCount("delivered")
		running = s.count(`SELECT count(*) FROM river_job WHERE kind = 'webhook.process' AND state = 'running'`)
		t.Logf("kill %d: console killed with %d delivered, %d jobs running, %d recorded", attempt, atKill, running, s.runCount(""))
		if running == 0 {
			console = s.startConsole()
		}
	}

	answers := <-done
	t.Logf("burst of %d answered in %s", n, time.Since(start).Round(time.Millisecond))
	require.Equal(t, map[string]int{"202": n}, statuses(answers), "the gateway accepted every delivery while the console was down")
	require.Less(t, atKill, n, "the kill landed mid-burst")
	require.Positive(t, running, "the kill landed while jobs were running")

	s.startConsole()
	took := s.waitProcessed(n, 3*time.Minute)
	t.Logf("restarted console finished the rest in %s", took.Round(time.Millisecond))
	s.requireExactlyOnce(n)
}

// TestGatewayKilledDuringBurst: the gateway is SIGKILLed mid-burst and started again on the same
// address. Senders retry what got no answer, as providers do. Every delivery that got a 2xx is in the
// database and is processed, exactly once; a delivery committed just before the kill, whose answer was
// lost, is answered "duplicate" on retry and not recorded twice.
func TestGatewayKilledDuringBurst(t *testing.T) {
	const n = 6_000
	s := newStack(t, stackOptions{tenants: 8})
	gateway := s.startGateway()
	s.startConsole()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var acked atomic.Int64
	done := make(chan []answer, 1)
	go func() { done <- s.burst(ctx, 0, n, 16, true, &acked) }()

	waitFor(t, 2*time.Minute, func() bool { return acked.Load() >= n/4 }, func() string { return "the burst made no progress" })
	kill(t, gateway)
	atKill := acked.Load()
	recorded := s.runCount("")
	t.Logf("gateway killed after %d 2xx answers, %d rows recorded", atKill, recorded)
	require.GreaterOrEqual(t, recorded, int(atKill), "every 2xx before the kill was a committed row")
	time.Sleep(300 * time.Millisecond) // senders meet a closed port for a while, as during a real restart
	s.startGateway()

	answers := <-done
	for i, a := range answers {
		require.True(t, a.ok(), "delivery %d never got a 2xx: %v %v", i, a.status, a.err)
	}
	st := statuses(answers)
	t.Logf("final answers %v", st)
	require.Less(t, int(atKill), n, "the kill landed mid-burst")

	// Every 202's id is the row of its delivery.
	for i, a := range answers {
		if a.status == http.StatusAccepted {
			require.Equal(t, 1, s.count(`SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE id = $1 AND delivery_id = $2`,
				a.id, s.deliveryKey(i)), "delivery %d", i)
		}
	}
	s.waitProcessed(n, 3*time.Minute)
	s.requireExactlyOnce(n)
}

// TestRedisDownDuringBurst: the routing cache's Redis is killed mid-burst. Ingest keeps answering 202
// (routing falls back to Postgres) and every delivery is processed. When Redis comes back empty, the
// admin cache rebuild restores the hit rate at once: the next deliveries of every installation find
// their route in Redis (or in the gateway's one-second in-process cache in front of it), none has to
// miss to Postgres first.
func TestRedisDownDuringBurst(t *testing.T) {
	const tenants, n = 50, 4_000
	s := newStack(t, stackOptions{tenants: tenants})
	s.startGateway()
	s.startConsole()
	lookups := func(result string) float64 {
		return s.metric(`gateway_routing_cache_lookups_total{result="` + result + `"}`)
	}

	warm := s.burst(context.Background(), 0, 2*tenants, 8, false, nil)
	require.Equal(t, map[string]int{"202": 2 * tenants}, statuses(warm))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var acked atomic.Int64
	done := make(chan []answer, 1)
	go func() { done <- s.burst(ctx, 2*tenants, n, 16, false, &acked) }()
	waitFor(t, time.Minute, func() bool { return acked.Load() >= n/4 }, func() string { return "the burst made no progress" })
	s.redis.Stop()
	down := time.Now()
	answers := <-done
	require.Equal(t, map[string]int{"202": n}, statuses(answers), "ingest answered 2xx through the outage")
	during := 0
	for _, a := range answers {
		if a.sentAt.After(down) {
			during++
		}
	}
	redisErrors := s.metric("gateway_routing_cache_errors_total")
	t.Logf("%d of %d deliveries were sent with Redis down; Redis errors met: %.0f", during, n, redisErrors)
	require.GreaterOrEqual(t, during, n/4, "a good part of the burst met the outage")
	require.Positive(t, redisErrors, "the gateway did try the dead Redis")

	// Redis returns, empty. The rebuild refills it from Postgres.
	s.redis.Start()
	waitFor(t, 10*time.Second, func() bool { return status(s.gatewayURL()+"/readyz") == http.StatusOK }, func() string { return "gateway not ready after Redis returned" })
	var rebuilt map[string]any
	require.Equal(t, http.StatusOK, s.adminPost("/admin/cache/rebuild", "", &rebuilt))
	t.Logf("rebuild: %v", rebuilt)
	// Past the in-process cache's TTL and the back-off after the last Redis error, so the next lookups
	// go to Redis again.
	time.Sleep(1500 * time.Millisecond)
	hit0, local0, miss0 := lookups("hit"), lookups("local"), lookups("miss")
	after := s.burst(context.Background(), 2*tenants+n, 10*tenants, 8, false, nil)
	require.Equal(t, map[string]int{"202": 10 * tenants}, statuses(after))
	hits, local, misses := lookups("hit")-hit0, lookups("local")-local0, lookups("miss")-miss0
	t.Logf("after the rebuild: %.0f Redis hits, %.0f in-process hits, %.0f misses", hits, local, misses)
	require.Zero(t, misses, "no installation had to miss to be cached again")
	require.Equal(t, float64(10*tenants), hits+local)
	require.GreaterOrEqual(t, hits, float64(tenants), "every installation's route was found in the rebuilt Redis")

	total := 2*tenants + n + 10*tenants
	s.waitProcessed(total, 2*time.Minute)
	s.requireExactlyOnce(total)
}

// TestPostgresDownAndBack: Postgres becomes unreachable (a proxy between it and both services drops
// every connection and stops listening). Ingest answers 503 to every delivery — never a 2xx without the
// durable write — and records nothing. When Postgres is back, both running services recover without a
// restart within 5 s: the gateway accepts again, the console processes again, both are ready.
func TestPostgresDownAndBack(t *testing.T) {
	s := newStack(t, stackOptions{tenants: 4, proxyPostgres: true})
	gateway := s.startGateway()
	console := s.startConsole()
	before := s.burst(context.Background(), 0, 200, 8, false, nil)
	require.Equal(t, map[string]int{"202": 200}, statuses(before))
	s.waitProcessed(200, time.Minute)

	s.pg.Cut()
	outage := time.Now()
	var during []answer
	for seq := 200; time.Since(outage) < 3*time.Second; seq += 4 {
		during = append(during, s.burst(context.Background(), seq, 4, 4, false, nil)...)
	}
	require.NotEmpty(t, during)
	require.Equal(t, map[string]int{"503": len(during)}, statuses(during), "only 503 while Postgres is away")
	for _, a := range during {
		require.Less(t, a.sentAt.Sub(outage), 4*time.Second)
	}
	t.Logf("%d deliveries answered 503 during the outage", len(during))
	require.NotEqual(t, http.StatusOK, status(s.gatewayURL()+"/readyz"))
	require.NotEqual(t, http.StatusOK, status(s.consoleURL()+"/readyz"))

	s.pg.Open()
	back := time.Now()
	// The gateway takes a delivery again; the console turns it into its observation.
	next := 200 + len(during) + 1000
	client := newClient(1)
	var accepted answer
	waitFor(t, 5*time.Second, func() bool {
		accepted = s.deliver(client, next)
		return accepted.status == http.StatusAccepted
	}, func() string { return fmt.Sprintf("gateway still answers %d %v", accepted.status, accepted.err) })
	gatewayBack := time.Since(back)
	waitFor(t, 5*time.Second-time.Since(back), func() bool {
		return s.count(`SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE id = $1 AND status = 'delivered'`, accepted.id) == 1
	}, func() string { return "the console did not process the new delivery within 5 s of Postgres returning" })
	consoleBack := time.Since(back)
	waitFor(t, 5*time.Second-time.Since(back), func() bool {
		return status(s.gatewayURL()+"/readyz") == http.StatusOK && status(s.consoleURL()+"/readyz") == http.StatusOK
	}, func() string { return "a service is not ready within 5 s of Postgres returning" })
	t.Logf("after Postgres returned: gateway accepting in %s, console processing in %s, both ready in %s",
		gatewayBack.Round(time.Millisecond), consoleBack.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))

	// The same processes throughout (no restart), and nothing of the outage was recorded.
	for _, p := range []*testproc.Process{gateway, console} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, err := p.Wait(ctx)
		cancel()
		require.Error(t, err, "still running")
	}
	require.Equal(t, 201, s.runCount(""), "the 200 before and the one after; none of the 503s")
	s.waitProcessed(201, time.Minute)
	s.requireExactlyOnce(201)
}

// TestPoisonDeliveryGoesToDLQThenReplaysOnce: one delivery fails every attempt (a trigger refuses its
// observation, as a bug on that payload would). It is retried up to webhook.process's configured
// attempts — the test moves each retry forward instead of waiting out River's back-off — and then
// dead-lettered, while 500 other deliveries flow through untouched. After the fix (the trigger is
// dropped) an admin replay processes it exactly once, and a second replay is a no-op.
func TestPoisonDeliveryGoesToDLQThenReplaysOnce(t *testing.T) {
	const maxAttempts = 8 // jobs.WebhookProcess's MaxAttempts
	s := newStack(t, stackOptions{tenants: 4})
	s.startGateway()
	s.startConsole()
	ctx := context.Background()
	_, err := s.pool.Exec(ctx, `
		CREATE FUNCTION faults_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'poisoned by the fault test'; END $$;
		CREATE TRIGGER faults_poison BEFORE INSERT ON lightfast_workspace_observations
		FOR EACH ROW WHEN (NEW.body LIKE '%poison-pill%') EXECUTE FUNCTION faults_poison();`)
	require.NoError(t, err)

	poison := s.deliverBody(newClient(1), 0, pushBodyWithMessage(s.tenants[0], 0, "poison-pill"))
	require.Equal(t, http.StatusAccepted, poison.status)
	var job int64
	waitFor(t, 10*time.Second, func() bool {
		return s.pool.QueryRow(ctx, `SELECT id FROM river_job WHERE args->>'deliveryId' = $1`, poison.id).Scan(&job) == nil
	}, func() string { return "no job for the poison delivery" })

	// Move each retry of the poison job forward, while the other deliveries flow.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				_, _ = s.pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now() WHERE id = $1 AND state = 'retryable'`, job)
			}
		}
	}()
	others := s.burst(ctx, 1, 500, 8, false, nil)
	require.Equal(t, map[string]int{"202": 500}, statuses(others))

	var state string
	var attempt int
	waitFor(t, time.Minute, func() bool {
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE id = $1`, job).Scan(&state, &attempt))
		return state == "discarded"
	}, func() string { return fmt.Sprintf("poison job is %s after %d attempts", state, attempt) })
	require.Equal(t, maxAttempts, attempt, "dead-lettered after exactly the configured attempts")
	var dstatus, lastError string
	var dattempts int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT status, attempts, coalesce(last_error, '') FROM lightfast_gw_webhook_deliveries WHERE id = $1`,
		poison.id).Scan(&dstatus, &dattempts, &lastError))
	require.Equal(t, "dlq", dstatus)
	require.Equal(t, maxAttempts, dattempts)
	require.Contains(t, lastError, "poisoned by the fault test")
	require.Zero(t, s.count(`SELECT count(*) FROM lightfast_workspace_observations WHERE delivery_id = $1`, poison.id))
	// The rest flowed meanwhile.
	s.waitProcessed(500, time.Minute)
	require.Equal(t, 500, s.runCount("delivered"))

	// The fix ships; the operator replays the dead letter.
	_, err = s.pool.Exec(ctx, `DROP TRIGGER faults_poison ON lightfast_workspace_observations`)
	require.NoError(t, err)
	var res struct{ Replayed, Skipped, Failed int }
	require.Equal(t, http.StatusOK, s.adminPost("/admin/dlq/replay", `{"deliveryIds":["`+poison.id+`"]}`, &res))
	require.Equal(t, 1, res.Replayed, "%+v", res)
	s.waitProcessed(501, 30*time.Second)
	require.Equal(t, 1, s.count(`SELECT count(*) FROM lightfast_workspace_observations WHERE delivery_id = $1`, poison.id), "processed once")

	// Replaying it again does nothing.
	res = struct{ Replayed, Skipped, Failed int }{}
	require.Equal(t, http.StatusOK, s.adminPost("/admin/dlq/replay", `{"deliveryIds":["`+poison.id+`"]}`, &res))
	require.Equal(t, 0, res.Replayed, "%+v", res)
	require.Equal(t, 1, res.Skipped, "%+v", res)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 1, s.count(`SELECT count(*) FROM river_job WHERE args->>'deliveryId' = $1`, poison.id), "no second job")
	s.requireExactlyOnce(501)
}

// TestStrandedDeliveryIsSweptToDLQ: a delivery's last attempt dies with its worker (the console is
// SIGKILLed while the job, on its last attempt, waits in its transaction). River rescues the job and,
// its attempts spent, discards it; nobody writes the delivery's status, so it is still `received`. The
// gateway's delivery.sweep (at start, and every 5 minutes) dead-letters it with the reason, and an admin
// replay then processes it exactly once.
func TestStrandedDeliveryIsSweptToDLQ(t *testing.T) {
	const maxAttempts = 8 // jobs.WebhookProcess's MaxAttempts
	s := newStack(t, stackOptions{tenants: 1})
	s.startGateway()
	ctx := context.Background()
	// The delivery's observation insert waits a few seconds: its worker is surely mid-attempt when killed.
	_, err := s.pool.Exec(ctx, `
		CREATE FUNCTION faults_hold() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$;
		CREATE TRIGGER faults_hold BEFORE INSERT ON lightfast_workspace_observations
		FOR EACH ROW WHEN (NEW.body LIKE '%hold-me%') EXECUTE FUNCTION faults_hold();`)
	require.NoError(t, err)

	d := s.deliverBody(newClient(1), 0, pushBodyWithMessage(s.tenants[0], 0, "hold-me"))
	require.Equal(t, http.StatusAccepted, d.status)
	var job int64
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT id FROM river_job WHERE args->>'deliveryId' = $1`, d.id).Scan(&job))
	// Its earlier attempts failed (as the poison test shows they are counted): the next one is its last.
	_, err = s.pool.Exec(ctx, `UPDATE river_job SET attempt = $2 WHERE id = $1`, job, maxAttempts-1)
	require.NoError(t, err)

	console := s.startConsole()
	waitFor(t, 20*time.Second, func() bool {
		return s.count(`SELECT count(*) FROM river_job WHERE id = $1 AND state = 'running' AND attempt = $2`, job, maxAttempts) == 1
	}, func() string { return fmt.Sprintf("the last attempt did not start: jobs %v", s.jobStates()) })
	kill(t, console)

	// River's rescuer (the gateway's client leads now) finds the job stuck and, its attempts spent,
	// discards it. The delivery is left received: stranded.
	var state string
	waitFor(t, 90*time.Second, func() bool {
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, job).Scan(&state))
		return state == "discarded"
	}, func() string { return "the stuck job is " + state })
	require.Equal(t, 1, s.runCount("received"), "stranded")

	// The grace period (JOB_RESCUE_AFTER + 5 min) passes; a gateway start runs the sweep at once.
	_, err = s.pool.Exec(ctx, `UPDATE lightfast_gw_webhook_deliveries SET received_at = received_at - interval '1 hour' WHERE id = $1`, d.id)
	require.NoError(t, err)
	require.NoError(t, s.gateway.Signal(syscall.SIGTERM))
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = s.gateway.Wait(waitCtx)
	cancel()
	require.NoError(t, err)
	s.startGateway()
	var lastError string
	waitFor(t, 30*time.Second, func() bool { return s.runCount("dlq") == 1 }, func() string {
		return fmt.Sprintf("not dead-lettered: statuses %v", s.deliveryStatuses())
	})
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT last_error FROM lightfast_gw_webhook_deliveries WHERE id = $1`, d.id).Scan(&lastError))
	require.Contains(t, lastError, "stranded: its job ended discarded")
	require.Equal(t, float64(1), s.metric("gateway_deliveries_stranded_total"))

	// The cause is fixed; the operator replays it: processed once.
	_, err = s.pool.Exec(ctx, `DROP TRIGGER faults_hold ON lightfast_workspace_observations`)
	require.NoError(t, err)
	s.startConsole()
	var res struct{ Replayed, Skipped, Failed int }
	require.Equal(t, http.StatusOK, s.adminPost("/admin/dlq/replay", `{"deliveryIds":["`+d.id+`"]}`, &res))
	require.Equal(t, 1, res.Replayed, "%+v", res)
	s.waitProcessed(1, 30*time.Second)
	s.requireExactlyOnce(1)
}

// kill SIGKILLs p and waits for it to be gone.
func kill(t testing.TB, p *testproc.Process) {
	t.Helper()
	require.NoError(t, p.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, -1, code, "killed by the signal")
}

// adminPost calls an admin endpoint and decodes its JSON answer into out.
func (s *stack) adminPost(path, body string, out any) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.gatewayURL()+path, strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("X-Admin-Key", adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if out != nil && resp.StatusCode == http.StatusOK {
		require.NoError(s.t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode
}

// status GETs url and returns the status (0 when there is no answer).
func status(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// metric sums the samples of a Prometheus counter whose series line starts with series (name and, when
// given, the opening of its label set), read from the gateway's /metrics.
func (s *stack) metric(series string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.gatewayURL() + "/metrics")
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	total := 0.0
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, series) {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err == nil {
				total += v
			}
		}
	}
	return total
}
