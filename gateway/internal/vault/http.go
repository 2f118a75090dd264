package vault

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lightfastai/connections/db/platform"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// tokenResponse is the body of GET /connections/:id/token.
type tokenResponse struct {
	AccessToken string     `json:"accessToken"`
	Provider    string     `json:"provider"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

// Mount adds GET /connections/:id/token, guarded by auth (the X-API-Key check).
func (s *Service) Mount(e *echo.Echo, auth echo.MiddlewareFunc) {
	e.GET("/connections/:id/token", s.handleToken, auth)
}

func (s *Service) handleToken(c echo.Context) error {
	res, err := s.Token(c.Request().Context(), c.Param("id"))
	if err != nil {
		return tokenError(err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, tokenResponse{
		AccessToken: res.AccessToken.Reveal(), Provider: string(res.Provider), ExpiresAt: res.ExpiresAt,
	})
}

// tokenError maps the vault's errors to the endpoint's statuses and stable codes.
func tokenError(err error) error {
	switch {
	case errors.Is(err, dbvault.ErrReauthRequired):
		return platform.Errorf(http.StatusConflict, "reauth_required", "the provider refused to refresh the token; connect again")
	case errors.Is(err, dbvault.ErrNotFound), errors.Is(err, dbvault.ErrNotActive):
		return platform.Errorf(http.StatusNotFound, "not_found", "no active connection with this id")
	case errors.Is(err, ErrRefreshUnavailable):
		return platform.Errorf(http.StatusServiceUnavailable, "refresh_unavailable", "the token could not be refreshed now; retry later")
	}
	return err
}
