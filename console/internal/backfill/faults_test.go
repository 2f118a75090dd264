package backfill_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
)

// The tests in this file inject faults into the shared simulator, which affect every caller of the
// endpoint; so none of them is parallel (Go runs them while the parallel tests wait).

// failSecondCall makes the second call of key misbehave as fault says: the first call gets a harmless
// 1 ms delay, so the backfill has committed a page before the fault.
func failSecondCall(t *testing.T, e *env, key string, fault map[string]any) {
	t.Helper()
	t.Cleanup(func() { e.sim.ClearFaults(t) })
	e.sim.Fault(t, map[string]any{"key": key, "delay": "1ms", "times": 1})
	fault["key"] = key
	e.sim.Fault(t, fault)
}

func snoozes(t *testing.T, metadata []byte) int {
	t.Helper()
	var md struct {
		Snoozes int `json:"snoozes"`
	}
	require.NoError(t, json.Unmarshal(metadata, &md))
	return md.Snoozes
}

func TestRateLimitSnoozesUntilResetThenCompletes(t *testing.T) {
	e := setup(t, backfill.Config{})
	cases := []struct {
		name, key string
		link      func(t *testing.T) (tenant, dbq.UpsertIntegrationRow)
	}{
		// GitHub: 403 with X-RateLimit-Remaining 0 and X-RateLimit-Reset.
		{"github", "github.repos.pulls", func(t *testing.T) (tenant, dbq.UpsertIntegrationRow) {
			tn, in, _ := e.github(t, 150, 0, 0)
			return tn, in
		}},
		// Vercel: 429 with X-RateLimit-Reset.
		{"vercel", "vercel.deployments.list", func(t *testing.T) (tenant, dbq.UpsertIntegrationRow) { return e.vercel(t, 150) }},
		// Linear: GraphQL RATELIMITED (HTTP 400) with X-RateLimit-Requests-Reset in milliseconds.
		{"linear", "linear.graphql", func(t *testing.T) (tenant, dbq.UpsertIntegrationRow) { return e.linear(t, 150, 0) }},
		// Sentry: 429 with Retry-After.
		{"sentry", "sentry.issues.list", func(t *testing.T) (tenant, dbq.UpsertIntegrationRow) { return e.sentry(t, 150) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn, in := c.link(t)
			failSecondCall(t, e, c.key, map[string]any{"rateLimit": true, "retryAfter": "1s", "times": 1})
			began := time.Now()
			e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
			requireCompleted(t, e, in, 150) // never failed: no job errors, no retries, exact totals
			require.GreaterOrEqual(t, time.Since(began), 900*time.Millisecond, "the run waited for the limit to reset")
			job := e.waitJob(t, e.state(t, in.ID).JobID)
			require.Equal(t, 1, snoozes(t, job.Metadata))
			require.Equal(t, 1, job.Attempt, "a snooze does not use up an attempt")
		})
	}
}

func TestUnauthorizedFailsClearlyAndIsNotRetried(t *testing.T) {
	e := setup(t, backfill.Config{})
	tn, in, _ := e.github(t, 150, 0, 0)
	failSecondCall(t, e, "github.repos.pulls", map[string]any{"status": 401, "times": 1})
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})

	st := e.waitEnded(t, in.ID, 30*time.Second)
	require.Equal(t, types.BackfillFailed, st.Status)
	require.Equal(t, "github rejected the connection's token (401): connect it again, then restart the backfill", st.Error)
	require.NotNil(t, st.CompletedAt)
	require.EqualValues(t, 100, st.Progress.Processed, "the page before the failure stays")
	rows, _ := e.observations(t, in.ID)
	require.Equal(t, 100, rows)
	job := e.waitJob(t, st.JobID)
	require.Equal(t, "cancelled", string(job.State), "River does not retry it")
	require.Equal(t, 1, job.Attempt)
}

func TestServerErrorIsRetriedAndResumesFromCheckpoint(t *testing.T) {
	e := setup(t, backfill.Config{})
	tn, in, _ := e.github(t, 250, 0, 0)
	failSecondCall(t, e, "github.repos.pulls", map[string]any{"status": 502, "times": 1})
	before := e.sim.Calls(t)["github.repos.pulls"]
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})

	requireCompletedAfterRetry(t, e, in, 250)
	// Pages: 1 (ok), 2 (502), 2 again, 3: the retry resumed from the checkpoint, not from page 1.
	require.Equal(t, 4, e.sim.Calls(t)["github.repos.pulls"]-before)
}

// requireCompletedAfterRetry is requireCompleted for a run that failed once and was retried.
func requireCompletedAfterRetry(t *testing.T, e *env, in dbq.UpsertIntegrationRow, items int) {
	t.Helper()
	st := e.waitEnded(t, in.ID, 60*time.Second)
	require.Equal(t, types.BackfillCompleted, st.Status, "error: %s", st.Error)
	require.EqualValues(t, items, st.Progress.Processed)
	rows, distinct := e.observations(t, in.ID)
	require.Equal(t, items, rows)
	require.Equal(t, items, distinct)
	job := e.waitJob(t, st.JobID)
	require.Equal(t, "completed", string(job.State))
	require.Len(t, job.Errors, 1)
	require.Equal(t, 2, job.Attempt)
}

func TestCancelStopsFetchingAtThePageBoundary(t *testing.T) {
	e := setup(t, backfill.Config{})
	tn, in, _ := e.github(t, 600, 0, 0)
	t.Cleanup(func() { e.sim.ClearFaults(t) })
	// Every page takes 300 ms, so the cancel lands mid-run.
	e.sim.Fault(t, map[string]any{"key": "github.repos.pulls", "delay": "300ms", "times": -1})
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
	require.Eventually(t, func() bool { return e.state(t, in.ID).Progress.Processed >= 100 }, 30*time.Second, 10*time.Millisecond)

	st := e.cancel(t, tn, in.ID)
	require.Equal(t, types.BackfillCancelled, st.Status)
	require.NotNil(t, st.CompletedAt)
	job := e.waitJob(t, st.JobID)
	require.Equal(t, "cancelled", string(job.State))

	calls := e.sim.Calls(t)["github.repos.pulls"]
	time.Sleep(time.Second)
	require.Equal(t, calls, e.sim.Calls(t)["github.repos.pulls"], "no page is fetched after the cancel")
	final := e.state(t, in.ID)
	require.Equal(t, types.BackfillCancelled, final.Status)
	require.Less(t, final.Progress.Processed, int64(600))
	rows, _ := e.observations(t, in.ID)
	require.EqualValues(t, final.Progress.Processed, rows, "pages are written whole or not at all")

	// Cancelling again changes nothing.
	again := e.cancel(t, tn, in.ID)
	require.Equal(t, final, again)
}
