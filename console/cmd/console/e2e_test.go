package main_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// The gateway is built from its source directory and run as a process: the console module never imports
// gateway packages, and the webhook is signed here the way GitHub signs it.
const gatewayDir = "../../../gateway/cmd/gateway"

const (
	e2eWebhookSecret = "e2e-webhook-secret"
	e2eDevSecret     = "dev-secret-for-tests"
	fixtureRepoID    = "186853002"
)

// system is a gateway and a console sharing one fresh database, with a GitHub repository of the
// fixtures linked to a workspace.
type system struct {
	pool         *pgxpool.Pool
	gatewayPid   int
	consolePid   int
	gatewayURL   string
	consoleURL   string
	installation int64 // GitHub's installation id
	org          string
	workspace    string
	integration  string
}

func startSystem(t testing.TB, consoleEnv map[string]string) *system {
	t.Helper()
	ctx := context.Background()
	dbURL := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, dbURL)
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	require.NoError(t, err)
	s := &system{pool: pool, installation: n.Int64() + 1, org: "org_" + ids.New()}

	q := dbq.New(pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: strconv.FormatInt(s.installation, 10), ConnectedBy: "user_1", OrgID: s.org,
	})
	require.NoError(t, err)
	_, err = q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: fixtureRepoID, ResourceName: ptr("Codertocat/Hello-World")})
	require.NoError(t, err)
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: s.org, Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	in, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub, ProviderResourceID: fixtureRepoID,
		ResourceName: "Codertocat/Hello-World", SyncConfig: types.DefaultSyncConfig(types.GitHub),
		ResourceMeta: types.NewGitHubResourceMeta(types.GitHubResourceMeta{
			InstallationID: s.installation, RepoID: 186853002, RepoName: "Hello-World", RepoFullName: "Codertocat/Hello-World", DefaultBranch: "master",
		}),
	})
	require.NoError(t, err)
	s.workspace, s.integration = ws.ID, in.ID

	redisURL := dbtest.RedisURL(t)
	gw := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"GATEWAY_ADDR": testproc.FreeAddr(t), "GATEWAY_API_KEYS": "e2e-api-key", "GATEWAY_ADMIN_KEYS": "e2e-admin-key",
		"GITHUB_WEBHOOK_SECRETS": e2eWebhookSecret, "LOG_LEVEL": "warn",
	}
	co := baseEnv(t)
	co["DATABASE_URL"], co["REDIS_URL"] = dbURL, redisURL
	for k, v := range consoleEnv {
		co[k] = v
	}
	s.gatewayURL, s.consoleURL = "http://"+gw["GATEWAY_ADDR"], "http://"+co["CONSOLE_ADDR"]
	gp := testproc.Start(t, testproc.Build(t, gatewayDir), gw, "serve")
	cp := testproc.Start(t, testproc.Build(t, "."), co, "serve")
	gp.WaitReady(t, s.gatewayURL+"/readyz", 30*time.Second)
	cp.WaitReady(t, s.consoleURL+"/readyz", 30*time.Second)
	s.gatewayPid, s.consolePid = gp.Pid(), cp.Pid()
	return s
}

// githubPayload is a fixture with the installation set to the system's.
func (s *system) githubPayload(t testing.TB, rel string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(dbtest.Fixture(t, rel), &m))
	m["installation"] = map[string]any{"id": s.installation}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// postGitHub signs body with the App's webhook secret and posts it to the gateway.
func (s *system) postGitHub(t testing.TB, client *http.Client, event, deliveryID string, body []byte) (int, string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(e2eWebhookSecret))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, s.gatewayURL+"/webhooks/github", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", deliveryID)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func (s *system) observations(t testing.TB) consolev1connect.ObservationServiceClient {
	t.Helper()
	tok, err := auth.SignDevToken(e2eDevSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "user_1", OrgID: s.org, OrgRole: "member"}})
	require.NoError(t, err)
	return consolev1connect.NewObservationServiceClient(http.DefaultClient, s.consoleURL, connect.WithInterceptors(
		connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+tok)
				return next(ctx, req)
			}
		})))
}

func TestWebhookThroughGatewayAndConsoleBecomesAnObservation(t *testing.T) {
	t.Parallel()
	s := startSystem(t, nil)
	client := &http.Client{Timeout: 10 * time.Second}
	body := s.githubPayload(t, "github/pull_request/opened.payload.json")
	delivery := "e2e-" + ids.New()

	status, resp := s.postGitHub(t, client, "pull_request", delivery, body)
	require.Equal(t, http.StatusAccepted, status, resp)
	require.Contains(t, resp, `"status":"accepted"`)

	obs := s.observations(t)
	var got *consolev1.Observation
	deadline := time.Now().Add(20 * time.Second)
	for got == nil {
		require.True(t, time.Now().Before(deadline), "no observation became visible")
		res, err := obs.ListObservations(context.Background(), connect.NewRequest(&consolev1.ListObservationsRequest{WorkspaceId: s.workspace}))
		require.NoError(t, err)
		if len(res.Msg.Observations) > 0 {
			require.Len(t, res.Msg.Observations, 1)
			got = res.Msg.Observations[0]
		} else {
			time.Sleep(25 * time.Millisecond)
		}
	}
	require.Equal(t, "github:pr:186853002:2:opened", got.SourceId)
	require.Equal(t, "pull_request.opened", got.SourceType)
	require.Equal(t, consolev1.Provider_PROVIDER_GITHUB, got.Provider)
	require.Equal(t, s.integration, got.IntegrationId)
	require.Equal(t, "PR #2 opened: Update the README with new information.", got.Title)
	require.Equal(t, "https://github.com/Codertocat/Hello-World/pull/2", got.Url)
	require.Equal(t, "Codertocat", got.Actor.GetName())

	var deliveryStatus string
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT status FROM lightfast_gw_webhook_deliveries WHERE provider = 'github' AND delivery_id = $1`, delivery).Scan(&deliveryStatus))
	require.Equal(t, "delivered", deliveryStatus)

	// GitHub retrying the same delivery: the gateway answers duplicate and nothing more is written.
	status, resp = s.postGitHub(t, client, "pull_request", delivery, body)
	require.Equal(t, http.StatusOK, status, resp)
	require.Contains(t, resp, `"duplicate"`)
	// A redelivery under a new id is the same fact: one observation still.
	status, _ = s.postGitHub(t, client, "pull_request", "e2e-"+ids.New(), body)
	require.Equal(t, http.StatusAccepted, status)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, s.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = 'delivered'`).Scan(&n))
		return n == 2
	}, 20*time.Second, 25*time.Millisecond)
	res, err := obs.ListObservations(context.Background(), connect.NewRequest(&consolev1.ListObservationsRequest{WorkspaceId: s.workspace}))
	require.NoError(t, err)
	require.Len(t, res.Msg.Observations, 1)

	// The lag histogram saw both deliveries.
	mresp, err := client.Get(s.consoleURL + "/metrics")
	require.NoError(t, err)
	defer mresp.Body.Close()
	metrics, err := io.ReadAll(mresp.Body)
	require.NoError(t, err)
	require.Contains(t, string(metrics), `console_observation_lag_seconds_count{provider="github"} 2`)
	require.True(t, strings.Contains(string(metrics), `console_webhook_deliveries_total{event="pull_request",outcome="processed",provider="github"} 2`),
		"deliveries counter missing:\n%s", grepLines(string(metrics), "console_webhook"))
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
