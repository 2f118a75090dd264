//go:build faults || loadtest

package faults_test

// The stack every fault test and pipeline benchmark runs: both real binaries, a fresh database (reached
// directly, or through a TCP proxy that can cut it off), a private redis-server that can be killed, and
// GitHub-signed push webhooks sent over plain HTTP. Nothing here imports the gateway's or the console's
// internals.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
)

// Settings both services get. The webhook secret is what GitHub would sign with.
const (
	encryptionKeys = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	webhookSecret  = "faults-github-webhook-secret"
	adminKey       = "faults-admin-key"
	apiKey         = "faults-api-key"
	devSecret      = "faults-dev-secret"
	// rescueAfter is JOB_RESCUE_AFTER for both services: how long a job whose worker was killed stays
	// "running" before River hands it out again. Short, so a test does not wait out the 60 s default.
	rescueAfter = "2s"
)

// tenant is one GitHub installation with one linked repository in its own workspace: a delivery for it
// becomes exactly one observation.
type tenant struct {
	installation   int64  // GitHub's installation id
	installationID string // gw_installations.id
	repo           int64
	integrationID  string
}

// stackOptions shape a stack.
type stackOptions struct {
	// tenants is how many installations deliveries spread over (default 1).
	tenants int
	// proxyPostgres puts a cuttable TCP proxy between both services and Postgres.
	proxyPostgres bool
	// logLevel for both services (default warn: a burst at info level is mostly access log).
	logLevel string
}

// stack is the system under test.
type stack struct {
	t       testing.TB
	dbURL   string          // direct, for the test's own reads
	pool    *pgxpool.Pool   // direct
	svcDB   string          // what the services use: direct or through pg
	pg      *testproc.Proxy // nil unless proxyPostgres
	redis   *testproc.RedisServer
	tenants []tenant
	runID   string

	gatewayBin, consoleBin   string
	gatewayAddr, consoleAddr string
	gateway, console         *testproc.Process
	logLevel                 string
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	if o.tenants == 0 {
		o.tenants = 1
	}
	if o.logLevel == "" {
		o.logLevel = "warn"
	}
	s := &stack{t: t, logLevel: o.logLevel, runID: randomHex(t, 6)}
	// Build both binaries while the database is prepared.
	var wg sync.WaitGroup
	wg.Go(func() { s.gatewayBin = testproc.Build(t, "../cmd/gateway") })
	wg.Go(func() { s.consoleBin = testproc.Build(t, "../../console/cmd/console") })
	s.dbURL = dbtest.NewDatabaseURL(t)
	s.pool = dbtest.Pool(t, s.dbURL)
	s.svcDB = s.dbURL
	if o.proxyPostgres {
		u, err := url.Parse(s.dbURL)
		require.NoError(t, err)
		s.pg = testproc.StartProxy(t, u.Host)
		u.Host = s.pg.Addr()
		s.svcDB = u.String()
	}
	s.redis = testproc.StartRedis(t)
	for range o.tenants {
		s.tenants = append(s.tenants, s.seedTenant())
	}
	wg.Wait()
	s.gatewayAddr, s.consoleAddr = testproc.FreeAddr(t), testproc.FreeAddr(t)
	return s
}

// seedTenant writes what a connect flow and a repository link would have: an active installation, a
// workspace, an integration allowing pushes, and its routing resource.
func (s *stack) seedTenant() tenant {
	t := s.t
	t.Helper()
	ctx := context.Background()
	q := dbq.New(s.pool)
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	require.NoError(t, err)
	tn := tenant{installation: n.Int64() + 1, repo: n.Int64() + 7}
	org := "org_" + ids.New()
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: strconv.FormatInt(tn.installation, 10), ConnectedBy: "user_faults", OrgID: org,
	})
	require.NoError(t, err)
	tn.installationID = inst.ID
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: "Faults", Slug: "faults"})
	require.NoError(t, err)
	repo := strconv.FormatInt(tn.repo, 10)
	integ, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub, ProviderResourceID: repo,
		ResourceName: "acme/widgets", SyncConfig: types.DefaultSyncConfig(types.GitHub),
	})
	require.NoError(t, err)
	tn.integrationID = integ.ID
	name := "acme/widgets"
	_, err = q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: repo, ResourceName: &name})
	require.NoError(t, err)
	return tn
}

func (s *stack) gatewayURL() string { return "http://" + s.gatewayAddr }
func (s *stack) consoleURL() string { return "http://" + s.consoleAddr }

func (s *stack) sharedEnv() map[string]string {
	return map[string]string{
		"APP_ENV": "test", "DATABASE_URL": s.svcDB, "REDIS_URL": s.redis.URL(), "ENCRYPTION_KEYS": encryptionKeys,
		"LOG_LEVEL": s.logLevel, "LOG_FORMAT": "json", "JOB_RESCUE_AFTER": rescueAfter,
	}
}

