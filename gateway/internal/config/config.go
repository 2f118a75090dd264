// Package config is the gateway's configuration (SPEC §8), read from the environment and validated at
// start. Secrets are typed secrets.Secret so printing the struct masks them.
package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/secrets"
)

// Config is everything the gateway reads from its environment.
type Config struct {
	platform.Shared

	Addr                     string           `json:"GATEWAY_ADDR"`
	PublicURL                string           `json:"GATEWAY_PUBLIC_URL"`
	ConsoleURL               string           `json:"CONSOLE_URL"`
	APIKeys                  []secrets.Secret `json:"GATEWAY_API_KEYS"`
	AdminKeys                []secrets.Secret `json:"GATEWAY_ADMIN_KEYS"`
	WebhookMaxBodyBytes      int64            `json:"WEBHOOK_MAX_BODY_BYTES"`
	WebhookReadTimeout       time.Duration    `json:"WEBHOOK_READ_TIMEOUT"`
	WebhookMaxInflightBytes  int64            `json:"WEBHOOK_MAX_INFLIGHT_BYTES"`
	DeliveryPayloadRetention time.Duration    `json:"DELIVERY_PAYLOAD_RETENTION"`
	DeliveryRetention        time.Duration    `json:"DELIVERY_RETENTION"`
	JobRescueAfter           time.Duration    `json:"JOB_RESCUE_AFTER"`
	// PprofAddr, when set, serves Go's profiles (/debug/pprof/) on a listener of its own, never on
	// GATEWAY_ADDR: for profiling under load (the ingest benchmark's LOAD_CPUPROFILE). Bind it to loopback.
	PprofAddr string `json:"PPROF_ADDR"`

	GitHub GitHub `json:"github"`
	Vercel Vercel `json:"vercel"`
	Linear Linear `json:"linear"`
	Sentry Sentry `json:"sentry"`
}

// GitHub is the GitHub App.
type GitHub struct {
	AppID          string           `json:"GITHUB_APP_ID"`
	AppSlug        string           `json:"GITHUB_APP_SLUG"`
	PrivateKey     *rsa.PrivateKey  `json:"-"`
	ClientID       string           `json:"GITHUB_CLIENT_ID"`
	ClientSecret   secrets.Secret   `json:"GITHUB_CLIENT_SECRET"`
	WebhookSecrets []secrets.Secret `json:"GITHUB_WEBHOOK_SECRETS"`
	APIURL         string           `json:"GITHUB_API_URL"`
	WebURL         string           `json:"GITHUB_WEB_URL"`
}

// Vercel is the Vercel integration. Its client secrets also sign its webhooks.
type Vercel struct {
	ClientID        string           `json:"VERCEL_CLIENT_ID"`
	ClientSecrets   []secrets.Secret `json:"VERCEL_CLIENT_SECRETS"`
	IntegrationSlug string           `json:"VERCEL_INTEGRATION_SLUG"`
	APIURL          string           `json:"VERCEL_API_URL"`
	WebURL          string           `json:"VERCEL_WEB_URL"`
}

// Linear is the Linear OAuth app. Webhooks are signed with a per-installation secret; the fallback
// secrets cover webhooks registered by hand.
type Linear struct {
	ClientID       string           `json:"LINEAR_CLIENT_ID"`
	ClientSecret   secrets.Secret   `json:"LINEAR_CLIENT_SECRET"`
	WebhookSecrets []secrets.Secret `json:"LINEAR_WEBHOOK_SECRETS"`
	APIURL         string           `json:"LINEAR_API_URL"`
	WebURL         string           `json:"LINEAR_WEB_URL"`
}

// Sentry is the Sentry integration. Its client secrets also sign its webhooks.
type Sentry struct {
	ClientID      string           `json:"SENTRY_CLIENT_ID"`
	ClientSecrets []secrets.Secret `json:"SENTRY_CLIENT_SECRETS"`
	AppSlug       string           `json:"SENTRY_APP_SLUG"`
	URL           string           `json:"SENTRY_URL"`
}

