// Package config is the console's configuration (SPEC §8), read from the environment and validated at
// start. Secrets are typed secrets.Secret so printing the struct masks them.
package config

import (
	"errors"
	"time"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/secrets"
)

// Config is everything the console reads from its environment.
type Config struct {
	platform.Shared

	Addr             string           `json:"CONSOLE_ADDR"`
	PublicURL        string           `json:"CONSOLE_PUBLIC_URL"`
	GatewayPublicURL string           `json:"GATEWAY_PUBLIC_URL"`
	AuthJWKSURL      string           `json:"AUTH_JWKS_URL"`
	AuthIssuer       string           `json:"AUTH_ISSUER"`
	AuthDevSecret    secrets.Secret   `json:"AUTH_DEV_SECRET"`
	M2MAPIKeys       []secrets.Secret `json:"M2M_API_KEYS"`
	JobRescueAfter   time.Duration    `json:"JOB_RESCUE_AFTER"`

	GitHubAPIURL string `json:"GITHUB_API_URL"`
	GitHubWebURL string `json:"GITHUB_WEB_URL"`
	VercelAPIURL string `json:"VERCEL_API_URL"`
	LinearAPIURL string `json:"LINEAR_API_URL"`
	SentryURL    string `json:"SENTRY_URL"`
}

// Load reads and validates the configuration. The error names the first bad variable.
func Load(e *platform.Env) (Config, error) {
	c := Config{Shared: platform.LoadShared(e)}
	dev := !c.Production()
	c.Addr = e.String("CONSOLE_ADDR", ":4107")
	c.PublicURL = e.URL("CONSOLE_PUBLIC_URL", devDefault(dev, "http://localhost:4107"))
	c.GatewayPublicURL = e.URL("GATEWAY_PUBLIC_URL", devDefault(dev, "http://localhost:4110"))
	c.AuthJWKSURL = e.String("AUTH_JWKS_URL", "")
	c.AuthIssuer = e.String("AUTH_ISSUER", "")
	c.AuthDevSecret = e.OptionalSecret("AUTH_DEV_SECRET")
	c.M2MAPIKeys = e.Secrets("M2M_API_KEYS", false)
	c.JobRescueAfter = e.Duration("JOB_RESCUE_AFTER", 60*time.Second)
	if c.AuthJWKSURL != "" {
		c.AuthJWKSURL = e.URL("AUTH_JWKS_URL", "")
		if c.AuthIssuer == "" {
			e.Check("AUTH_ISSUER", errors.New("is required with AUTH_JWKS_URL"))
		}
	}
	switch {
	case c.Production() && c.AuthJWKSURL == "":
		e.Check("AUTH_JWKS_URL", errors.New("is required when APP_ENV=production"))
	case !c.Production() && c.AuthJWKSURL == "" && c.AuthDevSecret == "":
		e.Check("AUTH_DEV_SECRET", errors.New("is required when AUTH_JWKS_URL is not set"))
	}

	c.GitHubAPIURL = e.URL("GITHUB_API_URL", "https://api.github.com")
	c.GitHubWebURL = e.URL("GITHUB_WEB_URL", "https://github.com")
	c.VercelAPIURL = e.URL("VERCEL_API_URL", "https://api.vercel.com")
	c.LinearAPIURL = e.URL("LINEAR_API_URL", "https://api.linear.app")
	c.SentryURL = e.URL("SENTRY_URL", "https://sentry.io")
	return c, e.Err()
}

func devDefault(dev bool, v string) string {
	if dev {
		return v
	}
	return ""
}
