// Package vercel is the gateway's Vercel integration client: the install URL, the code exchange, the
// team look-up and the uninstall.
package vercel

import (
	"context"
	"net/http"
	"net/url"

	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

const provider = "vercel"

// Config is the Vercel integration.
type Config struct {
	ClientID string
	// ClientSecret is the current client secret (the first of VERCEL_CLIENT_SECRETS).
	ClientSecret secrets.Secret
	Slug         string
	APIURL       string
	WebURL       string
}

// Client calls Vercel.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client. hc should come from providers.NewHTTPClient.
func New(cfg Config, hc *http.Client) *Client { return &Client{cfg: cfg, http: hc} }

// InstallURL is where the browser installs the integration.
func (c *Client) InstallURL(state string) string {
	return c.cfg.WebURL + "/integrations/" + url.PathEscape(c.cfg.Slug) + "/new?" + url.Values{"state": {state}}.Encode()
}

// Exchange is the answer of the code exchange.
type Exchange struct {
	Token providers.Token
	// InstallationID is the configuration id the token belongs to.
	InstallationID string
	UserID         string
	// TeamID is empty for an installation on a personal account.
	TeamID string
}

// Exchange trades the install code for the integration's long-lived token.
func (c *Client) Exchange(ctx context.Context, code, redirectURI string) (Exchange, error) {
	var out struct {
		AccessToken    string  `json:"access_token"`
		TokenType      string  `json:"token_type"`
		InstallationID string  `json:"installation_id"`
		UserID         string  `json:"user_id"`
		TeamID         *string `json:"team_id"`
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "code exchange", Method: http.MethodPost,
		URL: c.cfg.APIURL + "/v2/oauth/access_token",
		Body: url.Values{
			"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret.Reveal()},
			"code": {code}, "redirect_uri": {redirectURI},
		},
		Out: &out,
	})
	if err != nil {
		if providers.CodeIs(err, "invalid_grant") {
			return Exchange{}, providers.ErrInvalidGrant
		}
		return Exchange{}, err
	}
	if out.AccessToken == "" {
		return Exchange{}, &providers.Error{Provider: provider, Op: "code exchange", Status: http.StatusOK, Code: "malformed_response"}
	}
	ex := Exchange{
		Token:          providers.Token{AccessToken: secrets.Secret(out.AccessToken), TokenType: out.TokenType},
		InstallationID: out.InstallationID,
		UserID:         out.UserID,
	}
	if out.TeamID != nil {
		ex.TeamID = *out.TeamID
	}
	return ex, nil
}

// TeamSlug looks up a team's slug.
func (c *Client) TeamSlug(ctx context.Context, token secrets.Secret, teamID string) (string, error) {
	var out struct {
		Slug string `json:"slug"`
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "get team", Method: http.MethodGet,
		URL:    c.cfg.APIURL + "/v2/teams/" + url.PathEscape(teamID) + "?" + url.Values{"teamId": {teamID}}.Encode(),
		Header: providers.Bearer(token), Out: &out,
	})
	return out.Slug, err
}

// DeleteConfiguration uninstalls the integration configuration (the teardown's provider revoke).
func (c *Client) DeleteConfiguration(ctx context.Context, token secrets.Secret, configurationID, teamID string) error {
	u := c.cfg.APIURL + "/v1/integrations/configuration/" + url.PathEscape(configurationID)
	if teamID != "" {
		u += "?" + url.Values{"teamId": {teamID}}.Encode()
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "delete configuration", Method: http.MethodDelete, URL: u,
		Header: providers.Bearer(token),
	})
	return err
}
