package worker_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/console/internal/worker"
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

type syncBundle struct {
	pool   *pgxpool.Pool
	q      *dbq.Queries
	kr     *secrets.Keyring
	sim    *simtest.Sim
	worker *worker.SyncConfigWorker
}

func setupSync(t *testing.T) *syncBundle {
	t.Helper()
	sim := simtest.Get(t)
	pool := dbtest.NewPool(t)
	kr, err := secrets.ParseKeyring("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	require.NoError(t, err)
	gh := providerapi.New(providerapi.Config{GitHubAPIURL: sim.GitHubAPIURL, Timeout: 5 * time.Second}).GitHub
	return &syncBundle{pool: pool, q: dbq.New(pool), kr: kr, sim: sim,
		worker: worker.NewSyncConfigWorker(pool, kr, gh, zaptest.NewLogger(t))}
}

// connection is a GitHub installation stored the way the gateway stores it, in a workspace's org.
type connection struct {
	installationID, workspaceID string
	inst                        simtest.GitHubInstallation
}

// connect stores a GitHub installation and its token the way the gateway does.
func (s *syncBundle) connect(t *testing.T, inst simtest.GitHubInstallation) connection {
	t.Helper()
	ctx := context.Background()
	org := "org_" + ids.New()
	row, err := s.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: strconv.FormatInt(inst.ID, 10), ConnectedBy: "user_1", OrgID: org,
	})
	require.NoError(t, err)
	tokenID := ids.New()
	enc, err := s.kr.Encrypt(inst.Token, vault.AccessTokenField(tokenID))
	require.NoError(t, err)
	_, err = s.q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: tokenID, InstallationID: row.ID, AccessToken: enc, ExpiresAt: &inst.ExpiresAt})
	require.NoError(t, err)
	ws, err := s.q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	return connection{installationID: row.ID, workspaceID: ws.ID, inst: inst}
}

// link links repo to the connection's workspace.
func (s *syncBundle) link(t *testing.T, c connection, repo simtest.GitHubRepo) dbq.UpsertIntegrationRow {
	t.Helper()
	in, err := s.q.UpsertIntegration(context.Background(), dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: c.workspaceID, InstallationID: c.installationID, Provider: types.GitHub,
		ProviderResourceID: strconv.FormatInt(repo.ID, 10), ResourceName: repo.FullName,
		ResourceMeta: types.NewGitHubResourceMeta(types.GitHubResourceMeta{
			InstallationID: c.inst.ID, RepoID: repo.ID, RepoName: repo.Name, RepoFullName: repo.FullName, DefaultBranch: repo.DefaultBranch,
		}),
		SyncConfig: types.DefaultSyncConfig(types.GitHub),
	})
	require.NoError(t, err)
	return in
}

func (s *syncBundle) run(t *testing.T, integrationID string) error {
	t.Helper()
	return s.worker.Work(context.Background(), &river.Job[jobs.SyncConfig]{
		JobRow: &rivertype.JobRow{ID: 1, Attempt: 1, MaxAttempts: 5, State: rivertype.JobStateRunning},
		Args:   jobs.SyncConfig{IntegrationID: integrationID, Reason: worker.SyncReasonPush},
	})
}

func (s *syncBundle) syncConfig(t *testing.T, id string) types.SyncConfig {
	t.Helper()
	in, err := s.q.GetIntegration(context.Background(), id)
	require.NoError(t, err)
	return in.SyncConfig
}

func (s *syncBundle) integration(t *testing.T, id string) dbq.Integration {
	t.Helper()
	in, err := s.q.GetIntegration(context.Background(), id)
	require.NoError(t, err)
	return in
}