// startGateway starts the gateway on its address (the same one after a restart, as behind a load
// balancer) and waits until it is ready.
func (s *stack) startGateway() *testproc.Process {
	s.t.Helper()
	env := s.sharedEnv()
	env["GATEWAY_ADDR"] = s.gatewayAddr
	env["GATEWAY_PUBLIC_URL"] = s.gatewayURL()
	env["GATEWAY_API_KEYS"] = apiKey
	env["GATEWAY_ADMIN_KEYS"] = adminKey
	env["GITHUB_WEBHOOK_SECRETS"] = webhookSecret
	s.gateway = testproc.Start(s.t, s.gatewayBin, env, "serve")
	s.gateway.WaitReady(s.t, s.gatewayURL()+"/readyz", 30*time.Second)
	return s.gateway
}

// startConsole starts the console and waits until it is ready.
func (s *stack) startConsole() *testproc.Process {
	s.t.Helper()
	env := s.sharedEnv()
	env["CONSOLE_ADDR"] = s.consoleAddr
	env["AUTH_DEV_SECRET"] = devSecret
	s.console = testproc.Start(s.t, s.consoleBin, env, "serve")
	s.console.WaitReady(s.t, s.consoleURL()+"/readyz", 30*time.Second)
	return s.console
}

// --- webhooks ---

// pushBody is a GitHub push for a tenant whose head commit is unique to seq: one new fact, so one
// observation. It names the installation (routing) and the repository (the integration).
func pushBody(tn tenant, seq int) []byte {
	return pushBodyWithMessage(tn, seq, "change "+strconv.Itoa(seq))
}

// pushBodyWithMessage is pushBody with the commit message given.
func pushBodyWithMessage(tn tenant, seq int, message string) []byte {
	return fmt.Appendf(nil, `{"ref":"refs/heads/main","before":"%040x","after":"%040x","created":false,"deleted":false,"forced":false,`+
		`"compare":"https://github.com/acme/widgets/compare/x","repository":{"id":%d,"name":"widgets","full_name":"acme/widgets",`+
		`"html_url":"https://github.com/acme/widgets","default_branch":"main","owner":{"login":"acme","id":1}},`+
		`"pusher":{"name":"ada","email":"ada@example.com"},"sender":{"login":"ada","id":2},"installation":{"id":%d},`+
		`"commits":[{"id":"%040x","message":"%s","timestamp":"2026-01-02T03:04:05Z","url":"https://github.com/acme/widgets/commit/x",`+
		`"author":{"name":"Ada","email":"ada@example.com","username":"ada"},"added":[],"removed":[],"modified":["README.md"]}],"head_commit":null}`,
		seq, seq+1, tn.repo, tn.installation, seq+1, message)
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// answer is what the gateway said to one delivery attempt.
type answer struct {
	status int
	id     string // the delivery row id of a 202
	dup    bool   // 200 {"status":"duplicate"}
	err    error  // transport error: no answer at all
	sentAt time.Time
	took   time.Duration // from the send to the whole answer
}

func (a answer) ok() bool {
	return a.err == nil && (a.status == http.StatusAccepted || a.status == http.StatusOK)
}

// newClient is a keep-alive HTTP client for conns concurrent senders.
func newClient(conns int) *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}}
}

// deliver posts delivery seq (provider delivery id runID-seq) for tenant seq % tenants.
func (s *stack) deliver(client *http.Client, seq int) answer {
	return s.deliverBody(client, seq, pushBody(s.tenants[seq%len(s.tenants)], seq))
}

// deliverBody posts body as delivery seq.
func (s *stack) deliverBody(client *http.Client, seq int, body []byte) answer {
	a := answer{sentAt: time.Now()}
	req, err := http.NewRequest(http.MethodPost, s.gatewayURL()+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/faults")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", s.deliveryKey(seq))
	req.Header.Set("X-Hub-Signature-256", sign(body))
	resp, err := client.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a.status = resp.StatusCode
	a.took = time.Since(a.sentAt)
	if err != nil {
		a.err = err
		return a
	}
	var out struct {
		Status string `json:"status"`
		ID     string `json:"id"`
	}
	_ = json.Unmarshal(raw, &out)
	a.id, a.dup = out.ID, out.Status == "duplicate"
	return a
}

// deliveryKey is the provider's delivery id (X-GitHub-Delivery) of delivery seq in this run.
func (s *stack) deliveryKey(seq int) string { return s.runID + "-" + strconv.Itoa(seq) }

