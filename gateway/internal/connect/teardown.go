package connect

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// revokeTimeout bounds the best-effort provider call of a teardown.
const revokeTimeout = 10 * time.Second

// StatusReasonDisconnected is the status_reason of an installation torn down through the API.
const StatusReasonDisconnected = "disconnected"

type disconnectResponse struct {
	ID                      string `json:"id"`
	Provider                string `json:"provider"`
	Status                  string `json:"status"`
	IntegrationsDeactivated int64  `json:"integrationsDeactivated"`
}

// disconnect is DELETE /connections/:provider/:id: revoke at the provider (best effort), then in one
// transaction mark the installation revoked, delete its tokens, remove its resources and deactivate the
// workspace integrations on it; finally drop its routes from the cache. Disconnecting a revoked
// installation again changes nothing and answers the same.
func (s *Service) disconnect(c echo.Context) error {
	p, err := types.ParseProvider(c.Param("provider"))
	if err != nil {
		return platform.Errorf(http.StatusNotFound, "unknown_provider", "unknown provider")
	}
	ctx := c.Request().Context()
	id := c.Param("id")
	inst, err := dbq.New(s.pool).GetInstallationForProvider(ctx, dbq.GetInstallationForProviderParams{ID: id, Provider: p})
	if db.IsNotFound(err) {
		return platform.Errorf(http.StatusNotFound, "not_found", "no %s connection with this id", p)
	}
	if err != nil {
		return fmt.Errorf("read installation: %w", err)
	}
	log := s.log.With(zap.String("provider", string(p)), zap.String("installation_id", id))
	if inst.Status != "revoked" {
		s.revokeAtProvider(ctx, log, inst)
	}

	var deactivated int64
	var resourceIDs []string
	err = db.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if _, err := q.LockInstallationForTeardown(ctx, dbq.LockInstallationForTeardownParams{ID: id, Provider: p}); err != nil {
			return fmt.Errorf("lock installation: %w", err)
		}
		if _, err := q.RevokeInstallation(ctx, dbq.RevokeInstallationParams{ID: id, StatusReason: ptr(StatusReasonDisconnected)}); err != nil {
			return fmt.Errorf("revoke installation: %w", err)
		}
		if err := q.DeleteTokensForInstallation(ctx, id); err != nil {
			return fmt.Errorf("delete tokens: %w", err)
		}
		if err := q.RemoveResourcesForInstallation(ctx, id); err != nil {
			return fmt.Errorf("remove resources: %w", err)
		}
		n, err := q.DeactivateIntegrationsForInstallation(ctx, id)
		if err != nil {
			return fmt.Errorf("deactivate integrations: %w", err)
		}
		deactivated = n
		resourceIDs, err = q.ListResourceIDsByInstallation(ctx, id)
		if err != nil {
			return fmt.Errorf("list resources: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.routes.DropInstallation(context.WithoutCancel(ctx), p, inst.ExternalID, resourceIDs...)
	log.Info("disconnected", zap.Int64("integrations_deactivated", deactivated))
	return c.JSON(http.StatusOK, disconnectResponse{ID: id, Provider: string(p), Status: "revoked", IntegrationsDeactivated: deactivated})
}

// revokeAtProvider tells the provider, when it can; a failure is logged and the teardown goes on, since
// the installation must stop being used either way.
func (s *Service) revokeAtProvider(ctx context.Context, log *zap.Logger, inst dbq.Installation) {
	f, ok := s.flows[inst.Provider]
	if !ok {
		log.Warn("provider not configured here; skipping the provider revoke")
		return
	}
	row, err := dbq.New(s.pool).VaultRead(ctx, inst.ID)
	if err != nil {
		if !db.IsNotFound(err) {
			log.Warn("read token for the provider revoke", zap.Error(err))
		}
		return
	}
	tok, err := dbvault.Decrypt(s.keyring, row)
	if err != nil {
		log.Warn("decrypt token for the provider revoke", zap.Error(err))
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	if err := f.Revoke(rctx, inst, tok.AccessToken); err != nil {
		log.Warn("provider revoke failed; tearing down anyway", zap.Error(err))
	}
}

func ptr[T any](v T) *T { return &v }
