package backfill_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// retrySoon retries a failed job after a short pause, so transient-error tests do not wait for River's
// backoff but still see the retry as a separate attempt.
type retrySoon struct{}

func (retrySoon) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(200 * time.Millisecond)
}

// env is a running backfill worker on a fresh database, and the simulator it talks to.
type env struct {
	pool    *pgxpool.Pool
	q       *dbq.Queries
	keyring *secrets.Keyring
	client  *river.Client[pgx.Tx]
	sim     *simtest.Sim
}

func newKeyring(t testing.TB) (*secrets.Keyring, string) {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	spec := "k1:" + base64.StdEncoding.EncodeToString(key)
	kr, err := secrets.ParseKeyring(spec)
	require.NoError(t, err)
	return kr, spec
}

// setup starts a River client working the backfill queue with the real worker against the simulator.
func setup(t testing.TB, cfg backfill.Config) *env {
	t.Helper()
	sim := simtest.Get(t)
	pool := dbtest.NewPool(t)
	kr, _ := newKeyring(t)
	api := providerapi.New(providerapi.Config{
		GitHubAPIURL: sim.GitHubAPIURL, VercelAPIURL: sim.VercelAPIURL, LinearAPIURL: sim.LinearAPIURL, SentryURL: sim.SentryURL,
	})
	log := zaptest.NewLogger(t)
	if _, bench := t.(*testing.B); bench {
		log = zap.NewNop() // a benchmark measures the work, not the test log
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, backfill.NewWorker(pool, kr, api, log, cfg))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{jobs.QueueBackfill: {MaxWorkers: 2}},
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		RetryPolicy:       retrySoon{},
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		TestOnly:          true,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	return &env{pool: pool, q: dbq.New(pool), keyring: kr, client: client, sim: sim}
}

// tenant is an org with a workspace and a connected installation whose token is in the vault.
type tenant struct {
	org, workspace, installation string
}

func (e *env) tenant(t testing.TB, provider types.Provider, externalID, token string) tenant {
	t.Helper()
	ctx := context.Background()
	org := "org_" + ids.New()
	ws, err := e.q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: "Acme", Slug: "acme", Settings: types.Object{}})
	require.NoError(t, err)
	inst, err := e.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: provider, ExternalID: externalID, ConnectedBy: "user_1", OrgID: org, Metadata: types.Object{},
	})
	require.NoError(t, err)
	tokenID := ids.New()
	sealed, err := e.keyring.Encrypt(token, vault.AccessTokenField(tokenID))
	require.NoError(t, err)
	_, err = e.q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: tokenID, InstallationID: inst.ID, AccessToken: sealed})
	require.NoError(t, err)
	return tenant{org: org, workspace: ws.ID, installation: inst.ID}
}

// link links a resource of the tenant's installation to its workspace.
func (e *env) link(t testing.TB, tn tenant, provider types.Provider, resourceID string, meta *types.ResourceMeta) dbq.UpsertIntegrationRow {
	t.Helper()
	in, err := e.q.UpsertIntegration(context.Background(), dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: tn.workspace, InstallationID: tn.installation, Provider: provider,
		ProviderResourceID: resourceID, ResourceName: "resource " + resourceID, ResourceMeta: meta,
		SyncConfig: types.DefaultSyncConfig(provider),
	})
	require.NoError(t, err)
	return in
}

// start queues a backfill the way StartBackfill does.
func (e *env) start(t testing.TB, tn tenant, integrationID string, opts backfill.Options) types.BackfillState {
	t.Helper()
	var st types.BackfillState
	require.NoError(t, db.WithTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		st, err = backfill.Start(context.Background(), tx, e.client, tn.org, integrationID, opts)
		return err
	}))
	return st
}

func (e *env) cancel(t testing.TB, tn tenant, integrationID string) types.BackfillState {
	t.Helper()
	var st types.BackfillState
	require.NoError(t, db.WithTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		st, err = backfill.Cancel(context.Background(), tx, e.client, tn.org, integrationID)
		return err
	}))
	return st
}

func (e *env) state(t testing.TB, integrationID string) types.BackfillState {
	t.Helper()
	in, err := e.q.GetIntegration(context.Background(), integrationID)
	require.NoError(t, err)
	return in.BackfillState
}

// waitEnded waits for the backfill to end and returns its final state.
func (e *env) waitEnded(t testing.TB, integrationID string, timeout time.Duration) types.BackfillState {
	t.Helper()
	var st types.BackfillState
	require.Eventually(t, func() bool {
		st = e.state(t, integrationID)
		return st.Status != types.BackfillPending && st.Status != types.BackfillRunning
	}, timeout, 20*time.Millisecond, "backfill did not end")
	return st
}

