// Package sentry is the gateway's Sentry integration client: the external-install URL, the
// authorization_code and refresh_token grants, install verification and uninstall.
package sentry

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

const provider = "sentry"

// Config is the Sentry integration.
type Config struct {
	ClientID string
	// ClientSecret is the current client secret (the first of SENTRY_CLIENT_SECRETS).
	ClientSecret secrets.Secret
	Slug         string
	// URL is the Sentry base URL (https://sentry.io).
	URL string
}

// Client calls Sentry.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client. hc should come from providers.NewHTTPClient.
func New(cfg Config, hc *http.Client) *Client { return &Client{cfg: cfg, http: hc} }

// InstallURL is the external-install page of the integration.
func (c *Client) InstallURL(state string) string {
	return c.cfg.URL + "/sentry-apps/" + url.PathEscape(c.cfg.Slug) + "/external-install/?" + url.Values{"state": {state}}.Encode()
}

func (c *Client) installationURL(uuid string) string {
	return c.cfg.URL + "/api/0/sentry-app-installations/" + url.PathEscape(uuid) + "/"
}

func (c *Client) grant(ctx context.Context, op, uuid string, body map[string]string) (providers.Token, error) {
	body["client_id"] = c.cfg.ClientID
	body["client_secret"] = c.cfg.ClientSecret.Reveal()
	var out struct {
		Token        string    `json:"token"`
		RefreshToken string    `json:"refreshToken"`
		ExpiresAt    time.Time `json:"expiresAt"`
		Scopes       []string  `json:"scopes"`
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: op, Method: http.MethodPost, URL: c.installationURL(uuid) + "authorizations/",
		Body: body, Out: &out,
	})
	if err != nil {
		// Sentry answers a dead code or refresh token with 401 {"detail": …}.
		if providers.StatusIs(err, http.StatusUnauthorized) || providers.CodeIs(err, "invalid_grant") {
			return providers.Token{}, providers.ErrInvalidGrant
		}
		return providers.Token{}, err
	}
	if out.Token == "" {
		return providers.Token{}, &providers.Error{Provider: provider, Op: op, Status: http.StatusCreated, Code: "malformed_response"}
	}
	tok := providers.Token{AccessToken: secrets.Secret(out.Token), RefreshToken: secrets.Secret(out.RefreshToken), TokenType: "bearer"}
	if !out.ExpiresAt.IsZero() {
		exp := out.ExpiresAt
		tok.ExpiresAt = &exp
	}
	for i, s := range out.Scopes {
		if i > 0 {
			tok.Scope += " "
		}
		tok.Scope += s
	}
	return tok, nil
}

// Exchange trades the install's grant code for a token pair (valid 8 hours).
func (c *Client) Exchange(ctx context.Context, installationUUID, code string) (providers.Token, error) {
	return c.grant(ctx, "code exchange", installationUUID, map[string]string{"grant_type": "authorization_code", "code": code})
}

// Refresh trades a refresh token for a new pair; Sentry deletes the old pair.
func (c *Client) Refresh(ctx context.Context, installationUUID string, refreshToken secrets.Secret) (providers.Token, error) {
	return c.grant(ctx, "refresh", installationUUID, map[string]string{"grant_type": "refresh_token", "refresh_token": refreshToken.Reveal()})
}

// Verify marks the installation installed, which completes it on Sentry's side, and returns the slug of
// the organization it is installed in (as Sentry says, not as the callback claimed).
func (c *Client) Verify(ctx context.Context, installationUUID string, token secrets.Secret) (string, error) {
	var out struct {
		Organization struct {
			Slug string `json:"slug"`
		} `json:"organization"`
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "verify installation", Method: http.MethodPut, URL: c.installationURL(installationUUID),
		Header: providers.Bearer(token), Body: map[string]string{"status": "installed"}, Out: &out,
	})
	return out.Organization.Slug, err
}

// Uninstall deletes the installation (the teardown's provider revoke).
func (c *Client) Uninstall(ctx context.Context, installationUUID string, token secrets.Secret) error {
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "uninstall", Method: http.MethodDelete, URL: c.installationURL(installationUUID),
		Header: providers.Bearer(token),
	})
	return err
}
