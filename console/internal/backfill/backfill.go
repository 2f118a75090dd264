// Package backfill imports an integration's provider history as observations (SPEC §6.3, backfill.run):
// GitHub pull requests, issues and releases; Vercel deployments; Linear issues; Sentry issues.
//
// Start and Cancel are the transactional halves the Console API (and the BulkLink procedures) call: they
// change workspace_integrations.backfill_state and insert or cancel the River job in the caller's
// transaction. Worker is the backfill.run job: it pages through the provider with the provider's own
// cursor and writes each page's observations, the checkpoint and the progress in one transaction, so a
// crash resumes from the last committed page and never duplicates (source ids are the webhook
// transformers', so a fact already delivered by webhook is the same row).
package backfill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/listcap"
	"github.com/lightfastai/connections/db/types"
)

// Entity types a backfill can fetch (StartBackfill's entityTypes).
const (
	EntityPullRequest = "pull_request"
	EntityIssue       = "issue"
	EntityRelease     = "release"
	EntityDeployment  = "deployment"
)

// entityEvents maps each provider's entity types, in the order a backfill runs them, to the
// sync_config.events entry that lets the webhook worker record the same facts.
var entityEvents = map[types.Provider][]struct{ entity, event string }{
	types.GitHub: {{EntityPullRequest, "pull_request"}, {EntityIssue, "issues"}, {EntityRelease, "release"}},
	types.Vercel: {{EntityDeployment, "deployment"}},
	types.Linear: {{EntityIssue, "Issue"}},
	types.Sentry: {{EntityIssue, "issue"}},
}

// EntityTypes lists what a provider's backfill can fetch, in the order it fetches them.
func EntityTypes(p types.Provider) []string {
	var out []string
	for _, e := range entityEvents[p] {
		out = append(out, e.entity)
	}
	return out
}

// Depth limits, in days.
const (
	DefaultDepthDays = 30
	MaxDepthDays     = 365
)

// MaxEntityTypes caps the entity types one request may name (a provider fetches at most a handful, so
// a longer list can only be repeats or noise).
const MaxEntityTypes = 10

// Options bound a backfill; zero values take the defaults.
type Options struct {
	// DepthDays is how far back to go; 0 means DefaultDepthDays.
	DepthDays int
	// EntityTypes are the entity types to fetch; empty means every type the provider supports whose
	// event the integration's sync_config allows.
	EntityTypes []string
}

// Errors of Start and Cancel. ErrNotFound is db.ErrNotFound (wrapped): no such integration in the org.
var (
	// ErrInvalidOptions is wrapped with what was wrong with Options.
	ErrInvalidOptions = errors.New("invalid backfill options")
	// ErrInactive is an integration that was unlinked; there is nothing to backfill into.
	ErrInactive = errors.New("integration is not active")
)

// ActiveError is Start finding a backfill already pending or running for the integration. State is
// that backfill's state.
type ActiveError struct {
	State types.BackfillState
}

func (e *ActiveError) Error() string {
	return fmt.Sprintf("a backfill is already %s for this integration", e.State.Status)
}

// Jobs is the part of the River client Start and Cancel use (*river.Client[pgx.Tx] satisfies it; an
// insert-only client is enough).
type Jobs interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobCancelTx(ctx context.Context, tx pgx.Tx, jobID int64) (*rivertype.JobRow, error)
}

// Start queues a backfill of integration integrationID inside tx: it locks the integration row (another
// org's integration is ErrNotFound; an empty orgID skips the check for callers that scoped it already),
// refuses when a backfill is pending or running (*ActiveError), inserts the backfill.run job and sets
// backfill_state to pending with the job's id. Nothing is visible until the caller commits.
func Start(ctx context.Context, tx pgx.Tx, jc Jobs, orgID, integrationID string, opts Options) (types.BackfillState, error) {
	q := dbq.New(tx)
	integ, err := q.LockIntegrationForBackfill(ctx, dbq.LockIntegrationForBackfillParams{ID: integrationID, ClerkOrgID: orgID})
	if err != nil {
		return types.BackfillState{}, fmt.Errorf("start backfill: %w", db.Interpret(err))
	}
	if integ.BackfillState.Status.Active() {
		return types.BackfillState{}, &ActiveError{State: integ.BackfillState}
	}
	if !integ.IsActive {
		return types.BackfillState{}, ErrInactive
	}
	args, err := opts.jobArgs(integ)
	if err != nil {
		return types.BackfillState{}, err
	}
	res, err := jc.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return types.BackfillState{}, fmt.Errorf("start backfill: insert job: %w", err)
	}
	state := types.BackfillState{Status: types.BackfillPending, JobID: res.Job.ID}
	if err := q.SetBackfillState(ctx, dbq.SetBackfillStateParams{BackfillState: state, ID: integ.ID}); err != nil {
		return types.BackfillState{}, fmt.Errorf("start backfill: %w", db.Interpret(err))
	}
	return state, nil
}