// observations counts an integration's observations and distinct source ids.
func (e *env) observations(t testing.TB, integrationID string) (rows, distinct int) {
	t.Helper()
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT source_id) FROM lightfast_workspace_observations WHERE integration_id = $1`,
		integrationID).Scan(&rows, &distinct))
	return rows, distinct
}

// countType counts an integration's observations of one source type.
func (e *env) countType(t testing.TB, integrationID, sourceType string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM lightfast_workspace_observations WHERE integration_id = $1 AND source_type = $2`,
		integrationID, sourceType).Scan(&n))
	return n
}

func (e *env) job(t testing.TB, id int64) *rivertype.JobRow {
	t.Helper()
	row, err := e.client.JobGet(context.Background(), id)
	require.NoError(t, err)
	return row
}

// waitJob waits for River to finalize a job (its completer records results asynchronously).
func (e *env) waitJob(t testing.TB, id int64) *rivertype.JobRow {
	t.Helper()
	var row *rivertype.JobRow
	require.Eventually(t, func() bool {
		row = e.job(t, id)
		return row.FinalizedAt != nil
	}, 30*time.Second, 20*time.Millisecond, "job was not finalized")
	return row
}

// github links a new repository with the given history.
func (e *env) github(t testing.TB, pulls, issues, releases int) (tenant, dbq.UpsertIntegrationRow, simtest.GitHubRepo) {
	t.Helper()
	inst, repos := e.sim.GitHub(t, 1)
	repo := repos[0]
	seed := func(kind string, n int) {
		if n > 0 {
			e.sim.Seed(t, map[string]any{"kind": kind, "repo": repo.FullName, "count": n}, nil)
		}
	}
	seed("github.pulls", pulls)
	seed("github.issues", issues)
	seed("github.releases", releases)
	tn := e.tenant(t, types.GitHub, itoa(inst.ID), inst.Token)
	in := e.link(t, tn, types.GitHub, itoa(repo.ID), types.NewGitHubResourceMeta(types.GitHubResourceMeta{
		InstallationID: inst.ID, RepoID: repo.ID, RepoName: repo.Name, RepoFullName: repo.FullName, DefaultBranch: repo.DefaultBranch,
	}))
	return tn, in, repo
}

// vercel links a new team project with deployments deployments.
func (e *env) vercel(t testing.TB, deployments int) (tenant, dbq.UpsertIntegrationRow) {
	t.Helper()
	inst := e.sim.Vercel(t, 0, false)
	var projects []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	e.sim.Seed(t, map[string]any{"kind": "vercel.projects", "owner": inst.TeamID, "count": 1}, &projects)
	e.sim.Seed(t, map[string]any{"kind": "vercel.deployments", "projectId": projects[0].ID, "count": deployments}, nil)
	tn := e.tenant(t, types.Vercel, inst.ConfigurationID, inst.Token)
	in := e.link(t, tn, types.Vercel, projects[0].ID, types.NewVercelResourceMeta(types.VercelResourceMeta{
		ProjectID: projects[0].ID, ProjectName: projects[0].Name, TeamID: inst.TeamID, ConfigurationID: inst.ConfigurationID,
	}))
	return tn, in
}

// linear links a new team with issues issues; a second team of the workspace gets others, which the
// backfill must leave alone.
func (e *env) linear(t testing.TB, issues, others int) (tenant, dbq.UpsertIntegrationRow) {
	t.Helper()
	inst := e.sim.Linear(t, 0)
	var teams []struct {
		ID   string `json:"id"`
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	e.sim.Seed(t, map[string]any{"kind": "linear.teams", "org": inst.URLKey, "count": 2}, &teams)
	e.sim.Seed(t, map[string]any{"kind": "linear.issues", "teamId": teams[0].ID, "count": issues}, nil)
	if others > 0 {
		e.sim.Seed(t, map[string]any{"kind": "linear.issues", "teamId": teams[1].ID, "count": others}, nil)
	}
	tn := e.tenant(t, types.Linear, inst.OrganizationID, inst.Token)
	in := e.link(t, tn, types.Linear, teams[0].ID, types.NewLinearResourceMeta(types.LinearResourceMeta{
		TeamID: teams[0].ID, TeamKey: teams[0].Key, TeamName: teams[0].Name,
	}))
	return tn, in
}

// sentry links a new organization's project with issues issues.
func (e *env) sentry(t testing.TB, issues int) (tenant, dbq.UpsertIntegrationRow) {
	t.Helper()
	inst := e.sim.Sentry(t, 0)
	var projects []struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	}
	e.sim.Seed(t, map[string]any{"kind": "sentry.projects", "org": inst.OrgSlug, "count": 1}, &projects)
	e.sim.Seed(t, map[string]any{"kind": "sentry.issues", "org": inst.OrgSlug, "project": projects[0].Slug, "count": issues}, nil)
	tn := e.tenant(t, types.Sentry, inst.UUID, inst.Token)
	in := e.link(t, tn, types.Sentry, projects[0].ID, types.NewSentryResourceMeta(types.SentryResourceMeta{
		ProjectID: projects[0].ID, ProjectSlug: projects[0].Slug, OrgSlug: inst.OrgSlug,
	}))
	return tn, in
}
