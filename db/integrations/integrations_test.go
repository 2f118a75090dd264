package integrations_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/types"
)

// TestUnreadableRowFailsAlone: rows of one resource, some with JSON columns that do not decode, read
// together: every readable row comes back decoded (GitHub ids as strings or numbers alike), every other
// one comes back as an Unreadable naming its column, and the read itself does not fail. The generated
// single-row query reports the same row as db.ErrUnreadableRow.
func TestUnreadableRowFailsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := dbq.New(pool)
	exec := func(sql string) {
		t.Helper()
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err)
	}
	exec(`INSERT INTO lightfast_gw_installations (id, provider, external_id, connected_by, org_id, status) VALUES ('inst', 'github', '42', 'u', 'o', 'active')`)
	exec(`INSERT INTO lightfast_org_workspaces (id, clerk_org_id, name, slug) SELECT 'w' || n, 'o', 'W', 'w' || n FROM generate_series(1, 7) n`)
	meta := func(repoID string) string {
		return `{"version":1,"sourceType":"github","installationId":"42","repoId":` + repoID + `,"repoName":"Hello-World","repoFullName":"Codertocat/Hello-World","defaultBranch":"master"}`
	}
	for _, r := range []struct{ id, ws, meta, sync, backfill string }{
		{"a-string", "w1", meta(`"186853002"`), ``, ``},
		{"b-number", "w2", meta(`186853002`), ``, ``},
		{"c-bool", "w3", meta(`true`), ``, ``},
		{"d-object", "w4", meta(`{"x":1}`), ``, ``},
		{"e-sourcetype", "w5", `{"version":1,"sourceType":"gitlab"}`, ``, ``},
		{"f-sync", "w6", meta(`"186853002"`), `{"events":"push"}`, ``},
		{"g-backfill", "w7", meta(`"186853002"`), ``, `{"status":{"x":1}}`},
	} {
		sync, backfill := "DEFAULT", "DEFAULT"
		if r.sync != "" {
			sync = "'" + r.sync + "'"
		}
		if r.backfill != "" {
			backfill = "'" + r.backfill + "'"
		}
		exec(`INSERT INTO lightfast_workspace_integrations (id, workspace_id, installation_id, provider, provider_resource_id, resource_name, resource_meta, sync_config, backfill_state, created_at)
			VALUES ('` + r.id + `', '` + r.ws + `', 'inst', 'github', '186853002', 'Codertocat/Hello-World', '` + r.meta + `', ` + sync + `, ` + backfill + `, now() + interval '1 second' * ascii('` + r.id + `'))`)
	}

	check := func(t *testing.T, rows []dbq.Integration, bad []integrations.Unreadable) {
		t.Helper()
		require.Len(t, rows, 2)
		for i, id := range []string{"a-string", "b-number"} {
			require.Equal(t, id, rows[i].ID)
			require.Equal(t, types.GitHubResourceMeta{InstallationID: 42, RepoID: 186853002, RepoName: "Hello-World",
				RepoFullName: "Codertocat/Hello-World", DefaultBranch: "master"}, *rows[i].ResourceMeta.GitHub)
			require.Equal(t, types.BackfillIdle, rows[i].BackfillState.Status)
		}
		reasons := map[string]string{}
		for _, u := range bad {
			require.Equal(t, "inst", u.InstallationID)
			require.Equal(t, "186853002", u.ProviderResourceID)
			require.Equal(t, types.GitHub, u.Provider)
			require.Equal(t, "Codertocat/Hello-World", u.ResourceName)
			reasons[u.ID] = u.Err.Error()
		}
		require.Len(t, reasons, 5)
		require.Contains(t, reasons["c-bool"], "resource_meta: ")
		require.Contains(t, reasons["c-bool"], "repoId")
		require.Contains(t, reasons["d-object"], "repoId")
		require.Contains(t, reasons["e-sourcetype"], `resource_meta: unknown sourceType "gitlab"`)
		require.Contains(t, reasons["f-sync"], "sync_config: ")
		require.Contains(t, reasons["g-backfill"], "backfill_state: ")
	}

	rows, bad, err := integrations.ListActiveForResources(ctx, q, []string{"inst"}, []string{"186853002"})
	require.NoError(t, err)
	check(t, rows, bad)
	rows, bad, err = integrations.ListForResource(ctx, q, "inst", "186853002")
	require.NoError(t, err)
	check(t, rows, bad)
	rows, bad, err = integrations.FindGitHubSources(ctx, q, dbq.FindGithubSourcesParams{RepoID: "186853002"})
	require.NoError(t, err)
	check(t, rows, bad)

	rows, bad, err = integrations.ListByWorkspace(ctx, q, "w3")
	require.NoError(t, err)
	require.Empty(t, rows)
	require.Len(t, bad, 1)
	require.Equal(t, "integration c-bool is unreadable: "+bad[0].Err.Error(), bad[0].Error())

	_, err = q.GetIntegration(ctx, "c-bool")
	require.True(t, db.IsUnreadableRow(err), "%v", err)
	require.False(t, db.IsNotFound(err))
	_, err = q.GetIntegration(ctx, "a-string")
	require.NoError(t, err)
}
