package main

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/api"
	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/config"
	"github.com/lightfastai/connections/console/internal/pages"
)

// mountPages serves the browser pages, which read through the API's own Connect handlers in-process, and
// guards every cookie-authenticated state change (the API's included) against cross-site requests.
func mountPages(e *echo.Echo, cfg config.Config, routes []api.Route, verifier *auth.Verifier, log *zap.Logger) error {
	origin, err := pages.Origin(cfg.PublicURL)
	if err != nil {
		return fmt.Errorf("CONSOLE_PUBLIC_URL: %w", err)
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.Handle(r.Path, r.Handler)
	}
	pg, err := pages.New(pages.Config{
		PublicURL: cfg.PublicURL,
		DevTokens: cfg.AuthDevSecret != "" && !cfg.Production(),
		Logger:    log,
	}, verifier, pages.NewServices(mux))
	if err != nil {
		return err
	}
	e.Use(pages.SameOrigin(origin))
	pg.Mount(e)
	return nil
}