// burst sends deliveries first..first+n-1 over conns concurrent keep-alive connections and returns each
// one's last answer. With retry, a delivery that got no 2xx is sent again (as a provider retries) until
// it does or ctx ends. progress, when not nil, counts 2xx answers as they come.
func (s *stack) burst(ctx context.Context, first, n, conns int, retry bool, progress *atomic.Int64) []answer {
	out := make([]answer, n)
	client := newClient(conns)
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				for {
					a := s.deliver(client, first+i)
					out[i] = a
					if a.ok() {
						if progress != nil {
							progress.Add(1)
						}
						break
					}
					if !retry || ctx.Err() != nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return out
}

// statuses counts answers by status ("error" for no answer).
func statuses(answers []answer) map[string]int {
	out := map[string]int{}
	for _, a := range answers {
		switch {
		case a.err != nil:
			out["error"]++
		case a.dup:
			out["200 duplicate"]++
		default:
			out[strconv.Itoa(a.status)]++
		}
	}
	return out
}

// --- database counts ---

func (s *stack) count(query string, args ...any) int {
	s.t.Helper()
	var n int
	require.NoError(s.t, s.pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// runCount counts this run's deliveries with a status ("" for any).
func (s *stack) runCount(status string) int {
	q := `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE delivery_id LIKE $1`
	if status == "" {
		return s.count(q, s.runID+"-%")
	}
	return s.count(q+` AND status = $2`, s.runID+"-%", status)
}

// waitFor polls cond every 20 ms until it holds, failing after timeout with msg and what describe says.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, describe func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("not after %s: %s", timeout, describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// requireExactlyOnce proves the pipeline's end state for this run's deliveries: want of them recorded,
// every one delivered, every one with exactly one observation (none lost, none doubled), every
// webhook.process job completed, and the integrations' document counts equal to the observations.
func (s *stack) requireExactlyOnce(want int) {
	t := s.t
	t.Helper()
	like := s.runID + "-%"
	require.Equal(t, want, s.runCount(""), "deliveries recorded")
	require.Equal(t, want, s.runCount("delivered"), "deliveries delivered")
	require.Equal(t, want, s.count(`SELECT count(*) FROM lightfast_workspace_observations o
		JOIN lightfast_gw_webhook_deliveries d ON d.id = o.delivery_id WHERE d.delivery_id LIKE $1`, like), "observations")
	require.Zero(t, s.count(`SELECT count(*) FROM lightfast_gw_webhook_deliveries d
		LEFT JOIN (SELECT delivery_id, count(*) AS n FROM lightfast_workspace_observations GROUP BY 1) o ON o.delivery_id = d.id
		WHERE d.delivery_id LIKE $1 AND coalesce(o.n, 0) <> 1`, like), "deliveries without exactly one observation")
	require.Zero(t, s.count(`SELECT count(*) FROM river_job WHERE kind = 'webhook.process' AND state <> 'completed'`), "unfinished jobs")
	require.Equal(t, s.count(`SELECT count(*) FROM lightfast_workspace_observations`),
		s.count(`SELECT coalesce(sum(document_count), 0)::int FROM lightfast_workspace_integrations`), "document counts match the observations")
}

// waitProcessed waits until want of this run's deliveries are delivered. A webhook.process job discarded
// while its delivery is not dead-lettered is a lost delivery: that fails at once.
func (s *stack) waitProcessed(want int, timeout time.Duration) time.Duration {
	s.t.Helper()
	return waitFor(s.t, timeout, func() bool {
		if lost := s.count(`SELECT count(*) FROM river_job j JOIN lightfast_gw_webhook_deliveries d ON d.id = j.args->>'deliveryId'
			WHERE j.kind = 'webhook.process' AND j.state = 'discarded' AND d.status <> 'dlq'`); lost > 0 {
			s.t.Fatalf("%d webhook.process jobs were discarded without their delivery dead-lettered: lost; jobs %v", lost, s.jobStates())
		}
		return s.runCount("delivered") >= want
	}, func() string {
		return fmt.Sprintf("%d of %d delivered; statuses %v; jobs %v", s.runCount("delivered"), want, s.deliveryStatuses(), s.jobStates())
	})
}

func (s *stack) deliveryStatuses() map[string]int {
	return s.groupCount(`SELECT status, count(*) FROM lightfast_gw_webhook_deliveries GROUP BY 1`)
}
func (s *stack) jobStates() map[string]int {
	return s.groupCount(`SELECT kind || ':' || state::text, count(*) FROM river_job GROUP BY 1`)
}

func (s *stack) groupCount(query string) map[string]int {
	rows, err := s.pool.Query(context.Background(), query)
	if err != nil {
		return map[string]int{"error: " + err.Error(): 1}
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if rows.Scan(&k, &n) == nil {
			out[k] = n
		}
	}
	return out
}

// --- HTTP helpers ---

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
