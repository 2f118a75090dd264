package vault_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// breakStoredToken makes the stored ciphertext undecryptable, so any answer that still carries the
// token came from the cache.
func breakStoredToken(t *testing.T, g *gatewaytest.Gateway, id string) {
	t.Helper()
	_, err := g.Pool.Exec(context.Background(), `UPDATE lightfast_gw_tokens SET access_token = 'v1:k1:AAAA' WHERE installation_id = $1`, id)
	require.NoError(t, err)
}

func TestTokenCache(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t, gatewaytest.Options{CacheTTL: time.Minute})

	t.Run("a fresh token is served from memory within the TTL", func(t *testing.T) {
		id := g.Connect(t, types.Vercel, "org_a", "user_1")
		_, first, _ := getToken(t, g, id)
		breakStoredToken(t, g, id)
		status, again, _ := getToken(t, g, id)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, first.AccessToken, again.AccessToken)

		// Revoked in this process: forgotten at once.
		resp, _ := gatewaytest.Req(t, http.MethodDelete, g.URL+"/connections/vercel/"+id, gatewaytest.APIKey)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		status, _, _ = getToken(t, g, id)
		require.Equal(t, http.StatusNotFound, status)
	})

	t.Run("a token near the refresh window is never cached", func(t *testing.T) {
		require.NoError(t, g.Sim.QueueConsent(providersim.ProviderGitHub, providersim.Consent{Account: "cache-test"}))
		id := g.Connect(t, types.GitHub, "org_a", "user_1")
		setExpiry(t, g, id, time.Now().Add(10*time.Minute)) // due for refresh-ahead by another replica
		status, first, _ := getToken(t, g, id)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, first.AccessToken, tokenPlain(t, g, id))
		// The database changes; the next answer follows it.
		breakStoredToken(t, g, id)
		status, _, _ = getToken(t, g, id)
		require.Equal(t, http.StatusInternalServerError, status, "read from the database, not memory")
	})

	t.Run("a refreshed token replaces the cached one", func(t *testing.T) {
		id := g.Connect(t, types.Linear, "org_a", "user_1")
		setExpiry(t, g, id, time.Now().Add(-time.Minute))
		_, refreshed, _ := getToken(t, g, id)
		require.Equal(t, 1, g.Sim.Calls(providersim.KeyLinearRefresh))
		_, again, _ := getToken(t, g, id)
		require.Equal(t, refreshed.AccessToken, again.AccessToken)
	})
	g.RequireNoSecretsLogged(t)
}

func tokenPlain(t *testing.T, g *gatewaytest.Gateway, id string) string {
	t.Helper()
	res, err := g.Vault.Token(context.Background(), id)
	require.NoError(t, err)
	return res.AccessToken.Reveal()
}
