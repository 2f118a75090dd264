package oauthstate_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/types"
)

func countStates(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM lightfast_gw_oauth_states`).Scan(&n))
	return n
}

func TestCreateStoresOnlyTheHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	token, err := oauthstate.CreateState(ctx, pool, types.GitHub, "org_1", "user_1", "https://evil.example/next")
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`), token)

	var hash, verifier, returnTo *string
	var ttl float64
	require.NoError(t, pool.QueryRow(ctx, `SELECT state_hash, code_verifier, return_to, extract(epoch FROM expires_at - created_at)
		FROM lightfast_gw_oauth_states`).Scan(&hash, &verifier, &returnTo, &ttl))
	require.Equal(t, oauthstate.Hash(token), *hash)
	require.Regexp(t, `^[0-9a-f]{64}$`, *hash)
	require.Nil(t, verifier, "only PKCE providers get a verifier")
	require.InDelta(t, oauthstate.TTL.Seconds(), ttl, 5)

	// The token itself appears nowhere in the table.
	var dump string
	require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(t::text, '') FROM lightfast_gw_oauth_states t`).Scan(&dump))
	require.NotContains(t, dump, token)
}

func TestLinearStateCarriesPKCEVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	token, err := oauthstate.CreateState(ctx, pool, types.Linear, "org_1", "user_1", "")
	require.NoError(t, err)

	peeked, err := oauthstate.Peek(ctx, pool, types.Linear, token)
	require.NoError(t, err)
	require.Len(t, peeked.CodeVerifier.Reveal(), 43)
	require.Len(t, oauthstate.CodeChallenge(peeked.CodeVerifier), 43)

	consumed, err := oauthstate.Consume(ctx, pool, types.Linear, token)
	require.NoError(t, err)
	require.Equal(t, peeked.CodeVerifier, consumed.CodeVerifier)
	require.Equal(t, "org_1", consumed.OrgID)
	require.Equal(t, "user_1", consumed.UserID)
}

func TestConsumeIsSingleUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	token, err := oauthstate.CreateState(ctx, pool, types.Sentry, "org_1", "user_1", "")
	require.NoError(t, err)

	// Many concurrent callbacks with one state: exactly one wins.
	var wins, misses atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := oauthstate.Consume(ctx, pool, types.Sentry, token)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, oauthstate.ErrNotFound):
				misses.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())
	require.EqualValues(t, 7, misses.Load())
	require.Zero(t, countStates(t, pool))
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	fresh, err := oauthstate.CreateState(ctx, pool, types.Vercel, "org_1", "user_1", "")
	require.NoError(t, err)
	expired, err := oauthstate.CreateState(ctx, pool, types.Vercel, "org_1", "user_1", "")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_oauth_states SET expires_at = now() - interval '1 second' WHERE state_hash = $1`,
		oauthstate.Hash(expired))
	require.NoError(t, err)

	cases := map[string]struct {
		provider types.Provider
		token    string
		want     error
	}{
		"empty":          {types.Vercel, "", oauthstate.ErrNotFound},
		"malformed":      {types.Vercel, "not-a-token", oauthstate.ErrNotFound},
		"unknown":        {types.Vercel, strings.Repeat("A", 43), oauthstate.ErrNotFound},
		"expired":        {types.Vercel, expired, oauthstate.ErrExpired},
		"other provider": {types.GitHub, fresh, oauthstate.ErrWrongProvider},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := oauthstate.Peek(ctx, pool, tc.provider, tc.token)
			require.ErrorIs(t, err, tc.want)
			_, err = oauthstate.Consume(ctx, pool, tc.provider, tc.token)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// Refusals consume nothing: the fresh state still works for its own provider.
	require.Equal(t, 2, countStates(t, pool))
	_, err = oauthstate.Consume(ctx, pool, types.Vercel, fresh)
	require.NoError(t, err)
}

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	_, err := oauthstate.CreateState(ctx, pool, "gitlab", "org", "user", "")
	require.Error(t, err)
	_, err = oauthstate.CreateState(ctx, pool, types.GitHub, "", "user", "")
	require.Error(t, err)
	_, err = oauthstate.CreateState(ctx, pool, types.GitHub, "org", "", "")
	require.Error(t, err)
	require.Zero(t, countStates(t, pool))
}
