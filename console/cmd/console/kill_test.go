package main_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
)

// seedDeliveries links the fixtures' repository to a workspace and writes n push deliveries (each with
// its own head sha, so n distinct facts) with their webhook.process jobs, as the gateway would.
func seedDeliveries(t *testing.T, pool *pgxpool.Pool, n int) string {
	t.Helper()
	ctx := context.Background()
	q := dbq.New(pool)
	org := "org_" + ids.New()
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: types.GitHub, ExternalID: ids.New(), ConnectedBy: "u", OrgID: org})
	require.NoError(t, err)
	const repo = "186853002"
	_, err = q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub, ProviderResourceID: repo,
		ResourceName: "Codertocat/Hello-World", SyncConfig: types.DefaultSyncConfig(types.GitHub),
	})
	require.NoError(t, err)

	fixture := dbtest.Fixture(t, "github/push/with-new-branch.payload.json")
	sha := []byte("6113728f27ae82c7b1a177c8d03f9e96e0adf246")
	inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	for start := 0; start < n; start += 500 {
		require.NoError(t, db.WithTx(ctx, pool, func(tx pgx.Tx) error {
			var params []river.InsertManyParams
			for i := start; i < min(start+500, n); i++ {
				id := ids.New()
				payload := bytes.ReplaceAll(fixture, sha, fmt.Appendf(nil, "%040x", i+1))
				if _, err := dbq.New(tx).InsertDelivery(ctx, dbq.InsertDeliveryParams{
					ID: id, Provider: types.GitHub, DeliveryID: ids.New(), EventType: "push", InstallationID: &inst.ID,
					ProviderResourceID: ptr(repo), Status: "received", Payload: payload, Headers: types.Headers{},
				}); err != nil {
					return err
				}
				params = append(params, river.InsertManyParams{Args: jobs.WebhookProcess{DeliveryID: id}})
			}
			_, err := inserter.InsertManyFastTx(ctx, tx, params)
			return err
		}))
	}
	return ws.ID
}

func ptr[T any](v T) *T { return &v }

func count(t *testing.T, pool *pgxpool.Pool, query string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), query).Scan(&n))
	return n
}

// TestKilledMidBatchWritesEveryObservationOnce runs the real console on a backlog, SIGKILLs it while
// jobs are running, restarts it and checks that every delivery became exactly one observation: work that
// had committed was completed with it, work that had not left nothing behind and was rescued.
func TestKilledMidBatchWritesEveryObservationOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the restarted console to take over River leadership and rescue the killed jobs")
	}
	t.Parallel()
	const n = 3000
	env := baseEnv(t)
	env["JOB_RESCUE_AFTER"] = "2s"
	pool := dbtest.Pool(t, env["DATABASE_URL"])
	seedDeliveries(t, pool, n)
	bin := testproc.Build(t, ".")

	first := testproc.Start(t, bin, env, "serve")
	deadline := time.Now().Add(60 * time.Second)
	for count(t, pool, `SELECT count(*) FROM lightfast_workspace_observations`) < n/10 {
		require.True(t, time.Now().Before(deadline), "the console made no progress")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, first.Kill())
	waitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := first.Wait(waitCtx)
	require.NoError(t, err)

	running := count(t, pool, `SELECT count(*) FROM river_job WHERE state = 'running'`)
	done := count(t, pool, `SELECT count(*) FROM lightfast_workspace_observations`)
	t.Logf("killed with %d observations written and %d jobs running", done, running)
	require.Positive(t, running, "the kill must land mid-batch")
	require.Less(t, done, n)
	// Every committed observation's delivery is delivered and its job completed: nothing half-done.
	require.Equal(t, done, count(t, pool, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = 'delivered'`))

	env["CONSOLE_ADDR"] = testproc.FreeAddr(t)
	testproc.Start(t, bin, env, "serve")
	deadline = time.Now().Add(120 * time.Second)
	for count(t, pool, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = 'delivered'`) < n {
		require.True(t, time.Now().Before(deadline), "the restarted console did not finish the backlog")
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, n, count(t, pool, `SELECT count(*) FROM lightfast_workspace_observations`))
	require.Equal(t, n, count(t, pool, `SELECT count(DISTINCT delivery_id) FROM lightfast_workspace_observations`))
	require.Equal(t, n, count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'webhook.process' AND state = 'completed'`))
	require.Equal(t, n, count(t, pool, `SELECT document_count FROM lightfast_workspace_integrations`))
}
