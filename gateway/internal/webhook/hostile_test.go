package webhook_test

// Hostile senders over real HTTP (README "Security suite"): bodies nested deep enough to overflow a
// recursive parser, bodies far over the cap, bodies that never finish arriving, many slow senders at
// once, the in-flight budget exhausted, and signed bodies replayed under another lifecycle event name.
// Each case asserts the answer, that the handler is still serving, and that nothing was written; each
// logs what it measured (time to refuse, memory) for go test -v.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

func rawPost(t *testing.T, baseURL, provider string, h http.Header, length int64, first []byte) net.Conn {
	t.Helper()
	return gatewaytest.RawPost(t, baseURL, "/webhooks/"+provider, h, length, first)
}

// gauge reads a gauge of the handler's registry.
func (b *bundle) gauge(t *testing.T, name string) float64 {
	t.Helper()
	families, err := b.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

const inflightGauge = "gateway_webhook_inflight_body_bytes"

// requireNothingWritten: no delivery row and no job.
func (b *bundle) requireNothingWritten(t *testing.T) {
	t.Helper()
	deliveries, jobs := b.counts(t)
	require.Zero(t, deliveries, "no delivery row")
	require.Zero(t, jobs, "no job")
}

// requireServing: a valid delivery is still accepted.
func (b *bundle) requireServing(t *testing.T, delivery string) {
	t.Helper()
	body := fixture(t, "push/with-installation.payload.json")
	status, resp := b.post(t, "github", body, githubHeaders("gh-new", "push", delivery, body))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "accepted", resp.Status)
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestSecurityDeepNestingToEveryProvider(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := setup(t, options{now: func() time.Time { return now }, cfg: func(c *config.Config) {
		c.WebhookMaxBodyBytes, c.WebhookMaxInflightBytes = 8<<20, 64<<20
	}})
	const depth = 5_000_000 // about 5 MB of '['; the unbounded validator died with a fatal stack overflow
	ts := strconv.FormatInt(now.Unix(), 10)
	github := gatewaytest.DeepJSON(`"action":"opened","installation":{"id":1},`, depth)
	vercel := gatewaytest.DeepJSON(`"id":"evt_deep","type":"deployment.created",`, depth)
	linear := gatewaytest.DeepJSON(`"type":"Issue","action":"create","organizationId":"org-1","webhookTimestamp":`+strconv.FormatInt(now.UnixMilli(), 10)+`,`, depth)
	sentry := gatewaytest.DeepJSON(`"action":"created","installation":{"uuid":"se-uuid"},`, depth)
	// Nested exactly one level too deep but otherwise valid JSON (closed brackets).
	closed := []byte(`{"id":"evt_closed","type":"deployment.created","a":` + strings.Repeat("[", 128) + strings.Repeat("]", 128) + `}`)
	kv := func(pairs ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(pairs); i += 2 {
			h.Set(pairs[i], pairs[i+1])
		}
		return h
	}
	cases := []struct {
		name, provider string
		body           []byte
		header         http.Header
		status         int
		code           string
	}{
		{"github signed", "github", github, githubHeaders("gh-new", "push", "deep-1", github), 400, "malformed_payload"},
		{"github unsigned", "github", github, kv("X-GitHub-Event", "push", "X-GitHub-Delivery", "deep-2"), 401, "missing_signature"},
		{"github wrong secret", "github", github, githubHeaders("nope", "push", "deep-3", github), 401, "invalid_signature"},
		{"vercel signed", "vercel", vercel, kv("X-Vercel-Signature", providersim.SignVercel("vc-secret", vercel)), 400, "malformed_payload"},
		{"vercel unsigned", "vercel", vercel, kv(), 401, "missing_signature"},
		{"vercel one level too deep", "vercel", closed, kv("X-Vercel-Signature", providersim.SignVercel("vc-secret", closed)), 400, "malformed_payload"},
		// Linear's organizationId cannot be read from such a body, so the installation's own secret is not
		// tried: signed with it, the body fails as unauthenticated; signed with a fallback secret, it is
		// authentic and malformed.
		{"linear signed (fallback)", "linear", linear, kv("Linear-Signature", providersim.SignLinear("ln-fallback", linear), "Linear-Delivery", "deep-4"), 400, "malformed_payload"},
		{"linear signed (installation)", "linear", linear, kv("Linear-Signature", providersim.SignLinear("ln-installation", linear), "Linear-Delivery", "deep-5"), 401, "invalid_signature"},
		{"linear unsigned", "linear", linear, kv("Linear-Delivery", "deep-6"), 401, "missing_signature"},
		{"linear fake signature", "linear", linear, kv("Linear-Signature", strings.Repeat("ab", 32), "Linear-Delivery", "deep-7"), 401, "invalid_signature"},
		{"sentry signed", "sentry", sentry, kv("Sentry-Hook-Signature", providersim.SignSentry("se-secret", sentry), "Sentry-Hook-Timestamp", ts,
			"Sentry-Hook-Resource", "issue", "Request-ID", "deep-8"), 400, "malformed_payload"},
		{"sentry unsigned", "sentry", sentry, kv("Sentry-Hook-Timestamp", ts, "Sentry-Hook-Resource", "installation", "Request-ID", "deep-9"), 401, "missing_signature"},
	}
	for _, c := range cases {
		start := time.Now()
		status, resp := b.post(t, c.provider, c.body, c.header)
		t.Logf("%-30s %d %-18s in %s (%d bytes sent)", c.name, status, resp.Error.Code, time.Since(start).Round(time.Millisecond), len(c.body))
		require.Equal(t, c.status, status, c.name)
		require.Equal(t, c.code, resp.Error.Code, c.name)
	}
	b.requireNothingWritten(t)
	require.Zero(t, b.gauge(t, inflightGauge), "every body's reservation was released")
	b.requireServing(t, "after-deep")
}

func TestSecurityHugeBodiesAreRefusedFast(t *testing.T) {
	t.Parallel()
	b := setup(t, options{cfg: func(c *config.Config) { c.WebhookMaxBodyBytes, c.WebhookMaxInflightBytes = 26<<20, 256<<20 }})
	body := fixture(t, "push/with-installation.payload.json")
	h := githubHeaders("gh-new", "push", "huge", body)

	// A declared length over the cap: refused from the headers, before a byte of the body is read.
	start := time.Now()
	conn := rawPost(t, b.url, "github", h, 1<<30, bytes.Repeat([]byte("a"), 64<<10))
	a := gatewaytest.ReadAnswer(conn)
	t.Logf("declared 1 GiB: %d %s in %s", a.Status, a.Code, time.Since(start).Round(time.Microsecond))
	require.NoError(t, a.Err)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.Status)
	require.Equal(t, "body_too_large", a.Code)
	require.True(t, a.Close, "the connection is not kept for the rest of the body")

	// No declared length: cut off as soon as it passes the cap.
	src := &endless{}
	req, err := http.NewRequest(http.MethodPost, b.url+"/webhooks/github", io.NopCloser(src))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header = githubHeaders("gh-new", "push", "huge-chunked", nil)
	start = time.Now()
	client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
	resp, err := client.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("chunked, endless: %d in %s after the client produced %d MiB (cap 26 MiB)", resp.StatusCode, time.Since(start).Round(time.Millisecond), src.read.Load()>>20)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Contains(t, string(raw), `"code":"body_too_large"`)
	require.Less(t, src.read.Load(), int64(64<<20), "the server stopped reading soon after the cap")

	// Headers are capped too (MaxHeaderBytes): net/http answers 431 before any handler runs.
	padded := githubHeaders("gh-new", "push", "huge-headers", body)
	padded.Set("X-Pad", strings.Repeat("p", 128<<10))
	a = gatewaytest.ReadAnswer(rawPost(t, b.url, "github", padded, int64(len(body)), body))
	require.NoError(t, a.Err)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, a.Status)

	b.requireNothingWritten(t)
	require.Eventually(t, func() bool { return b.gauge(t, inflightGauge) == 0 }, 10*time.Second, 10*time.Millisecond)
	b.requireServing(t, "after-huge")
}

