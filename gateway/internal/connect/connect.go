// Package connect is the gateway's connect flow (SPEC §5.1): GET /connections/:provider/authorize sends
// the browser to the provider, GET /connections/:provider/callback completes the exchange in the browser
// that started it and writes the installation (pending, until the Console confirms it) and its token in
// one transaction, and DELETE /connections/:provider/:id tears a connection down. The browser only ever
// returns to CONSOLE_URL/connected. Its River workers revoke torn-down connections at their provider and
// sweep pending connections nobody confirmed.
package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

// stateCookie carries the state token from authorize to the callback in the browser that started the
// flow, for every provider: it binds the flow to that browser (boundState).
const stateCookie = "lf_connect_state"

// Options configure the connect flow.
type Options struct {
	// PublicURL is the gateway's own public base URL (GATEWAY_PUBLIC_URL).
	PublicURL string
	// ConsoleURL is where the browser returns (CONSOLE_URL); nothing else is ever redirected to.
	ConsoleURL string
	// SecureCookies marks the state cookie Secure (everywhere but local development and tests).
	SecureCookies bool
	// Revoked, when set, is called with an installation id after its teardown committed (the token
	// vault forgets what it cached).
	Revoked func(installationID string)
}

// Service serves the connect flow.
type Service struct {
	opts    Options
	pool    *pgxpool.Pool
	keyring *secrets.Keyring
	routes  *routing.Cache
	flows   map[types.Provider]Flow
	log     *zap.Logger
}

// New returns the connect flow for the providers in flows (the configured ones).
func New(opts Options, pool *pgxpool.Pool, keyring *secrets.Keyring, routes *routing.Cache, flows map[types.Provider]Flow, log *zap.Logger) *Service {
	return &Service{opts: opts, pool: pool, keyring: keyring, routes: routes, flows: flows, log: log}
}

// Mount adds the routes. auth guards the teardown (the X-API-Key check).
func (s *Service) Mount(e *echo.Echo, auth echo.MiddlewareFunc) {
	e.GET("/connections/:provider/authorize", s.authorize)
	e.GET("/connections/:provider/callback", s.callback)
	e.DELETE("/connections/:provider/:id", s.disconnect, auth)
}

// flow returns the provider named in the path, or a 404 for an unknown or unconfigured provider.
func (s *Service) flow(c echo.Context) (types.Provider, Flow, error) {
	p, err := types.ParseProvider(c.Param("provider"))
	if err != nil {
		return "", nil, platform.Errorf(http.StatusNotFound, "unknown_provider", "unknown provider")
	}
	f, ok := s.flows[p]
	if !ok {
		return "", nil, platform.Errorf(http.StatusNotFound, "provider_not_configured", "%s is not configured on this gateway", p)
	}
	return p, f, nil
}

func (s *Service) callbackPath(p types.Provider) string {
	return "/connections/" + string(p) + "/callback"
}

