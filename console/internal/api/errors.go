package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/vault"
)

// This file is the one place where errors become Connect codes. Handlers return either the helpers
// below (already Connect errors with a code chosen on purpose) or plain domain errors from db, vault and
// providerapi, which toConnect maps. Rules that hold everywhere:
//   - another organisation's workspace, installation or integration is NotFound, never PermissionDenied,
//     so a caller cannot learn that an id exists;
//   - a session without an organisation is PermissionDenied with a message that says so;
//   - a provider failing is Unavailable and names the provider;
//   - anything unexpected is Internal with a generic message (the cause is logged, never returned).

// errInvalid is a request the caller must change (InvalidArgument).
func errInvalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// errNotFound says what was not found; it is also the answer for another organisation's ids.
func errNotFound(what string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s not found", what))
}

// errPrecondition is a request that cannot be served in the current state (FailedPrecondition).
func errPrecondition(format string, args ...any) error {
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(format, args...))
}

var (
	errNoOrg = connect.NewError(connect.CodePermissionDenied,
		errors.New("no active organization: the session token has no org_id (or o.id); select an organization and retry"))
	errNotAdmin = connect.NewError(connect.CodePermissionDenied,
		errors.New("only organization admins can disconnect a connection"))
)

// caller returns the authenticated principal, which must have an active organisation.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		// The interceptor always runs first; reaching this is a wiring bug.
		return auth.Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("unauthenticated"))
	}
	if p.OrgID == "" {
		return auth.Principal{}, errNoOrg
	}
	return p, nil
}

// toConnect maps a handler error to a Connect error.
func toConnect(err error) (cerr *connect.Error, unexpected bool) {
	if errors.As(err, &cerr) {
		return cerr, false
	}
	var rl *providerapi.RateLimitError
	var pe *providerapi.Error
	switch {
	case errors.As(err, &rl):
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s rate limit reached; retry after %s",
			rl.Provider, rl.Reset.UTC().Format(time.RFC3339))), false
	case errors.As(err, &pe):
		msg := fmt.Sprintf("%s is unavailable: %s failed", pe.Provider, pe.Op)
		if pe.Status != 0 {
			msg += fmt.Sprintf(" (status %d", pe.Status)
			if pe.Message != "" {
				msg += ": " + pe.Message
			}
			msg += ")"
		} else if pe.Err != nil {
			msg += fmt.Sprintf(" (%v)", pe.Err)
		}
		return connect.NewError(connect.CodeUnavailable, errors.New(msg)), false
	case errors.Is(err, vault.ErrReauthRequired):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("the provider refused to renew this connection's token: connect it again")), false
	case errors.Is(err, vault.ErrNotActive):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("the connection is not active")), false
	case errors.Is(err, vault.ErrTokenExpired):
		return connect.NewError(connect.CodeUnavailable, errors.New("the connection's token has expired and is being renewed; retry shortly")), false
	case errors.Is(err, vault.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("connection not found")), false
	case errors.Is(err, oauthstate.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("state not found")), false
	case db.IsNotFound(err):
		return connect.NewError(connect.CodeNotFound, errors.New("not found")), false
	case db.IsUnreadableRow(err):
		// Logged as unexpected (with the row's column and cause) for an operator; the caller learns only
		// that retrying will not help.
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("stored data this call needs cannot be read (malformed); unlink and link the resource again, or ask an operator to repair it")), true
	case db.IsConstraint(err, db.UniqueViolation, "org_workspaces_clerk_org_id_slug_key"):
		return connect.NewError(connect.CodeAlreadyExists, errors.New("a workspace with this slug already exists")), false
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled")), false
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("request timed out")), false
	}
	return connect.NewError(connect.CodeInternal, errors.New("internal error")), true
}

// errorInterceptor applies toConnect to every handler error and logs the unexpected ones.
func errorInterceptor(log *zap.Logger) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			resp, err := next(ctx, req)
			if err == nil {
				return resp, nil
			}
			cerr, unexpected := toConnect(err)
			switch {
			case unexpected:
				log.Error("procedure failed", zap.String("procedure", req.Spec().Procedure), zap.Error(err))
			case cerr.Code() == connect.CodeUnavailable:
				log.Warn("provider unavailable", zap.String("procedure", req.Spec().Procedure), zap.String("error", cerr.Message()))
			}
			return nil, cerr
		}
	})
}