func TestSyncConfigReadsTheRepository(t *testing.T) {
	t.Parallel()
	s := setupSync(t)
	inst, repos := s.sim.GitHub(t, 2)
	s.sim.SetGitHubFile(t, repos[0].FullName, "", ".lightfast.yml", "version: 1\nevents: [push]\n")
	c := s.connect(t, inst)
	withConfig := s.link(t, c, repos[0])
	without := s.link(t, c, repos[1])

	before := time.Now().Add(-time.Second)
	require.NoError(t, s.run(t, withConfig.ID))
	cfg := s.syncConfig(t, withConfig.ID)
	require.Equal(t, types.ConfigStatusConfigured, cfg.ConfigStatus)
	require.Equal(t, ".lightfast.yml", cfg.ConfigPath)
	require.NotNil(t, cfg.LastConfigCheck)
	require.True(t, cfg.LastConfigCheck.After(before))
	require.Equal(t, withConfig.SyncConfig.Events, cfg.Events)
	got := s.integration(t, withConfig.ID)
	require.Equal(t, types.SyncStatusSuccess, *got.LastSyncStatus, "the sync worker keeps the sync status")
	require.NotNil(t, got.LastSyncedAt)
	require.True(t, got.LastSyncedAt.After(before))
	require.Nil(t, got.LastSyncError)

	require.NoError(t, s.run(t, without.ID))
	cfg = s.syncConfig(t, without.ID)
	require.Equal(t, types.ConfigStatusAwaitingConfig, cfg.ConfigStatus)
	require.Empty(t, cfg.ConfigPath)
	require.NotNil(t, cfg.LastConfigCheck)

	// lightfast.yml wins over .lightfast.yml when both exist.
	s.sim.SetGitHubFile(t, repos[0].FullName, "", "lightfast.yml", "version: 1\n")
	require.NoError(t, s.run(t, withConfig.ID))
	require.Equal(t, "lightfast.yml", s.syncConfig(t, withConfig.ID).ConfigPath)
}

func TestSyncConfigCancelsWithoutAUsableConnection(t *testing.T) {
	t.Parallel()
	s := setupSync(t)
	inst, repos := s.sim.GitHub(t, 1)
	in := s.link(t, s.connect(t, inst), repos[0])
	_, err := s.q.SetInstallationStatus(context.Background(), dbq.SetInstallationStatusParams{ID: in.InstallationID, Status: "revoked"})
	require.NoError(t, err)

	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, s.run(t, in.ID), &cancel)
	require.ErrorIs(t, s.run(t, in.ID), vault.ErrNotActive)
	require.Empty(t, s.syncConfig(t, in.ID).ConfigStatus, "nothing written")
	got := s.integration(t, in.ID)
	require.Equal(t, types.SyncStatusFailed, *got.LastSyncStatus)
	require.Contains(t, *got.LastSyncError, "not active")
	require.Nil(t, got.LastSyncedAt, "a failed sync does not move last_synced_at")

	require.ErrorAs(t, s.run(t, "no-such-integration"), &cancel)
}

// TestSyncConfigCancelsForAnUnreadableIntegration: a row that cannot be read stays so; the job is
// cancelled with the reason rather than retried.
func TestSyncConfigCancelsForAnUnreadableIntegration(t *testing.T) {
	t.Parallel()
	s := setupSync(t)
	inst, repos := s.sim.GitHub(t, 1)
	in := s.link(t, s.connect(t, inst), repos[0])
	_, err := s.pool.Exec(context.Background(), `UPDATE lightfast_workspace_integrations SET resource_meta = resource_meta || '{"repoId": true}' WHERE id = $1`, in.ID)
	require.NoError(t, err)
	err = s.run(t, in.ID)
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.ErrorIs(t, err, db.ErrUnreadableRow)
	require.ErrorContains(t, err, "repoId")
}

func TestSyncConfigSkipsInactiveIntegrations(t *testing.T) {
	t.Parallel()
	s := setupSync(t)
	inst, repos := s.sim.GitHub(t, 1)
	in := s.link(t, s.connect(t, inst), repos[0])
	_, err := s.q.DeactivateIntegrationsForInstallation(context.Background(), in.InstallationID)
	require.NoError(t, err)
	require.NoError(t, s.run(t, in.ID))
	require.Empty(t, s.syncConfig(t, in.ID).ConfigStatus)
}

// Not parallel: the injected fault is global to the simulator.
func TestSyncConfigSnoozesWhenRateLimited(t *testing.T) {
	s := setupSync(t)
	inst, repos := s.sim.GitHub(t, 1)
	in := s.link(t, s.connect(t, inst), repos[0])
	s.sim.Fault(t, map[string]any{"key": "github.repos.contents", "rateLimit": true, "retryAfter": "30s", "times": 1})
	t.Cleanup(func() { s.sim.ClearFaults(t) })

	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, s.run(t, in.ID), &snooze)
	require.Greater(t, snooze.Duration, 20*time.Second)
	require.LessOrEqual(t, snooze.Duration, 31*time.Second)
	require.Empty(t, s.syncConfig(t, in.ID).ConfigStatus, "nothing written while waiting")
	require.Nil(t, s.integration(t, in.ID).LastSyncStatus, "a snooze is not an outcome")

	require.NoError(t, s.run(t, in.ID))
	require.Equal(t, types.ConfigStatusAwaitingConfig, s.syncConfig(t, in.ID).ConfigStatus)
	require.Equal(t, types.SyncStatusSuccess, *s.integration(t, in.ID).LastSyncStatus)
}
