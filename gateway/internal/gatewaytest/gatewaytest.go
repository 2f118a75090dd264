// Package gatewaytest runs the gateway's connect flow and token vault in-process against the provider
// simulator, for tests: a fresh database, the simulator on httptest, a gateway on httptest wired like
// cmd/gateway, a browser (cookie jar, follows redirects until it reaches the Console) and captured logs.
// The environment it builds also starts the real gateway binary (Env).
package gatewaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/pending"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/apikey"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/connect"
	"github.com/lightfastai/connections/gateway/internal/providers"
	"github.com/lightfastai/connections/gateway/internal/providersim"
	"github.com/lightfastai/connections/gateway/internal/vault"
)

// Fixed credentials shared by the simulator and the gateway under test.
const (
	APIKey             = "test-api-key-1"
	APIKey2            = "test-api-key-2"
	AdminKey           = "test-admin-key-1"
	EncryptionKeys     = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	ConsoleURL         = "http://console.invalid"
	GitHubAppID        = "424242"
	GitHubClientID     = "Iv1.testclient"
	GitHubClientSecret = "test-github-client-secret"
	VercelClientID     = "oac_testclient"
	VercelClientSecret = "test-vercel-client-secret"
	LinearClientID     = "test-linear-client"
	LinearClientSecret = "test-linear-client-secret"
	SentryClientID     = "test-sentry-client"
	SentryClientSecret = "test-sentry-client-secret"
	Slug               = "lightfast-test"
)

// ClientSecrets are every configured secret, for log checks.
var ClientSecrets = []string{APIKey, APIKey2, AdminKey, GitHubClientSecret, VercelClientSecret, LinearClientSecret, SentryClientSecret,
	"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}

// appKey is the GitHub App key; RSA generation is slow, so one per test binary.
var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// AppKeyPEM is the GitHub App private key as GITHUB_APP_PRIVATE_KEY takes it.
func AppKeyPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey())}))
}

// StartSim starts the simulator with the credentials above.
func StartSim(t testing.TB) (*providersim.Simulator, providersim.URLs) {
	t.Helper()
	return providersim.Start(t, providersim.Config{
		GitHubAppID: GitHubAppID, GitHubAppSlug: Slug, GitHubClientID: GitHubClientID,
		GitHubClientSecret: GitHubClientSecret, GitHubAppPublicKey: &appKey().PublicKey,
		VercelClientID: VercelClientID, VercelClientSecret: VercelClientSecret, VercelIntegrationSlug: Slug,
		LinearClientID: LinearClientID, LinearClientSecret: LinearClientSecret,
		SentryClientID: SentryClientID, SentryClientSecret: SentryClientSecret, SentryAppSlug: Slug,
	})
}

// Env is the gateway environment for a database, the simulator and the gateway's own public URL.
func Env(databaseURL, redisURL string, sim providersim.URLs, publicURL string) map[string]string {
	env := map[string]string{
		"APP_ENV": "test", "DATABASE_URL": databaseURL, "REDIS_URL": redisURL, "ENCRYPTION_KEYS": EncryptionKeys,
		"GATEWAY_PUBLIC_URL": publicURL, "CONSOLE_URL": ConsoleURL,
		"GATEWAY_API_KEYS": APIKey + "," + APIKey2, "GATEWAY_ADMIN_KEYS": AdminKey,
		"GITHUB_APP_ID": GitHubAppID, "GITHUB_APP_SLUG": Slug, "GITHUB_APP_PRIVATE_KEY": AppKeyPEM(),
		"GITHUB_CLIENT_ID": GitHubClientID, "GITHUB_CLIENT_SECRET": GitHubClientSecret,
		"VERCEL_CLIENT_ID": VercelClientID, "VERCEL_CLIENT_SECRETS": VercelClientSecret, "VERCEL_INTEGRATION_SLUG": Slug,
		"LINEAR_CLIENT_ID": LinearClientID, "LINEAR_CLIENT_SECRET": LinearClientSecret,
		"SENTRY_CLIENT_ID": SentryClientID, "SENTRY_CLIENT_SECRETS": SentryClientSecret, "SENTRY_APP_SLUG": Slug,
	}
	for k, v := range sim.Env() {
		env[k] = v
	}
	return env
}

// Gateway is an in-process gateway with its collaborators.
type Gateway struct {
	URL     string
	Pool    *pgxpool.Pool
	Keyring *secrets.Keyring
	Sim     *providersim.Simulator
	SimURLs providersim.URLs
	Vault   *vault.Service
	Routes  *routing.Cache
	// Logs is everything the gateway logged (JSON lines).
	Logs *SyncBuffer
	// Seen collects values that must never be logged (states, codes, tokens) as a test meets them.
	Seen *Secrets
	// Jobs inserts River jobs into the gateway's database (insert-only; RunWorkers works them).
	Jobs *river.Client[pgx.Tx]

	connector *connect.Service
}

