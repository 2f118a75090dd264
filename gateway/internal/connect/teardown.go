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
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// revokeTimeout bounds the best-effort provider call of a teardown.
const revokeTimeout = 10 * time.Second

type disconnectResponse struct {
	ID                      string `json:"id"`
	Provider                string `json:"provider"`
	Status                  string `json:"status"`
	IntegrationsDeactivated int64  `json:"integrationsDeactivated"`
}

// disconnect is DELETE /connections/:provider/:id: revoke at the provider (best effort), then the shared
// teardown transaction (db/teardown: installation revoked, tokens deleted, resources removed, workspace
// integrations deactivated); finally its routes are dropped from the cache. Disconnecting a revoked
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
	if inst.Status != types.InstallationRevoked {
		s.revokeAtProvider(ctx, log, inst)
	}

	var res teardown.Result
	err = db.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		res, err = teardown.Revoke(ctx, tx, p, id, teardown.ReasonDisconnected)
		return err
	})
	if err != nil {
		return err
	}
	teardown.DropRoutes(context.WithoutCancel(ctx), s.routes, res)
	if s.opts.Revoked != nil {
		s.opts.Revoked(id)
	}
	log.Info("disconnected", zap.Int64("integrations_deactivated", res.DeactivatedIntegrations))
	return c.JSON(http.StatusOK, disconnectResponse{ID: id, Provider: string(p), Status: types.InstallationRevoked, IntegrationsDeactivated: res.DeactivatedIntegrations})
}

// revokeAtProvider tells the provider, when it can; a failure is logged and the teardown goes on, since
// the installation must stop being used either way.
func (s *Service) revokeAtProvider(ctx context.Context, log *zap.Logger, inst dbq.Installation) {
	if _, err := s.revokeWithStoredToken(ctx, inst); err != nil {
		log.Warn("provider revoke failed; tearing down anyway", zap.Error(err))
	}
}

// revokeWithStoredToken revokes inst's grant at its provider with the token stored for it, and returns
// the version of the token row it used (0 when there is no token: nothing to revoke with). It is the one
// provider revoke of the gateway: DELETE /connections/:provider/:id calls it before its teardown, the
// installation.revoke job after the Console's.
func (s *Service) revokeWithStoredToken(ctx context.Context, inst dbq.Installation) (int64, error) {
	row, err := dbq.New(s.pool).VaultRead(ctx, inst.ID)
	if db.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read token for the provider revoke: %w", err)
	}
	f, ok := s.flows[inst.Provider]
	if !ok {
		return row.Token.Version, fmt.Errorf("%s is not configured on this gateway; cannot revoke at the provider", inst.Provider)
	}
	tok, err := dbvault.Decrypt(s.keyring, row)
	if err != nil {
		return row.Token.Version, fmt.Errorf("decrypt token for the provider revoke: %w", err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	return row.Token.Version, f.Revoke(rctx, inst, tok.AccessToken)
}
