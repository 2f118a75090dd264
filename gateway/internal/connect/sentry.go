package connect

import (
	"context"
	"net/url"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers/sentry"
)

// sentryFlow installs the Sentry integration: the grant code is exchanged for a token pair bound to the
// installation, then the installation is verified, which also tells the organization it is in.
type sentryFlow struct{ client *sentry.Client }

func (f sentryFlow) AuthorizeURL(token string, _ oauthstate.State) string {
	return f.client.InstallURL(token)
}

func (f sentryFlow) Exchange(ctx context.Context, q url.Values, _ oauthstate.State) (*Connection, error) {
	code, err := required(q, "code")
	if err != nil {
		return nil, err
	}
	installationID, err := required(q, "installationId")
	if err != nil {
		return nil, err
	}
	tok, err := f.client.Exchange(ctx, installationID, code)
	if err != nil {
		return nil, err
	}
	orgSlug := q.Get("orgSlug")
	return &Connection{
		ExternalID:   installationID,
		AccountLogin: orgSlug,
		AccountInfo:  types.NewSentryAccountInfo(types.SentryAccountInfo{InstallationUUID: installationID, OrgSlug: orgSlug}),
		Token:        tok,
	}, nil
}

// Finish verifies the installation and takes the organization slug from Sentry's answer.
func (f sentryFlow) Finish(ctx context.Context, conn *Connection) error {
	slug, err := f.client.Verify(ctx, conn.ExternalID, conn.Token.AccessToken)
	if err != nil {
		return err
	}
	if slug != "" {
		conn.AccountLogin = slug
		conn.AccountInfo = types.NewSentryAccountInfo(types.SentryAccountInfo{InstallationUUID: conn.ExternalID, OrgSlug: slug})
	}
	return nil
}

// Revoke uninstalls the integration from the organization.
func (f sentryFlow) Revoke(ctx context.Context, inst dbq.Installation, token secrets.Secret) error {
	return f.client.Uninstall(ctx, inst.ExternalID, token)
}

// EchoesState implements Flow: Sentry's external install does not send the state back, so the cookie
// alone carries it.
func (sentryFlow) EchoesState() bool { return false }
