package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/api"
	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/observations"
	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

const (
	devSecret  = "test-dev-secret"
	m2mKey     = "m2m-test-key"
	gatewayURL = "https://gateway.test"
	testKeys   = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

// env is one test's Console API: a fresh database, its own Redis key space, the shared simulator and an
// HTTP server with the real echo wiring.
type env struct {
	t     testing.TB
	pool  *pgxpool.Pool
	q     *dbq.Queries
	cache *routing.Cache
	kr    *secrets.Keyring
	sim   *simtest.Sim
	url   string
	river *river.Client[pgx.Tx] // insert-only, the API's own
}

func setup(t testing.TB) *env { return setupWith(t, nil) }

// setupWith is setup with a chance to change the API's dependencies.
func setupWith(t testing.TB, mod func(*api.Deps)) *env {
	t.Helper()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	kr, err := secrets.ParseKeyring(testKeys)
	require.NoError(t, err)
	sim := simtest.Get(t)
	riverClient, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	cache := routing.New(redis, pool, prefix)

	deps := api.Deps{
		Pool: pool, Routes: cache, Keyring: kr, River: riverClient,
		Providers: providerapi.New(providerapi.Config{
			GitHubAPIURL: sim.GitHubAPIURL, VercelAPIURL: sim.VercelAPIURL, LinearAPIURL: sim.LinearAPIURL, SentryURL: sim.SentryURL,
			Timeout: 2 * time.Second,
		}),
		GatewayPublicURL: gatewayURL,
		Verifier:         auth.NewVerifier(auth.Config{DevSecret: devSecret}),
		M2MKeys:          auth.NewM2MKeys([]string{"old-key", m2mKey}),
		Log:              zap.NewNop(),
		Observations:     observations.New(pool),
	}
	if mod != nil {
		mod(&deps)
	}
	e := platform.NewEcho(zap.NewNop(), nil)
	api.Mount(e, deps)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{t: t, pool: pool, q: dbq.New(pool), cache: cache, kr: kr, sim: sim, url: srv.URL, river: riverClient}
}

// token returns a dev session token.
func token(t testing.TB, user, org, role string) string {
	t.Helper()
	tok, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: user, OrgID: org, OrgRole: role}})
	require.NoError(t, err)
	return tok
}

// withHeader sets a request header on every call (nothing when value is empty).
func withHeader(name, value string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if value != "" {
				req.Header().Set(name, value)
			}
			return next(ctx, req)
		}
	}))
}

// clients are the Console API clients of one caller.
type clients struct {
	ws    consolev1connect.WorkspaceServiceClient
	conn  consolev1connect.ConnectionServiceClient
	gh    consolev1connect.GitHubServiceClient
	vc    consolev1connect.VercelServiceClient
	ln    consolev1connect.LinearServiceClient
	se    consolev1connect.SentryServiceClient
	integ consolev1connect.IntegrationServiceClient
	src   consolev1connect.SourceServiceClient
	obs   consolev1connect.ObservationServiceClient
	jobs  consolev1connect.JobServiceClient
}

// as returns clients calling with tok (a session token, an M2M key, or "" for none) as a bearer.
func (e *env) as(tok string) clients {
	v := ""
	if tok != "" {
		v = "Bearer " + tok
	}
	return e.with(withHeader("Authorization", v))
}

// clientsWithCookie returns clients sending tok in the __session cookie, as a browser does.
func clientsWithCookie(e *env, tok string) clients {
	return e.with(withHeader("Cookie", "__session="+tok))
}

func (e *env) with(o connect.ClientOption) clients {
	h := http.DefaultClient
	return clients{
		ws:    consolev1connect.NewWorkspaceServiceClient(h, e.url, o),
		conn:  consolev1connect.NewConnectionServiceClient(h, e.url, o),
		gh:    consolev1connect.NewGitHubServiceClient(h, e.url, o),
		vc:    consolev1connect.NewVercelServiceClient(h, e.url, o),
		ln:    consolev1connect.NewLinearServiceClient(h, e.url, o),
		se:    consolev1connect.NewSentryServiceClient(h, e.url, o),
		integ: consolev1connect.NewIntegrationServiceClient(h, e.url, o),
		src:   consolev1connect.NewSourceServiceClient(h, e.url, o),
		obs:   consolev1connect.NewObservationServiceClient(h, e.url, o),
		jobs:  consolev1connect.NewJobServiceClient(h, e.url, o),
	}
}

// admin returns clients for an admin of org.
func (e *env) admin(org string) clients { return e.as(token(e.t, "user_"+org, org, "admin")) }

// requireCode asserts err is a Connect error with code.
func requireCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	_ = requireConnectError(t, err, code) // the error is already checked; the value is for other callers
}

// requireConnectError is requireCode for callers that look at the message or details too.
func requireConnectError(t *testing.T, err error, code connect.Code) *connect.Error {
	t.Helper()
	require.Error(t, err)
	var cerr *connect.Error
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, code, cerr.Code(), "message: %s", cerr.Message())
	return cerr
}

