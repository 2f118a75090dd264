package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/listcap"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// BackfillService and the link procedures' start_backfill. The state machine (one active backfill per
// integration, the job inserted in the same transaction as the state) lives in package backfill; this
// file checks requests and maps its errors to Connect codes.

// backfillJob is a link's validated backfill request.
type backfillJob = backfill.Options

// backfillJobFor validates a link's backfill options for provider, before anything is looked up.
func backfillJobFor(p types.Provider, o *consolev1.BackfillOptions) (backfillJob, error) {
	job := backfill.Options{DepthDays: int(o.GetDepthDays()), EntityTypes: o.GetEntityTypes()}
	if err := job.Check(p); err != nil {
		return backfillJob{}, errInvalid("backfill_options: %s", reason(err))
	}
	return job, nil
}

// startBackfill queues a backfill for a just-linked integration inside the link's transaction. Linking
// again while a backfill is pending or running is not an error: the link answers that backfill's state.
func (s *server) startBackfill(ctx context.Context, tx pgx.Tx, p auth.Principal, integrationID string, job backfillJob) (types.BackfillState, error) {
	if s.River == nil {
		return types.BackfillState{}, errPrecondition("backfills are not available on this server")
	}
	st, err := backfill.Start(ctx, tx, s.River, p.OrgID, integrationID, job)
	if active := (*backfill.ActiveError)(nil); errors.As(err, &active) {
		return active.State, nil
	}
	if err != nil {
		return types.BackfillState{}, backfillError(err)
	}
	return st, nil
}

// backfillService implements BackfillService.
type backfillService struct{ *server }

// maxIntegrationIDLen is the width of workspace_integrations.id.
const maxIntegrationIDLen = 191

func integrationIDParam(id string) error {
	if id == "" || len(id) > maxIntegrationIDLen {
		return errInvalid("integration_id is required")
	}
	return nil
}

// StartBackfill queues a backfill of an integration. A second one while the first is pending or running
// is AlreadyExists, with the running one's state in the message and as an error detail.
func (s backfillService) StartBackfill(ctx context.Context, req *connect.Request[consolev1.StartBackfillRequest]) (*connect.Response[consolev1.StartBackfillResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if err := integrationIDParam(m.GetIntegrationId()); err != nil {
		return nil, err
	}
	opts := backfill.Options{DepthDays: int(m.GetDepthDays()), EntityTypes: m.GetEntityTypes()}
	// The full check needs the integration's provider; the list is capped before anything is read.
	if err := listcap.Check(len(opts.EntityTypes), backfill.MaxEntityTypes); err != nil {
		return nil, errInvalid("at most %d entity_types (got %d)", backfill.MaxEntityTypes, len(opts.EntityTypes))
	}
	if opts.DepthDays < 0 || opts.DepthDays > backfill.MaxDepthDays {
		return nil, errInvalid("depth_days must be between 1 and %d (0 for the default of %d)", backfill.MaxDepthDays, backfill.DefaultDepthDays)
	}
	if s.River == nil {
		return nil, errPrecondition("backfills are not available on this server")
	}
	var st types.BackfillState
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		st, err = backfill.Start(ctx, tx, s.River, p.OrgID, m.GetIntegrationId(), opts)
		return err
	})
	if err != nil {
		return nil, backfillError(err)
	}
	return connect.NewResponse(&consolev1.StartBackfillResponse{Backfill: backfillMsg(st)}), nil
}

// GetBackfillStatus returns an integration's backfill state.
func (s backfillService) GetBackfillStatus(ctx context.Context, req *connect.Request[consolev1.GetBackfillStatusRequest]) (*connect.Response[consolev1.GetBackfillStatusResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := integrationIDParam(req.Msg.GetIntegrationId()); err != nil {
		return nil, err
	}
	st, err := backfill.Status(ctx, s.Pool, p.OrgID, req.Msg.GetIntegrationId())
	if err != nil {
		return nil, backfillError(err)
	}
	return connect.NewResponse(&consolev1.GetBackfillStatusResponse{Backfill: backfillMsg(st)}), nil
}

// CancelBackfill cancels an integration's pending or running backfill; a running one stops at its next
// page boundary. A backfill that has ended is returned unchanged.
func (s backfillService) CancelBackfill(ctx context.Context, req *connect.Request[consolev1.CancelBackfillRequest]) (*connect.Response[consolev1.CancelBackfillResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := integrationIDParam(req.Msg.GetIntegrationId()); err != nil {
		return nil, err
	}
	if s.River == nil {
		return nil, errPrecondition("backfills are not available on this server")
	}
	var st types.BackfillState
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		st, err = backfill.Cancel(ctx, tx, s.River, p.OrgID, req.Msg.GetIntegrationId())
		return err
	})
	if err != nil {
		return nil, backfillError(err)
	}
	return connect.NewResponse(&consolev1.CancelBackfillResponse{Backfill: backfillMsg(st)}), nil
}

// backfillError maps package backfill's errors; anything else goes to the interceptor's mapping.
func backfillError(err error) error {
	var active *backfill.ActiveError
	switch {
	case errors.As(err, &active):
		st := active.State
		cerr := connect.NewError(connect.CodeAlreadyExists, fmt.Errorf(
			"a backfill is already %s for this integration (%d items processed); cancel it or wait for it to end",
			st.Status, st.Progress.Processed))
		if detail, derr := connect.NewErrorDetail(backfillMsg(st)); derr == nil {
			cerr.AddDetail(detail)
		}
		return cerr
	case errors.Is(err, backfill.ErrInvalidOptions):
		return errInvalid("%s", reason(err))
	case errors.Is(err, backfill.ErrInactive):
		return errPrecondition("the integration is not active: link it again before backfilling")
	case db.IsNotFound(err):
		return errNotFound("integration")
	}
	return err
}

// reason is an ErrInvalidOptions error without its generic prefix.
func reason(err error) string {
	if _, after, ok := strings.Cut(err.Error(), backfill.ErrInvalidOptions.Error()+": "); ok {
		return after
	}
	return err.Error()
}
