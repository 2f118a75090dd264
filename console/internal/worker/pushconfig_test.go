package worker_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/types"
)

// pushTouching is the fixture push to master with one commit whose file lists are replaced.
func pushTouching(t *testing.T, ref string, added, removed []string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "github/push/with-new-branch.payload.json"), &m))
	m["ref"] = ref
	c := m["commits"].([]any)[0].(map[string]any)
	c["added"], c["removed"], c["modified"] = added, removed, []string{}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func (b *bundle) syncJobs(t *testing.T, integrationID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'sync.config' AND queue = 'sync' AND args->>'integrationId' = $1`,
		integrationID).Scan(&n))
	return n
}

func githubMeta() *types.ResourceMeta {
	return types.NewGitHubResourceMeta(types.GitHubResourceMeta{
		RepoID: 186853002, RepoName: "Hello-World", RepoFullName: "Codertocat/Hello-World", DefaultBranch: "master",
	})
}

func TestPushChangingConfigUpdatesSyncConfigAndQueuesSync(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	in := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, githubMeta())
	ctx := context.Background()

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID,
		payload: pushTouching(t, "refs/heads/master", []string{"lightfast.yml", "README.md"}, nil)}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	got, err := b.q.GetIntegration(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, types.ConfigStatusConfigured, got.SyncConfig.ConfigStatus)
	require.Equal(t, "lightfast.yml", got.SyncConfig.ConfigPath)
	require.NotNil(t, got.SyncConfig.LastConfigCheck)
	require.Equal(t, in.SyncConfig.Events, got.SyncConfig.Events, "the allow-list is untouched")
	require.Equal(t, 1, b.syncJobs(t, in.ID))
	require.Equal(t, 1, b.countObservations(t), "the push is still an observation")

	// Removing it: awaiting config, path gone, another sync queued.
	_, job = b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID,
		payload: pushTouching(t, "refs/heads/master", nil, []string{"lightfast.yml"})}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	got, err = b.q.GetIntegration(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, types.ConfigStatusAwaitingConfig, got.SyncConfig.ConfigStatus)
	require.Empty(t, got.SyncConfig.ConfigPath)
	require.Equal(t, 2, b.syncJobs(t, in.ID))
}

func TestPushElsewhereLeavesConfigAlone(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	in := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, githubMeta())
	for _, payload := range [][]byte{
		pushTouching(t, "refs/heads/feature", []string{"lightfast.yml"}, nil),     // not the default branch
		pushTouching(t, "refs/heads/master", []string{"docs/lightfast.yml"}, nil), // not the config file
		pushTouching(t, "refs/tags/v1", []string{".lightfast.yml"}, nil),          // a tag
	} {
		_, job := b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID, payload: payload}, nil)
		require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	}
	got, err := b.q.GetIntegration(context.Background(), in.ID)
	require.NoError(t, err)
	require.Empty(t, got.SyncConfig.ConfigStatus)
	require.Nil(t, got.SyncConfig.LastConfigCheck)
	require.Zero(t, b.syncJobs(t, in.ID))
}

func TestConfigPushIsHandledEvenWhenPushIsNotAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	in := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, []string{"issues"}, githubMeta())
	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID,
		payload: pushTouching(t, "refs/heads/master", []string{".lightfast.yml"}, nil)}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	require.Zero(t, b.countObservations(t))
	got, err := b.q.GetIntegration(context.Background(), in.ID)
	require.NoError(t, err)
	require.Equal(t, ".lightfast.yml", got.SyncConfig.ConfigPath)
	require.Equal(t, 1, b.syncJobs(t, in.ID))
}
