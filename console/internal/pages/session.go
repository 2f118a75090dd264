package pages

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/auth"
)

// session authenticates the request's session (the __session cookie, or a bearer header) and returns the
// context for the page's service calls, which carries the token on to the API. When it fails it has
// already answered with a redirect to the sign-in page and reports false.
func (p *Pages) session(c echo.Context) (context.Context, auth.Principal, bool, error) {
	token := auth.TokenFromRequest(c.Request().Header)
	pr, err := p.verifier.Verify(c.Request().Context(), token)
	if err != nil {
		return nil, auth.Principal{}, false, p.toSignIn(c)
	}
	return withSession(c.Request().Context(), token), pr, true, nil
}

// toSignIn sends the browser to the sign-in page, which brings it back to this page, query included (so
// /connected confirms its connection once the user has signed in).
func (p *Pages) toSignIn(c echo.Context) error {
	return c.Redirect(http.StatusFound, "/sign-in?next="+url.QueryEscape(c.Request().URL.RequestURI()))
}

// localPath returns next (path and query) when it is a path on this site, else "/workspaces": the
// sign-in page must not become an open redirect.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/workspaces"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "/workspaces"
	}
	if u.RawQuery != "" {
		return u.EscapedPath() + "?" + u.Query().Encode()
	}
	return u.EscapedPath()
}

type signInData struct {
	Next      string
	DevTokens bool
}

func (p *Pages) signIn(c echo.Context) error {
	return p.render(c, http.StatusOK, "sign-in", page{
		Title: "Sign in",
		Data:  signInData{Next: localPath(c.QueryParam("next")), DevTokens: p.devTokens},
	})
}

type errorData struct {
	Status  int
	Message string
}

// fail answers a page whose service call failed: sign-in for a rejected session, the API's own message for
// the errors a user can act on, and a generic one (logged with the cause) for everything else.
func (p *Pages) fail(c echo.Context, err error) error {
	status, msg := http.StatusInternalServerError, "Something went wrong. Try again in a moment."
	var ce *connect.Error
	if errors.As(err, &ce) {
		switch ce.Code() {
		case connect.CodeUnauthenticated:
			return p.toSignIn(c)
		case connect.CodeNotFound:
			status, msg = http.StatusNotFound, "Not found."
		case connect.CodePermissionDenied:
			status, msg = http.StatusForbidden, ce.Message()
		case connect.CodeInvalidArgument, connect.CodeFailedPrecondition:
			status, msg = http.StatusBadRequest, ce.Message()
		}
	}
	if status == http.StatusInternalServerError {
		p.log.Error("page failed", zap.String("route", c.Path()), zap.Error(err))
	}
	return p.render(c, status, "error", page{Title: http.StatusText(status), Data: errorData{Status: status, Message: msg}})
}