// Cancel cancels integration integrationID's pending or running backfill inside tx: backfill_state
// becomes cancelled and the River job is cancelled (a pending job never runs; a running one stops at its
// next page boundary, where its conditional write finds the state changed). A backfill that has ended is
// returned unchanged. Org scoping is as in Start.
func Cancel(ctx context.Context, tx pgx.Tx, jc Jobs, orgID, integrationID string) (types.BackfillState, error) {
	q := dbq.New(tx)
	integ, err := q.LockIntegrationForBackfill(ctx, dbq.LockIntegrationForBackfillParams{ID: integrationID, ClerkOrgID: orgID})
	if err != nil {
		return types.BackfillState{}, fmt.Errorf("cancel backfill: %w", db.Interpret(err))
	}
	state := integ.BackfillState
	if !state.Status.Active() {
		return state, nil
	}
	now := time.Now().UTC()
	state.Status, state.CompletedAt = types.BackfillCancelled, &now
	if err := q.SetBackfillState(ctx, dbq.SetBackfillStateParams{BackfillState: state, ID: integ.ID}); err != nil {
		return types.BackfillState{}, fmt.Errorf("cancel backfill: %w", db.Interpret(err))
	}
	if state.JobID != 0 {
		if _, err := jc.JobCancelTx(ctx, tx, state.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return types.BackfillState{}, fmt.Errorf("cancel backfill: cancel job: %w", err)
		}
	}
	return state, nil
}

// Status returns integration integrationID's backfill state, scoped to orgID like Start.
func Status(ctx context.Context, q dbq.DBTX, orgID, integrationID string) (types.BackfillState, error) {
	integ, err := dbq.New(q).GetIntegrationForOrg(ctx, dbq.GetIntegrationForOrgParams{ID: integrationID, ClerkOrgID: orgID})
	if err != nil {
		return types.BackfillState{}, fmt.Errorf("backfill status: %w", db.Interpret(err))
	}
	return integ.BackfillState, nil
}

// Check validates o for a provider's backfill, before anything is looked up or written: the depth is
// within limits and every entity type is one the provider's backfill fetches. Errors wrap
// ErrInvalidOptions.
func (o Options) Check(p types.Provider) error {
	if o.DepthDays < 0 || o.DepthDays > MaxDepthDays {
		return fmt.Errorf("%w: depth_days must be between 1 and %d (0 for the default of %d)", ErrInvalidOptions, MaxDepthDays, DefaultDepthDays)
	}
	if err := listcap.Check(len(o.EntityTypes), MaxEntityTypes); err != nil {
		return fmt.Errorf("%w: at most %d entity types (got %d)", ErrInvalidOptions, MaxEntityTypes, len(o.EntityTypes))
	}
	supported := EntityTypes(p)
	if supported == nil {
		return fmt.Errorf("%w: no backfill for provider %q", ErrInvalidOptions, p)
	}
	for _, want := range o.EntityTypes {
		if !slices.Contains(supported, want) {
			return fmt.Errorf("%w: %s backfills fetch entity types %v, not %q", ErrInvalidOptions, p, supported, want)
		}
	}
	return nil
}

// jobArgs validates o against the integration's provider and sync_config and resolves the defaults.
func (o Options) jobArgs(integ dbq.Integration) (jobs.BackfillRun, error) {
	if err := o.Check(integ.Provider); err != nil {
		return jobs.BackfillRun{}, err
	}
	depth := o.DepthDays
	if depth == 0 {
		depth = DefaultDepthDays
	}
	var entities []string
	for _, e := range entityEvents[integ.Provider] {
		// Explicit types run in the provider's order, each once; by default, every type whose event the
		// integration records.
		if slices.Contains(o.EntityTypes, e.entity) || (len(o.EntityTypes) == 0 && integ.SyncConfig.Allows(e.event)) {
			entities = append(entities, e.entity)
		}
	}
	if len(entities) == 0 {
		return jobs.BackfillRun{}, fmt.Errorf("%w: the integration's sync config records none of the entity types a %s backfill fetches", ErrInvalidOptions, integ.Provider)
	}
	return jobs.BackfillRun{IntegrationID: integ.ID, DepthDays: depth, EntityTypes: entities}, nil
}
