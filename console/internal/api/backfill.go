package api

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// backfillEntityTypes are the history each provider's backfill can page through (SPEC §6.3).
var backfillEntityTypes = map[types.Provider][]string{
	types.GitHub: {"pull_request", "issue", "release"},
	types.Vercel: {"deployment"},
	types.Linear: {"issue"},
	types.Sentry: {"issue"},
}

// maxBackfillDays bounds how far back a backfill may go.
const maxBackfillDays = 3650

// backfillJob is a validated backfill request.
type backfillJob struct {
	depthDays   int
	entityTypes []string
}

// backfillJobFor validates a link's backfill options for provider.
func backfillJobFor(p types.Provider, o *consolev1.BackfillOptions) (backfillJob, error) {
	if o.GetDepthDays() < 0 || o.GetDepthDays() > maxBackfillDays {
		return backfillJob{}, errInvalid("backfill_options.depth_days must be between 0 and %d", maxBackfillDays)
	}
	job := backfillJob{depthDays: int(o.GetDepthDays()), entityTypes: []string{}}
	for _, t := range o.GetEntityTypes() {
		if !slices.Contains(backfillEntityTypes[p], t) {
			return backfillJob{}, errInvalid("unknown %s backfill entity type %q; known: %v", p, t, backfillEntityTypes[p])
		}
		if !slices.Contains(job.entityTypes, t) {
			job.entityTypes = append(job.entityTypes, t)
		}
	}
	return job, nil
}

// startBackfill queues a backfill for an integration inside tx, unless one is pending or running: the
// row is locked, the job inserted and backfill_state set to pending with the job id, all in the caller's
// transaction, so a job never exists without its state (or the other way round).
func (s *server) startBackfill(ctx context.Context, tx pgx.Tx, p auth.Principal, integrationID string, job backfillJob) (types.BackfillState, error) {
	if s.River == nil {
		return types.BackfillState{}, errPrecondition("backfills are not available on this server")
	}
	q := dbq.New(tx)
	row, err := q.LockIntegrationForBackfill(ctx, dbq.LockIntegrationForBackfillParams{ID: integrationID, ClerkOrgID: p.OrgID})
	if err != nil {
		return types.BackfillState{}, fmt.Errorf("start backfill: %w", db.Interpret(err))
	}
	if row.BackfillState.Status.Active() {
		return row.BackfillState, nil
	}
	res, err := s.River.InsertTx(ctx, tx, jobs.BackfillRun{IntegrationID: integrationID, DepthDays: job.depthDays, EntityTypes: job.entityTypes}, nil)
	if err != nil {
		return types.BackfillState{}, fmt.Errorf("start backfill: insert job: %w", err)
	}
	state := types.BackfillState{Status: types.BackfillPending, JobID: res.Job.ID}
	if err := q.SetBackfillState(ctx, dbq.SetBackfillStateParams{ID: integrationID, BackfillState: state}); err != nil {
		return types.BackfillState{}, fmt.Errorf("start backfill: %w", db.Interpret(err))
	}
	return state, nil
}
