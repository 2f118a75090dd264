package backfill_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
)

// BenchmarkBackfill measures end-to-end backfill throughput from the simulator: River picks up the job,
// the worker pages through 1,000 items 100 at a time (10 provider calls) and writes each page's
// observations, checkpoint and progress in one transaction. Each iteration backfills into a new
// integration, so every observation is a new row. Reported as obs/s (goal ≥ 2,000/s).
func BenchmarkBackfill(b *testing.B) {
	const items = 1000
	for _, p := range []struct {
		name string
		link func(e *env) (tenant, func() dbq.UpsertIntegrationRow)
	}{
		{"github_pull_requests", func(e *env) (tenant, func() dbq.UpsertIntegrationRow) {
			tn, first, _ := e.github(b, items, 0, 0)
			return tn, relink(b, e, tn, first)
		}},
		{"vercel_deployments", func(e *env) (tenant, func() dbq.UpsertIntegrationRow) {
			tn, first := e.vercel(b, items)
			return tn, relink(b, e, tn, first)
		}},
		{"linear_issues", func(e *env) (tenant, func() dbq.UpsertIntegrationRow) {
			tn, first := e.linear(b, items, 0)
			return tn, relink(b, e, tn, first)
		}},
		{"sentry_issues", func(e *env) (tenant, func() dbq.UpsertIntegrationRow) {
			tn, first := e.sentry(b, items)
			return tn, relink(b, e, tn, first)
		}},
	} {
		b.Run(p.name, func(b *testing.B) {
			e := setup(b, backfill.Config{PageSize: 100})
			done, cancel := e.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed)
			defer cancel()
			tn, next := p.link(e)
			var total time.Duration
			for b.Loop() {
				in := next()
				began := time.Now()
				st := e.start(b, tn, in.ID, backfill.Options{DepthDays: allHistory})
				for ev := range done {
					if ev.Job.ID == st.JobID {
						require.Equal(b, river.EventKindJobCompleted, ev.Kind)
						break
					}
				}
				total += time.Since(began)
				require.EqualValues(b, items, e.state(b, in.ID).Progress.Processed)
			}
			b.ReportMetric(float64(items*b.N)/total.Seconds(), "obs/s")
		})
	}
}

// relink returns a function that links the same provider resource into a new workspace of the tenant's
// org each time it is called (the first call returns first), so each backfill writes fresh rows.
func relink(b *testing.B, e *env, tn tenant, first dbq.UpsertIntegrationRow) func() dbq.UpsertIntegrationRow {
	used := false
	return func() dbq.UpsertIntegrationRow {
		if !used {
			used = true
			return first
		}
		ws := tn
		w, err := e.q.CreateWorkspace(b.Context(), dbq.CreateWorkspaceParams{
			ID: ids.New(), ClerkOrgID: tn.org, Name: "bench", Slug: "bench-" + ids.New()[:8], Settings: types.Object{},
		})
		require.NoError(b, err)
		ws.workspace = w.ID
		return e.link(b, ws, first.Provider, first.ProviderResourceID, first.ResourceMeta)
	}
}
