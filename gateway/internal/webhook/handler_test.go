package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

func githubHeaders(secret, event, delivery string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", providersim.SignGitHub(secret, body))
	return h
}

func TestGitHubFixturesAreRecordedWithTheirJob(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	cases := []struct {
		file, event, kind, queue, eventType string
	}{
		{"push/with-installation.payload.json", "push", "webhook.process", "webhooks", "push"},
		{"pull_request/ready_for_review.with-installation.payload.json", "pull_request", "webhook.process", "webhooks", "pull_request.ready_for_review"},
		{"deployment/with-installation.payload.json", "deployment", "webhook.process", "webhooks", "deployment.created"},
		{"repository/transferred.with-installation.payload.json", "repository", "webhook.lifecycle", "gateway", "repository.transferred"},
	}
	for i, c := range cases {
		body := fixture(t, c.file)
		delivery := fmt.Sprintf("gh-%d", i)
		// Both configured secrets verify (rotation).
		secret := []string{"gh-old", "gh-new"}[i%2]
		status, resp := b.post(t, "github", body, githubHeaders(secret, c.event, delivery, body))
		require.Equal(t, http.StatusAccepted, status, c.file)
		require.Equal(t, "accepted", resp.Status)
		require.NotEmpty(t, resp.ID)

		row, err := dbq.New(b.pool).GetDelivery(ctx, resp.ID)
		require.NoError(t, err)
		require.Equal(t, types.GitHub, row.Provider)
		require.Equal(t, delivery, row.DeliveryID)
		require.Equal(t, c.eventType, row.EventType)
		require.Equal(t, "received", row.Status)
		require.Equal(t, body, row.Payload, "payload is stored byte for byte")
		require.Equal(t, b.inst[types.GitHub], *row.InstallationID)
		require.Equal(t, c.event, row.Headers["x-github-event"])
		require.NotContains(t, row.Headers, "x-hub-signature-256")
		require.Equal(t, []jobRow{{Kind: c.kind, Queue: c.queue, DeliveryID: resp.ID}}, b.jobsFor(t, resp.ID))
	}
	deliveries, jobs := b.counts(t)
	require.Equal(t, len(cases), deliveries)
	require.Equal(t, len(cases), jobs)
}

func TestOtherProvidersWithRealSignatures(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := setup(t, options{now: func() time.Time { return now }})
	ctx := context.Background()

	vercel := []byte(`{"id":"evt_1","type":"deployment.succeeded","createdAt":1,"payload":{"project":{"id":"prj_1"},"deployment":{"id":"dpl_1"}}}`)
	linear := []byte(`{"action":"create","type":"Issue","organizationId":"org-1","webhookId":"wh","createdAt":"2026-01-01T00:00:00.000Z","webhookTimestamp":` +
		strconv.FormatInt(now.UnixMilli(), 10) + `,"data":{"id":"iss","teamId":"team-1"}}`)
	sentry := []byte(`{"action":"created","installation":{"uuid":"se-uuid"},"data":{"issue":{"id":"1","project":{"id":"42"}}}}`)
	cases := []struct {
		provider types.Provider
		body     []byte
		header   map[string]string
		resource string
	}{
		{types.Vercel, vercel, map[string]string{"x-vercel-signature": providersim.SignVercel("vc-secret", vercel)}, "prj_1"},
		{types.Linear, linear, map[string]string{"Linear-Signature": providersim.SignLinear("ln-installation", linear), "Linear-Delivery": "ld-1"}, "team-1"},
		{types.Sentry, sentry, map[string]string{"Sentry-Hook-Signature": providersim.SignSentry("se-secret", sentry),
			"Sentry-Hook-Timestamp": strconv.FormatInt(now.Unix(), 10), "Sentry-Hook-Resource": "issue", "Request-ID": "req-1"}, "42"},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.header {
			h.Set(k, v)
		}
		status, resp := b.post(t, string(c.provider), c.body, h)
		require.Equal(t, http.StatusAccepted, status, c.provider)
		row, err := dbq.New(b.pool).GetDelivery(ctx, resp.ID)
		require.NoError(t, err)
		require.Equal(t, b.inst[c.provider], *row.InstallationID, c.provider)
		require.Equal(t, c.resource, *row.ProviderResourceID)
		require.Len(t, b.jobsFor(t, resp.ID), 1)

		// The same delivery again is a duplicate, and writes nothing.
		status, resp = b.post(t, string(c.provider), c.body, h)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "duplicate", resp.Status)
	}
	// The Linear fallback secret verifies too.
	h := http.Header{}
	h.Set("Linear-Signature", providersim.SignLinear("ln-fallback", linear))
	h.Set("Linear-Delivery", "ld-2")
	status, _ := b.post(t, "linear", linear, h)
	require.Equal(t, http.StatusAccepted, status)

	deliveries, jobs := b.counts(t)
	require.Equal(t, 4, deliveries)
	require.Equal(t, 4, jobs)
}

