package connect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

// Flow is one provider's side of the connect flow.
type Flow interface {
	// AuthorizeURL is where the browser is sent to consent, carrying the opaque state token.
	AuthorizeURL(token string, st oauthstate.State) string
	// Exchange turns the callback's query into a connection: codes into tokens, account look-ups, and
	// the checks that the callback is genuine. It changes nothing at the provider.
	Exchange(ctx context.Context, query url.Values, st oauthstate.State) (*Connection, error)
	// Finish makes the provider-side changes a connection needs (Linear webhook, Sentry verification).
	// It runs only once the installation is known not to belong to another org.
	Finish(ctx context.Context, conn *Connection) error
	// Revoke undoes the connection at the provider as far as it can; teardown goes on when it fails.
	Revoke(ctx context.Context, inst dbq.Installation, accessToken secrets.Secret) error
	// EchoesState says whether the provider sends the state back to the callback; then it must equal the
	// state cookie of the browser (boundState).
	EchoesState() bool
}

// replacer is implemented by flows that leave something at the provider per connection (the Linear
// webhook): after a connection replaced an earlier one of the same installation, Replaced cleans up what
// the earlier one left. Failures are only logged.
type replacer interface {
	Replaced(ctx context.Context, previous dbq.Installation, conn *Connection) error
}

// Connection is what a completed exchange stores: one gw_installations row and its gw_tokens row.
type Connection struct {
	ExternalID    string
	AccountLogin  string
	AccountInfo   *types.ProviderAccountInfo
	Token         providers.Token
	WebhookSecret secrets.Secret
	// Metadata is merged into gw_installations.metadata.
	Metadata types.Object
}

// pageError is a callback that cannot be trusted (bad state, spoofed installation, missing parameter):
// it is answered with an error page of the given status and stable code, and nothing is written.
type pageError struct {
	status  int
	code    string
	message string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

// consoleRefusal is a genuine callback (its state and browser check out) whose connection is refused
// for a reason the user can act on, such as installation_not_admin: the browser goes back to the Console
// with the code, and nothing is written.
type consoleRefusal struct{ code string }

func (e *consoleRefusal) Error() string { return "connection refused: " + e.code }

func badRequest(code, format string, args ...any) *pageError {
	return &pageError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

func forbidden(code, format string, args ...any) *pageError {
	return &pageError{status: http.StatusForbidden, code: code, message: fmt.Sprintf(format, args...)}
}

// required returns the query parameter name, or a 400 page naming it.
func required(q url.Values, name string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", badRequest("missing_parameter", "the callback has no %s", name)
	}
	return v, nil
}
