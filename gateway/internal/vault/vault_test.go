package vault_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
	"github.com/lightfastai/connections/gateway/internal/vault"
)

type tokenAnswer struct {
	AccessToken string     `json:"accessToken"`
	Provider    string     `json:"provider"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

// getToken calls the token endpoint with the API key and returns the status and the decoded answer.
func getToken(t *testing.T, g *gatewaytest.Gateway, id string) (int, tokenAnswer, string) {
	t.Helper()
	resp, body := gatewaytest.Req(t, http.MethodGet, g.URL+"/connections/"+id+"/token", gatewaytest.APIKey)
	var a tokenAnswer
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(body), &a))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		g.Seen.Add(a.AccessToken)
	}
	return resp.StatusCode, a, body
}

// setExpiry moves a token's expiry (the simulator's copy is expired with ExpireTokens where it matters).
func setExpiry(t *testing.T, g *gatewaytest.Gateway, id string, at time.Time) {
	t.Helper()
	_, err := g.Pool.Exec(context.Background(), `UPDATE lightfast_gw_tokens SET expires_at = $2 WHERE installation_id = $1`, id, at)
	require.NoError(t, err)
}

func tokenRow(t *testing.T, g *gatewaytest.Gateway, id string) dbq.Token {
	t.Helper()
	row, err := dbq.New(g.Pool).GetTokenByInstallation(context.Background(), id)
	require.NoError(t, err)
	return row
}

func decryptRefresh(t *testing.T, g *gatewaytest.Gateway, row dbq.Token) string {
	t.Helper()
	require.NotNil(t, row.RefreshToken)
	plain, err := g.Keyring.Decrypt(*row.RefreshToken, dbvault.RefreshTokenField(row.ID))
	require.NoError(t, err)
	g.Seen.Add(plain)
	return plain
}

// linearViewerWorks reports whether Linear (the simulator) accepts token.
func linearViewerWorks(t *testing.T, g *gatewaytest.Gateway, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.SimURLs.LinearAPI+"/graphql",
		jsonBody(`{"query":"{ viewer { id } }"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestTokenEndpointAuthAndLookup(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Vercel, "org_a", "user_1")
	url := g.URL + "/connections/" + id + "/token"

	for _, tc := range []struct {
		name, url, key string
		status         int
		code           string
	}{
		{"no key", url, "", http.StatusUnauthorized, "unauthorized"},
		{"wrong key", url, "not-the-key", http.StatusUnauthorized, "unauthorized"},
		{"unknown id", g.URL + "/connections/nope/token", gatewaytest.APIKey, http.StatusNotFound, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := gatewaytest.Req(t, http.MethodGet, tc.url, tc.key)
			require.Equal(t, tc.status, resp.StatusCode)
			require.Contains(t, body, `"code":"`+tc.code+`"`)
			require.NotContains(t, body, "accessToken")
		})
	}
	// Either configured key works (rotation).
	for _, key := range []string{gatewaytest.APIKey, gatewaytest.APIKey2} {
		resp, body := gatewaytest.Req(t, http.MethodGet, url, key)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var a tokenAnswer
		require.NoError(t, json.Unmarshal([]byte(body), &a))
		require.Equal(t, "vercel", a.Provider)
		require.Nil(t, a.ExpiresAt, "Vercel tokens do not expire")
		tok, err := dbvault.Get(context.Background(), g.Pool, g.Keyring, id)
		require.NoError(t, err)
		require.Equal(t, tok.AccessToken.Reveal(), a.AccessToken)
		g.Seen.Add(a.AccessToken)
	}
	// A revoked connection is gone.
	resp, _ := gatewaytest.Req(t, http.MethodDelete, g.URL+"/connections/vercel/"+id, gatewaytest.APIKey)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	status, _, body := getToken(t, g, id)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, body, `"code":"not_found"`)
	g.RequireNoSecretsLogged(t)
}

