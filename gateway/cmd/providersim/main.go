// Command providersim serves the provider simulator (GitHub, Vercel, Linear,
// Sentry) for local development and out-of-process tests. `make run` starts it
// next to the gateway so the connect flows and webhooks work offline.
//
// Every flag also reads an environment variable; the provider settings use
// the gateway's own variable names so one .env configures both programs:
//
//	providersim -addr 127.0.0.1:4120 -github-private-key-out .dev/github-app.pem
//
// The GitHub App key: with -github-public-key (or GITHUB_APP_PRIVATE_KEY, the
// gateway's key, from which the public half is derived) the simulator verifies
// App JWTs against it. Otherwise it generates a key pair, or reuses the one
// already at -github-private-key-out, and writes the private key there so the
// gateway can sign with it (GITHUB_APP_PRIVATE_KEY=@<path>).
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lightfastai/connections/gateway/internal/providersim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "providersim:", err)
		os.Exit(1)
	}
}

// options are the command's settings after flags and environment.
type options struct {
	addr          string
	gatewayURL    string
	publicKey     string // PEM, @path or path
	privateKey    string // the gateway's GITHUB_APP_PRIVATE_KEY: PEM or @path
	privateKeyOut string
	demo          bool
	logLevel      string
	cfg           providersim.Config
}

// firstOf returns the first value of a comma-separated list (the *_SECRETS
// variables hold several for rotation; the simulator signs with the first).
func firstOf(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}

