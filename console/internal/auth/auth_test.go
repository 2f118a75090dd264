package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
)

const issuer = "https://clerk.example.test"

// issuerServer is a fake identity provider: it publishes a JWKS and signs RS256 session tokens.
type issuerServer struct {
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches atomic.Int32
	srv     *httptest.Server
}

var (
	keyOnce sync.Once
	keyA    *rsa.PrivateKey
	keyB    *rsa.PrivateKey
)

// testKeys generates two RSA keys once per test binary (generation is the slow part).
func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		keyA, err = rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			keyB, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

func newIssuer(t testing.TB) *issuerServer {
	a, _ := testKeys(t)
	is := &issuerServer{keys: map[string]*rsa.PrivateKey{"kid-a": a}}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		var keys []map[string]string
		for kid, k := range is.keys {
			keys = append(keys, auth.JWK(kid, &k.PublicKey))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuerServer) addKey(kid string, k *rsa.PrivateKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = k
}

func sign(t testing.TB, key *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func sessionClaims(extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": "user_1", "iss": issuer, "iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(), "exp": now.Add(time.Minute).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func newVerifier(is *issuerServer, mod func(*auth.Config)) *auth.Verifier {
	cfg := auth.Config{JWKSURL: is.srv.URL, Issuer: issuer, DevSecret: "dev-secret", JWKSMinRefetch: -1}
	if mod != nil {
		mod(&cfg)
	}
	return auth.NewVerifier(cfg)
}

func TestVerifyClerkV1AndV2Claims(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, _ := testKeys(t)
	v := newVerifier(is, nil)
	ctx := context.Background()

	p, err := v.Verify(ctx, sign(t, a, "kid-a", sessionClaims(jwt.MapClaims{"org_id": "org_1", "org_role": "org:admin"})))
	require.NoError(t, err)
	require.Equal(t, auth.Principal{UserID: "user_1", OrgID: "org_1", OrgRole: "admin"}, p)
	require.True(t, p.IsAdmin())

	p, err = v.Verify(ctx, sign(t, a, "kid-a", sessionClaims(jwt.MapClaims{"v": 2, "o": map[string]any{"id": "org_2", "rol": "member", "slg": "acme"}})))
	require.NoError(t, err)
	require.Equal(t, auth.Principal{UserID: "user_1", OrgID: "org_2", OrgRole: "member"}, p)
	require.False(t, p.IsAdmin())

	p, err = v.Verify(ctx, sign(t, a, "kid-a", sessionClaims(nil)))
	require.NoError(t, err)
	require.Empty(t, p.OrgID, "a token without an org authenticates; the API refuses it with PermissionDenied")
}

func TestJWKSCachedAndRefetchedOnUnknownKid(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	_, b := testKeys(t)
	a, _ := testKeys(t)
	v := newVerifier(is, nil)
	ctx := context.Background()
	for range 3 {
		_, err := v.Verify(ctx, sign(t, a, "kid-a", sessionClaims(nil)))
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, is.fetches.Load(), "keys are cached")

	is.addKey("kid-b", b) // the issuer rotates
	_, err := v.Verify(ctx, sign(t, b, "kid-b", sessionClaims(nil)))
	require.NoError(t, err)
	require.EqualValues(t, 2, is.fetches.Load(), "an unknown kid triggers one refetch")

	_, err = v.Verify(ctx, sign(t, b, "kid-zzz", sessionClaims(nil)))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.Contains(t, err.Error(), "unknown signing key")
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, _ := testKeys(t)
	v := newVerifier(is, func(c *auth.Config) { c.JWKSMinRefetch = time.Hour })
	ctx := context.Background()
	_, err := v.Verify(ctx, sign(t, a, "kid-a", sessionClaims(nil)))
	require.NoError(t, err)
	for range 5 {
		_, err := v.Verify(ctx, sign(t, a, "forged-kid", sessionClaims(nil)))
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	}
	require.EqualValues(t, 1, is.fetches.Load())
}

func TestRejectedTokens(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, b := testKeys(t)
	v := newVerifier(is, nil)
	devTok, err := auth.SignDevToken("dev-secret", auth.DevTokenOptions{Principal: auth.Principal{UserID: "u", OrgID: "o", OrgRole: "admin"}, Issuer: issuer})
	require.NoError(t, err)
	prod := newVerifier(is, func(c *auth.Config) { c.Production = true })

	hs := func(secret string, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		require.NoError(t, err)
		return s
	}
	none := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, sessionClaims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}

	cases := []struct {
		name   string
		v      *auth.Verifier
		token  string
		reason string
	}{
		{"empty", v, "", "no session token"},
		{"garbage", v, "not-a-jwt", "malformed"},
		{"expired", v, sign(t, a, "kid-a", sessionClaims(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})), "expired"},
		{"no exp", v, sign(t, a, "kid-a", jwt.MapClaims{"sub": "u", "iss": issuer}), "required claim missing"},
		{"not yet valid", v, sign(t, a, "kid-a", sessionClaims(jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()})), "not valid yet"},
		{"wrong issuer", v, sign(t, a, "kid-a", sessionClaims(jwt.MapClaims{"iss": "https://evil.test"})), "wrong issuer"},
		{"badly signed", v, sign(t, b, "kid-a", sessionClaims(nil)), "bad signature"},
		{"wrong dev secret", v, hs("other-secret", sessionClaims(nil)), "bad signature"},
		{"alg none", v, none(), ""},
		{"no subject", v, sign(t, a, "kid-a", sessionClaims(jwt.MapClaims{"sub": ""})), "no subject"},
		{"dev token in production", prod, devTok, "development tokens are not accepted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(context.Background(), tc.token)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			require.Contains(t, err.Error(), tc.reason)
			if tc.token != "" {
				require.NotContains(t, err.Error(), tc.token, "errors never echo the token")
			}
		})
	}

	// The same dev token is fine outside production.
	p, err := v.Verify(context.Background(), devTok)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{UserID: "u", OrgID: "o", OrgRole: "admin"}, p)
}

