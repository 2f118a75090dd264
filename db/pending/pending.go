// Package pending is the confirm step of a connection (SPEC §5.1). The Gateway's connect callback writes
// an installation pending, bound to the organisation and user of the state it consumed (org_id and
// connected_by) and with a deadline. The Console's ConfirmConnection activates it only for that user in
// that organisation; for anyone else the pending connection is removed (torn down, and its grant revoked at
// the provider by the Gateway's installation.revoke job), and so is one nobody confirmed in time (the
// Gateway's installation.expire_pending sweep). So a connect link completed by somebody else connects
// nothing.
package pending

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
)

// TTL is how long a pending connection waits for its confirmation, counted from the callback.
const TTL = 10 * time.Minute

// Outcome is what Confirm did.
type Outcome int

// Outcomes of Confirm. Only Confirmed and AlreadyActive are successes; the Console answers NotFound for
// the others, so a caller learns nothing about connections that are not theirs.
const (
	// NotFound: no such installation, or not one the caller can confirm; nothing changed.
	NotFound Outcome = iota
	// Confirmed: the pending installation is active now.
	Confirmed
	// AlreadyActive: the installation was active already and is the caller's (a reloaded page, or a
	// re-consent of a connection the organisation already had).
	AlreadyActive
	// Refused: the pending installation was not the caller's, or its deadline had passed: it was removed.
	Refused
)

// Result is what Confirm found and did.
type Result struct {
	Outcome      Outcome
	Installation dbq.Installation
	// Removed is the teardown of a refused connection; drop its routes after the commit.
	Removed teardown.Result
}

// Confirm is ConnectionService.ConfirmConnection inside tx, for the signed-in user userID of organisation
// orgID. Commit tx whatever the outcome: a refusal removes the pending connection (and enqueues its
// provider revoke with jobsTx) in the same transaction. It returns an error only when the database fails.
func Confirm(ctx context.Context, tx pgx.Tx, jobsTx teardown.Inserter, installationID, orgID, userID string, now time.Time) (Result, error) {
	q := dbq.New(tx)
	inst, err := q.LockInstallation(ctx, installationID)
	if db.IsNotFound(err) {
		return Result{Outcome: NotFound}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("confirm connection: %w", db.Interpret(err))
	}
	theirs := inst.OrgID == orgID && inst.ConnectedBy == userID
	switch inst.Status {
	case types.InstallationActive:
		if theirs {
			return Result{Outcome: AlreadyActive, Installation: inst}, nil
		}
		return Result{Outcome: NotFound}, nil
	case types.InstallationPending:
	default:
		return Result{Outcome: NotFound}, nil
	}
	if theirs && !expired(inst, now) {
		active, err := q.ActivatePendingInstallation(ctx, inst.ID)
		if err != nil {
			return Result{}, fmt.Errorf("confirm connection: %w", db.Interpret(err))
		}
		return Result{Outcome: Confirmed, Installation: active}, nil
	}
	removed, err := teardown.RevokeLater(ctx, tx, jobsTx, inst.Provider, inst.ID, teardown.ReasonUnconfirmed)
	if err != nil {
		return Result{}, fmt.Errorf("confirm connection: %w", err)
	}
	return Result{Outcome: Refused, Installation: removed.Installation, Removed: removed}, nil
}

func expired(inst dbq.Installation, now time.Time) bool {
	return inst.PendingExpiresAt == nil || !now.Before(*inst.PendingExpiresAt)
}

// ExpireDue removes up to limit pending connections whose deadline passed before now, each in its own
// transaction with its installation.revoke job. Rows another replica is removing are skipped. It returns
// how many it removed.
func ExpireDue(ctx context.Context, pool *pgxpool.Pool, jobsTx teardown.Inserter, routes *routing.Cache, now time.Time, limit int) (int, error) {
	removed := 0
	for removed < limit {
		var (
			res   teardown.Result
			found bool
		)
		err := db.WithTx(ctx, pool, func(tx pgx.Tx) error {
			inst, err := dbq.New(tx).ClaimExpiredPendingInstallation(ctx, now)
			if db.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("claim expired pending connection: %w", db.Interpret(err))
			}
			found = true
			res, err = teardown.RevokeLater(ctx, tx, jobsTx, inst.Provider, inst.ID, teardown.ReasonUnconfirmed)
			return err
		})
		if err != nil {
			return removed, fmt.Errorf("expire pending connections: %w", err)
		}
		if !found {
			return removed, nil
		}
		teardown.DropRoutes(context.WithoutCancel(ctx), routes, res)
		removed++
	}
	return removed, nil
}