func TestUnroutedIsRecordedWithoutJob(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	body := []byte(`{"action":"opened","installation":{"id":999},"repository":{"id":5}}`)
	status, resp := b.post(t, "github", body, githubHeaders("gh-new", "issues", "u-1", body))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "unrouted", resp.Status)
	row, err := dbq.New(b.pool).GetDelivery(context.Background(), resp.ID)
	require.NoError(t, err)
	require.Equal(t, "unrouted", row.Status)
	require.Nil(t, row.InstallationID)
	require.Empty(t, b.jobsFor(t, resp.ID))
}

func TestConcurrentDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	body := fixture(t, "push/with-installation.payload.json")
	h := githubHeaders("gh-new", "push", "same-delivery", body)
	const senders = 48
	var accepted, duplicate atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A client of its own: every sender on its own connection.
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			req, err := http.NewRequest(http.MethodPost, b.url+"/webhooks/github", strings.NewReader(string(body)))
			require.NoError(t, err)
			req.Header = h.Clone()
			<-start
			status, resp := do(t, client, req)
			switch {
			case status == http.StatusAccepted && resp.Status == "accepted":
				accepted.Add(1)
			case status == http.StatusOK && resp.Status == "duplicate":
				duplicate.Add(1)
			default:
				t.Errorf("unexpected answer %d %+v", status, resp)
			}
		}()
	}
	close(start)
	wg.Wait()
	require.Equal(t, int32(1), accepted.Load())
	require.Equal(t, int32(senders-1), duplicate.Load())
	deliveries, jobs := b.counts(t)
	require.Equal(t, 1, deliveries)
	require.Equal(t, 1, jobs)
}

func TestBadInputIsRejectedAndNothingStored(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := setup(t, options{now: func() time.Time { return now }})
	push := fixture(t, "push/with-installation.payload.json")
	reserialised := []byte(strings.Join(strings.Fields(string(push)), ""))
	bad := []byte(`{"ref": "refs/heads/main",`)
	linearAt := func(ts time.Time) []byte {
		return []byte(`{"action":"create","type":"Issue","organizationId":"org-1","webhookTimestamp":` + strconv.FormatInt(ts.UnixMilli(), 10) + `,"data":{}}`)
	}
	stale, future := linearAt(now.Add(-2*time.Minute)), linearAt(now.Add(2*time.Minute))
	sentryBody := []byte(`{"action":"created","installation":{"uuid":"se-uuid"}}`)
	gh := func(mod func(http.Header)) http.Header {
		h := githubHeaders("gh-new", "push", "bad-1", push)
		mod(h)
		return h
	}
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
		{"missing signature", "github", push, gh(func(h http.Header) { h.Del("X-Hub-Signature-256") }), 401, "missing_signature"},
		{"empty signature", "github", push, gh(func(h http.Header) { h.Set("X-Hub-Signature-256", "") }), 401, "missing_signature"},
		{"malformed signature", "github", push, gh(func(h http.Header) { h.Set("X-Hub-Signature-256", "sha256=not-hex") }), 401, "invalid_signature"},
		{"wrong secret", "github", push, gh(func(h http.Header) { h.Set("X-Hub-Signature-256", providersim.SignGitHub("nope", push)) }), 401, "invalid_signature"},
		{"signature over re-serialised body", "github", push, gh(func(h http.Header) {
			h.Set("X-Hub-Signature-256", providersim.SignGitHub("gh-new", reserialised))
		}), 401, "invalid_signature"},
		{"legacy sha1 only", "github", push, gh(func(h http.Header) {
			h.Del("X-Hub-Signature-256")
			h.Set("X-Hub-Signature", providersim.SignGitHubSHA1("gh-new", push))
		}), 401, "missing_signature"},
		{"missing delivery id", "github", push, gh(func(h http.Header) { h.Del("X-GitHub-Delivery") }), 400, "missing_delivery_id"},
		{"missing event", "github", push, gh(func(h http.Header) { h.Del("X-GitHub-Event") }), 400, "missing_event_type"},
		{"malformed JSON, valid signature", "github", bad, kv("X-GitHub-Event", "push", "X-GitHub-Delivery", "m-1",
			"X-Hub-Signature-256", providersim.SignGitHub("gh-new", bad)), 400, "malformed_payload"},
		{"vercel unsigned", "vercel", []byte(`{"id":"e","type":"deployment.created"}`), kv(), 401, "missing_signature"},
		{"vercel wrong", "vercel", []byte(`{"id":"e","type":"x"}`), kv("x-vercel-signature", providersim.SignVercel("x", []byte(`{}`))), 401, "invalid_signature"},
		{"linear stale", "linear", stale, kv("Linear-Signature", providersim.SignLinear("ln-installation", stale), "Linear-Delivery", "s"), 401, "stale_timestamp"},
		{"linear future", "linear", future, kv("Linear-Signature", providersim.SignLinear("ln-installation", future), "Linear-Delivery", "f"), 401, "stale_timestamp"},
		{"linear other secret", "linear", stale, kv("Linear-Signature", providersim.SignLinear("vc-secret", stale)), 401, "invalid_signature"},
		{"sentry stale", "sentry", sentryBody, kv("Sentry-Hook-Signature", providersim.SignSentry("se-secret", sentryBody),
			"Sentry-Hook-Timestamp", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), "Sentry-Hook-Resource", "installation", "Request-ID", "r"), 401, "stale_timestamp"},
		{"sentry future", "sentry", sentryBody, kv("Sentry-Hook-Signature", providersim.SignSentry("se-secret", sentryBody),
			"Sentry-Hook-Timestamp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10), "Sentry-Hook-Resource", "installation", "Request-ID", "r"), 401, "stale_timestamp"},
		{"sentry no timestamp", "sentry", sentryBody, kv("Sentry-Hook-Signature", providersim.SignSentry("se-secret", sentryBody),
			"Sentry-Hook-Resource", "installation", "Request-ID", "r"), 401, "stale_timestamp"},
		{"sentry missing request id", "sentry", sentryBody, kv("Sentry-Hook-Signature", providersim.SignSentry("se-secret", sentryBody),
			"Sentry-Hook-Timestamp", strconv.FormatInt(now.Unix(), 10), "Sentry-Hook-Resource", "installation"), 400, "missing_delivery_id"},
		{"unknown provider", "gitlab", push, gh(func(http.Header) {}), 404, "unknown_provider"},
		{"over the cap with a length", "github", make([]byte, 65<<10), kv("X-Hub-Signature-256", "sha256=00"), 413, "body_too_large"},
	}
	for _, c := range cases {
		status, resp := b.post(t, c.provider, c.body, c.header)
		require.Equal(t, c.status, status, c.name)
		require.Equal(t, c.code, resp.Error.Code, c.name)
	}
	deliveries, jobs := b.counts(t)
	require.Zero(t, deliveries)
	require.Zero(t, jobs)
}

func TestRemovedSecretIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, options{cfg: func(c *config.Config) { c.GitHub.WebhookSecrets = []secrets.Secret{"gh-new"} }})
	body := fixture(t, "push/with-installation.payload.json")
	status, resp := b.post(t, "github", body, githubHeaders("gh-old", "push", "rotated-out", body))
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "invalid_signature", resp.Error.Code)

	nothing := setup(t, options{cfg: func(c *config.Config) { c.GitHub.WebhookSecrets = nil }})
	status, resp = nothing.post(t, "github", body, githubHeaders("gh-new", "push", "no-secret", body))
	require.Equal(t, http.StatusUnauthorized, status, "no configured secret fails closed")
	require.Equal(t, "invalid_signature", resp.Error.Code)
	for _, bb := range []*bundle{b, nothing} {
		deliveries, _ := bb.counts(t)
		require.Zero(t, deliveries)
	}
}

// endless is a body with no length that never ends; it counts what the server pulled from it.
type endless struct{ read atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.read.Add(int64(len(p)))
	return len(p), nil
}

func TestChunkedBodyOverTheCapIsCutOff(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	src := &endless{}
	req, err := http.NewRequest(http.MethodPost, b.url+"/webhooks/github", io.NopCloser(src))
	require.NoError(t, err)
	req.ContentLength = -1 // chunked, no declared length
	req.Header = githubHeaders("gh-new", "push", "huge", nil)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	raw, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(raw), `"code":"body_too_large"`)
	// The server stopped reading right after the 64 KiB cap: what the client produced is bounded by the
	// cap plus socket buffers, not by the (endless) body.
	require.Less(t, src.read.Load(), int64(16<<20), "server kept reading past the cap")
	deliveries, _ := b.counts(t)
	require.Zero(t, deliveries)
}

