package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/gateway/internal/providersim"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseOptions(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"-github-app-id", "99", "-demo=false"}, envOf(map[string]string{
		"GITHUB_APP_ID":          "11",
		"GITHUB_WEBHOOK_SECRETS": "first, second",
		"GATEWAY_PUBLIC_URL":     "http://127.0.0.1:5000",
		"LINEAR_CLIENT_SECRET":   "ls",
	}))
	require.NoError(t, err)
	require.Equal(t, "99", o.cfg.GitHubAppID, "flags win over the environment")
	require.Equal(t, providersim.Secret("first"), o.cfg.GitHubWebhookSecret)
	require.Equal(t, providersim.Secret("ls"), o.cfg.LinearClientSecret)
	require.Equal(t, "http://127.0.0.1:5000/connections/sentry/callback", o.cfg.Callbacks.Sentry)
	require.Equal(t, "127.0.0.1:4120", o.addr)
	require.False(t, o.demo)
	require.Zero(t, o.cfg.AutoSeed.Repos)

	_, err = parseOptions(nil, envOf(map[string]string{"GATEWAY_PUBLIC_URL": "nope"}))
	require.Error(t, err)
}

func TestGitHubKeyIsGeneratedOnceAndReused(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	path := filepath.Join(t.TempDir(), "keys", "app.pem")
	first, err := githubKey(options{privateKeyOut: path}, log)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := githubKey(options{privateKeyOut: path}, log)
	require.NoError(t, err)
	require.True(t, first.Equal(again), "restarts keep the key the gateway already has")

	// The gateway's own private key setting works too (@path form).
	fromPrivate, err := githubKey(options{privateKey: "@" + path}, log)
	require.NoError(t, err)
	require.True(t, first.Equal(fromPrivate))
}

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-github-private-key-out", filepath.Join(t.TempDir(), "k.pem")},
			envOf(nil), io.Discard)
	}()
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/_sim/healthz", nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