func TestRefreshRotatesAndStoresTheRefreshToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		provider   types.Provider
		refreshKey string
	}{
		{types.Linear, providersim.KeyLinearRefresh},
		{types.Sentry, providersim.KeySentryRefresh},
	} {
		t.Run(string(tc.provider), func(t *testing.T) {
			t.Parallel()
			g := gatewaytest.Start(t)
			id := g.Connect(t, tc.provider, "org_a", "user_1")
			before := tokenRow(t, g, id)
			oldRefresh := decryptRefresh(t, g, before)
			status, fresh, _ := getToken(t, g, id)
			require.Equal(t, http.StatusOK, status)
			require.Zero(t, g.Sim.Calls(tc.refreshKey), "a fresh token is handed out as it is")

			setExpiry(t, g, id, time.Now().Add(-time.Minute))
			g.Sim.ExpireTokens(string(tc.provider))
			status, renewed, body := getToken(t, g, id)
			require.Equal(t, http.StatusOK, status, body)
			require.NotEqual(t, fresh.AccessToken, renewed.AccessToken)
			require.Equal(t, string(tc.provider), renewed.Provider)
			require.True(t, renewed.ExpiresAt.After(time.Now().Add(30*time.Minute)))
			require.Equal(t, 1, g.Sim.Calls(tc.refreshKey))

			after := tokenRow(t, g, id)
			require.Equal(t, before.Version+1, after.Version)
			require.NotEqual(t, oldRefresh, decryptRefresh(t, g, after), "the rotated refresh token is stored")
			require.Nil(t, after.RefreshFailedAt)
			tok, err := dbvault.Get(context.Background(), g.Pool, g.Keyring, id)
			require.NoError(t, err)
			require.Equal(t, renewed.AccessToken, tok.AccessToken.Reveal(), "the Console reads the new token")

			// Fresh again: no further refresh.
			_, again, _ := getToken(t, g, id)
			require.Equal(t, renewed.AccessToken, again.AccessToken)
			require.Equal(t, 1, g.Sim.Calls(tc.refreshKey))
			g.RequireNoSecretsLogged(t)
		})
	}
}

func TestGitHubInstallationTokenReusedUntilFiveMinutesBeforeExpiry(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.GitHub, "org_a", "user_1")
	mints := g.Sim.Calls(providersim.KeyGitHubAccessToken)

	setExpiry(t, g, id, time.Now().Add(6*time.Minute))
	_, first, _ := getToken(t, g, id)
	_, second, _ := getToken(t, g, id)
	require.Equal(t, first.AccessToken, second.AccessToken)
	require.Equal(t, mints, g.Sim.Calls(providersim.KeyGitHubAccessToken), "reused while more than 5 minutes are left")

	setExpiry(t, g, id, time.Now().Add(4*time.Minute))
	status, minted, body := getToken(t, g, id)
	require.Equal(t, http.StatusOK, status, body)
	require.NotEqual(t, first.AccessToken, minted.AccessToken)
	require.Equal(t, mints+1, g.Sim.Calls(providersim.KeyGitHubAccessToken), "minted anew with the App JWT")
	require.WithinDuration(t, time.Now().Add(time.Hour), *minted.ExpiresAt, time.Minute)
	require.Nil(t, tokenRow(t, g, id).RefreshToken, "installation tokens have no refresh token")
	g.RequireNoSecretsLogged(t)
}

func TestRefusedRefreshNeedsReauth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Linear, "org_a", "user_1")
	setExpiry(t, g, id, time.Now().Add(-time.Minute))
	g.Sim.FailRefresh(providersim.ProviderLinear, -1)

	status, _, body := getToken(t, g, id)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, `"code":"reauth_required"`)
	inst, err := dbq.New(g.Pool).GetInstallation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "error", inst.Status)
	require.Equal(t, dbvault.StatusReasonReauthRequired, *inst.StatusReason)
	row := tokenRow(t, g, id)
	require.NotNil(t, row.RefreshFailedAt)
	require.Equal(t, "invalid_grant", *row.RefreshError)
	calls := g.Sim.Calls(providersim.KeyLinearRefresh)
	require.Equal(t, 1, calls)

	// Later callers get the same answer without asking the provider again; so does the Console.
	status, _, _ = getToken(t, g, id)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, calls, g.Sim.Calls(providersim.KeyLinearRefresh))
	_, err = dbvault.Get(ctx, g.Pool, g.Keyring, id)
	require.ErrorIs(t, err, dbvault.ErrReauthRequired)

	// Connecting again heals it.
	g.Sim.ClearFaults()
	require.Equal(t, id, g.Connect(t, types.Linear, "org_a", "user_1"))
	status, a, _ := getToken(t, g, id)
	require.Equal(t, http.StatusOK, status)
	require.True(t, linearViewerWorks(t, g, a.AccessToken))
	g.RequireNoSecretsLogged(t)
}

