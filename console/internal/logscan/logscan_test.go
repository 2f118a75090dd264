package logscan_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/securitytest"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

const (
	devSecret = "logscan-dev-secret-7f3a9c"
	m2mOld    = "logscan-m2m-old-key-51be"
	m2mNew    = "logscan-m2m-new-key-c0de"
	// keyMaterial is the 32-byte AES key; ENCRYPTION_KEYS carries it base64-encoded.
	keyMaterial = "logscan-aes-key-32-bytes-long!!!"
)

// run is one console process and what the test handed it.
type run struct {
	pool    *pgxpool.Pool
	kr      *secrets.Keyring
	url     string
	secrets []string
}

func (r *run) remember(values ...string) { r.secrets = append(r.secrets, values...) }

// installation writes an active installation of org with an encrypted access token, as the Gateway's
// callback would.
func (r *run) installation(t *testing.T, org string, p types.Provider, externalID, token string, info *types.ProviderAccountInfo) string {
	t.Helper()
	ctx := context.Background()
	q := dbq.New(r.pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: p, ExternalID: externalID, ConnectedBy: "user_1", OrgID: org, ProviderAccountInfo: info,
	})
	require.NoError(t, err)
	tokenID := ids.New()
	enc, err := r.kr.Encrypt(token, vault.AccessTokenField(tokenID))
	require.NoError(t, err)
	later := time.Now().Add(time.Hour)
	_, err = q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: tokenID, InstallationID: inst.ID, AccessToken: enc, ExpiresAt: &later})
	require.NoError(t, err)
	r.remember(token, enc)
	return inst.ID
}

// bearer is a Connect client option sending an Authorization header.
func bearer(value string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+value)
			return next(ctx, req)
		}
	}))
}

