package lifecycle_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/lifecycle"
)

type bundle struct {
	pool   *pgxpool.Pool
	q      *dbq.Queries
	redis  rueidis.Client
	routes *routing.Cache
	worker *lifecycle.Worker
	ws     string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	routes := routing.New(redis, pool, prefix)
	b := &bundle{pool: pool, q: dbq.New(pool), redis: redis, routes: routes, worker: lifecycle.NewWorker(pool, routes, zap.NewNop())}
	ws, err := b.q.CreateWorkspace(context.Background(), dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "org_1", Name: "W", Slug: "w"})
	require.NoError(t, err)
	b.ws = ws.ID
	return b
}

// installation creates an active installation with linked GitHub repositories (resource + integration
// + cached route each).
func (b *bundle) installation(t *testing.T, p types.Provider, external string, repos ...int64) dbq.Installation {
	t.Helper()
	ctx := context.Background()
	inst, err := b.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: p, ExternalID: external, ConnectedBy: "u", OrgID: "org_1"})
	require.NoError(t, err)
	b.routes.PutInstallation(ctx, p, external, inst.ID)
	for _, repo := range repos {
		rid := strconv.FormatInt(repo, 10)
		_, err := b.q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: rid})
		require.NoError(t, err)
		_, err = b.q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
			ID: ids.New(), WorkspaceID: b.ws, InstallationID: inst.ID, Provider: p, ProviderResourceID: rid, ResourceName: "old/name",
			ResourceMeta: types.NewGitHubResourceMeta(types.GitHubResourceMeta{RepoID: repo, RepoName: "name", RepoFullName: "old/name", DefaultBranch: "main"}),
			SyncConfig:   types.DefaultSyncConfig(p),
		})
		require.NoError(t, err)
		b.routes.PutResource(ctx, p, rid, inst.ID)
	}
	return inst
}

// deliver records a routed delivery and runs the worker on it, as the given attempt.
func (b *bundle) deliver(t *testing.T, p types.Provider, eventType, installationID string, payload []byte, attempt int) (dbq.Delivery, error) {
	t.Helper()
	ctx := context.Background()
	id := ids.New()
	// One row as the gateway recorded it; the installation it names may have gone since (InsertDelivery
	// does not check, unlike the ingest's InsertDeliveries).
	_, err := b.q.InsertDelivery(ctx, dbq.InsertDeliveryParams{
		ID: id, Provider: p, DeliveryID: ids.New(), EventType: eventType,
		InstallationID: &installationID, Status: "received", Payload: payload,
	})
	require.NoError(t, err)
	job := &river.Job[jobs.WebhookLifecycle]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: 8}, Args: jobs.WebhookLifecycle{DeliveryID: id}}
	werr := b.worker.Work(ctx, job)
	d, err := b.q.GetDelivery(ctx, id)
	require.NoError(t, err)
	return d, werr
}

func (b *bundle) cached(t *testing.T, key string) bool {
	t.Helper()
	n, err := b.redis.Do(context.Background(), b.redis.B().Exists().Key(key).Build()).AsInt64()
	require.NoError(t, err)
	return n == 1
}

// fixture reads one of the real GitHub payloads kept in the repository, byte for byte.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	return dbtest.Fixture(t, "github/"+name)
}

func TestGitHubInstallationDeletedTearsDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inst := b.installation(t, types.GitHub, "2", 11, 12)

	d, err := b.deliver(t, types.GitHub, "installation.deleted", inst.ID, fixture(t, "installation/deleted.payload.json"), 1)
	require.NoError(t, err)
	require.Equal(t, "delivered", d.Status)

	got, err := b.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "revoked", got.Status)
	res, err := b.q.ListResourcesByInstallation(ctx, inst.ID)
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, "removed", r.Status)
	}
	for _, repo := range []string{"11", "12"} {
		active, err := b.q.ListActiveIntegrationsForResource(ctx, dbq.ListActiveIntegrationsForResourceParams{InstallationID: inst.ID, ProviderResourceID: repo})
		require.NoError(t, err)
		require.Empty(t, active)
		require.False(t, b.cached(t, b.routes.Keys().Resource(types.GitHub, repo)))
	}
	require.False(t, b.cached(t, b.routes.Keys().Installation(types.GitHub, "2")))
	id, _, err := b.routes.ResolveInstallation(ctx, types.GitHub, "2")
	require.NoError(t, err)
	require.Empty(t, id, "no longer routed")

	// A second delivery of the same event changes nothing and still succeeds.
	_, err = b.deliver(t, types.GitHub, "installation.deleted", inst.ID, fixture(t, "installation/deleted.payload.json"), 1)
	require.NoError(t, err)
}

