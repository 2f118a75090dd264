package connect

import (
	"context"
	"net/url"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers/vercel"
)

// vercelFlow installs the Vercel integration. The installation is the configuration (external id
// configurationId); the `next` parameter Vercel sends is ignored, the browser only ever goes back to the
// Console.
type vercelFlow struct {
	client      *vercel.Client
	redirectURI string
}

func (f vercelFlow) AuthorizeURL(token string, _ oauthstate.State) string {
	return f.client.InstallURL(token)
}

func (f vercelFlow) Exchange(ctx context.Context, q url.Values, _ oauthstate.State) (*Connection, error) {
	code, err := required(q, "code")
	if err != nil {
		return nil, err
	}
	configurationID, err := required(q, "configurationId")
	if err != nil {
		return nil, err
	}
	ex, err := f.client.Exchange(ctx, code, f.redirectURI)
	if err != nil {
		return nil, err
	}
	// The token names the configuration it belongs to; a callback claiming another one is forged, and
	// one the token does not confirm is not trusted either (fail closed).
	switch ex.InstallationID {
	case configurationID:
	case "":
		return nil, forbidden("installation_unconfirmed", "the authorization does not name its configuration")
	default:
		return nil, forbidden("installation_mismatch", "configurationId does not match the authorization")
	}
	info := types.VercelAccountInfo{UserID: ex.UserID, TeamID: ex.TeamID, ConfigurationID: configurationID}
	login := ex.UserID
	if ex.TeamID != "" {
		slug, err := f.client.TeamSlug(ctx, ex.Token.AccessToken, ex.TeamID)
		if err != nil {
			return nil, err
		}
		info.TeamSlug, login = slug, slug
	}
	return &Connection{
		ExternalID:   configurationID,
		AccountLogin: login,
		AccountInfo:  types.NewVercelAccountInfo(info),
		Token:        ex.Token,
	}, nil
}

func (vercelFlow) Finish(context.Context, *Connection) error { return nil }

// Revoke uninstalls the integration configuration.
func (f vercelFlow) Revoke(ctx context.Context, inst dbq.Installation, token secrets.Secret) error {
	teamID := ""
	if inst.ProviderAccountInfo != nil && inst.ProviderAccountInfo.Vercel != nil {
		teamID = inst.ProviderAccountInfo.Vercel.TeamID
	}
	return f.client.DeleteConfiguration(ctx, token, inst.ExternalID, teamID)
}

// EchoesState implements Flow.
func (vercelFlow) EchoesState() bool { return true }