func TestTemporaryRefreshFailure(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Linear, "org_a", "user_1")
	_, original, _ := getToken(t, g, id)

	// Nearly expired but still valid: the old token is better than none.
	setExpiry(t, g, id, time.Now().Add(30*time.Second))
	g.Sim.FailNext(providersim.KeyLinearRefresh, http.StatusServiceUnavailable, 1)
	status, a, _ := getToken(t, g, id)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, original.AccessToken, a.AccessToken)
	row := tokenRow(t, g, id)
	require.NotNil(t, row.RefreshFailedAt)
	require.Contains(t, *row.RefreshError, "status 503")

	// Expired: the caller is told to retry, the installation stays active.
	setExpiry(t, g, id, time.Now().Add(-time.Second))
	g.Sim.FailNext(providersim.KeyLinearRefresh, http.StatusServiceUnavailable, 1)
	status, _, body := getToken(t, g, id)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, body, `"code":"refresh_unavailable"`)
	inst, err := dbq.New(g.Pool).GetInstallation(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "active", inst.Status)

	// The provider is back: the next call refreshes.
	status, renewed, _ := getToken(t, g, id)
	require.Equal(t, http.StatusOK, status)
	require.NotEqual(t, original.AccessToken, renewed.AccessToken)
	require.Nil(t, tokenRow(t, g, id).RefreshFailedAt)
	g.RequireNoSecretsLogged(t)
}

func TestConcurrentCallersInOneProcessShareOneRefresh(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Linear, "org_a", "user_1")
	setExpiry(t, g, id, time.Now().Add(-time.Minute))
	// Slow the refresh down so every caller arrives while it is in flight.
	g.Sim.DelayNext(providersim.KeyLinearRefresh, 200*time.Millisecond, 1)

	const callers = 40
	tokens := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			res, err := g.Vault.Token(context.Background(), id)
			tokens[i], errs[i] = res.AccessToken.Reveal(), err
		})
	}
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, tokens[0], tokens[i])
	}
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyLinearRefresh))
}

func TestRefreshAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	soonLinear := g.Connect(t, types.Linear, "org_a", "user_1")
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderLinear, providersim.Consent{Account: "other-workspace"}))
	lockedLinear := g.Connect(t, types.Linear, "org_a", "user_1")
	laterLinear := func() string {
		require.NoError(t, g.Sim.QueueConsent(providersim.ProviderLinear, providersim.Consent{Account: "third-workspace"}))
		return g.Connect(t, types.Linear, "org_a", "user_1")
	}()
	soonGitHub := g.Connect(t, types.GitHub, "org_a", "user_1")
	vercelID := g.Connect(t, types.Vercel, "org_a", "user_1")
	in10 := time.Now().Add(10 * time.Minute)
	for _, id := range []string{soonLinear, lockedLinear, soonGitHub} {
		setExpiry(t, g, id, in10)
	}
	setExpiry(t, g, laterLinear, time.Now().Add(time.Hour))
	versions := map[string]int64{}
	for _, id := range []string{soonLinear, lockedLinear, laterLinear, soonGitHub, vercelID} {
		versions[id] = tokenRow(t, g, id).Version
	}

	// Another replica is refreshing lockedLinear right now: the job skips it rather than waiting.
	tx, err := g.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = dbq.New(tx).LockTokenForRefresh(ctx, lockedLinear)
	require.NoError(t, err)
	counts, err := g.Vault.RefreshDue(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	require.Equal(t, vault.RefreshCounts{Refreshed: 2}, counts)

	require.Equal(t, versions[soonLinear]+1, tokenRow(t, g, soonLinear).Version)
	require.Equal(t, versions[soonGitHub]+1, tokenRow(t, g, soonGitHub).Version)
	require.True(t, tokenRow(t, g, soonGitHub).ExpiresAt.After(time.Now().Add(50*time.Minute)))
	for _, id := range []string{lockedLinear, laterLinear, vercelID} {
		require.Equal(t, versions[id], tokenRow(t, g, id).Version, "not due, or held by another replica")
	}

	// The next run picks up the one that was skipped.
	counts, err = g.Vault.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, vault.RefreshCounts{Refreshed: 1}, counts)
	require.Equal(t, versions[lockedLinear]+1, tokenRow(t, g, lockedLinear).Version)

	// A failing provider is recorded and not retried on every run.
	setExpiry(t, g, laterLinear, in10)
	g.Sim.FailNext(providersim.KeyLinearRefresh, http.StatusBadGateway, 1)
	counts, err = g.Vault.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, vault.RefreshCounts{Failed: 1}, counts)
	counts, err = g.Vault.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, vault.RefreshCounts{}, counts)
	g.RequireNoSecretsLogged(t)
}

func jsonBody(s string) *strings.Reader { return strings.NewReader(s) }
