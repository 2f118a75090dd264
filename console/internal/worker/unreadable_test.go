package worker_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/worker"
	"github.com/lightfastai/connections/db/types"
)

// TestSecurityMalformedIntegrationFailsAlone: three workspaces link the fixtures' repository; one
// integration's resource_meta holds GitHub ids as numeric strings (the seed's shape), one as numbers, and
// one is malformed. A delivery for the repository becomes observations in the two readable ones and is
// delivered at its first attempt; the malformed integration is skipped and reported — in the delivery's
// last_error, a log line naming it, and console_webhook_integrations_skipped_total.
func TestSecurityMalformedIntegrationFailsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	meta := types.NewGitHubResourceMeta(types.GitHubResourceMeta{RepoID: 186853002, RepoName: "Hello-World", RepoFullName: "Codertocat/Hello-World", DefaultBranch: "master"})
	seedShape := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, meta)
	numbers := b.integrate(t, tn, b.workspace(t, tn, "numbers"), types.GitHub, repoID, nil, meta)
	badWS := b.workspace(t, tn, "malformed")
	bad := b.integrate(t, tn, badWS, types.GitHub, repoID, nil, meta)
	for id, raw := range map[string]string{
		seedShape.ID: `{"version":1,"sourceType":"github","installationId":"42","repoId":"186853002","repoName":"Hello-World","repoFullName":"Codertocat/Hello-World","defaultBranch":"master"}`,
		numbers.ID:   `{"version":1,"sourceType":"github","installationId":42,"repoId":186853002,"repoName":"Hello-World","repoFullName":"Codertocat/Hello-World","defaultBranch":"master"}`,
		bad.ID:       `{"version":1,"sourceType":"github","installationId":"42","repoId":{"x":1}}`,
	} {
		_, err := b.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = $2::jsonb WHERE id = $1`, id, raw)
		require.NoError(t, err)
	}

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/pull_request/opened.payload.json")}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)

	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryDelivered, d.Status)
	require.EqualValues(t, 1, d.Attempts, "no retry: the malformed row is not a reason to fail")
	require.NotNil(t, d.LastError)
	require.Contains(t, *d.LastError, "skipped integration "+bad.ID+" is unreadable: resource_meta: ")
	require.Contains(t, *d.LastError, "repoId")
	require.NotContains(t, *d.LastError, seedShape.ID)
	require.NotContains(t, *d.LastError, numbers.ID)

	for _, in := range []string{seedShape.ID, numbers.ID} {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_workspace_observations WHERE integration_id = $1 AND source_id = 'github:pr:186853002:2:opened'`, in).Scan(&n))
		require.Equal(t, 1, n, "integration %s gets its observation", in)
	}
	require.Empty(t, b.observations(t, badWS))
	require.InDelta(t, 1, b.metricValue(t, "console_webhook_integrations_skipped_total", map[string]string{"provider": "github"}), 0)
	require.InDelta(t, 1, b.counter(t, "github", "pull_request", worker.OutcomeProcessed), 0)

	logged := b.logs.FilterMessage("integration skipped: its row cannot be read").FilterField(zap.String("integration_id", bad.ID)).All()
	require.Len(t, logged, 1)
	require.Equal(t, badWS, logged[0].ContextMap()["workspace_id"])

	// Once the row is repaired, the next delivery reaches it and clears nothing it should not.
	_, err := b.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = $2::jsonb WHERE id = $1`, bad.ID,
		`{"version":1,"sourceType":"github","installationId":"42","repoId":"186853002"}`)
	require.NoError(t, err)
	id2, job2 := b.ingest(t, delivery{provider: types.GitHub, event: "issues", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/issues/opened.payload.json")}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job2).Kind)
	d2 := b.delivery(t, id2)
	require.Equal(t, types.DeliveryDelivered, d2.Status)
	require.Nil(t, d2.LastError)
	require.Len(t, b.observations(t, badWS), 1)
}

// TestEveryIntegrationUnreadableIsIgnoredWithTheReason: when no integration of the resource can be read
// the delivery is ignored (retrying cannot repair a row), and last_error says why.
func TestEveryIntegrationUnreadableIsIgnoredWithTheReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	in := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)
	_, err := b.pool.Exec(ctx, `UPDATE lightfast_workspace_integrations SET sync_config = '{"events":"push"}' WHERE id = $1`, in.ID)
	require.NoError(t, err)
	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/pull_request/opened.payload.json")}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryIgnored, d.Status)
	require.EqualValues(t, 1, d.Attempts)
	require.NotNil(t, d.LastError)
	require.Contains(t, *d.LastError, "skipped integration "+in.ID+" is unreadable: sync_config: ")
	require.Zero(t, b.countObservations(t))
}