func TestSecuritySlowBodiesTimeOut(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	// The server's own read timeout is far longer: the refusal must come from WEBHOOK_READ_TIMEOUT.
	const serverTimeout = time.Minute
	b := setup(t, options{serverReadTimeout: serverTimeout, cfg: func(c *config.Config) { c.WebhookReadTimeout = timeout }})
	body := fixture(t, "push/with-installation.payload.json")

	cases := []struct {
		name string
		// send writes what the sender sends after the headers; it returns when told to stop.
		length int64
		send   func(conn net.Conn, stop <-chan struct{})
	}{
		{"stalls after 10 bytes", int64(len(body)), func(conn net.Conn, _ <-chan struct{}) { _, _ = conn.Write(body[:10]) }},
		// The deadline is for the whole body, not between bytes: steady trickling does not extend it.
		{"trickles a byte every 20ms", int64(len(body)), func(conn net.Conn, stop <-chan struct{}) {
			for i := 0; i < len(body); i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := conn.Write(body[i : i+1]); err != nil {
					return
				}
			}
		}},
		{"chunked, stalls after one chunk", -1, func(conn net.Conn, _ <-chan struct{}) {
			_, _ = fmt.Fprintf(conn, "%x\r\n%s\r\n", 100, body[:100])
		}},
	}
	for i, c := range cases {
		start := time.Now()
		conn := rawPost(t, b.url, "github", githubHeaders("gh-new", "push", fmt.Sprintf("slow-%d", i), body), c.length, nil)
		answered := gatewaytest.AnswerAsync(conn)
		stop := make(chan struct{})
		go c.send(conn, stop)
		a := <-answered
		close(stop)
		elapsed := time.Since(start)
		t.Logf("%-32s %d %s after %s (WEBHOOK_READ_TIMEOUT %s)", c.name, a.Status, a.Code, elapsed.Round(time.Millisecond), timeout)
		require.NoError(t, a.Err, c.name)
		require.Equal(t, http.StatusRequestTimeout, a.Status, c.name)
		require.Equal(t, "body_timeout", a.Code, c.name)
		require.GreaterOrEqual(t, elapsed, timeout, "not before the deadline")
		require.Less(t, elapsed, serverTimeout/2, "refused by WEBHOOK_READ_TIMEOUT, not the server's read timeout")
	}
	b.requireNothingWritten(t)
	require.Eventually(t, func() bool { return b.gauge(t, inflightGauge) == 0 }, 10*time.Second, 10*time.Millisecond)
	b.requireServing(t, "after-slow")
}