func TestHS256TokenSignedWithPublicKeyIsRejected(t *testing.T) {
	t.Parallel()
	// Algorithm confusion: an HS256 token keyed with something public must not pass when only RS256 is on.
	is := newIssuer(t)
	v := newVerifier(is, func(c *auth.Config) { c.DevSecret = "" })
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, sessionClaims(nil)).SignedString([]byte("anything"))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	a, _ := testKeys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	v := auth.NewVerifier(auth.Config{JWKSURL: srv.URL, Issuer: issuer})
	_, err := v.Verify(context.Background(), sign(t, a, "kid-a", sessionClaims(nil)))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.Contains(t, err.Error(), "signing keys unavailable")
}

func TestTokenFromRequest(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Authorization", "Bearer abc")
	h.Add("Cookie", "__session=cookie-token")
	require.Equal(t, "abc", auth.TokenFromRequest(h), "the header wins")

	h = http.Header{}
	h.Add("Cookie", "other=1; __session=cookie-token")
	require.Equal(t, "cookie-token", auth.TokenFromRequest(h))

	h = http.Header{}
	h.Set("Authorization", "Basic dXNlcjpwYXNz")
	h.Add("Cookie", "__session=cookie-token")
	require.Empty(t, auth.TokenFromRequest(h), "a non-bearer Authorization header is not silently replaced by the cookie")
	require.Empty(t, auth.TokenFromRequest(http.Header{}))
}

func TestM2MKeys(t *testing.T) {
	t.Parallel()
	k := auth.NewM2MKeys([]string{"key-one", "key-two", ""})
	require.True(t, k.Valid("key-one"))
	require.True(t, k.Valid("key-two"))
	require.False(t, k.Valid("key-on"))
	require.False(t, k.Valid(""))
	require.False(t, auth.NewM2MKeys(nil).Valid("anything"))
}

func TestSignDevTokenNeedsSecretAndUser(t *testing.T) {
	t.Parallel()
	_, err := auth.SignDevToken("", auth.DevTokenOptions{Principal: auth.Principal{UserID: "u"}})
	require.Error(t, err)
	_, err = auth.SignDevToken("s", auth.DevTokenOptions{})
	require.Error(t, err)
	require.False(t, errors.Is(err, auth.ErrUnauthenticated))
}