func parseOptions(args []string, getenv func(string) string) (options, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var o options
	var (
		ghSecret, ghHookSecret, vcSecret, lnSecret, seSecret string
	)
	fs := flag.NewFlagSet("providersim", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", env("PROVIDERSIM_ADDR", "127.0.0.1:4120"), "listen address (PROVIDERSIM_ADDR)")
	fs.StringVar(&o.gatewayURL, "gateway-url", env("GATEWAY_PUBLIC_URL", providersim.DefaultGatewayURL), "gateway base URL the consent steps redirect to (GATEWAY_PUBLIC_URL)")
	fs.StringVar(&o.publicKey, "github-public-key", env("PROVIDERSIM_GITHUB_PUBLIC_KEY", ""), "GitHub App public key: PEM, @path or path (PROVIDERSIM_GITHUB_PUBLIC_KEY)")
	fs.StringVar(&o.privateKey, "github-private-key", env("GITHUB_APP_PRIVATE_KEY", ""), "GitHub App private key to derive the public key from: PEM or @path (GITHUB_APP_PRIVATE_KEY)")
	fs.StringVar(&o.privateKeyOut, "github-private-key-out", env("PROVIDERSIM_GITHUB_PRIVATE_KEY_OUT", ""), "where to keep a generated GitHub App private key (PROVIDERSIM_GITHUB_PRIVATE_KEY_OUT)")
	fs.StringVar(&o.cfg.GitHubAppID, "github-app-id", env("GITHUB_APP_ID", ""), "GitHub App id (GITHUB_APP_ID)")
	fs.StringVar(&o.cfg.GitHubAppSlug, "github-app-slug", env("GITHUB_APP_SLUG", ""), "GitHub App slug (GITHUB_APP_SLUG)")
	fs.StringVar(&o.cfg.GitHubClientID, "github-client-id", env("GITHUB_CLIENT_ID", ""), "GitHub App client id (GITHUB_CLIENT_ID)")
	fs.StringVar(&ghSecret, "github-client-secret", env("GITHUB_CLIENT_SECRET", ""), "GitHub App client secret (GITHUB_CLIENT_SECRET)")
	fs.StringVar(&ghHookSecret, "github-webhook-secret", firstOf(env("GITHUB_WEBHOOK_SECRETS", "")), "GitHub webhook secret (first of GITHUB_WEBHOOK_SECRETS)")
	fs.StringVar(&o.cfg.VercelClientID, "vercel-client-id", env("VERCEL_CLIENT_ID", ""), "Vercel client id (VERCEL_CLIENT_ID)")
	fs.StringVar(&vcSecret, "vercel-client-secret", firstOf(env("VERCEL_CLIENT_SECRETS", "")), "Vercel client secret (first of VERCEL_CLIENT_SECRETS)")
	fs.StringVar(&o.cfg.VercelIntegrationSlug, "vercel-slug", env("VERCEL_INTEGRATION_SLUG", ""), "Vercel integration slug (VERCEL_INTEGRATION_SLUG)")
	fs.StringVar(&o.cfg.LinearClientID, "linear-client-id", env("LINEAR_CLIENT_ID", ""), "Linear client id (LINEAR_CLIENT_ID)")
	fs.StringVar(&lnSecret, "linear-client-secret", env("LINEAR_CLIENT_SECRET", ""), "Linear client secret (LINEAR_CLIENT_SECRET)")
	fs.StringVar(&o.cfg.SentryClientID, "sentry-client-id", env("SENTRY_CLIENT_ID", ""), "Sentry client id (SENTRY_CLIENT_ID)")
	fs.StringVar(&seSecret, "sentry-client-secret", firstOf(env("SENTRY_CLIENT_SECRETS", "")), "Sentry client secret (first of SENTRY_CLIENT_SECRETS)")
	fs.StringVar(&o.cfg.SentryAppSlug, "sentry-slug", env("SENTRY_APP_SLUG", ""), "Sentry integration slug (SENTRY_APP_SLUG)")
	fs.DurationVar(&o.cfg.GitHubInstallationTokenTTL, "github-token-ttl", envDuration(getenv, "PROVIDERSIM_GITHUB_TOKEN_TTL", time.Hour), "GitHub installation token lifetime (PROVIDERSIM_GITHUB_TOKEN_TTL)")
	fs.DurationVar(&o.cfg.LinearAccessTokenTTL, "linear-token-ttl", envDuration(getenv, "PROVIDERSIM_LINEAR_TOKEN_TTL", time.Hour), "Linear access token lifetime (PROVIDERSIM_LINEAR_TOKEN_TTL)")
	fs.DurationVar(&o.cfg.SentryTokenTTL, "sentry-token-ttl", envDuration(getenv, "PROVIDERSIM_SENTRY_TOKEN_TTL", 8*time.Hour), "Sentry token lifetime (PROVIDERSIM_SENTRY_TOKEN_TTL)")
	fs.BoolVar(&o.demo, "demo", env("PROVIDERSIM_DEMO", "true") != "false", "create demo data for new installations (PROVIDERSIM_DEMO)")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.cfg.GitHubClientSecret = providersim.Secret(ghSecret)
	o.cfg.GitHubWebhookSecret = providersim.Secret(ghHookSecret)
	o.cfg.VercelClientSecret = providersim.Secret(vcSecret)
	o.cfg.LinearClientSecret = providersim.Secret(lnSecret)
	o.cfg.SentryClientSecret = providersim.Secret(seSecret)
	if err := o.cfg.SetGatewayCallbacks(o.gatewayURL); err != nil {
		return o, err
	}
	if o.demo {
		o.cfg.AutoSeed = providersim.AutoSeed{
			Repos: 3, PullsPerRepo: 8, IssuesPerRepo: 8, ReleasesPerRepo: 3,
			VercelProjects: 3, DeploymentsPerProject: 8,
			LinearTeams: 2, IssuesPerTeam: 10,
			SentryProjects: 2, IssuesPerProject: 8,
		}
	}
	return o, nil
}

func envDuration(getenv func(string) string, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// readPEMSetting reads a setting that holds PEM, "@path" or a plain path.
func readPEMSetting(v string) ([]byte, error) {
	if strings.Contains(v, "-----BEGIN") {
		return []byte(v), nil
	}
	path := strings.TrimPrefix(v, "@")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return b, nil
}

// githubKey decides which public key verifies App JWTs, generating (and
// saving) a key pair when none is configured.
func githubKey(o options, log *slog.Logger) (*rsa.PublicKey, error) {
	for _, v := range []string{o.publicKey, o.privateKey} {
		if v == "" {
			continue
		}
		data, err := readPEMSetting(v)
		if err != nil {
			return nil, err
		}
		return providersim.ParseRSAPublicKeyPEM(data)
	}
	if o.privateKeyOut != "" {
		if data, err := os.ReadFile(o.privateKeyOut); err == nil {
			log.Info("reusing github app key", "path", o.privateKeyOut)
			return providersim.ParseRSAPublicKeyPEM(data)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read github app key: %w", err)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate github app key: %w", err)
	}
	if o.privateKeyOut == "" {
		log.Warn("generated a github app key but -github-private-key-out is not set: the gateway cannot sign app JWTs for this simulator")
		return &key.PublicKey, nil
	}
	if err := os.MkdirAll(filepath.Dir(o.privateKeyOut), 0o700); err != nil {
		return nil, fmt.Errorf("write github app key: %w", err)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(o.privateKeyOut, block, 0o600); err != nil {
		return nil, fmt.Errorf("write github app key: %w", err)
	}
	log.Info("generated github app key", "path", o.privateKeyOut)
	return &key.PublicKey, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	o, err := parseOptions(args, getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.cfg.Logger = log

	if o.cfg.GitHubAppPublicKey, err = githubKey(o, log); err != nil {
		return err
	}
	if err := o.cfg.Validate(); err != nil {
		return err
	}
	sim := providersim.New(o.cfg)
	cfg := sim.Config()
	log.Info("providersim config",
		"addr", o.addr,
		"github_app_id", cfg.GitHubAppID, "github_app_slug", cfg.GitHubAppSlug,
		"github_client_id", cfg.GitHubClientID, "github_client_secret", cfg.GitHubClientSecret,
		"github_webhook_secret", cfg.GitHubWebhookSecret,
		"vercel_client_id", cfg.VercelClientID, "vercel_client_secret", cfg.VercelClientSecret,
		"vercel_slug", cfg.VercelIntegrationSlug,
		"linear_client_id", cfg.LinearClientID, "linear_client_secret", cfg.LinearClientSecret,
		"sentry_client_id", cfg.SentryClientID, "sentry_client_secret", cfg.SentryClientSecret,
		"sentry_slug", cfg.SentryAppSlug,
		"callbacks", fmt.Sprintf("%+v", cfg.Callbacks),
		"demo_data", o.demo,
	)

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	urls := providersim.URLsFor("http://" + ln.Addr().String())
	env := urls.Env()
	for _, name := range slices.Sorted(maps.Keys(env)) {
		log.Info("provider url", "env", name, "url", env[name])
	}
	log.Info("providersim listening", "addr", ln.Addr().String(), "control", urls.Control)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
