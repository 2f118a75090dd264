package vault_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
)

func keyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeyring("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	require.NoError(t, err)
	return kr
}

// seed writes an installation with a token and returns the installation id.
func seed(t *testing.T, pool *pgxpool.Pool, kr *secrets.Keyring, org, status, plain string, expiresAt *time.Time) string {
	t.Helper()
	ctx := context.Background()
	q := dbq.New(pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Linear, ExternalID: ids.New(), ConnectedBy: "user_1", OrgID: org,
	})
	require.NoError(t, err)
	tokenID := ids.New()
	enc, err := kr.Encrypt(plain, vault.AccessTokenField(tokenID))
	require.NoError(t, err)
	_, err = q.UpsertToken(ctx, dbq.UpsertTokenParams{ID: tokenID, InstallationID: inst.ID, AccessToken: enc, ExpiresAt: expiresAt})
	require.NoError(t, err)
	if status != "active" {
		reason := "because"
		if status == "reauth" {
			status, reason = "error", vault.StatusReasonReauthRequired
		}
		_, err = q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: inst.ID, Status: status, StatusReason: &reason})
		require.NoError(t, err)
	}
	return inst.ID
}

func TestGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	kr := keyring(t)
	later := time.Now().Add(time.Hour)
	earlier := time.Now().Add(-time.Second)

	fresh := seed(t, pool, kr, "org_a", "active", "lin_fresh_token", &later)
	forever := seed(t, pool, kr, "org_a", "active", "vercel_forever", nil)
	expired := seed(t, pool, kr, "org_a", "active", "lin_expired", &earlier)
	revoked := seed(t, pool, kr, "org_a", "revoked", "lin_revoked", &later)
	reauth := seed(t, pool, kr, "org_a", "reauth", "lin_reauth", &later)

	tok, err := vault.Get(ctx, pool, kr, fresh)
	require.NoError(t, err)
	require.Equal(t, "lin_fresh_token", tok.AccessToken.Reveal())
	require.Equal(t, types.Linear, tok.Provider)
	require.Equal(t, "org_a", tok.OrgID)
	require.WithinDuration(t, later, *tok.ExpiresAt, time.Millisecond)
	require.Equal(t, secrets.Mask, tok.AccessToken.String(), "printing a token masks it")

	tok, err = vault.Get(ctx, pool, kr, forever)
	require.NoError(t, err)
	require.Nil(t, tok.ExpiresAt)

	_, err = vault.Get(ctx, pool, kr, expired)
	require.ErrorIs(t, err, vault.ErrTokenExpired)
	_, err = vault.Get(ctx, pool, kr, revoked)
	require.ErrorIs(t, err, vault.ErrNotActive)
	require.NotErrorIs(t, err, vault.ErrReauthRequired)
	_, err = vault.Get(ctx, pool, kr, reauth)
	require.ErrorIs(t, err, vault.ErrReauthRequired)
	require.ErrorIs(t, err, vault.ErrNotActive)
	_, err = vault.Get(ctx, pool, kr, "no-such-installation")
	require.ErrorIs(t, err, vault.ErrNotFound)

	// The column holds ciphertext only.
	var stored string
	require.NoError(t, pool.QueryRow(ctx, `SELECT access_token FROM lightfast_gw_tokens WHERE installation_id = $1`, fresh).Scan(&stored))
	require.NotContains(t, stored, "lin_fresh_token")
}

func TestGetForOrgHidesOtherOrgs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	kr := keyring(t)
	later := time.Now().Add(time.Hour)
	mine := seed(t, pool, kr, "org_a", "active", "tok_a", &later)
	theirs := seed(t, pool, kr, "org_b", "active", "tok_b", &later)
	theirsRevoked := seed(t, pool, kr, "org_b", "revoked", "tok_b2", &later)

	tok, err := vault.GetForOrg(ctx, pool, kr, "org_a", mine)
	require.NoError(t, err)
	require.Equal(t, "tok_a", tok.AccessToken.Reveal())
	_, err = vault.GetForOrg(ctx, pool, kr, "org_a", theirs)
	require.ErrorIs(t, err, vault.ErrNotFound)
	_, err = vault.GetForOrg(ctx, pool, kr, "org_a", theirsRevoked)
	require.ErrorIs(t, err, vault.ErrNotFound, "another org's installation state is not revealed")
}

func TestCiphertextMovedToAnotherRowDoesNotDecrypt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	kr := keyring(t)
	later := time.Now().Add(time.Hour)
	a := seed(t, pool, kr, "org_a", "active", "tok_a", &later)
	b := seed(t, pool, kr, "org_a", "active", "tok_b", &later)
	_, err := pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET access_token =
		(SELECT access_token FROM lightfast_gw_tokens WHERE installation_id = $1) WHERE installation_id = $2`, a, b)
	require.NoError(t, err)
	_, err = vault.Get(ctx, pool, kr, b)
	require.ErrorIs(t, err, secrets.ErrDecrypt)
}