// Options adjust Start.
type Options struct {
	// CacheTTL is the token vault's cache TTL; 0 (the default here) turns the cache off, so tests that
	// move a token's expiry in the database see the effect at once.
	CacheTTL time.Duration
	// SecureCookies is connect.Options.SecureCookies (what every APP_ENV but development and test gets).
	SecureCookies bool
}

// Start runs a gateway in-process on a fresh database, against a fresh simulator.
func Start(t testing.TB, opts ...Options) *Gateway {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	sim, simURLs := StartSim(t)
	g := &Gateway{Sim: sim, SimURLs: simURLs, Logs: &SyncBuffer{}, Seen: &Secrets{}}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	require.NoError(t, sim.SetGatewayURL(srv.URL))

	dbURL := dbtest.NewDatabaseURL(t)
	cfg, err := config.Load(platform.MapEnv(Env(dbURL, dbtest.RedisURL(t), simURLs, srv.URL)))
	require.NoError(t, err)
	g.Pool = dbtest.Pool(t, dbURL)
	g.Keyring = cfg.Keyring
	redis, prefix := dbtest.Redis(t)
	g.Routes = routing.New(redis, g.Pool, prefix)

	// Debug level: every line the code can write is captured and searched for secrets.
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(g.Logs), zapcore.DebugLevel))
	hc := providers.NewHTTPClient()
	hc.Transport = recorder{next: http.DefaultTransport, seen: g.Seen}
	clients := connect.NewClients(cfg, hc)
	g.Vault = vault.New(g.Pool, cfg.Keyring, clients.Refreshers(), o.CacheTTL, log)
	connector := connect.New(connect.Options{
		PublicURL: cfg.PublicURL, ConsoleURL: cfg.ConsoleURL, SecureCookies: o.SecureCookies, Revoked: g.Vault.Forget,
	},
		g.Pool, cfg.Keyring, g.Routes, clients.Flows(cfg.PublicURL), log)
	g.connector = connector
	g.Jobs, err = river.NewClient[pgx.Tx](riverpgxv5.New(g.Pool), &river.Config{})
	require.NoError(t, err)
	e := platform.NewEcho(log, nil)
	auth := apikey.New(cfg.APIKeys).Middleware("X-API-Key")
	connector.Mount(e, auth)
	g.Vault.Mount(e, auth)
	handler = e
	return g
}

// Browser is an HTTP client that behaves like a browser in the connect flow: it keeps cookies and
// follows redirects, but stops at the Console (whose URL does not resolve) and returns that redirect.
// Every query value it sees under the names state and code is remembered as a secret.
func (g *Gateway) Browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	console, _ := url.Parse(ConsoleURL)
	return &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			g.Seen.AddURL(req.URL)
			if req.URL.Host == console.Host || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// NewState creates a connect state as the Console would and remembers it as a secret.
func (g *Gateway) NewState(t testing.TB, p types.Provider, org, user string) string {
	t.Helper()
	token, err := oauthstate.CreateState(context.Background(), g.Pool, p, org, user, "")
	require.NoError(t, err)
	g.Seen.Add(token)
	st, err := oauthstate.Peek(context.Background(), g.Pool, p, token)
	require.NoError(t, err)
	if st.CodeVerifier != "" {
		g.Seen.Add(st.CodeVerifier.Reveal(), oauthstate.CodeChallenge(st.CodeVerifier))
	}
	return token
}

// AuthorizeURL is the gateway authorize URL for a state.
func (g *Gateway) AuthorizeURL(p types.Provider, state string) string {
	return g.URL + "/connections/" + string(p) + "/authorize?state=" + url.QueryEscape(state)
}

// Outcome is where a connect flow sent the browser in the end.
type Outcome struct {
	Status         int
	Location       *url.URL
	Provider       string
	InstallationID string
	Error          string
	// Body is the response body when the flow ended on the gateway (an error page).
	Body string
}

