// Package teardown is the one disconnect of an installation, shared by the Gateway's
// DELETE /connections/:provider/:id (after its best-effort revoke at the provider), the Console's
// ConnectionService.Disconnect and the removal of a pending connection nobody confirmed (SPEC §5.1, §6.2):
// in one transaction the installation becomes revoked, its resources removed and the workspace
// integrations on it deactivated; its tokens are deleted at once (Revoke) or by the Gateway's
// installation.revoke job once it has revoked them at the provider (RevokeLater). After the commit the
// caller drops its routing-cache entries with DropRoutes.
package teardown

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
)

// Reasons recorded in gw_installations.status_reason.
const (
	ReasonDisconnected = "disconnected" // the organisation disconnected it
	ReasonUninstalled  = "uninstalled"  // removed at the provider
	ReasonUnconfirmed  = "unconfirmed"  // a pending connection refused by ConfirmConnection or expired
)

// Inserter enqueues a job inside a transaction; a River client (an insert-only one is enough) is one.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Result is what a revoke changed, and what the caller must drop from the routing cache after commit.
type Result struct {
	Installation dbq.Installation
	// ResourceIDs are the provider resource ids that were routed to the installation.
	ResourceIDs []string
	// DeactivatedIntegrations counts the workspace integrations switched off.
	DeactivatedIntegrations int64
	// AlreadyRevoked: RevokeLater found the installation revoked and changed nothing.
	AlreadyRevoked bool
}

// Revoke tears installation id of provider down inside tx. The row is locked first, so a concurrent
// callback or refresh sees either the old state or the revoked one. Revoking a revoked installation
// changes nothing more and succeeds. A missing installation is db.ErrNotFound.
func Revoke(ctx context.Context, tx pgx.Tx, provider types.Provider, id, reason string) (Result, error) {
	return revoke(ctx, tx, provider, id, reason, true)
}

// RevokeLater is Revoke for callers that cannot call the provider themselves (the Console, and the
// Gateway's sweep of unconfirmed connections): the token is kept and an installation.revoke job, enqueued
// in tx, revokes it at the provider and then deletes it. Until then the token is unusable, since the
// installation is revoked. A revoked installation is left as it is and nothing is enqueued.
func RevokeLater(ctx context.Context, tx pgx.Tx, jobsTx Inserter, provider types.Provider, id, reason string) (Result, error) {
	if jobsTx == nil {
		return Result{}, errors.New("revoke installation: no job client to enqueue the provider revoke")
	}
	res, err := revoke(ctx, tx, provider, id, reason, false)
	if err != nil || res.AlreadyRevoked {
		return res, err
	}
	if _, err := jobsTx.InsertTx(ctx, tx, jobs.InstallationRevoke{InstallationID: id}, nil); err != nil {
		return Result{}, fmt.Errorf("revoke installation: enqueue the provider revoke: %w", err)
	}
	return res, nil
}

func revoke(ctx context.Context, tx pgx.Tx, provider types.Provider, id, reason string, deleteTokens bool) (Result, error) {
	q := dbq.New(tx)
	before, err := q.LockInstallationForTeardown(ctx, dbq.LockInstallationForTeardownParams{ID: id, Provider: provider})
	if err != nil {
		return Result{}, fmt.Errorf("revoke installation: %w", db.Interpret(err))
	}
	if before.Status == types.InstallationRevoked && !deleteTokens {
		return Result{Installation: before, AlreadyRevoked: true}, nil
	}
	inst, err := q.RevokeInstallation(ctx, dbq.RevokeInstallationParams{ID: id, StatusReason: &reason})
	if err != nil {
		return Result{}, fmt.Errorf("revoke installation: %w", db.Interpret(err))
	}
	if deleteTokens {
		if err := q.DeleteTokensForInstallation(ctx, id); err != nil {
			return Result{}, fmt.Errorf("revoke installation: delete tokens: %w", db.Interpret(err))
		}
	}
	resources, err := q.ListResourceIDsByInstallation(ctx, id)
	if err != nil {
		return Result{}, fmt.Errorf("revoke installation: list resources: %w", db.Interpret(err))
	}
	if err := q.RemoveResourcesForInstallation(ctx, id); err != nil {
		return Result{}, fmt.Errorf("revoke installation: remove resources: %w", db.Interpret(err))
	}
	n, err := q.DeactivateIntegrationsForInstallation(ctx, id)
	if err != nil {
		return Result{}, fmt.Errorf("revoke installation: deactivate integrations: %w", db.Interpret(err))
	}
	return Result{Installation: inst, ResourceIDs: resources, DeactivatedIntegrations: n}, nil
}

// DropRoutes removes the revoked installation's routes from the cache. Call it after the commit: a
// concurrent resolve that refills the cache before the commit would otherwise bring the route back.
func DropRoutes(ctx context.Context, cache *routing.Cache, r Result) {
	if cache == nil {
		return
	}
	cache.DropInstallation(ctx, r.Installation.Provider, r.Installation.ExternalID, r.ResourceIDs...)
}
