package backfill_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
)

func TestWebhookThenBackfillOfAPullRequestIsOneObservation(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	inst, repos := e.sim.GitHub(t, 1)
	repo := repos[0]
	var pulls []map[string]any
	e.sim.Seed(t, map[string]any{"kind": "github.pulls", "repo": repo.FullName, "count": 6}, &pulls)
	merged := pulls[1] // the seeds cycle open, merged, closed
	require.NotNil(t, merged["merged_at"])
	tn := e.tenant(t, types.GitHub, itoa(inst.ID), inst.Token)
	in := e.link(t, tn, types.GitHub, itoa(repo.ID), types.NewGitHubResourceMeta(types.GitHubResourceMeta{
		InstallationID: inst.ID, RepoID: repo.ID, RepoName: repo.Name, RepoFullName: repo.FullName, DefaultBranch: repo.DefaultBranch,
	}))

	// The merge arrives by webhook first: GitHub's pull_request/closed payload with merged: true,
	// through the webhook transformer, written as the webhook worker writes it.
	merged["merged"] = true
	payload, err := json.Marshal(map[string]any{
		"action": "closed", "number": merged["number"], "pull_request": merged,
		"repository": map[string]any{"id": repo.ID, "full_name": repo.FullName, "html_url": "https://github.com/" + repo.FullName},
		"sender":     map[string]any{"login": "octocat", "id": 583231},
	})
	require.NoError(t, err)
	obs, err := transform.Transform(transform.Input{Provider: types.GitHub, EventType: "pull_request", Payload: payload, ReceivedAt: time.Now()})
	require.NoError(t, err)
	require.Len(t, obs, 1)
	deliveryID := ids.New()
	o := obs[0]
	_, err = e.q.InsertObservation(context.Background(), dbq.InsertObservationParams{
		ID: ids.New(), WorkspaceID: tn.workspace, IntegrationID: &in.ID, Provider: types.GitHub, SourceType: o.SourceType,
		SourceID: o.SourceID, Title: o.Title, Body: &o.Body, Actor: o.Actor, Url: &o.URL, OccurredAt: o.OccurredAt,
		Metadata: o.Metadata, DeliveryID: &deliveryID,
	})
	require.NoError(t, err)

	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory, EntityTypes: []string{backfill.EntityPullRequest}})
	requireCompleted(t, e, in, 6)

	var n int
	var kept *string
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*), min(delivery_id) FROM lightfast_workspace_observations WHERE workspace_id = $1 AND source_id = $2`,
		tn.workspace, o.SourceID).Scan(&n, &kept))
	require.Equal(t, 1, n, "webhook and backfill converge on one row")
	require.NotNil(t, kept)
	require.Equal(t, deliveryID, *kept, "the webhook's row is kept")
	got, err := e.q.GetIntegration(context.Background(), in.ID)
	require.NoError(t, err)
	require.EqualValues(t, 5, got.DocumentCount, "the backfill counts only the rows it added, not the webhook's")
}