// Follow makes the browser GET rawURL and reports where the flow ended.
func (g *Gateway) Follow(t testing.TB, browser *http.Client, rawURL string) Outcome {
	t.Helper()
	resp, err := browser.Get(rawURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	out := Outcome{Status: resp.StatusCode, Body: body.String()}
	if loc := resp.Header.Get("Location"); loc != "" {
		out.Location, err = url.Parse(loc)
		require.NoError(t, err)
		q := out.Location.Query()
		out.Provider, out.InstallationID, out.Error = q.Get("provider"), q.Get("installationId"), q.Get("error")
	}
	return out
}

// Connect runs a whole connect flow for org and user, confirms it as the Console's /connected page
// does for that user, and requires both to succeed; it returns the installation id.
func (g *Gateway) Connect(t testing.TB, p types.Provider, org, user string) string {
	t.Helper()
	id := g.ConnectPending(t, p, org, user)
	res := g.Confirm(t, id, org, user)
	require.Contains(t, []pending.Outcome{pending.Confirmed, pending.AlreadyActive}, res.Outcome)
	return id
}

// ConnectPending runs a whole connect flow for org and user up to the Console's /connected page and
// returns the installation id the callback sent there (pending until confirmed).
func (g *Gateway) ConnectPending(t testing.TB, p types.Provider, org, user string) string {
	t.Helper()
	out := g.Follow(t, g.Browser(t), g.AuthorizeURL(p, g.NewState(t, p, org, user)))
	require.Equal(t, http.StatusFound, out.Status, out.Body)
	require.Equal(t, ConsoleURL+"/connected", out.Location.Scheme+"://"+out.Location.Host+out.Location.Path)
	require.Empty(t, out.Error)
	require.NotEmpty(t, out.InstallationID)
	return out.InstallationID
}

// Confirm is the Console's ConfirmConnection for a signed-in user of org (the same db/pending code,
// with the routes it puts after the commit). A Gateway made by hand for a gateway binary (only URL, Pool
// and the simulator set) gets an insert-only job client, and its routes resolve from the database.
func (g *Gateway) Confirm(t testing.TB, installationID, org, user string) pending.Result {
	t.Helper()
	ctx := context.Background()
	if g.Jobs == nil {
		var err error
		g.Jobs, err = river.NewClient[pgx.Tx](riverpgxv5.New(g.Pool), &river.Config{})
		require.NoError(t, err)
	}
	var res pending.Result
	require.NoError(t, db.WithTx(ctx, g.Pool, func(tx pgx.Tx) error {
		var err error
		res, err = pending.Confirm(ctx, tx, g.Jobs, installationID, org, user, time.Now())
		return err
	}))
	switch {
	case res.Outcome == pending.Confirmed && g.Routes != nil:
		g.Routes.PutInstallation(ctx, res.Installation.Provider, res.Installation.ExternalID, res.Installation.ID)
	case res.Outcome == pending.Refused:
		teardown.DropRoutes(ctx, g.Routes, res.Removed)
	}
	return res
}

// RunWorkers works the gateway queue in the background until the test ends: the connect flow's workers
// (installation.revoke, the pending sweep, state cleanup) with its periodic jobs, as cmd/gateway runs them.
func (g *Gateway) RunWorkers(t testing.TB) {
	t.Helper()
	workers := river.NewWorkers()
	connect.Register(workers, g.connector)
	client, err := river.NewClient[pgx.Tx](riverpgxv5.New(g.Pool), &river.Config{
		Workers:             workers,
		Queues:              map[string]river.QueueConfig{jobs.QueueGateway: {MaxWorkers: 2}},
		PeriodicJobs:        connect.PeriodicJobs(),
		FetchCooldown:       20 * time.Millisecond,
		FetchPollInterval:   50 * time.Millisecond,
		SkipUnknownJobCheck: true,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})
}

// RequireNoSecretsLogged fails when any remembered secret, any client secret or any of extra appears
// in the captured logs.
func (g *Gateway) RequireNoSecretsLogged(t testing.TB, extra ...string) {
	t.Helper()
	logs := g.Logs.String()
	require.NotEmpty(t, logs, "the test expects some logging to search")
	for _, s := range append(append(g.Seen.All(), ClientSecrets...), extra...) {
		if len(s) < 6 {
			continue
		}
		require.NotContains(t, logs, s, "a secret value appears in the logs")
	}
}

// Secrets is a concurrency-safe set of values that must not leak.
type Secrets struct {
	mu     sync.Mutex
	values []string
}

// Add remembers values.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
}

// AddURL remembers the state and code query values of u.
func (s *Secrets) AddURL(u *url.URL) {
	q := u.Query()
	s.Add(q.Get("state"), q.Get("code"), q.Get("code_challenge"))
}

// All returns the remembered values.
func (s *Secrets) All() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.values...)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Count returns a row count for a query.
func Count(t testing.TB, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// Req sends an API request with the X-API-Key header (when key is not empty).
func Req(t testing.TB, method, rawURL, key string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}
