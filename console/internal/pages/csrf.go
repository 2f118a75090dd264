package pages

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db/platform"
)

// SameOrigin protects cookie-authenticated requests against cross-site request forgery. The browser sends
// the __session cookie with any request to the console, so a state-changing request (anything but GET, HEAD
// and OPTIONS) that authenticates with the cookie must come from a page of the console itself: its Origin
// header must be exactly origin, or, when a browser sends no Origin, Sec-Fetch-Site must say same-origin.
// Requests with an Authorization header (API clients, M2M) or without the cookie carry no ambient
// credential and pass untouched.
//
// This backs up what the Connect protocol already gives: its POSTs need Content-Type application/json or
// application/proto, which a cross-site form cannot send and which fetch cannot send cross-origin without a
// CORS preflight the console never approves.
func SameOrigin(origin string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(c)
			}
			if r.Header.Get("Authorization") != "" {
				return next(c)
			}
			if _, err := r.Cookie(auth.SessionCookie); err != nil {
				return next(c)
			}
			if !sameOrigin(r.Header, origin) {
				return platform.Errorf(http.StatusForbidden, "cross_origin_request",
					"cookie-authenticated requests must come from the console's own pages")
			}
			return next(c)
		}
	}
}

func sameOrigin(h http.Header, origin string) bool {
	if o := h.Get("Origin"); o != "" {
		return strings.EqualFold(o, origin)
	}
	switch h.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		// No Origin and no cross-site fetch metadata: a non-browser client holding the cookie (browsers send
		// Origin on every cross-origin POST).
		return true
	}
	return false
}
