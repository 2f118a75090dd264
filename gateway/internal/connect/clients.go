package connect

import (
	"net/http"

	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/providers/github"
	"github.com/lightfastai/connections/gateway/internal/providers/linear"
	"github.com/lightfastai/connections/gateway/internal/providers/sentry"
	"github.com/lightfastai/connections/gateway/internal/providers/vercel"
	"github.com/lightfastai/connections/gateway/internal/vault"
)

// Clients are the provider clients of the configured providers (nil when not configured).
type Clients struct {
	GitHub *github.Client
	Vercel *vercel.Client
	Linear *linear.Client
	Sentry *sentry.Client
}

// NewClients builds a client for every provider cfg configures, all sharing hc.
func NewClients(cfg config.Config, hc *http.Client) Clients {
	var c Clients
	if cfg.Enabled("github") {
		c.GitHub = github.New(github.Config{
			AppID: cfg.GitHub.AppID, AppSlug: cfg.GitHub.AppSlug, PrivateKey: cfg.GitHub.PrivateKey,
			ClientID: cfg.GitHub.ClientID, ClientSecret: cfg.GitHub.ClientSecret,
			APIURL: cfg.GitHub.APIURL, WebURL: cfg.GitHub.WebURL,
		}, hc)
	}
	if cfg.Enabled("vercel") {
		c.Vercel = vercel.New(vercel.Config{
			ClientID: cfg.Vercel.ClientID, ClientSecret: cfg.Vercel.ClientSecrets[0], Slug: cfg.Vercel.IntegrationSlug,
			APIURL: cfg.Vercel.APIURL, WebURL: cfg.Vercel.WebURL,
		}, hc)
	}
	if cfg.Enabled("linear") {
		c.Linear = linear.New(linear.Config{
			ClientID: cfg.Linear.ClientID, ClientSecret: cfg.Linear.ClientSecret,
			APIURL: cfg.Linear.APIURL, WebURL: cfg.Linear.WebURL,
		}, hc)
	}
	if cfg.Enabled("sentry") {
		c.Sentry = sentry.New(sentry.Config{
			ClientID: cfg.Sentry.ClientID, ClientSecret: cfg.Sentry.ClientSecrets[0], Slug: cfg.Sentry.AppSlug,
			URL: cfg.Sentry.URL,
		}, hc)
	}
	return c
}

// Flows returns the connect flow of every configured provider. publicURL is GATEWAY_PUBLIC_URL: the
// callbacks and the Linear webhook are registered under it.
func (c Clients) Flows(publicURL string) map[types.Provider]Flow {
	flows := map[types.Provider]Flow{}
	callback := func(p types.Provider) string { return publicURL + "/connections/" + string(p) + "/callback" }
	if c.GitHub != nil {
		flows[types.GitHub] = githubFlow{client: c.GitHub}
	}
	if c.Vercel != nil {
		flows[types.Vercel] = vercelFlow{client: c.Vercel, redirectURI: callback(types.Vercel)}
	}
	if c.Linear != nil {
		flows[types.Linear] = linearFlow{client: c.Linear, redirectURI: callback(types.Linear), webhookURL: publicURL + "/webhooks/linear"}
	}
	if c.Sentry != nil {
		flows[types.Sentry] = sentryFlow{client: c.Sentry}
	}
	return flows
}

// Refreshers returns the token refreshers for the vault: GitHub mints installation tokens, Linear and
// Sentry use refresh tokens; Vercel tokens do not expire.
func (c Clients) Refreshers() map[types.Provider]vault.Refresher {
	r := map[types.Provider]vault.Refresher{}
	if c.GitHub != nil {
		r[types.GitHub] = c.GitHub
	}
	if c.Linear != nil {
		r[types.Linear] = c.Linear
	}
	if c.Sentry != nil {
		r[types.Sentry] = c.Sentry
	}
	return r
}
