package vault_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// TestSecurityCiphertextMovedBetweenRows is the security suite's row-binding case, end to end: someone
// with write access to the database copies one installation's encrypted access token, then its refresh
// token, into another installation's row. The token endpoint answers an error for the other
// installation — never the copied token — and no refresh is attempted with a refresh token that does not
// belong to the row. (db/vault's TestCiphertextMovedToAnotherRowDoesNotDecrypt proves the vault read
// itself.)
func TestSecurityCiphertextMovedBetweenRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderLinear, providersim.Consent{Account: "acme"}))
	a := g.Connect(t, types.Linear, "org_a", "user_1")
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderLinear, providersim.Consent{Account: "globex"}))
	b := g.Connect(t, types.Linear, "org_b", "user_2")
	status, tokA, _ := getToken(t, g, a)
	require.Equal(t, http.StatusOK, status)
	status, tokB, _ := getToken(t, g, b)
	require.Equal(t, http.StatusOK, status)
	require.NotEqual(t, tokA.AccessToken, tokB.AccessToken)
	rowA := tokenRow(t, g, a)
	decryptRefresh(t, g, rowA)
	decryptRefresh(t, g, tokenRow(t, g, b))

	requireRefused := func(what string) {
		t.Helper()
		status, _, body := getToken(t, g, b)
		require.Equal(t, http.StatusInternalServerError, status, what)
		require.NotContains(t, body, tokA.AccessToken, what)
		require.NotContains(t, body, tokB.AccessToken, what)
		_, err := dbvault.Get(ctx, g.Pool, g.Keyring, b)
		require.ErrorIs(t, err, secrets.ErrDecrypt, what)
		// The row the ciphertext came from still works and is unchanged.
		status, again, _ := getToken(t, g, a)
		require.Equal(t, http.StatusOK, status, what)
		require.Equal(t, tokA.AccessToken, again.AccessToken, what)
		require.Equal(t, rowA, tokenRow(t, g, a), what)
	}

	_, err := g.Pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET access_token =
		(SELECT access_token FROM lightfast_gw_tokens WHERE installation_id = $1) WHERE installation_id = $2`, a, b)
	require.NoError(t, err)
	requireRefused("access token moved")

	// Now the refresh token too, on an expired token: a refresh would send A's refresh token to the
	// provider on B's behalf. It must not decrypt, so no refresh happens at all.
	_, err = g.Pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET refresh_token =
		(SELECT refresh_token FROM lightfast_gw_tokens WHERE installation_id = $1), expires_at = now() - interval '1 minute'
		WHERE installation_id = $2`, a, b)
	require.NoError(t, err)
	g.Sim.ResetCalls()
	status, _, body := getToken(t, g, b)
	require.NotEqual(t, http.StatusOK, status)
	require.NotContains(t, body, tokA.AccessToken)
	require.Zero(t, g.Sim.Calls(providersim.KeyLinearRefresh), "no refresh with a refresh token from another row")
	inst, err := dbq.New(g.Pool).GetInstallation(ctx, a)
	require.NoError(t, err)
	require.Equal(t, "active", inst.Status)
	g.RequireNoSecretsLogged(t)
}
