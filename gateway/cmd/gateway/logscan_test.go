package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/securitytest"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// TestSecurityGatewayLogsNoSecrets is the gateway's whole-run log scan: the real binary at debug level
// connects all four providers through a browser, serves and refreshes tokens, takes signed (and
// wrongly signed) webhooks of every provider, answers the admin API, refuses bad keys and tears a
// connection down. Then none of the states, codes, tokens, refresh tokens, webhook secrets, API and admin
// keys, client secrets or key material the run handled appears in anything the process printed. (The
// in-process connect and vault tests and TestRefreshIsSingleFlightAcrossProcesses scan their own runs.)
func TestSecurityGatewayLogsNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gateway binary through every flow")
	}
	ctx := context.Background()
	sim, simURLs := gatewaytest.StartSim(t)
	dbURL := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, dbURL)
	addr := testproc.FreeAddr(t)
	url := "http://" + addr
	const githubHook, linearFallback = "logscan-github-webhook-secret", "logscan-linear-fallback-secret"
	env := gatewaytest.Env(dbURL, dbtest.RedisURL(t), simURLs, url)
	env["GATEWAY_ADDR"] = addr
	env["LOG_LEVEL"] = "debug"
	env["GITHUB_WEBHOOK_SECRETS"] = githubHook
	env["LINEAR_WEBHOOK_SECRETS"] = linearFallback
	p := testproc.Start(t, testproc.Build(t, "."), env, "serve")
	p.WaitReady(t, url+"/readyz", 30*time.Second)
	require.NoError(t, sim.SetGatewayURL(url))
	g := &gatewaytest.Gateway{URL: url, Pool: pool, Sim: sim, SimURLs: simURLs, Seen: &gatewaytest.Secrets{}}
	kr := keyring(t)
	g.Seen.Add(githubHook, linearFallback, gatewaytest.AppKeyPEM(), strings.Split(gatewaytest.AppKeyPEM(), "\n")[5])

	// Connect every provider; remember what the gateway stored.
	installations := map[types.Provider]string{}
	for _, pv := range types.Providers {
		installations[pv] = g.Connect(t, pv, "org_a", "user_1")
		tok, err := dbq.New(pool).GetTokenByInstallation(ctx, installations[pv])
		require.NoError(t, err)
		g.Seen.Add(tok.AccessToken)
		access, err := kr.Decrypt(tok.AccessToken, dbvault.AccessTokenField(tok.ID))
		require.NoError(t, err)
		g.Seen.Add(access)
		if tok.RefreshToken != nil {
			refresh, err := kr.Decrypt(*tok.RefreshToken, dbvault.RefreshTokenField(tok.ID))
			require.NoError(t, err)
			g.Seen.Add(refresh, *tok.RefreshToken)
		}
	}
	linearInst, err := dbq.New(pool).GetInstallation(ctx, installations[types.Linear])
	require.NoError(t, err)
	require.NotNil(t, linearInst.WebhookSecret)
	linearSecret, err := kr.Decrypt(*linearInst.WebhookSecret, dbvault.WebhookSecretField(linearInst.ID))
	require.NoError(t, err)
	g.Seen.Add(linearSecret, *linearInst.WebhookSecret)

	// Tokens: served, refused without a key, and refreshed after expiry.
	for _, id := range installations {
		resp, body := gatewaytest.Req(t, http.MethodGet, url+"/connections/"+id+"/token", gatewaytest.APIKey)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var a struct{ AccessToken string }
		require.NoError(t, json.Unmarshal([]byte(body), &a))
		g.Seen.Add(a.AccessToken)
	}
	resp, _ := gatewaytest.Req(t, http.MethodGet, url+"/connections/"+installations[types.GitHub]+"/token", "logscan-wrong-api-key")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	g.Seen.Add("logscan-wrong-api-key")
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() - interval '1 minute' WHERE installation_id = $1`, installations[types.Linear])
	require.NoError(t, err)
	sim.ExpireTokens(providersim.ProviderLinear)
	time.Sleep(1100 * time.Millisecond) // past the vault's in-process cache
	resp, body := gatewaytest.Req(t, http.MethodGet, url+"/connections/"+installations[types.Linear]+"/token", gatewaytest.APIKey)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	refreshed, err := dbq.New(pool).GetTokenByInstallation(ctx, installations[types.Linear])
	require.NoError(t, err)
	newAccess, err := kr.Decrypt(refreshed.AccessToken, dbvault.AccessTokenField(refreshed.ID))
	require.NoError(t, err)
	newRefresh, err := kr.Decrypt(*refreshed.RefreshToken, dbvault.RefreshTokenField(refreshed.ID))
	require.NoError(t, err)
	g.Seen.Add(newAccess, newRefresh)

	// Webhooks of every provider, signed and tampered.
	now := time.Now()
	ghInst, err := dbq.New(pool).GetInstallation(ctx, installations[types.GitHub])
	require.NoError(t, err)
	github := []byte(`{"ref":"refs/heads/main","after":"abc","repository":{"id":1},"installation":{"id":` + ghInst.ExternalID + `}}`)
	linear := []byte(`{"action":"create","type":"Issue","organizationId":"` + linearInst.ExternalID + `","webhookTimestamp":` +
		strconv.FormatInt(now.UnixMilli(), 10) + `,"data":{"id":"i1","teamId":"t1"}}`)
	vercel := []byte(`{"id":"evt_logscan","type":"deployment.succeeded","payload":{"project":{"id":"prj_1"}}}`)
	sentry := []byte(`{"action":"created","installation":{"uuid":"u"},"data":{"issue":{"id":"1","project":{"id":"2"}}}}`)
	hooks := []struct {
		provider string
		body     []byte
		header   map[string]string
		status   int
	}{
		{"github", github, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "ls-1", "X-Hub-Signature-256": providersim.SignGitHub(githubHook, github)}, http.StatusAccepted},
		{"github", github, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "ls-2", "X-Hub-Signature-256": providersim.SignGitHub("wrong", github)}, http.StatusUnauthorized},
		{"linear", linear, map[string]string{"Linear-Delivery": "ls-3", "Linear-Signature": providersim.SignLinear(linearSecret, linear)}, http.StatusAccepted},
		{"linear", linear, map[string]string{"Linear-Delivery": "ls-4", "Linear-Signature": providersim.SignLinear(linearFallback, linear)}, http.StatusAccepted},
		{"vercel", vercel, map[string]string{"x-vercel-signature": providersim.SignVercel(gatewaytest.VercelClientSecret, vercel)}, http.StatusAccepted},
		{"sentry", sentry, map[string]string{"Request-ID": "ls-5", "Sentry-Hook-Resource": "issue", "Sentry-Hook-Timestamp": strconv.FormatInt(now.Unix(), 10),
			"Sentry-Hook-Signature": providersim.SignSentry(gatewaytest.SentryClientSecret, sentry)}, http.StatusAccepted},
	}
	for _, h := range hooks {
		req, err := http.NewRequest(http.MethodPost, url+"/webhooks/"+h.provider, strings.NewReader(string(h.body)))
		require.NoError(t, err)
		for k, v := range h.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, h.status, resp.StatusCode, h.provider)
	}

	// Admin, with the right key and a wrong one; then a teardown.
	admin := func(method, path, key string) int {
		req, err := http.NewRequest(method, url+path, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("X-Admin-Key", key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, admin(http.MethodGet, "/admin/health", gatewaytest.AdminKey))
	require.Equal(t, http.StatusOK, admin(http.MethodGet, "/admin/deliveries?limit=10", gatewaytest.AdminKey))
	require.Equal(t, http.StatusOK, admin(http.MethodPost, "/admin/cache/rebuild", gatewaytest.AdminKey))
	require.Equal(t, http.StatusUnauthorized, admin(http.MethodGet, "/admin/health", "logscan-wrong-admin-key"))
	g.Seen.Add("logscan-wrong-admin-key")
	resp, _ = gatewaytest.Req(t, http.MethodDelete, url+"/connections/sentry/"+installations[types.Sentry], gatewaytest.APIKey)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	logs := p.Output()
	require.Contains(t, logs, `"level":"debug"`)
	require.Contains(t, logs, `"msg":"request"`)
	securitytest.RequireNoSecrets(t, logs, append(g.Seen.All(), gatewaytest.ClientSecrets...)...)
}

func keyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeyring(gatewaytest.EncryptionKeys)
	require.NoError(t, err)
	return kr
}
