package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/migrations"
)

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t) // already migrated from the template
	pool := dbtest.Pool(t, url)
	require.NoError(t, migrations.Check(ctx, pool))

	require.NoError(t, migrations.Down(ctx, url, 0))
	st, err := migrations.Current(ctx, url)
	require.NoError(t, err)
	require.Equal(t, migrations.Status{}, st)
	require.Equal(t, 1, countTables(t, pool), "only schema_migrations may remain after down all")
	require.ErrorIs(t, migrations.Check(ctx, pool), migrations.ErrSchemaOutdated)

	require.NoError(t, migrations.Up(ctx, url))
	require.NoError(t, migrations.Up(ctx, url), "a second up is a no-op, not an error")
	st, err = migrations.Current(ctx, url)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), st)
	require.NoError(t, migrations.Check(ctx, pool))
}

func TestConcurrentUpIsSafe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t)
	require.NoError(t, migrations.Down(ctx, url, 0))
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- migrations.Up(ctx, url) }()
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
	require.NoError(t, migrations.Check(ctx, dbtest.Pool(t, url)))
}

func countTables(t *testing.T, pool *pgxpool.Pool) int {
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n))
	return n
}

func TestSchemaContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	constraint := func(table, name, kind string) {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			WHERE r.relname = $1 AND c.conname = $2 AND c.contype = $3`, table, name, kind).Scan(&n))
		require.Equal(t, 1, n, "%s on %s", name, table)
	}
	constraint("lightfast_gw_installations", "gw_installations_provider_external_id_key", "u")
	constraint("lightfast_gw_tokens", "gw_tokens_installation_id_key", "u")
	constraint("lightfast_gw_webhook_deliveries", "gw_webhook_deliveries_provider_delivery_id_key", "u")
	constraint("lightfast_workspace_observations", "workspace_observations_workspace_id_source_id_key", "u")
	constraint("lightfast_workspace_integrations", "workspace_integrations_workspace_installation_resource_key", "u")

	// onDelete returns the ON DELETE action of table's foreign key to ref: a(no action), c(ascade), n(ull).
	onDelete := func(table, ref string) string {
		t.Helper()
		var action string
		require.NoError(t, pool.QueryRow(ctx, `
			SELECT c.confdeltype::text FROM pg_constraint c
			JOIN pg_class r ON r.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
			WHERE c.contype = 'f' AND r.relname = $1 AND f.relname = $2`, table, ref).Scan(&action))
		return action
	}
	// The real foreign key the design rests on: integrations → installations, no cascade (disconnect
	// deactivates, it does not delete).
	require.Equal(t, "a", onDelete("lightfast_workspace_integrations", "lightfast_gw_installations"))
	require.Equal(t, "c", onDelete("lightfast_workspace_integrations", "lightfast_org_workspaces"))
	require.Equal(t, "c", onDelete("lightfast_gw_tokens", "lightfast_gw_installations"))
	require.Equal(t, "c", onDelete("lightfast_gw_resources", "lightfast_gw_installations"))
	require.Equal(t, "c", onDelete("lightfast_workspace_observations", "lightfast_org_workspaces"))
	require.Equal(t, "n", onDelete("lightfast_workspace_observations", "lightfast_workspace_integrations"))

	var legacy int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%user_sources%')
		     + (SELECT count(*) FROM information_schema.columns WHERE column_name IN ('source_config', 'sourceconfig'))`).Scan(&legacy))
	require.Zero(t, legacy, "no user_sources table and no source_config column")

	var riverTables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name IN ('river_job', 'river_queue', 'river_leader')`).Scan(&riverTables))
	require.Equal(t, 3, riverTables)
}

// TestGitHubIDsBecomeStrings: 000004 rewrites GitHub ids stored as JSON numbers into numeric strings (the
// seed's shape), leaves everything else alone (other providers, malformed elements, ids already strings),
// and its down migration turns them back into numbers.
func TestGitHubIDsBecomeStrings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, url)
	downTo(t, url, 3) // just before 000004

	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO lightfast_gw_installations (id, provider, external_id, connected_by, org_id, status, provider_account_info) VALUES
		('gh', 'github', '42', 'u', 'o', 'active', '{"version":1,"sourceType":"github","installations":[{"id":42,"accountId":7,"accountLogin":"a"},{"id":"43","accountId":8},"junk"]}'),
		('ln', 'linear', 'org', 'u', 'o', 'active', '{"version":1,"sourceType":"linear","organizationId":"org","id":5}')`)
	exec(`INSERT INTO lightfast_org_workspaces (id, clerk_org_id, name, slug) VALUES ('w', 'o', 'W', 'w')`)
	exec(`INSERT INTO lightfast_workspace_integrations (id, workspace_id, installation_id, provider, provider_resource_id, resource_name, resource_meta) VALUES
		('num', 'w', 'gh', 'github', '186853002', 'a/b', '{"version":1,"sourceType":"github","installationId":42,"repoId":186853002,"repoName":"b"}'),
		('str', 'w', 'gh', 'github', '186853003', 'a/c', '{"version":1,"sourceType":"github","installationId":"42","repoId":"186853003"}'),
		('bad', 'w', 'gh', 'github', '186853004', 'a/d', '{"version":1,"sourceType":"github","repoId":{"x":1}}'),
		('sen', 'w', 'gh', 'sentry', '11', 'api', '{"version":1,"sourceType":"sentry","projectId":"11","repoId":3}')`)
	column := func(sql, id string) string {
		t.Helper()
		var out string
		require.NoError(t, pool.QueryRow(ctx, sql, id).Scan(&out))
		return out
	}
	meta := func(id string) string {
		return column(`SELECT resource_meta::text FROM lightfast_workspace_integrations WHERE id = $1`, id)
	}
	info := func(id string) string {
		return column(`SELECT provider_account_info::text FROM lightfast_gw_installations WHERE id = $1`, id)
	}
	untouched := map[string]string{"bad": meta("bad"), "sen": meta("sen"), "ln": info("ln")}

	require.NoError(t, migrations.Up(ctx, url))
	require.JSONEq(t, `{"version":1,"sourceType":"github","installationId":"42","repoId":"186853002","repoName":"b"}`, meta("num"))
	require.JSONEq(t, `{"version":1,"sourceType":"github","installationId":"42","repoId":"186853003"}`, meta("str"))
	require.JSONEq(t, `{"version":1,"sourceType":"github","installations":[{"id":"42","accountId":"7","accountLogin":"a"},{"id":"43","accountId":"8"},"junk"]}`, info("gh"))
	require.Equal(t, untouched, map[string]string{"bad": meta("bad"), "sen": meta("sen"), "ln": info("ln")})

	downTo(t, url, 3)
	require.JSONEq(t, `{"version":1,"sourceType":"github","installationId":42,"repoId":186853002,"repoName":"b"}`, meta("num"))
	require.JSONEq(t, `{"version":1,"sourceType":"github","installationId":42,"repoId":186853003}`, meta("str"))
	require.JSONEq(t, `{"version":1,"sourceType":"github","installations":[{"id":42,"accountId":7,"accountLogin":"a"},{"id":43,"accountId":8},"junk"]}`, info("gh"))
	require.Equal(t, untouched, map[string]string{"bad": meta("bad"), "sen": meta("sen"), "ln": info("ln")})
}

// downTo migrates down one step at a time until the schema is at version or below, whatever migrations
// come after it.
func downTo(t *testing.T, url string, version uint) {
	t.Helper()
	ctx := context.Background()
	for {
		st, err := migrations.Current(ctx, url)
		require.NoError(t, err)
		if st.Version <= version {
			return
		}
		require.NoError(t, migrations.Down(ctx, url, 1))
	}
}

// River's GIN indexes merge their pending list inside an insert, stalling a webhook group commit for
// hundreds of ms; Up turns that off (after_river.sql), also again after a down and up.
func TestRiverGINIndexesWithoutFastUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, url)
	check := func() {
		t.Helper()
		var off int
		require.NoError(t, pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_class
			WHERE relname IN ('river_job_args_index', 'river_job_metadata_index') AND 'fastupdate=off' = ANY (reloptions)`).Scan(&off))
		require.Equal(t, 2, off)
	}
	check()
	require.NoError(t, migrations.Down(ctx, url, 0))
	require.NoError(t, migrations.Up(ctx, url))
	check()
}
