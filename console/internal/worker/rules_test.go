package worker_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
)

// integrateWith links the fixture repository in a new tenant with exactly cfg as its sync_config.
func (b *bundle) integrateWith(t *testing.T, cfg types.SyncConfig) (tenant, dbq.UpsertIntegrationRow) {
	t.Helper()
	tn := b.tenant(t, types.GitHub)
	in, err := b.q.UpsertIntegration(context.Background(), dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: tn.workspace, InstallationID: tn.installation, Provider: types.GitHub,
		ProviderResourceID: repoID, ResourceName: "Codertocat/Hello-World", ResourceMeta: githubMeta(), SyncConfig: cfg,
	})
	require.NoError(t, err)
	return tn, in
}

// pullRequestInto is the fixture pull_request.opened with its base branch replaced.
func pullRequestInto(t *testing.T, base string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "github/pull_request/opened.payload.json"), &m))
	m["pull_request"].(map[string]any)["base"].(map[string]any)["ref"] = base
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestSyncConfigRules sends each rule a delivery outside its settings (ignored, with the rule and the
// integration in last_error, nothing written) and the same kind of delivery inside them (observations),
// through the real worker and River.
func TestSyncConfigRules(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	base := func() types.SyncConfig { return types.SyncConfigForLink(types.GitHub, githubMeta()) }

	type send struct {
		event   string
		payload []byte
	}
	cases := []struct {
		name    string
		cfg     func() types.SyncConfig
		outside send
		reason  string
		inside  send
	}{
		{
			name:    "branches",
			cfg:     func() types.SyncConfig { c := base(); c.Branches = []string{"master", "release/*"}; return c },
			outside: send{"push", pushTouching(t, "refs/heads/feature/x", []string{"README.md"}, nil)},
			reason:  `branch "feature/x" is not in sync_config.branches`,
			inside:  send{"push", pushTouching(t, "refs/heads/release/1.2", []string{"README.md"}, nil)},
		},
		{
			name:    "branches of a pull request (its base)",
			cfg:     base, // the link default: the repository's default branch, master
			outside: send{"pull_request.opened", pullRequestInto(t, "develop")},
			reason:  `branch "develop" is not in sync_config.branches`,
			inside:  send{"pull_request.opened", pullRequestInto(t, "master")},
		},
		{
			name:    "paths",
			cfg:     func() types.SyncConfig { c := base(); c.Paths = []string{"docs/**", "*.go"}; return c },
			outside: send{"push", pushTouching(t, "refs/heads/master", []string{"README.md", "src/docs/a.md"}, nil)},
			reason:  "no file of the push matches sync_config.paths",
			inside:  send{"push", pushTouching(t, "refs/heads/master", []string{"README.md"}, []string{"docs/guide/intro.md"})},
		},
		{
			name:    "events",
			cfg:     func() types.SyncConfig { c := base(); c.Events = []string{"issues"}; return c },
			outside: send{"push", pushTouching(t, "refs/heads/master", []string{"README.md"}, nil)},
			reason:  `event "push" is not in sync_config.events`,
		},
		{
			name:    "autoSync off",
			cfg:     func() types.SyncConfig { c := base(); c.AutoSync = false; return c },
			outside: send{"push", pushTouching(t, "refs/heads/master", []string{"lightfast.yml"}, nil)},
			reason:  "sync_config.autoSync is off",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn, in := b.integrateWith(t, tc.cfg())
			id, job := b.ingest(t, delivery{provider: types.GitHub, event: tc.outside.event, installation: tn.installation,
				resource: repoID, payload: tc.outside.payload}, nil)
			require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
			d := b.delivery(t, id)
			require.Equal(t, types.DeliveryIgnored, d.Status)
			require.NotNil(t, d.LastError)
			require.Equal(t, "integration "+in.ID+": "+tc.reason, *d.LastError)
			require.Empty(t, b.observations(t, tn.workspace))
			require.Zero(t, b.syncJobs(t, in.ID), "an ignored delivery queues no sync")
			got, err := b.q.GetIntegration(ctx, in.ID)
			require.NoError(t, err)
			require.Zero(t, got.DocumentCount)
			require.Empty(t, got.SyncConfig.ConfigStatus, "an ignored config push records nothing")

			// The same delivery inside the settings makes its observation.
			inside := tc.inside
			if inside.event == "" {
				inside = tc.outside
				cfg := base()
				require.NoError(t, b.pool.QueryRow(ctx, `UPDATE lightfast_workspace_integrations SET sync_config = $2 WHERE id = $1 RETURNING id`,
					in.ID, cfg).Scan(new(string)))
			}
			id, job = b.ingest(t, delivery{provider: types.GitHub, event: inside.event, installation: tn.installation,
				resource: repoID, payload: inside.payload}, nil)
			require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
			d = b.delivery(t, id)
			require.Equal(t, types.DeliveryDelivered, d.Status)
			require.Nil(t, d.LastError)
			obs := b.observations(t, tn.workspace)
			require.Len(t, obs, 1)
			require.Equal(t, in.ID, *obs[0].IntegrationID)
			got, err = b.q.GetIntegration(ctx, in.ID)
			require.NoError(t, err)
			require.EqualValues(t, 1, got.DocumentCount)
		})
	}

	// With autoSync back on, the config push of the autoSync case queued a sync and marked it pending.
	var pending int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_workspace_integrations WHERE last_sync_status = 'pending'`).Scan(&pending))
	require.Equal(t, 1, pending)
}

// TestIgnoredReasonsNameEveryIntegration: two workspaces link the same repository with different rules;
// a delivery neither takes says why for each, and one that only one takes is delivered to that one.
func TestIgnoredReasonsNameEveryIntegration(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	mainOnly := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, githubMeta())
	_, err := b.pool.Exec(context.Background(), `UPDATE lightfast_workspace_integrations SET sync_config = sync_config || '{"branches":["master"]}' WHERE id = $1`, mainOnly.ID)
	require.NoError(t, err)
	other := b.workspace(t, tn, "other")
	issuesOnly := b.integrate(t, tn, other, types.GitHub, repoID, []string{"issues"}, githubMeta())

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID,
		payload: pushTouching(t, "refs/heads/feature", []string{"a.go"}, nil)}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryIgnored, d.Status)
	require.Equal(t, "integration "+mainOnly.ID+`: branch "feature" is not in sync_config.branches; integration `+
		issuesOnly.ID+`: event "push" is not in sync_config.events`, *d.LastError)

	id, job = b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID,
		payload: pushTouching(t, "refs/heads/master", []string{"a.go"}, nil)}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	require.Len(t, b.observations(t, tn.workspace), 1)
	require.Empty(t, b.observations(t, other))

	// Nothing links the resource: the reason says so.
	id, job = b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: "999",
		payload: pushTouching(t, "refs/heads/master", []string{"a.go"}, nil)}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	d = b.delivery(t, id)
	require.Equal(t, types.DeliveryIgnored, d.Status)
	require.Equal(t, "no active integration links this resource", *d.LastError)
}