// A body slower than the server's own ReadTimeout but within WEBHOOK_READ_TIMEOUT is a legitimate
// sender (a provider on a slow link): the webhook route's deadline, not the server's, applies.
func TestSlowBodyWithinTheReadTimeoutIsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, options{serverReadTimeout: 300 * time.Millisecond, cfg: func(c *config.Config) { c.WebhookReadTimeout = 10 * time.Second }})
	body := fixture(t, "push/with-installation.payload.json")
	start := time.Now()
	conn := rawPost(t, b.url, "github", githubHeaders("gh-new", "push", "slow-but-fine", body), int64(len(body)), nil)
	answered := gatewaytest.AnswerAsync(conn)
	const pieces = 10
	for i := range pieces { // the body arrives over about a second
		<-time.After(100 * time.Millisecond)
		_, err := conn.Write(body[i*len(body)/pieces : (i+1)*len(body)/pieces])
		require.NoError(t, err)
	}
	a := <-answered
	t.Logf("body over %s (server ReadTimeout 300ms, WEBHOOK_READ_TIMEOUT 10s): %d", time.Since(start).Round(time.Millisecond), a.Status)
	require.NoError(t, a.Err)
	require.Equal(t, http.StatusAccepted, a.Status)
	deliveries, jobs := b.counts(t)
	require.Equal(t, 1, deliveries)
	require.Equal(t, 1, jobs)
}