func (s *Service) authorize(c echo.Context) error {
	p, f, err := s.flow(c)
	if err != nil {
		return err
	}
	token := c.QueryParam("state")
	if token == "" {
		return s.page(c, p, badRequest("missing_state", "the connect link has no state; start again from the console"))
	}
	st, err := oauthstate.Peek(c.Request().Context(), s.pool, p, token)
	if err != nil {
		return s.page(c, p, stateError(err))
	}
	c.SetCookie(&http.Cookie{
		Name: stateCookie, Value: token, Path: s.callbackPath(p),
		MaxAge:   int(time.Until(st.ExpiresAt).Seconds()) + 1,
		HttpOnly: true, Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, f.AuthorizeURL(token, st))
}

func (s *Service) callback(c echo.Context) error {
	p, f, err := s.flow(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	q := c.QueryParams()
	c.Response().Header().Set("Cache-Control", "no-store")
	token, perr := boundState(c, f, q)
	if perr != nil {
		// Nothing is used up: a forged callback sent to a browser in the middle of its own flow must not
		// spoil that flow.
		s.log.Info("callback refused", zap.String("provider", string(p)), zap.String("code", perr.code))
		return s.page(c, p, perr)
	}
	// The state is used up whatever happens next; the cookie goes with it.
	c.SetCookie(&http.Cookie{Name: stateCookie, Path: s.callbackPath(p), MaxAge: -1, HttpOnly: true,
		Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode})
	st, err := oauthstate.Consume(ctx, s.pool, p, token)
	if err != nil {
		return s.page(c, p, stateError(err))
	}
	log := s.log.With(zap.String("provider", string(p)), zap.String("org_id", st.OrgID))

	if perr := q.Get("error"); perr != "" {
		code := "provider_error"
		if perr == "access_denied" {
			code = "access_denied"
		}
		log.Info("provider declined the connection", zap.String("provider_error", providers.SafeCode(perr)))
		return s.toConsole(c, p, "", code)
	}

	conn, err := f.Exchange(ctx, q, st)
	if err != nil {
		return s.failed(c, log, p, err)
	}
	if claimed, err := s.claimedElsewhere(ctx, p, conn.ExternalID, st.OrgID); err != nil {
		return s.failed(c, log, p, err)
	} else if claimed {
		log.Info("installation belongs to another org", zap.String("external_id", conn.ExternalID))
		return s.toConsole(c, p, "", "installation_claimed")
	}
	if err := f.Finish(ctx, conn); err != nil {
		return s.failed(c, log, p, err)
	}
	inst, previous, err := s.save(ctx, p, st, conn)
	if errors.Is(err, errClaimed) {
		log.Info("installation belongs to another org", zap.String("external_id", conn.ExternalID))
		return s.toConsole(c, p, "", "installation_claimed")
	}
	if err != nil {
		return s.failed(c, log, p, err)
	}
	if inst.Status == types.InstallationActive {
		// A re-consent of a connection the org already had keeps routing; a pending one is routed once
		// the Console confirms it.
		s.routes.PutInstallation(context.WithoutCancel(ctx), p, inst.ExternalID, inst.ID)
	}
	if r, ok := f.(replacer); ok && previous != nil {
		if err := r.Replaced(ctx, *previous, conn); err != nil {
			log.Info("could not clean up after the previous connection", zap.Error(err))
		}
	}
	log.Info("connected", zap.String("installation_id", inst.ID), zap.String("external_id", inst.ExternalID),
		zap.String("status", inst.Status))
	return s.toConsole(c, p, inst.ID, "")
}

// boundState returns the state of a callback made by the browser that started the flow: the one in the
// state cookie authorize set. A browser without the cookie did not start this flow (a callback link sent
// to someone, or a page replaying a provider redirect); a provider that echoes the state must echo the
// cookie's, and the cookie never stands in for an echoed state that is missing. Sentry echoes none and
// uses the cookie alone.
func boundState(c echo.Context, f Flow, q url.Values) (string, *pageError) {
	ck, err := c.Cookie(stateCookie)
	if err != nil || ck.Value == "" {
		return "", badRequest("invalid_state", "this browser did not start the connect flow; start again from the console")
	}
	echoed := q.Get("state")
	if echoed == "" && f.EchoesState() {
		return "", badRequest("missing_state", "the callback has no state; start again from the console")
	}
	if echoed != "" && subtle.ConstantTimeCompare([]byte(echoed), []byte(ck.Value)) != 1 {
		return "", badRequest("invalid_state", "the callback's state is not the one this browser started; start again from the console")
	}
	return ck.Value, nil
}

// failed answers a callback that could not complete: an untrustworthy callback gets an error page, a
// provider failure sends the browser back to the Console with an error code.
func (s *Service) failed(c echo.Context, log *zap.Logger, p types.Provider, err error) error {
	var pe *pageError
	if errors.As(err, &pe) {
		log.Info("callback refused", zap.String("code", pe.code))
		return s.page(c, p, pe)
	}
	var cr *consoleRefusal
	if errors.As(err, &cr) {
		log.Info("connection refused", zap.String("code", cr.code))
		return s.toConsole(c, p, "", cr.code)
	}
	var perr *providers.Error
	switch {
	case errors.Is(err, providers.ErrInvalidGrant):
		log.Info("provider refused the authorization code")
		return s.toConsole(c, p, "", "invalid_code")
	case errors.As(err, &perr):
		log.Warn("provider call failed", zap.Error(err))
		return s.toConsole(c, p, "", "provider_error")
	}
	log.Error("connect failed", zap.Error(err))
	return s.toConsole(c, p, "", "server_error")
}

// toConsole redirects to CONSOLE_URL/connected, the only place the flow ever sends the browser.
func (s *Service) toConsole(c echo.Context, p types.Provider, installationID, errCode string) error {
	q := url.Values{"provider": {string(p)}}
	if installationID != "" {
		q.Set("installationId", installationID)
	}
	if errCode != "" {
		q.Set("error", errCode)
	}
	return c.Redirect(http.StatusFound, s.opts.ConsoleURL+"/connected?"+q.Encode())
}

func stateError(err error) *pageError {
	switch {
	case errors.Is(err, oauthstate.ErrExpired):
		return badRequest("expired_state", "the connect link has expired; start again from the console")
	case errors.Is(err, oauthstate.ErrWrongProvider):
		return badRequest("state_provider_mismatch", "the connect link was made for another provider")
	case errors.Is(err, oauthstate.ErrNotFound):
		return badRequest("invalid_state", "the connect link is unknown or was already used; start again from the console")
	}
	return &pageError{status: http.StatusInternalServerError, code: "internal", message: "internal error"}
}