func TestGitHubSuspendAndUnsuspend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inst := b.installation(t, types.GitHub, "16598467")

	_, err := b.deliver(t, types.GitHub, "installation.suspend", inst.ID, fixture(t, "installation/suspend.payload.json"), 1)
	require.NoError(t, err)
	got, err := b.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "error", got.Status)
	require.Equal(t, "suspended", *got.StatusReason)
	require.False(t, b.cached(t, b.routes.Keys().Installation(types.GitHub, "16598467")))

	_, err = b.deliver(t, types.GitHub, "installation.unsuspend", inst.ID, fixture(t, "installation/unsuspend.payload.json"), 1)
	require.NoError(t, err)
	got, err = b.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "active", got.Status)
	require.True(t, b.cached(t, b.routes.Keys().Installation(types.GitHub, "16598467")))
}

func TestGitHubRepositoriesRemovedAndRenamed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inst := b.installation(t, types.GitHub, "2", 1296269, 186853261)

	_, err := b.deliver(t, types.GitHub, "installation_repositories.removed", inst.ID, fixture(t, "installation_repositories/removed.payload.json"), 1)
	require.NoError(t, err)
	active, err := b.q.ListActiveIntegrationsForResource(ctx, dbq.ListActiveIntegrationsForResourceParams{InstallationID: inst.ID, ProviderResourceID: "1296269"})
	require.NoError(t, err)
	require.Empty(t, active)
	require.False(t, b.cached(t, b.routes.Keys().Resource(types.GitHub, "1296269")))

	_, err = b.deliver(t, types.GitHub, "repository.renamed", inst.ID, fixture(t, "repository/renamed.payload.json"), 1)
	require.NoError(t, err)
	ins, unreadable, err := integrations.ListForResource(ctx, b.q, inst.ID, "186853261")
	require.NoError(t, err)
	require.Empty(t, unreadable)
	require.Len(t, ins, 1)
	require.Equal(t, "Octocoders/Hello-World", ins[0].ResourceName)
	require.Equal(t, "Octocoders/Hello-World", ins[0].ResourceMeta.GitHub.RepoFullName)
	require.Equal(t, "Hello-World", ins[0].ResourceMeta.GitHub.RepoName)
	require.True(t, ins[0].IsActive, "a rename keeps the link")
}

func TestVercelAndSentryRemovalRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	vercel := b.installation(t, types.Vercel, "icfg_1")
	sentry := b.installation(t, types.Sentry, "se-uuid")
	_, err := b.deliver(t, types.Vercel, "integration-configuration.removed", vercel.ID,
		[]byte(`{"id":"e","type":"integration-configuration.removed","payload":{"configuration":{"id":"icfg_1"}}}`), 1)
	require.NoError(t, err)
	_, err = b.deliver(t, types.Sentry, "installation.deleted", sentry.ID, []byte(`{"action":"deleted","installation":{"uuid":"se-uuid"}}`), 1)
	require.NoError(t, err)
	for _, id := range []string{vercel.ID, sentry.ID} {
		got, err := b.q.GetInstallation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "revoked", got.Status)
		require.Equal(t, "uninstalled", *got.StatusReason)
	}
}

func TestUnhandledEventIsIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.installation(t, types.GitHub, "9")
	d, err := b.deliver(t, types.GitHub, "installation.new_permissions_accepted", inst.ID, []byte(`{}`), 1)
	require.NoError(t, err)
	require.Equal(t, "ignored", d.Status)
}

