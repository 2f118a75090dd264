// Package teardown is the one disconnect of an installation, shared by the Gateway's
// DELETE /connections/:provider/:id (after its best-effort revoke at the provider) and the Console's
// ConnectionService.Disconnect (SPEC §5.1, §6.2): in one transaction the installation becomes revoked, its
// tokens are deleted, its resources removed and the workspace integrations on it deactivated; after the
// commit the caller drops its routing-cache entries with DropRoutes.
package teardown

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
)

// Reasons recorded in gw_installations.status_reason.
const (
	ReasonDisconnected = "disconnected" // the organisation disconnected it
	ReasonUninstalled  = "uninstalled"  // removed at the provider
)

// Result is what a revoke changed, and what the caller must drop from the routing cache after commit.
type Result struct {
	Installation dbq.Installation
	// ResourceIDs are the provider resource ids that were routed to the installation.
	ResourceIDs []string
	// DeactivatedIntegrations counts the workspace integrations switched off.
	DeactivatedIntegrations int64
}

// Revoke tears installation id of provider down inside tx. The row is locked first, so a concurrent
// callback or refresh sees either the old state or the revoked one. Revoking a revoked installation
// changes nothing more and succeeds. A missing installation is db.ErrNotFound.
func Revoke(ctx context.Context, tx pgx.Tx, provider types.Provider, id, reason string) (Result, error) {
	q := dbq.New(tx)
	if _, err := q.LockInstallationForTeardown(ctx, dbq.LockInstallationForTeardownParams{ID: id, Provider: provider}); err != nil {
		return Result{}, fmt.Errorf("revoke installation: %w", db.Interpret(err))
	}
	inst, err := q.RevokeInstallation(ctx, dbq.RevokeInstallationParams{ID: id, StatusReason: &reason})
	if err != nil {
		return Result{}, fmt.Errorf("revoke installation: %w", db.Interpret(err))
	}
	if err := q.DeleteTokensForInstallation(ctx, id); err != nil {
		return Result{}, fmt.Errorf("revoke installation: delete tokens: %w", db.Interpret(err))
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
