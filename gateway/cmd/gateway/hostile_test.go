package main_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// TestSecurityHostileSendersAgainstTheBinary is the adversarial ingest suite against the real gateway
// process with its production server limits: a huge declared body; a body that stalls past
// WEBHOOK_READ_TIMEOUT; dozens of senders declaring the largest allowed body and trickling it while a
// valid sender keeps getting answered; deep nesting to every provider, signed and unsigned (one such
// request used to end the process with a fatal stack overflow). After each the process is alive and serving;
// its resident memory grows with the bytes received, not the bytes declared; nothing hostile is written.
// Figures are logged for go test -v.
func TestSecurityHostileSendersAgainstTheBinary(t *testing.T) {
	t.Parallel()
	_, simURLs := gatewaytest.StartSim(t)
	dbURL := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, dbURL)
	addr := testproc.FreeAddr(t)
	url := "http://" + addr
	const readTimeout = 2 * time.Second
	env := gatewaytest.Env(dbURL, dbtest.RedisURL(t), simURLs, url)
	env["GATEWAY_ADDR"] = addr
	env["LOG_LEVEL"] = "warn"
	env["GITHUB_WEBHOOK_SECRETS"] = "hostile-github-secret"
	env["LINEAR_WEBHOOK_SECRETS"] = "hostile-linear-secret"
	env["WEBHOOK_READ_TIMEOUT"] = readTimeout.String() // WEBHOOK_MAX_BODY_BYTES and _INFLIGHT_BYTES: defaults
	p := testproc.Start(t, testproc.Build(t, "."), env, "serve")
	p.WaitReady(t, url+"/readyz", 30*time.Second)
	rss := func() int64 { r, _ := gatewaytest.RSS(t, p.Pid()); return r }
	start := rss()
	alive := func(phase string) {
		t.Helper()
		resp, err := http.Get(url + "/healthz")
		require.NoError(t, err, "%s: the gateway is gone", phase)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, phase)
	}
	post := func(provider string, body []byte, h http.Header) (int, gatewaytest.Answer) {
		t.Helper()
		conn := gatewaytest.RawPost(t, url, "/webhooks/"+provider, h, int64(len(body)), body)
		a := gatewaytest.ReadAnswer(conn)
		require.NoError(t, a.Err)
		_ = conn.Close()
		return a.Status, a
	}
	kv := func(pairs ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(pairs); i += 2 {
			h.Set(pairs[i], pairs[i+1])
		}
		return h
	}
	gh := func(secret, delivery string, body []byte) http.Header {
		h := kv("X-GitHub-Event", "push", "X-GitHub-Delivery", delivery)
		if secret != "" {
			h.Set("X-Hub-Signature-256", providersim.SignGitHub(secret, body))
		}
		return h
	}

	// A declared length over the cap: refused from the headers.
	began := time.Now()
	conn := gatewaytest.RawPost(t, url, "/webhooks/github", gh("hostile-github-secret", "huge", nil), 1<<30, []byte("{"))
	a := gatewaytest.ReadAnswer(conn)
	t.Logf("declared 1 GiB: %d %s in %s", a.Status, a.Code, time.Since(began).Round(time.Microsecond))
	require.NoError(t, a.Err)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.Status)
	require.Equal(t, "body_too_large", a.Code)
	alive("huge body")

	// A body that stops arriving: refused at WEBHOOK_READ_TIMEOUT.
	body := []byte(`{"ref":"refs/heads/main","installation":{"id":1},"repository":{"id":2}}`)
	began = time.Now()
	conn = gatewaytest.RawPost(t, url, "/webhooks/github", gh("hostile-github-secret", "slow", body), int64(len(body)), body[:10])
	a = gatewaytest.ReadAnswer(conn)
	t.Logf("stalled body: %d %s after %s (WEBHOOK_READ_TIMEOUT %s)", a.Status, a.Code, time.Since(began).Round(time.Millisecond), readTimeout)
	require.NoError(t, a.Err)
	require.Equal(t, http.StatusRequestTimeout, a.Status)
	require.Equal(t, "body_timeout", a.Code)
	require.GreaterOrEqual(t, time.Since(began), readTimeout)
	alive("slow body")

	// 64 senders declaring 26 MiB each (1.6 GiB together) trickle 1 KiB every 100 ms; each is refused at
	// the read timeout and comes straight back, as an attacker would. A valid sender posts until every
	// hostile sender has been through that cycle at least once.
	const hostiles, declared = 64, 26 << 20
	before := rss()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	chunk := []byte(strings.Repeat(" ", 1<<10))
	var mu sync.Mutex
	answers := map[int]int{} // hostile answers by status
	cycled := map[int]bool{} // hostile senders refused at least once
	for i := range hostiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := gatewaytest.DialPost(url, "/webhooks/github", gh("hostile-github-secret", fmt.Sprintf("hostile-%d", i), nil), declared, chunk)
				if err != nil {
					t.Errorf("hostile sender: %v", err)
					return
				}
				answered := gatewaytest.AnswerAsync(c)
			trickle:
				for {
					select {
					case <-stop:
						_ = c.Close()
						return
					case a := <-answered:
						mu.Lock()
						answers[a.Status]++
						cycled[i] = true
						mu.Unlock()
						break trickle
					case <-time.After(100 * time.Millisecond): // the attacker's pace
						_, _ = c.Write(chunk)
					}
				}
				_ = c.Close()
			}
		}()
	}
	allCycled := func() bool { mu.Lock(); defer mu.Unlock(); return len(cycled) == hostiles }
	var latencies []time.Duration
	peak := before
	valid := []byte(`{"ref":"refs/heads/main","installation":{"id":1},"repository":{"id":2},"after":"abc"}`)
	for i := 0; i < 20 || !allCycled(); i++ {
		began := time.Now()
		status, a := post("github", valid, gh("hostile-github-secret", fmt.Sprintf("valid-%d", i), valid))
		latencies = append(latencies, time.Since(began))
		require.Equal(t, http.StatusAccepted, status, a.Code)
		peak = max(peak, rss())
		require.Less(t, i, 100_000, "the hostile senders never got their answers")
	}
	close(stop)
	wg.Wait()
	slices.Sort(latencies)
	t.Logf("%d senders declaring %d MiB each, refused and back: %d valid deliveries 202 in median %s, p99 %s; RSS %d MiB before, peak %d MiB (%+d MiB); hostile answers by status %v",
		hostiles, declared>>20, len(latencies), latencies[len(latencies)/2].Round(time.Microsecond), latencies[len(latencies)*99/100].Round(time.Microsecond),
		before>>20, peak>>20, (peak-before)>>20, answers)
	// Buffers sized from the declared lengths would be 1.6 GiB (the 256 MiB in-flight budget would cap
	// them there); grown with the bytes received they are tens of KB per sender.
	require.Less(t, peak-before, int64(64<<20), "resident memory grew with declared lengths")
	require.Equal(t, answers[http.StatusRequestTimeout], sum(answers), "every hostile sender was refused at the read timeout")
	alive("slow senders")

	// Deep nesting: 20 million '[' (20 MB, under the 26 MiB cap) to every provider, signed and unsigned.
	const depth = 20_000_000
	now := time.Now()
	github := gatewaytest.DeepJSON(`"action":"opened","installation":{"id":1},`, depth)
	vercel := gatewaytest.DeepJSON(`"id":"evt_deep","type":"deployment.created",`, depth)
	linear := gatewaytest.DeepJSON(`"type":"Issue","organizationId":"org-1","webhookTimestamp":`+strconv.FormatInt(now.UnixMilli(), 10)+`,`, depth)
	sentry := gatewaytest.DeepJSON(`"action":"created","installation":{"uuid":"u"},`, depth)
	ts := strconv.FormatInt(now.Unix(), 10)
	deep := []struct {
		name, provider string
		body           []byte
		header         http.Header
		status         int
		code           string
	}{
		{"github signed", "github", github, gh("hostile-github-secret", "deep-1", github), 400, "malformed_payload"},
		{"github unsigned", "github", github, gh("", "deep-2", github), 401, "missing_signature"},
		{"vercel signed", "vercel", vercel, kv("X-Vercel-Signature", providersim.SignVercel(gatewaytest.VercelClientSecret, vercel)), 400, "malformed_payload"},
		{"vercel unsigned", "vercel", vercel, kv(), 401, "missing_signature"},
		{"linear signed", "linear", linear, kv("Linear-Signature", providersim.SignLinear("hostile-linear-secret", linear), "Linear-Delivery", "deep-3"), 400, "malformed_payload"},
		{"linear fake signature", "linear", linear, kv("Linear-Signature", strings.Repeat("ab", 32), "Linear-Delivery", "deep-4"), 401, "invalid_signature"},
		{"sentry signed", "sentry", sentry, kv("Sentry-Hook-Signature", providersim.SignSentry(gatewaytest.SentryClientSecret, sentry),
			"Sentry-Hook-Timestamp", ts, "Sentry-Hook-Resource", "issue", "Request-ID", "deep-5"), 400, "malformed_payload"},
		{"sentry unsigned", "sentry", sentry, kv("Sentry-Hook-Timestamp", ts, "Sentry-Hook-Resource", "issue", "Request-ID", "deep-6"), 401, "missing_signature"},
	}
	beforeDeep := rss()
	for _, c := range deep {
		began := time.Now()
		status, a := post(c.provider, c.body, c.header)
		t.Logf("deep nesting, %-22s %d %-18s in %s (%d MB sent)", c.name, status, a.Code, time.Since(began).Round(time.Millisecond), len(c.body)/1e6)
		require.Equal(t, c.status, status, c.name)
		require.Equal(t, c.code, a.Code, c.name)
		alive(c.name)
	}
	t.Logf("deep nesting: RSS %d MiB at start, %d MiB before, %d MiB after %d × 20 MB bodies", start>>20, beforeDeep>>20, rss()>>20, len(deep))

	// Nothing hostile was written: the rows are exactly the 20 valid deliveries (unrouted: no installation).
	var rows, hostileRows int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE delivery_id NOT LIKE 'valid-%')
		FROM lightfast_gw_webhook_deliveries`).Scan(&rows, &hostileRows))
	require.Equal(t, len(latencies), rows)
	require.Zero(t, hostileRows)
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
