package backfill_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
)

// TestConsoleKilledMidBackfillResumesFromCheckpoint runs the real console binary, kills it with SIGKILL
// between pages, and starts it again: River rescues the job (JOB_RESCUE_AFTER=2s) and the run carries on
// from the last committed page, with no duplicate observations and an exact total. Not parallel: it
// slows the shared simulator's pull request list.
func TestConsoleKilledMidBackfillResumesFromCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the console binary twice and waits for River's rescue")
	}
	const pulls, perPage = 800, 100
	bin := testproc.Build(t, "../../cmd/console")
	sim := simtest.Get(t)
	dbURL := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, dbURL)
	kr, keys := newKeyring(t)
	// The test only inserts the job; the console processes work it.
	inserter, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	e := &env{pool: pool, q: dbq.New(pool), keyring: kr, client: inserter, sim: sim}
	tn, in, _ := e.github(t, pulls, 0, 0)

	t.Cleanup(func() { sim.ClearFaults(t) })
	sim.Fault(t, map[string]any{"key": "github.repos.pulls", "delay": "400ms", "times": -1})
	env := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": dbtest.RedisURL(t), "ENCRYPTION_KEYS": keys,
		"AUTH_DEV_SECRET": "dev-secret-for-tests", "LOG_LEVEL": "info",
		"JOB_RESCUE_AFTER": "2s",
		"GITHUB_API_URL":   sim.GitHubAPIURL, "VERCEL_API_URL": sim.VercelAPIURL, "LINEAR_API_URL": sim.LinearAPIURL, "SENTRY_URL": sim.SentryURL,
	}
	serve := func() *testproc.Process {
		env["CONSOLE_ADDR"] = testproc.FreeAddr(t)
		p := testproc.Start(t, bin, env, "serve")
		p.WaitReady(t, "http://"+env["CONSOLE_ADDR"]+"/readyz", 20*time.Second)
		return p
	}

	first := serve()
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory, EntityTypes: []string{backfill.EntityPullRequest}})
	require.Eventually(t, func() bool { return e.state(t, in.ID).Progress.Processed >= 2*perPage }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, first.Kill())
	_, err = first.Wait(context.Background())
	require.NoError(t, err)

	atKill := e.state(t, in.ID)
	require.Equal(t, types.BackfillRunning, atKill.Status)
	require.Less(t, atKill.Progress.Processed, int64(pulls), "killed mid-run")
	rows, _ := e.observations(t, in.ID)
	require.EqualValues(t, atKill.Progress.Processed, rows, "only whole pages were committed")
	callsAtKill := sim.Calls(t)["github.repos.pulls"]
	// A run yields between pages now and then (JobSnooze(0)), so the job may have been waiting rather
	// than running when it was killed; a running one can only come back through River's rescue.
	wasRunning := e.job(t, atKill.JobID).State == "running"

	second := serve()
	final := e.waitEnded(t, in.ID, 90*time.Second)
	require.Equal(t, types.BackfillCompleted, final.Status, "error: %s\n%s", final.Error, second.Output())
	require.EqualValues(t, pulls, final.Progress.Processed, "exact total")
	rows, distinct := e.observations(t, in.ID)
	require.Equal(t, pulls, rows, "no duplicates")
	require.Equal(t, pulls, distinct)
	require.Equal(t, *atKill.StartedAt, *final.StartedAt, "the same backfill carried on")
	// The restarted console fetched only the pages after the checkpoint.
	require.Equal(t, (pulls-int(atKill.Progress.Processed))/perPage, sim.Calls(t)["github.repos.pulls"]-callsAtKill)
	job := e.waitJob(t, final.JobID)
	require.Equal(t, "completed", string(job.State))
	if wasRunning {
		require.NotEmpty(t, job.Errors)
		require.Contains(t, job.Errors[len(job.Errors)-1].Error, "Stuck job rescued")
	}
	t.Logf("killed after %d of %d items (job running: %t); resumed and completed", atKill.Progress.Processed, pulls, wasRunning)

	require.NoError(t, second.Signal(syscall.SIGTERM))
	code, err := second.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, 0, code)
}
