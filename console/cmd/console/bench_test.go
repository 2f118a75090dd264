package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
)

// backlog writes n push deliveries (n distinct facts, spread over repos repositories linked to one
// workspace each) and their jobs with COPY, as fast as Postgres takes them.
func backlog(b *testing.B, pool *pgxpool.Pool, n, repos int) {
	b.Helper()
	ctx := context.Background()
	q := dbq.New(pool)
	org := "org_" + ids.New()
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: types.GitHub, ExternalID: ids.New(), ConnectedBy: "u", OrgID: org})
	if err != nil {
		b.Fatal(err)
	}
	for r := range repos {
		ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: "w", Slug: fmt.Sprint("w", r)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
			ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub,
			ProviderResourceID: strconv.Itoa(r + 1), ResourceName: "r", SyncConfig: types.DefaultSyncConfig(types.GitHub),
		}); err != nil {
			b.Fatal(err)
		}
	}
	fixture := dbtest.Fixture(b, "github/push/with-new-branch.payload.json")
	sha := []byte("6113728f27ae82c7b1a177c8d03f9e96e0adf246")
	repoID := []byte(`"id": 186853002`)
	inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	for start := 0; start < n; start += batch {
		rows := make([][]any, 0, batch)
		params := make([]river.InsertManyParams, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			id, repo := ids.New(), strconv.Itoa(i%repos+1) // repository ids start at 1
			payload := bytes.ReplaceAll(fixture, sha, fmt.Appendf(nil, "%040x", i+1))
			payload = bytes.Replace(payload, repoID, []byte(`"id": `+repo), 1)
			rows = append(rows, []any{id, "github", ids.New(), "push", inst.ID, repo, "received", payload})
			params = append(params, river.InsertManyParams{Args: jobs.WebhookProcess{DeliveryID: id}})
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"lightfast_gw_webhook_deliveries"},
			[]string{"id", "provider", "delivery_id", "event_type", "installation_id", "provider_resource_id", "status", "payload"},
			pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		if _, err := inserter.InsertManyFast(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
}

func countRows(b *testing.B, pool *pgxpool.Pool, query string) int {
	var n int
	if err := pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkBacklogDrain measures how fast the real console turns a backlog of deliveries into
// observations (goal ≥ 3,000/s). BENCH_BACKLOG sets the size (default 50,000), BENCH_REPOS how many
// repositories they spread over (default 50). Run with -benchtime 1x.
func BenchmarkBacklogDrain(b *testing.B) {
	n := envInt("BENCH_BACKLOG", 50_000)
	repos := envInt("BENCH_REPOS", 50)
	bin := testproc.Build(b, ".")
	for range b.N {
		b.StopTimer()
		env := baseEnv(b)
		pool := dbtest.Pool(b, env["DATABASE_URL"])
		backlog(b, pool, n, repos)
		b.StartTimer()
		start := time.Now()
		p := testproc.Start(b, bin, env, "serve")
		pg0 := pgTicks(b, pool)
		deadline := start.Add(5 * time.Minute)
		for countRows(b, pool, `SELECT count(*) FROM lightfast_workspace_observations`) < n {
			if time.Now().After(deadline) {
				b.Fatalf("backlog not drained in 5 minutes (%d delivered)", countRows(b, pool, `SELECT count(*) FROM lightfast_workspace_observations`))
			}
			time.Sleep(20 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		console, pg := testproc.CPUTicks(p.Pid()), pg0.since(b, pool)
		_ = p.Kill()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "obs/s")
		b.ReportMetric(elapsed.Seconds(), "s/drain")
		// CPU per observation: what the drain would cost on an otherwise idle machine.
		b.ReportMetric(float64(console)*1e4/float64(n), "console-µs/obs")
		b.ReportMetric(float64(pg)*1e4/float64(n), "postgres-µs/obs")
		b.StartTimer()
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