// Load reads and validates the configuration. The error names the first bad variable.
func Load(e *platform.Env) (Config, error) {
	c := Config{Shared: platform.LoadShared(e)}
	dev := !c.Production()
	c.Addr = e.String("GATEWAY_ADDR", ":4110")
	c.PublicURL = e.URL("GATEWAY_PUBLIC_URL", devDefault(dev, "http://localhost:4110"))
	c.ConsoleURL = e.URL("CONSOLE_URL", devDefault(dev, "http://localhost:4107"))
	c.APIKeys = e.Secrets("GATEWAY_API_KEYS", true)
	c.AdminKeys = e.Secrets("GATEWAY_ADMIN_KEYS", true)
	c.WebhookMaxBodyBytes = e.Int64("WEBHOOK_MAX_BODY_BYTES", 26<<20, 1024)
	c.WebhookReadTimeout = e.Duration("WEBHOOK_READ_TIMEOUT", 15*time.Second)
	c.WebhookMaxInflightBytes = e.Int64("WEBHOOK_MAX_INFLIGHT_BYTES", 256<<20, 1024)
	if c.WebhookMaxInflightBytes < 2*c.WebhookMaxBodyBytes {
		// A body's buffer doubles as bytes arrive, the old and new one both held during the copy: a
		// budget under twice the largest body could refuse that body even with nothing else in flight.
		e.Check("WEBHOOK_MAX_INFLIGHT_BYTES", fmt.Errorf("must be at least twice WEBHOOK_MAX_BODY_BYTES (%d)", 2*c.WebhookMaxBodyBytes))
	}
	c.DeliveryPayloadRetention = e.Duration("DELIVERY_PAYLOAD_RETENTION", 7*24*time.Hour)
	c.DeliveryRetention = e.Duration("DELIVERY_RETENTION", 30*24*time.Hour)
	c.JobRescueAfter = e.Duration("JOB_RESCUE_AFTER", 60*time.Second)
	c.PprofAddr = e.String("PPROF_ADDR", "")

	c.GitHub = GitHub{
		AppID:          e.String("GITHUB_APP_ID", ""),
		AppSlug:        e.String("GITHUB_APP_SLUG", ""),
		ClientID:       e.String("GITHUB_CLIENT_ID", ""),
		ClientSecret:   e.OptionalSecret("GITHUB_CLIENT_SECRET"),
		WebhookSecrets: e.Secrets("GITHUB_WEBHOOK_SECRETS", false),
		APIURL:         e.URL("GITHUB_API_URL", "https://api.github.com"),
		WebURL:         e.URL("GITHUB_WEB_URL", "https://github.com"),
	}
	if raw := e.String("GITHUB_APP_PRIVATE_KEY", ""); raw != "" {
		key, err := parsePrivateKey(raw)
		e.Check("GITHUB_APP_PRIVATE_KEY", err)
		c.GitHub.PrivateKey = key
	}
	requireTogether(e, map[string]bool{
		"GITHUB_APP_ID": c.GitHub.AppID != "", "GITHUB_APP_SLUG": c.GitHub.AppSlug != "",
		"GITHUB_APP_PRIVATE_KEY": c.GitHub.PrivateKey != nil, "GITHUB_CLIENT_ID": c.GitHub.ClientID != "",
		"GITHUB_CLIENT_SECRET": c.GitHub.ClientSecret != "",
	})

	c.Vercel = Vercel{
		ClientID:        e.String("VERCEL_CLIENT_ID", ""),
		ClientSecrets:   e.Secrets("VERCEL_CLIENT_SECRETS", false),
		IntegrationSlug: e.String("VERCEL_INTEGRATION_SLUG", ""),
		APIURL:          e.URL("VERCEL_API_URL", "https://api.vercel.com"),
		WebURL:          e.URL("VERCEL_WEB_URL", "https://vercel.com"),
	}
	requireTogether(e, map[string]bool{
		"VERCEL_CLIENT_ID": c.Vercel.ClientID != "", "VERCEL_CLIENT_SECRETS": len(c.Vercel.ClientSecrets) > 0,
		"VERCEL_INTEGRATION_SLUG": c.Vercel.IntegrationSlug != "",
	})

	c.Linear = Linear{
		ClientID:       e.String("LINEAR_CLIENT_ID", ""),
		ClientSecret:   e.OptionalSecret("LINEAR_CLIENT_SECRET"),
		WebhookSecrets: e.Secrets("LINEAR_WEBHOOK_SECRETS", false),
		APIURL:         e.URL("LINEAR_API_URL", "https://api.linear.app"),
		WebURL:         e.URL("LINEAR_WEB_URL", "https://linear.app"),
	}
	requireTogether(e, map[string]bool{
		"LINEAR_CLIENT_ID": c.Linear.ClientID != "", "LINEAR_CLIENT_SECRET": c.Linear.ClientSecret != "",
	})

	c.Sentry = Sentry{
		ClientID:      e.String("SENTRY_CLIENT_ID", ""),
		ClientSecrets: e.Secrets("SENTRY_CLIENT_SECRETS", false),
		AppSlug:       e.String("SENTRY_APP_SLUG", ""),
		URL:           e.URL("SENTRY_URL", "https://sentry.io"),
	}
	requireTogether(e, map[string]bool{
		"SENTRY_CLIENT_ID": c.Sentry.ClientID != "", "SENTRY_CLIENT_SECRETS": len(c.Sentry.ClientSecrets) > 0,
		"SENTRY_APP_SLUG": c.Sentry.AppSlug != "",
	})
	return c, e.Err()
}

// Enabled reports whether the provider's connect flow is configured.
func (c Config) Enabled(provider string) bool {
	switch provider {
	case "github":
		return c.GitHub.AppID != ""
	case "vercel":
		return c.Vercel.ClientID != ""
	case "linear":
		return c.Linear.ClientID != ""
	case "sentry":
		return c.Sentry.ClientID != ""
	}
	return false
}

func devDefault(dev bool, v string) string {
	if dev {
		return v
	}
	return ""
}

// requireTogether: a provider is either not configured at all, or configured completely. A partial
// set is almost always a deployment mistake, so it stops the process naming what is missing.
func requireTogether(e *platform.Env, set map[string]bool) {
	anySet := false
	for _, ok := range set {
		anySet = anySet || ok
	}
	if !anySet {
		return
	}
	for _, name := range sortedKeys(set) {
		if !set[name] {
			e.Check(name, errors.New("is required when the provider's other settings are set"))
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// parsePrivateKey accepts a PEM (PKCS#1 or PKCS#8) or "@path" to a PEM file.
func parsePrivateKey(raw string) (*rsa.PrivateKey, error) {
	if path, ok := strings.CutPrefix(raw, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, errors.New("cannot read the key file")
		}
		raw = string(b)
	}
	// Environment variables often carry PEMs with literal \n.
	raw = strings.ReplaceAll(raw, `\n`, "\n")
	block, _ := pem.Decode([]byte(raw))
	if block == nil {
		return nil, errors.New("is not a PEM private key (or @path to one)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("is not an RSA private key")
	}
	rsaKey, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("is not an RSA private key")
	}
	return rsaKey, nil
}
