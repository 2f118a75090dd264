// Package linear is the gateway's Linear OAuth client: authorize URL with PKCE, the code exchange,
// refresh with rotating refresh tokens, revoke, and the GraphQL calls of the connect flow (viewer and
// webhookCreate / webhookDelete).
package linear

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

const provider = "linear"

// Scopes asked for: read for the console's look-ups and backfills, admin because webhookCreate needs it.
const Scopes = "read,admin"

// Config is the Linear OAuth app.
type Config struct {
	ClientID     string
	ClientSecret secrets.Secret
	// APIURL hosts /oauth/token and /graphql (https://api.linear.app); WebURL the consent page.
	APIURL string
	WebURL string
}

// Client calls Linear.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

// New returns a client. hc should come from providers.NewHTTPClient.
func New(cfg Config, hc *http.Client) *Client { return &Client{cfg: cfg, http: hc, now: time.Now} }

// AuthorizeURL is the consent page, with PKCE S256.
func (c *Client) AuthorizeURL(state, codeChallenge, redirectURI string) string {
	return c.cfg.WebURL + "/oauth/authorize?" + url.Values{
		"client_id":             {c.cfg.ClientID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {Scopes},
		"state":                 {state},
		"prompt":                {"consent"},
		"code_challenge":        {codeChallenge},
		"code_challenge_method": {"S256"},
	}.Encode()
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

func (c *Client) token(ctx context.Context, op string, form url.Values) (providers.Token, error) {
	form.Set("client_id", c.cfg.ClientID)
	form.Set("client_secret", c.cfg.ClientSecret.Reveal())
	var out tokenAnswer
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: op, Method: http.MethodPost, URL: c.cfg.APIURL + "/oauth/token", Body: form, Out: &out,
	})
	if err != nil {
		if providers.CodeIs(err, "invalid_grant") {
			return providers.Token{}, providers.ErrInvalidGrant
		}
		return providers.Token{}, err
	}
	if out.AccessToken == "" {
		return providers.Token{}, &providers.Error{Provider: provider, Op: op, Status: http.StatusOK, Code: "malformed_response"}
	}
	tok := providers.Token{
		AccessToken: secrets.Secret(out.AccessToken), RefreshToken: secrets.Secret(out.RefreshToken),
		TokenType: out.TokenType, Scope: out.Scope,
	}
	if out.ExpiresIn > 0 {
		exp := c.now().Add(time.Duration(out.ExpiresIn) * time.Second)
		tok.ExpiresAt = &exp
	}
	return tok, nil
}

// Exchange trades an authorization code (with its PKCE verifier) for a token pair.
func (c *Client) Exchange(ctx context.Context, code string, verifier secrets.Secret, redirectURI string) (providers.Token, error) {
	return c.token(ctx, "code exchange", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier.Reveal()},
	})
}

// Refresh trades a refresh token for a new pair; the old refresh token dies (rotation).
func (c *Client) Refresh(ctx context.Context, _ string, refreshToken secrets.Secret) (providers.Token, error) {
	return c.token(ctx, "refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken.Reveal()}})
}

// Revoke revokes the token's grant (access and refresh token together).
func (c *Client) Revoke(ctx context.Context, token secrets.Secret) error {
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "revoke", Method: http.MethodPost, URL: c.cfg.APIURL + "/oauth/revoke",
		Header: providers.Bearer(token), Body: url.Values{"token": {token.Reveal()}},
	})
	return err
}

// graphql runs one GraphQL operation. GraphQL errors arrive with status 200; they become *providers.Error
// with the first error's extension code.
func (c *Client) graphql(ctx context.Context, op string, token secrets.Secret, query string, vars map[string]any, data any) error {
	var out struct {
		Data   any `json:"data"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	out.Data = data
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: op, Method: http.MethodPost, URL: c.cfg.APIURL + "/graphql",
		Header: providers.Bearer(token), Body: map[string]any{"query": query, "variables": vars}, Out: &out,
	})
	if err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return &providers.Error{Provider: provider, Op: op, Status: http.StatusOK, Code: providers.SafeCode(out.Errors[0].Extensions.Code)}
	}
	return nil
}

// Organization is the Linear workspace a token belongs to.
type Organization struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URLKey string `json:"urlKey"`
}

// Viewer returns the workspace of the token's user.
func (c *Client) Viewer(ctx context.Context, token secrets.Secret) (Organization, error) {
	var data struct {
		Viewer struct {
			Organization Organization `json:"organization"`
		} `json:"viewer"`
	}
	err := c.graphql(ctx, "viewer", token, `query Viewer { viewer { organization { id name urlKey } } }`, nil, &data)
	if err == nil && data.Viewer.Organization.ID == "" {
		err = &providers.Error{Provider: provider, Op: "viewer", Status: http.StatusOK, Code: "malformed_response"}
	}
	return data.Viewer.Organization, err
}

// WebhookResourceTypes are the Linear events the gateway subscribes to.
var WebhookResourceTypes = []string{"Issue", "Comment", "Project", "IssueLabel", "Cycle"}

// CreateWebhook registers a workspace webhook (all public teams) signed with secret, and returns its id.
func (c *Client) CreateWebhook(ctx context.Context, token secrets.Secret, targetURL string, secret secrets.Secret) (string, error) {
	var data struct {
		WebhookCreate struct {
			Success bool `json:"success"`
			Webhook struct {
				ID string `json:"id"`
			} `json:"webhook"`
		} `json:"webhookCreate"`
	}
	err := c.graphql(ctx, "webhookCreate", token,
		`mutation WebhookCreate($input: WebhookCreateInput!) { webhookCreate(input: $input) { success webhook { id } } }`,
		map[string]any{"input": map[string]any{
			"url": targetURL, "label": "Lightfast", "allPublicTeams": true,
			"resourceTypes": WebhookResourceTypes, "secret": secret.Reveal(),
		}}, &data)
	if err != nil {
		return "", err
	}
	if !data.WebhookCreate.Success || data.WebhookCreate.Webhook.ID == "" {
		return "", &providers.Error{Provider: provider, Op: "webhookCreate", Status: http.StatusOK, Code: "not_created"}
	}
	return data.WebhookCreate.Webhook.ID, nil
}

// DeleteWebhook removes a webhook the gateway registered.
func (c *Client) DeleteWebhook(ctx context.Context, token secrets.Secret, id string) error {
	var data struct {
		WebhookDelete struct {
			Success bool `json:"success"`
		} `json:"webhookDelete"`
	}
	return c.graphql(ctx, "webhookDelete", token,
		`mutation WebhookDelete($id: String!) { webhookDelete(id: $id) { success } }`, map[string]any{"id": id}, &data)
}