// Not parallel: it measures the process heap, which parallel tests would disturb.
func TestSecuritySlowSendersDoNotStarveOthers(t *testing.T) {
	const (
		hostiles = 32
		declared = 26 << 20 // each declares the largest body allowed: 832 MiB together
	)
	b := setup(t, options{localTTL: time.Second, cfg: func(c *config.Config) {
		c.WebhookMaxBodyBytes, c.WebhookMaxInflightBytes, c.WebhookReadTimeout = declared, 256<<20, 30*time.Second
	}})
	b.requireServing(t, "warm-up")
	before := heapAlloc()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	conns := make([]net.Conn, hostiles)
	chunk := bytes.Repeat([]byte(" "), 1<<10)
	for i := range conns {
		conns[i] = rawPost(t, b.url, "github", githubHeaders("gh-new", "push", fmt.Sprintf("hostile-%d", i), nil), declared, chunk)
		wg.Add(1)
		go func(conn net.Conn) { // 1 KiB every 100 ms: alive, and far from done before the deadline
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}(conns[i])
	}
	defer func() { close(stop); wg.Wait() }()
	// Every hostile is being read: each holds at least its first 4 KiB chunk.
	require.Eventually(t, func() bool { return b.gauge(t, inflightGauge) >= hostiles*4<<10 }, 10*time.Second, 10*time.Millisecond)

	// A valid sender keeps being answered, each delivery without waiting for the hostile ones.
	body := fixture(t, "push/with-installation.payload.json")
	var latencies []time.Duration
	for i := range 20 {
		start := time.Now()
		status, resp := b.post(t, "github", body, githubHeaders("gh-new", "push", fmt.Sprintf("valid-%d", i), body))
		latencies = append(latencies, time.Since(start))
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, "accepted", resp.Status)
	}
	during := heapAlloc()
	held := b.gauge(t, inflightGauge)
	slices.Sort(latencies)
	growth := int64(during) - int64(before)
	t.Logf("%d senders declaring %d MiB each, trickling: valid deliveries 202 in median %s, max %s; heap %+d KiB; in-flight budget holds %.0f KiB",
		hostiles, declared>>20, latencies[len(latencies)/2].Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond), growth>>10, held/1024)
	// Sized from the declared lengths this would be 832 MiB; grown with the bytes received it is tens of KB
	// per sender.
	require.Less(t, growth, int64(32<<20), "heap grew with declared lengths, not received bytes")
	for _, l := range latencies {
		require.Less(t, l, 15*time.Second, "a valid delivery waited for the hostile senders")
	}

	var rows int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE delivery_id LIKE 'hostile-%'`).Scan(&rows))
	require.Zero(t, rows, "nothing from the hostile senders was written")
	for _, c := range conns {
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return b.gauge(t, inflightGauge) == 0 }, 10*time.Second, 10*time.Millisecond,
		"closed connections released their reservations")
}

func TestSecurityInflightBudgetExhausted(t *testing.T) {
	t.Parallel()
	const (
		budgetBytes = 32 << 10
		firstChunk  = 4 << 10 // the handler's first buffer when the pool has none that fits
		readTimeout = 30 * time.Second
	)
	b := setup(t, options{cfg: func(c *config.Config) {
		c.WebhookMaxBodyBytes, c.WebhookMaxInflightBytes, c.WebhookReadTimeout = budgetBytes/2, budgetBytes, readTimeout
	}})
	// Senders that declare a body and send nothing each hold a buffer (a pooled one or a first chunk)
	// until the budget has no room for another first chunk.
	var hostiles []net.Conn
	for b.gauge(t, inflightGauge) <= budgetBytes-firstChunk {
		require.Less(t, len(hostiles), 64, "the budget never filled")
		prev := b.gauge(t, inflightGauge)
		conn := rawPost(t, b.url, "github", githubHeaders("gh-new", "push", "hold", nil), budgetBytes/2, nil)
		hostiles = append(hostiles, conn)
		require.Eventually(t, func() bool { return b.gauge(t, inflightGauge) > prev }, 10*time.Second, 5*time.Millisecond)
	}

	body := fixture(t, "push/with-installation.payload.json")
	start := time.Now()
	req, err := http.NewRequest(http.MethodPost, b.url+"/webhooks/github", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = githubHeaders("gh-new", "push", "refused", body)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("budget %d KiB held by %d silent senders: %d %s in %s", budgetBytes>>10, len(hostiles), resp.StatusCode, bytes.TrimSpace(raw), time.Since(start).Round(time.Microsecond))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(raw), `"code":"busy"`)
	require.Equal(t, strconv.Itoa(int(readTimeout.Seconds())), resp.Header.Get("Retry-After"))
	b.requireNothingWritten(t)

	// The held reservations go when their senders do; the refused delivery then goes through.
	for _, c := range hostiles {
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return b.gauge(t, inflightGauge) == 0 }, 10*time.Second, 10*time.Millisecond)
	b.requireServing(t, "refused")
}

// A signed body is authentic, but the event name beside it is not signed: a captured issues.deleted body
// replayed as X-GitHub-Event: installation (with a fresh delivery id) must not uninstall anything.
func TestSecurityLifecycleHeaderReplay(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := setup(t, options{now: func() time.Time { return now }})
	ctx := context.Background()
	q := dbq.New(b.pool)
	_, err := q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: b.inst[types.GitHub], ProviderResourceID: "186853002"})
	require.NoError(t, err)
	ts := strconv.FormatInt(now.Unix(), 10)
	sentryIssue := []byte(`{"action":"deleted","installation":{"uuid":"se-uuid"},"data":{"issue":{"id":"1","project":{"id":"2"}}}}`)
	sentryInstall := []byte(`{"action":"deleted","actor":{"id":1,"type":"user"},"data":{"installation":{"uuid":"se-uuid","status":"installed"}},"installation":{"uuid":"se-uuid"}}`)
	sentryHeaders := func(body []byte, resource, id string) http.Header {
		h := http.Header{}
		h.Set("Sentry-Hook-Signature", providersim.SignSentry("se-secret", body))
		h.Set("Sentry-Hook-Timestamp", ts)
		h.Set("Sentry-Hook-Resource", resource)
		h.Set("Request-ID", id)
		return h
	}
	issues, release := fixture(t, "issues/deleted.payload.json"), fixture(t, "release/deleted.payload.json")
	for _, c := range []struct {
		name, provider string
		body           []byte
		header         http.Header
		eventType, why string
	}{
		{"issues.deleted as installation", "github", issues, githubHeaders("gh-new", "installation", "replay-1", issues), "installation.deleted",
			`X-GitHub-Event "installation" is not confirmed by the signed body: no installation.account object`},
		{"issues.deleted as repository", "github", issues, githubHeaders("gh-new", "repository", "replay-2", issues), "repository.deleted",
			`X-GitHub-Event "repository" is not confirmed by the signed body: unexpected field "issue"`},
		{"release.deleted as repository", "github", release, githubHeaders("gh-new", "repository", "replay-3", release), "repository.deleted",
			`X-GitHub-Event "repository" is not confirmed by the signed body: unexpected field "release"`},
		{"sentry issue as installation", "sentry", sentryIssue, sentryHeaders(sentryIssue, "installation", "replay-4"), "installation.deleted",
			`Sentry-Hook-Resource "installation" is not confirmed by the signed body: no data.installation object`},
	} {
		status, resp := b.post(t, c.provider, c.body, c.header)
		require.Equal(t, http.StatusAccepted, status, c.name)
		require.Equal(t, "ignored", resp.Status, c.name)
		row, err := q.GetDelivery(ctx, resp.ID)
		require.NoError(t, err)
		require.Equal(t, "ignored", row.Status, c.name)
		require.Equal(t, c.eventType, row.EventType)
		require.NotNil(t, row.LastError, c.name)
		require.Equal(t, c.why, *row.LastError, c.name)
		require.Empty(t, b.jobsFor(t, resp.ID), "%s: no lifecycle job", c.name)
	}
	for _, p := range []types.Provider{types.GitHub, types.Sentry} {
		inst, err := q.GetInstallation(ctx, b.inst[p])
		require.NoError(t, err)
		require.Equal(t, "active", inst.Status, "%s installation untouched", p)
	}
	res, err := q.ListResourcesByInstallation(ctx, b.inst[types.GitHub])
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Equal(t, "active", res[0].Status, "repository resource untouched")

	// The same kind of event with a body that confirms it gets its lifecycle job.
	status, resp := b.post(t, "sentry", sentryInstall, sentryHeaders(sentryInstall, "installation", "genuine-1"))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "accepted", resp.Status)
	jobs := b.jobsFor(t, resp.ID)
	require.Len(t, jobs, 1)
	require.Equal(t, "webhook.lifecycle", jobs[0].Kind)
}