func TestRedisDownStillRoutes(t *testing.T) {
	t.Parallel()
	prox := startProxy(t, hostPort(t, dbtest.RedisURL(t)))
	opt, err := rueidis.ParseURL(withHost(t, dbtest.RedisURL(t), prox.Addr()))
	require.NoError(t, err)
	opt.DisableCache = true
	opt.Dialer.Timeout = 500 * time.Millisecond
	redis, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(redis.Close)
	_, prefix := dbtest.Redis(t)
	b := setup(t, options{redis: redis, prefix: prefix})

	body := fixture(t, "push/with-installation.payload.json")
	status, _ := b.post(t, "github", body, githubHeaders("gh-new", "push", "warm", body))
	require.Equal(t, http.StatusAccepted, status)

	prox.Kill() // Redis is gone mid-flight
	for i := range 3 {
		status, resp := b.post(t, "github", body, githubHeaders("gh-new", "push", fmt.Sprintf("cold-%d", i), body))
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, "accepted", resp.Status, "routed through Postgres")
		row, err := dbq.New(b.pool).GetDelivery(context.Background(), resp.ID)
		require.NoError(t, err)
		require.Equal(t, b.inst[types.GitHub], *row.InstallationID)
		require.Len(t, b.jobsFor(t, resp.ID), 1)
	}
}

func TestPostgresDownAnswers503AndAcknowledgesNothing(t *testing.T) {
	t.Parallel()
	url := dbtest.NewDatabaseURL(t)
	prox := startProxy(t, hostPort(t, url))
	cfg, err := pgxpool.ParseConfig(withHost(t, url, prox.Addr()))
	require.NoError(t, err)
	cfg.MaxConns = 4
	cfg.ConnConfig.ConnectTimeout = time.Second
	proxied, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(proxied.Close)
	b := setup(t, options{pool: proxied})
	// The handler's database is a separate one from the bundle's seed; seed it the same way.
	direct := dbtest.Pool(t, url)
	(&bundle{pool: direct, keyring: b.keyring, inst: map[types.Provider]string{}}).seed(t)

	body := fixture(t, "push/with-installation.payload.json")
	status, _ := b.post(t, "github", body, githubHeaders("gh-new", "push", "before", body))
	require.Equal(t, http.StatusAccepted, status)

	prox.Kill()
	for i := range 3 {
		status, resp := b.post(t, "github", body, githubHeaders("gh-new", "push", fmt.Sprintf("during-%d", i), body))
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "unavailable", resp.Error.Code)
	}
	var n int
	require.NoError(t, direct.QueryRow(context.Background(),
		`SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE delivery_id LIKE 'during-%'`).Scan(&n))
	require.Zero(t, n)
	require.NoError(t, direct.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n))
	require.Equal(t, 1, n, "only the delivery acknowledged before the outage has a job")
}

func TestLocalRouteCacheExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, options{localTTL: 300 * time.Millisecond})
	ctx := context.Background()
	body := fixture(t, "push/with-installation.payload.json")
	status, resp := b.post(t, "github", body, githubHeaders("gh-new", "push", "l-1", body))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "accepted", resp.Status)

	// The installation goes away (and its Redis route with it).
	_, err := dbq.New(b.pool).SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: b.inst[types.GitHub], Status: "revoked"})
	require.NoError(t, err)
	b.routes.DropInstallation(ctx, types.GitHub, "1")
	require.Eventually(t, func() bool {
		_, resp := b.post(t, "github", body, githubHeaders("gh-new", "push", "l-"+strconv.FormatInt(time.Now().UnixNano(), 10), body))
		return resp.Status == "unrouted"
	}, 5*time.Second, 50*time.Millisecond, "routing follows the database within the in-process TTL")
}

// A sender that hangs up right after sending still has its delivery recorded, row and job together: the
// work after the body is read runs on a context the disconnect does not cancel.
func TestSenderHangingUpStillGetsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	body := fixture(t, "push/with-installation.payload.json")
	const n = 20
	for i := range n {
		h := githubHeaders("gh-new", "push", fmt.Sprintf("hangup-%d", i), body)
		conn, err := net.Dial("tcp", strings.TrimPrefix(b.url, "http://"))
		require.NoError(t, err)
		var req strings.Builder
		fmt.Fprintf(&req, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", len(body))
		for k, v := range h {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v[0])
		}
		req.WriteString("\r\n")
		_, err = conn.Write(append([]byte(req.String()), body...))
		require.NoError(t, err)
		require.NoError(t, conn.Close()) // gone before any answer
	}
	// Once the body is read the delivery is recorded whatever the sender does. (Waiting for the count
	// to stop changing instead was flaky on a loaded machine: two equal polls came before the server had
	// even started on the last connections.)
	count := func() (rows, withJob int) {
		require.NoError(t, b.pool.QueryRow(context.Background(), `
			SELECT count(*), count(j.id) FROM lightfast_gw_webhook_deliveries d
			LEFT JOIN river_job j ON j.args->>'deliveryId' = d.id WHERE d.delivery_id LIKE 'hangup-%'`).Scan(&rows, &withJob))
		return rows, withJob
	}
	require.Eventually(t, func() bool {
		rows, _ := count()
		return rows == n
	}, 15*time.Second, 50*time.Millisecond, "every fully received delivery is recorded")
	rows, withJob := count()
	require.Equal(t, rows, withJob, "every recorded delivery has its job")
}
