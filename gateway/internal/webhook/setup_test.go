package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/webhook"
	"github.com/lightfastai/connections/gateway/internal/webhook/recorder"
)

const testKeys = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// bundle is what a test needs around the handler under test.
type bundle struct {
	url     string        // base URL of the server
	pool    *pgxpool.Pool // direct pool for assertions
	routes  *routing.Cache
	keyring *secrets.Keyring
	inst    map[types.Provider]string // provider → installation row id
	reg     *prometheus.Registry      // the handler's metrics
}

type options struct {
	cfg      func(*config.Config)
	pool     *pgxpool.Pool  // pool the handler writes through (default: the bundle's)
	redis    rueidis.Client // default: the test Redis
	prefix   string
	now      func() time.Time
	localTTL time.Duration // in-process route cache; default off
	// serverReadTimeout overrides the server's ReadTimeout (the gateway's limits by default).
	serverReadTimeout time.Duration
}

func testConfig() config.Config {
	var c config.Config
	c.WebhookMaxBodyBytes = 64 << 10
	c.GitHub.WebhookSecrets = []secrets.Secret{"gh-old", "gh-new"}
	c.Vercel.ClientSecrets = []secrets.Secret{"vc-secret"}
	c.Linear.WebhookSecrets = []secrets.Secret{"ln-fallback"}
	c.Sentry.ClientSecrets = []secrets.Secret{"se-secret"}
	return c
}

// setup starts the handler on a fresh database with one active installation per provider: GitHub
// installation 1 (the fixtures' "with-installation" id), Vercel configuration icfg_1 with project prj_1,
// Linear organization org-1 (webhook secret "ln-installation"), Sentry installation uuid se-uuid.
func setup(t *testing.T, o options) *bundle {
	t.Helper()
	url := dbtest.NewDatabaseURL(t)
	b := &bundle{pool: dbtest.Pool(t, url), inst: map[types.Provider]string{}}
	kr, err := secrets.ParseKeyring(testKeys)
	require.NoError(t, err)
	b.keyring = kr
	b.seed(t)

	pool := o.pool
	if pool == nil {
		pool = b.pool
	}
	redis, prefix := o.redis, o.prefix
	if redis == nil {
		redis, prefix = dbtest.Redis(t)
	}
	b.routes = routing.New(redis, pool, prefix)
	cfg := testConfig()
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	riverClient, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	b.reg = prometheus.NewRegistry()
	h := webhook.Start(cfg, webhook.Deps{
		Pool: pool, Routes: b.routes, Jobs: riverClient, Keyring: kr, Commit: recorder.Config{Writers: 2},
		Registry: b.reg, Log: zap.NewNop(), Now: o.now,
		LocalRouteTTL: cmpOr(o.localTTL, -1), // default: every delivery goes through Redis and Postgres
	})
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	e := platform.NewEcho(zap.NewNop(), nil)
	h.Mount(e)
	// The server the gateway runs, with its limits, so timeouts behave as in production.
	srv := httptest.NewUnstartedServer(e)
	limits := webhook.ServerLimits(cfg)
	if o.serverReadTimeout != 0 {
		limits.ReadTimeout = o.serverReadTimeout
	}
	srv.Config = platform.NewServer(e, limits)
	srv.Start()
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *bundle) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	q := dbq.New(b.pool)
	for _, s := range []struct {
		p        types.Provider
		external string
	}{{types.GitHub, "1"}, {types.Vercel, "icfg_1"}, {types.Linear, "org-1"}, {types.Sentry, "se-uuid"}} {
		id := ids.New()
		var secret *string
		if s.p == types.Linear {
			enc, err := b.keyring.Encrypt("ln-installation", secrets.Field{Table: "lightfast_gw_installations", Column: "webhook_secret", RowID: id})
			require.NoError(t, err)
			secret = &enc
		}
		_, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
			ID: id, Provider: s.p, ExternalID: s.external, ConnectedBy: "user_1", OrgID: "org_1", WebhookSecret: secret,
		})
		require.NoError(t, err)
		b.inst[s.p] = id
	}
	_, err := q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: b.inst[types.Vercel], ProviderResourceID: "prj_1"})
	require.NoError(t, err)
}

// post sends body with headers on a fresh connection.
func (b *bundle) post(t *testing.T, provider string, body []byte, h http.Header) (int, apiBody) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.url+"/webhooks/"+provider, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, http.DefaultClient, req)
}

type apiBody struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	Error  struct {
		Code string `json:"code"`
	} `json:"error"`
}

func do(t *testing.T, client *http.Client, req *http.Request) (int, apiBody) {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out apiBody
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

// counts returns the number of delivery rows and River jobs.
func (b *bundle) counts(t *testing.T) (deliveries, jobs int) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM lightfast_gw_webhook_deliveries), (SELECT count(*) FROM river_job)`).Scan(&deliveries, &jobs))
	return deliveries, jobs
}

type jobRow struct {
	Kind, Queue, DeliveryID string
}

func (b *bundle) jobsFor(t *testing.T, deliveryRowID string) []jobRow {
	t.Helper()
	rows, err := b.pool.Query(context.Background(),
		`SELECT kind, queue, args->>'deliveryId' FROM river_job WHERE args->>'deliveryId' = $1`, deliveryRowID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (jobRow, error) {
		var j jobRow
		return j, r.Scan(&j.Kind, &j.Queue, &j.DeliveryID)
	})
	require.NoError(t, err)
	return out
}

// fixture reads one of the real GitHub payloads kept in the repository, byte for byte.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return dbtest.Fixture(t, "github/"+name)
}

// proxy forwards TCP connections to a target until Kill, which drops every connection and stops
// listening: the closest a test can get to the server behind it going away.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	dead   bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.Kill)
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.dead {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// hostPort returns the host:port of a redis:// or postgres:// URL.
func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Host
}

func withHost(t *testing.T, raw, host string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.Host = host
	return u.String()
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}