// TestNewPermissionsAcceptedRefreshesPermissions: GitHub's installation.new_permissions_accepted event
// (the real payload) writes the permissions it lists, and lastValidatedAt, into the installation's entry
// of provider_account_info; other entries and fields are kept.
func TestNewPermissionsAcceptedRefreshesPermissions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	payload := dbtest.Fixture(t, "github/installation/new_permissions_accepted.payload.json")
	ghID := gjson.GetBytes(payload, "installation.id").Int()
	inst := b.installation(t, types.GitHub, strconv.FormatInt(ghID, 10))
	installed := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := b.q.SetInstallationAccountInfo(ctx, dbq.SetInstallationAccountInfoParams{ID: inst.ID, ProviderAccountInfo: types.NewGitHubAccountInfo(types.GitHubAccountInfo{
		Installations: []types.GitHubInstallation{
			{ID: ghID, AccountLogin: "Codertocat", Permissions: map[string]string{"contents": "read"}, InstalledAt: &installed},
			{ID: ghID + 1, AccountLogin: "other", Permissions: map[string]string{"issues": "read"}},
		},
	})})
	require.NoError(t, err)

	before := time.Now().Add(-time.Second)
	d, err := b.deliver(t, types.GitHub, "installation.new_permissions_accepted", inst.ID, payload, 1)
	require.NoError(t, err)
	require.Equal(t, "delivered", d.Status)
	got, err := b.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	ins := got.ProviderAccountInfo.GitHub.Installations
	require.Equal(t, "write", ins[0].Permissions["contents"])
	require.Equal(t, "read", ins[0].Permissions["metadata"])
	require.Len(t, ins[0].Permissions, 12)
	require.NotNil(t, ins[0].LastValidatedAt)
	require.True(t, ins[0].LastValidatedAt.After(before))
	require.True(t, installed.Equal(*ins[0].InstalledAt), "other fields are kept")
	require.Equal(t, map[string]string{"issues": "read"}, ins[1].Permissions, "another installation's entry is untouched")

	// A payload whose permissions are not a map of strings changes nothing and fails the delivery.
	bad := []byte(`{"action":"new_permissions_accepted","installation":{"id":` + strconv.FormatInt(ghID, 10) + `,"permissions":{"contents":{"x":1}}}}`)
	_, err = b.deliver(t, types.GitHub, "installation.new_permissions_accepted", inst.ID, bad, 1)
	require.Error(t, err)
	again, err := b.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, got.ProviderAccountInfo, again.ProviderAccountInfo)
}

func TestLastAttemptDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The installation the delivery names does not exist: the teardown fails every time.
	d, err := b.deliver(t, types.Sentry, "installation.deleted", "missing-installation", []byte(`{}`), 1)
	require.Error(t, err)
	require.Equal(t, "received", d.Status, "an early attempt leaves it for the retry")
	d, err = b.deliver(t, types.Sentry, "installation.deleted", "missing-installation", []byte(`{}`), 8)
	require.Error(t, err)
	require.Equal(t, "dlq", d.Status)
	require.NotNil(t, d.LastError)
}

// TestRenameRefreshesReadableIntegrationsOnly: a repository rename with a second workspace's integration
// of the same repository malformed: the readable one is refreshed, the delivery is delivered at once, and
// the malformed row is left as it was (reported in the log), not a reason to fail the event.
func TestRenameRefreshesReadableIntegrationsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inst := b.installation(t, types.GitHub, "2", 186853261)
	ws2, err := b.q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "org_1", Name: "W2", Slug: "w2"})
	require.NoError(t, err)
	bad, err := b.q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws2.ID, InstallationID: inst.ID, Provider: types.GitHub, ProviderResourceID: "186853261", ResourceName: "old/name",
		SyncConfig: types.DefaultSyncConfig(types.GitHub),
	})
	require.NoError(t, err)
	const malformed = `{"repoId": true, "version": 1, "sourceType": "github"}` // as jsonb prints it
	_, err = b.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = $2::jsonb WHERE id = $1`, bad.ID, malformed)
	require.NoError(t, err)

	d, err := b.deliver(t, types.GitHub, "repository.renamed", inst.ID, fixture(t, "repository/renamed.payload.json"), 1)
	require.NoError(t, err)
	require.Equal(t, "delivered", d.Status)
	ins, unreadable, err := integrations.ListForResource(ctx, b.q, inst.ID, "186853261")
	require.NoError(t, err)
	require.Len(t, ins, 1)
	require.Equal(t, "Octocoders/Hello-World", ins[0].ResourceMeta.GitHub.RepoFullName)
	require.Len(t, unreadable, 1)
	require.Equal(t, bad.ID, unreadable[0].ID)
	var raw string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT resource_meta::text FROM lightfast_workspace_integrations WHERE id = $1`, bad.ID).Scan(&raw))
	require.Equal(t, malformed, raw, "left as it was")
}