func (r *run) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, r.pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// TestSecurityConsoleLogsNoSecrets runs the console binary at debug level through a whole working
// session: the Connect API (session JWT and M2M keys, good and bad), GetAuthorizeURL for every provider
// (states and PKCE verifiers), look-ups at all four providers and a repository link with the stored
// tokens, the webhook.process and sync.config workers on a push that changes lightfast.yml, and the
// backfill it started. Then no token, key, state, verifier or session token the run handled appears
// anywhere in what the process printed.
func TestSecurityConsoleLogsNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the console binary through a backfill")
	}
	ctx := context.Background()
	sim := simtest.Get(t)
	dbURL := dbtest.NewDatabaseURL(t)
	keys := "k1:" + base64.StdEncoding.EncodeToString([]byte(keyMaterial))
	kr, err := secrets.ParseKeyring(keys)
	require.NoError(t, err)
	r := &run{pool: dbtest.Pool(t, dbURL), kr: kr}
	r.remember(devSecret, m2mOld, m2mNew, keyMaterial, base64.StdEncoding.EncodeToString([]byte(keyMaterial)), keys)

	// Provider accounts, and the rows the Gateway would have written for them.
	const org = "org_logscan"
	gh, repos := sim.GitHub(t, 2)
	repo := repos[0]
	sim.Seed(t, map[string]any{"kind": "github.pulls", "repo": repo.FullName, "count": 120}, nil)
	sim.Seed(t, map[string]any{"kind": "github.issues", "repo": repo.FullName, "count": 30}, nil)
	sim.SetGitHubFile(t, repo.FullName, "", "lightfast.yml", "version: 1\nevents: [push, pull_request]\n")
	ghID := r.installation(t, org, types.GitHub, strconv.FormatInt(gh.ID, 10), gh.Token, types.NewGitHubAccountInfo(types.GitHubAccountInfo{
		Installations: []types.GitHubInstallation{{ID: gh.ID, AccountLogin: gh.Account, AccountType: "Organization"}},
	}))
	vc := sim.Vercel(t, 2, false)
	vcID := r.installation(t, org, types.Vercel, vc.ConfigurationID, vc.Token, types.NewVercelAccountInfo(types.VercelAccountInfo{
		UserID: vc.UserID, TeamID: vc.TeamID, ConfigurationID: vc.ConfigurationID,
	}))
	ln := sim.Linear(t, 2)
	lnID := r.installation(t, org, types.Linear, ln.OrganizationID, ln.Token, types.NewLinearAccountInfo(types.LinearAccountInfo{
		OrganizationID: ln.OrganizationID, URLKey: ln.URLKey,
	}))
	se := sim.Sentry(t, 2)
	seID := r.installation(t, org, types.Sentry, se.UUID, se.Token, types.NewSentryAccountInfo(types.SentryAccountInfo{
		InstallationUUID: se.UUID, OrgSlug: se.OrgSlug,
	}))

	env := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": dbtest.RedisURL(t), "ENCRYPTION_KEYS": keys,
		"CONSOLE_ADDR": testproc.FreeAddr(t), "AUTH_DEV_SECRET": devSecret, "M2M_API_KEYS": m2mOld + "," + m2mNew,
		"LOG_LEVEL": "debug", "LOG_FORMAT": "json",
		"GITHUB_API_URL": sim.GitHubAPIURL, "VERCEL_API_URL": sim.VercelAPIURL, "LINEAR_API_URL": sim.LinearAPIURL, "SENTRY_URL": sim.SentryURL,
	}
	p := testproc.Start(t, testproc.Build(t, "../../cmd/console"), env, "serve")
	r.url = "http://" + env["CONSOLE_ADDR"]
	p.WaitReady(t, r.url+"/readyz", 30*time.Second)

	session, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "user_1", OrgID: org, OrgRole: "admin"}})
	require.NoError(t, err)
	forged, err := auth.SignDevToken("not-the-dev-secret", auth.DevTokenOptions{Principal: auth.Principal{UserID: "user_1", OrgID: org, OrgRole: "admin"}})
	require.NoError(t, err)
	r.remember(session, session[strings.LastIndex(session, ".")+1:], forged, forged[strings.LastIndex(forged, ".")+1:])

	h := http.DefaultClient
	as := bearer(session)
	wsc := consolev1connect.NewWorkspaceServiceClient(h, r.url, as)
	conn := consolev1connect.NewConnectionServiceClient(h, r.url, as)
	ghc := consolev1connect.NewGitHubServiceClient(h, r.url, as)
	integ := consolev1connect.NewIntegrationServiceClient(h, r.url, as)

	ws, err := wsc.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "Log scan"}))
	require.NoError(t, err)
	wsID := ws.Msg.GetWorkspace().GetId()

	// Connect states for every provider: the opaque token, its hash and the PKCE verifier are secrets.
	for _, pv := range []consolev1.Provider{consolev1.Provider_PROVIDER_GITHUB, consolev1.Provider_PROVIDER_VERCEL,
		consolev1.Provider_PROVIDER_LINEAR, consolev1.Provider_PROVIDER_SENTRY} {
		resp, err := conn.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{Provider: pv}))
		require.NoError(t, err)
		u, err := url.Parse(resp.Msg.GetAuthorizeUrl())
		require.NoError(t, err)
		state := u.Query().Get("state")
		r.remember(state, oauthstate.Hash(state))
		provider := types.Provider(strings.ToLower(strings.TrimPrefix(pv.String(), "PROVIDER_")))
		st, err := oauthstate.Peek(ctx, r.pool, provider, state)
		require.NoError(t, err)
		if st.CodeVerifier != "" {
			r.remember(st.CodeVerifier.Reveal(), oauthstate.CodeChallenge(st.CodeVerifier))
		}
	}

	// Look-ups at every provider with the stored tokens.
	_, err = conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	_, err = ghc.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: ghID}))
	require.NoError(t, err)
	_, err = ghc.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: ghID}))
	require.NoError(t, err)
	_, err = ghc.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_Repository_{
		Repository: &consolev1.DetectConfigRequest_Repository{InstallationId: ghID, FullName: repo.FullName},
	}}))
	require.NoError(t, err)
	_, err = consolev1connect.NewVercelServiceClient(h, r.url, as).ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: vcID}))
	require.NoError(t, err)
	_, err = consolev1connect.NewLinearServiceClient(h, r.url, as).ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: lnID}))
	require.NoError(t, err)
	_, err = consolev1connect.NewSentryServiceClient(h, r.url, as).ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: seID}))
	require.NoError(t, err)

	// A provider refusing a token makes the console log a provider failure: still no token in it.
	sim.Fault(t, map[string]any{"key": "github.installation.repositories", "status": 401, "times": 1})
	_, err = ghc.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: ghID}))
	require.Error(t, err)
	sim.ClearFaults(t)

	// Link the repository and start its backfill.
	link, err := integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: wsID, InstallationId: ghID, Repositories: []*consolev1.GitHubRepository{{Id: repo.ID, FullName: repo.FullName}},
		StartBackfill: true,
	}))
	require.NoError(t, err)
	integrationID := link.Msg.GetIntegrations()[0].GetId()

	// M2M with both keys, and callers that must be refused: a wrong key, a forged session, none.
	for _, key := range []string{m2mOld, m2mNew} {
		_, err = consolev1connect.NewSourceServiceClient(h, r.url, bearer(key)).FindByGithubRepoId(ctx,
			connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repo.ID}))
		require.NoError(t, err)
	}
	_, err = consolev1connect.NewSourceServiceClient(h, r.url, bearer("logscan-wrong-m2m-key")).FindByGithubRepoId(ctx,
		connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repo.ID}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	r.remember("logscan-wrong-m2m-key")
	_, err = consolev1connect.NewWorkspaceServiceClient(h, r.url, bearer(forged)).ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))

	// A push to the default branch that adds lightfast.yml, recorded as the Gateway would: the webhook
	// worker writes its observation and queues sync.config, which reads the file with the stored token.
	deliveryID := pushDelivery(t, r, ghID, repo.ID, repo.DefaultBranch)

	// Everything finishes: the backfill, the delivery and the sync.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var state types.BackfillState
		require.NoError(t, r.pool.QueryRow(ctx, `SELECT backfill_state FROM lightfast_workspace_integrations WHERE id = $1`, integrationID).Scan(&state))
		delivered := r.count(t, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE id = $1 AND status = 'delivered'`, deliveryID)
		synced := r.count(t, `SELECT count(*) FROM river_job WHERE kind = 'sync.config' AND state = 'completed'`)
		if state.Status == types.BackfillCompleted && delivered == 1 && synced >= 1 {
			break
		}
		require.NotEqual(t, types.BackfillFailed, state.Status, state.Error)
		require.True(t, time.Now().Before(deadline), "backfill %s, delivered %d, synced %d\n%s", state.Status, delivered, synced, p.Output())
		time.Sleep(50 * time.Millisecond)
	}
	require.Greater(t, r.count(t, `SELECT count(*) FROM lightfast_workspace_observations WHERE delivery_id IS NULL`), 100, "the backfill wrote observations")
	require.Equal(t, 1, r.count(t, `SELECT count(*) FROM lightfast_workspace_observations WHERE delivery_id = $1`, deliveryID), "the push is an observation")

	_, err = consolev1connect.NewObservationServiceClient(h, r.url, as).ListObservations(ctx,
		connect.NewRequest(&consolev1.ListObservationsRequest{WorkspaceId: wsID}))
	require.NoError(t, err)
	_, err = conn.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: seID}))
	require.NoError(t, err)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, code)

	logs := p.Output()
	// The scan is only worth something if the run logged: requests, debug lines and the workers' jobs.
	require.Contains(t, logs, `"level":"debug"`)
	require.Contains(t, logs, `"msg":"request"`)
	require.Contains(t, logs, "backfill")
	securitytest.RequireNoSecrets(t, logs, r.secrets...)
}

// pushDelivery records a push delivery to branch that adds lightfast.yml, and its webhook.process job, in
// one transaction as the Gateway does. It returns the delivery row id.
func pushDelivery(t *testing.T, r *run, installationID string, repoID int64, branch string) string {
	t.Helper()
	ctx := context.Background()
	var m map[string]any
	require.NoError(t, json.Unmarshal(dbtest.Fixture(t, "github/push/with-new-branch.payload.json"), &m))
	m["ref"] = "refs/heads/" + branch
	m["repository"].(map[string]any)["id"] = repoID
	m["repository"].(map[string]any)["default_branch"] = branch
	m["repository"].(map[string]any)["master_branch"] = branch
	c := m["commits"].([]any)[0].(map[string]any)
	c["added"], c["removed"], c["modified"] = []string{"lightfast.yml"}, []string{}, []string{}
	payload, err := json.Marshal(m)
	require.NoError(t, err)

	inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(r.pool), &river.Config{})
	require.NoError(t, err)
	id := ids.New()
	resource := strconv.FormatInt(repoID, 10)
	require.NoError(t, db.WithTx(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := dbq.New(tx).InsertDelivery(ctx, dbq.InsertDeliveryParams{
			ID: id, Provider: types.GitHub, DeliveryID: ids.New(), EventType: "push", InstallationID: &installationID,
			ProviderResourceID: &resource, Status: "received", Payload: payload, Headers: types.Headers{},
		}); err != nil {
			return err
		}
		_, err := inserter.InsertTx(ctx, tx, jobs.WebhookProcess{DeliveryID: id}, nil)
		return err
	}))
	return id
}