// installation writes an active installation of org with an encrypted access token, as the Gateway's
// callback would.
func (e *env) installation(org string, p types.Provider, externalID, accessToken string, info *types.ProviderAccountInfo) dbq.Installation {
	e.t.Helper()
	ctx := context.Background()
	login := "login-" + externalID
	inst, err := e.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: p, ExternalID: externalID, AccountLogin: &login, ConnectedBy: "user_" + org, OrgID: org,
		ProviderAccountInfo: info,
	})
	require.NoError(e.t, err)
	tokenID := ids.New()
	enc, err := e.kr.Encrypt(accessToken, vault.AccessTokenField(tokenID))
	require.NoError(e.t, err)
	_, err = e.q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: tokenID, InstallationID: inst.ID, AccessToken: enc})
	require.NoError(e.t, err)
	return inst
}

// pendingInstallation writes an installation as the Gateway's callback leaves it for the Console to
// confirm: pending for user of org until deadline, with an encrypted access token.
func (e *env) pendingInstallation(org, user string, p types.Provider, externalID string, deadline time.Time) dbq.Installation {
	e.t.Helper()
	ctx := context.Background()
	login := "login-" + externalID
	status := types.InstallationPending
	inst, err := e.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: p, ExternalID: externalID, AccountLogin: &login, ConnectedBy: user, OrgID: org,
		Status: &status, PendingExpiresAt: &deadline,
	})
	require.NoError(e.t, err)
	tokenID := ids.New()
	enc, err := e.kr.Encrypt("pending-token-"+externalID, vault.AccessTokenField(tokenID))
	require.NoError(e.t, err)
	_, err = e.q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: tokenID, InstallationID: inst.ID, AccessToken: enc})
	require.NoError(e.t, err)
	return inst
}

// revokeJobs returns the installation ids of the installation.revoke jobs enqueued for the Gateway.
func (e *env) revokeJobs() []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(),
		`SELECT args->>'installationId' FROM river_job WHERE kind = 'installation.revoke' AND queue = 'gateway' ORDER BY id`)
	require.NoError(e.t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(e.t, err)
	return ids
}

// github connects a new simulated GitHub installation with repos repositories to org.
func (e *env) github(org string, repos int) (dbq.Installation, simtest.GitHubInstallation, []simtest.GitHubRepo) {
	e.t.Helper()
	gh, seeded := e.sim.GitHub(e.t, repos)
	installed := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	inst := e.installation(org, types.GitHub, strconv.FormatInt(gh.ID, 10), gh.Token, types.NewGitHubAccountInfo(types.GitHubAccountInfo{
		Installations: []types.GitHubInstallation{{ID: gh.ID, AccountLogin: "stale-login", AccountType: "Organization", InstalledAt: &installed}},
	}))
	return inst, gh, seeded
}

// vercel connects a new simulated Vercel team installation with projects projects to org.
func (e *env) vercel(org string, projects int) (dbq.Installation, simtest.VercelInstallation) {
	e.t.Helper()
	vc := e.sim.Vercel(e.t, projects, false)
	inst := e.installation(org, types.Vercel, vc.ConfigurationID, vc.Token, types.NewVercelAccountInfo(types.VercelAccountInfo{
		UserID: vc.UserID, TeamID: vc.TeamID, TeamSlug: "team-slug", ConfigurationID: vc.ConfigurationID,
	}))
	return inst, vc
}

// linear connects a new simulated Linear workspace with teams teams to org.
func (e *env) linear(org string, teams int) (dbq.Installation, simtest.LinearInstallation) {
	e.t.Helper()
	ln := e.sim.Linear(e.t, teams)
	inst := e.installation(org, types.Linear, ln.OrganizationID, ln.Token, types.NewLinearAccountInfo(types.LinearAccountInfo{
		OrganizationID: ln.OrganizationID, OrganizationName: "Lin", URLKey: ln.URLKey,
	}))
	return inst, ln
}

// sentry connects a new simulated Sentry organization with projects projects to org.
func (e *env) sentry(org string, projects int) (dbq.Installation, simtest.SentryInstallation) {
	e.t.Helper()
	se := e.sim.Sentry(e.t, projects)
	inst := e.installation(org, types.Sentry, se.UUID, se.Token, types.NewSentryAccountInfo(types.SentryAccountInfo{
		InstallationUUID: se.UUID, OrgSlug: se.OrgSlug,
	}))
	return inst, se
}

// workspace creates a workspace in org directly.
func (e *env) workspace(org, slug string) dbq.Workspace {
	e.t.Helper()
	w, err := e.q.CreateWorkspace(context.Background(), dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: slug, Slug: slug})
	require.NoError(e.t, err)
	return w
}

// snapshot returns every row of the tables the API writes, as JSON text, so a test can assert that a
// refused call changed nothing.
func (e *env) snapshot() map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for _, table := range []string{
		"lightfast_gw_installations", "lightfast_gw_tokens", "lightfast_gw_resources", "lightfast_gw_oauth_states",
		"lightfast_org_workspaces", "lightfast_workspace_integrations", "river_job",
	} {
		rows, err := e.pool.Query(context.Background(), `SELECT t::text FROM `+table+` t ORDER BY 1`)
		require.NoError(e.t, err)
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(e.t, err)
		out[table] = vals
	}
	return out
}
