package providersim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenKind separates bearer tokens from refresh tokens.
type tokenKind int

const (
	kindAccess tokenKind = iota
	kindRefresh
)

// token is one credential the simulator issued.
type token struct {
	value    string
	provider string
	kind     tokenKind
	// grant ties an access token to its refresh token so revoking one can
	// revoke the pair, as Linear and Sentry do.
	grant string
	// subject is what the token grants access to: the GitHub installation id
	// or user login, the Vercel configuration id, the Linear organization id
	// or the Sentry installation uuid.
	subject string
	// ghUser marks GitHub user-to-server tokens (as opposed to installation tokens).
	ghUser    bool
	scope     string
	issuedAt  time.Time
	expiresAt time.Time // zero: never expires
	revoked   bool
}

func (t *token) valid(now time.Time) bool {
	return !t.revoked && (t.expiresAt.IsZero() || now.Before(t.expiresAt))
}

// authCode is a one-time authorization code handed out by a consent step.
type authCode struct {
	provider    string
	subject     string // as token.subject
	redirectURI string
	scope       string
	challenge   string // PKCE code_challenge (Linear)
	method      string // PKCE code_challenge_method
	expiresAt   time.Time
	used        bool
}

// codeTTL is how long authorization codes stay redeemable (GitHub and Linear use 10 min).
const codeTTL = 10 * time.Minute

// issueCode stores a new authorization code. Callers hold s.mu.
func (s *Simulator) issueCode(c authCode) string {
	code := randomHex(20)
	c.expiresAt = s.now().Add(codeTTL)
	s.codes[code] = &c
	return code
}

// redeemCode consumes an authorization code of provider. It returns nil when
// the code is unknown, used, expired or belongs to another provider. A used
// code stays used even when a later check fails, as real providers burn it.
// Callers hold s.mu.
func (s *Simulator) redeemCode(provider, code string) *authCode {
	c, ok := s.codes[code]
	if !ok || c.provider != provider || c.used || !s.now().Before(c.expiresAt) {
		return nil
	}
	c.used = true
	return c
}

// issueToken stores and returns a new token. ttl 0 means no expiry. Callers hold s.mu.
func (s *Simulator) issueToken(t token, prefix string, ttl time.Duration) *token {
	t.value = prefix + randomAlnum(36)
	t.issuedAt = s.now()
	if ttl > 0 {
		t.expiresAt = t.issuedAt.Add(ttl)
	}
	s.tokens[t.value] = &t
	return &t
}

// accessToken returns the valid access token value of provider, or nil.
// Callers hold s.mu.
func (s *Simulator) accessToken(provider, value string) *token {
	if value == "" {
		return nil
	}
	t, ok := s.tokens[value]
	if !ok || t.provider != provider || t.kind != kindAccess || !t.valid(s.now()) {
		return nil
	}
	return t
}

// revokeWhere revokes every token of provider matching keep. Callers hold s.mu.
func (s *Simulator) revokeWhere(provider string, match func(*token) bool) int {
	n := 0
	for _, t := range s.tokens {
		if t.provider == provider && !t.revoked && match(t) {
			t.revoked = true
			n++
		}
	}
	return n
}

// ExpireTokens invalidates every access token of provider issued so far, as
// if they had all expired early: the next API call with one answers 401.
// Refresh tokens keep working, so a client can recover by refreshing (or, for
// GitHub, by minting a new installation token). It returns how many tokens it
// invalidated.
func (s *Simulator) ExpireTokens(provider string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	n := 0
	for _, t := range s.tokens {
		if t.provider == provider && t.kind == kindAccess && t.valid(now) {
			t.expiresAt = now
			n++
		}
	}
	return n
}

// FailRefresh makes the next times refresh-token grants of provider (Linear
// or Sentry) fail as if the refresh token had been revoked: Linear answers
// 400 {"error":"invalid_grant"}, Sentry 401 {"detail":...}. A negative times
// fails every refresh until ClearFaults or Reset.
func (s *Simulator) FailRefresh(provider string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		delete(s.refreshFail, provider)
		return
	}
	s.refreshFail[provider] = times
}

// takeRefreshFailure consumes one scripted refresh failure. Callers hold s.mu.
func (s *Simulator) takeRefreshFailure(provider string) bool {
	n := s.refreshFail[provider]
	switch {
	case n == 0:
		return false
	case n > 0:
		if n == 1 {
			delete(s.refreshFail, provider)
		} else {
			s.refreshFail[provider] = n - 1
		}
	}
	return true
}

// GitHub App JWT rules: GitHub rejects an `exp` more than 10 minutes ahead;
// clients backdate `iat` by up to a minute against clock drift.
const (
	appJWTMaxLifetime = 10 * time.Minute
	appJWTSkew        = time.Minute
)

// errJWT carries GitHub's message for a rejected App JWT.
type errJWT struct{ msg string }

func (e errJWT) Error() string { return e.msg }

// verifyAppJWT checks an App JWT the way GitHub does: RS256 signature by the
// App key, `iss` = App id or client id, `iat` in the past, `exp` in the
// future but at most 10 minutes ahead (plus skew).
func (s *Simulator) verifyAppJWT(raw string) error {
	s.mu.Lock()
	key := s.cfg.GitHubAppPublicKey
	appID, clientID := s.cfg.GitHubAppID, s.cfg.GitHubClientID
	s.mu.Unlock()
	if key == nil {
		return errJWT{"A JSON web token could not be decoded"}
	}
	now := s.now()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims,
		func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(appJWTSkew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return errJWT{"'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"}
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errJWT{"'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"}
	case err != nil:
		return errJWT{"A JSON web token could not be decoded"}
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if iat == nil {
		return errJWT{"'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"}
	}
	if exp.Sub(now) > appJWTMaxLifetime+appJWTSkew || exp.Sub(iat.Time) > appJWTMaxLifetime+2*appJWTSkew {
		return errJWT{"'Expiration time' claim ('exp') is too far in the future"}
	}
	var iss string
	switch v := claims["iss"].(type) {
	case string:
		iss = v
	case float64:
		iss = strconv.FormatInt(int64(v), 10)
	}
	if iss == "" || (iss != appID && iss != clientID) {
		return errJWT{"Integration not found"}
	}
	return nil
}

// SignAppJWT returns a GitHub App JWT for appID signed with key, valid from
// now-60s to now+9m: what a well-behaved client sends. Tests use it to call
// the App endpoints directly.
func SignAppJWT(key *rsa.PrivateKey, appID string, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iat": now.Add(-60 * time.Second).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": appID,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign app jwt: %w", err)
	}
	return signed, nil
}

// ParseRSAPublicKeyPEM reads an RSA public key from PEM: a PKIX "PUBLIC KEY",
// a PKCS#1 "RSA PUBLIC KEY", or the public half of a private key PEM (PKCS#1
// or PKCS#8), so the GitHub App private key file works too.
func ParseRSAPublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse rsa key: no PEM block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse rsa public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("parse rsa public key: not an RSA key")
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse rsa public key: %w", err)
		}
		return k, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse rsa private key: %w", err)
		}
		return &k.PublicKey, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("parse private key: not an RSA key")
		}
		return &rk.PublicKey, nil
	}
	return nil, fmt.Errorf("parse rsa key: unsupported PEM block %q", block.Type)
}

// pkceS256 is the S256 code challenge of verifier (RFC 7636).
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkPKCE verifies verifier against a stored challenge. Linear requires
// the method with the challenge; "plain" compares directly, anything else is
// treated as S256.
func checkPKCE(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if verifier == "" {
		return false
	}
	got := verifier
	if method != "plain" {
		got = pkceS256(verifier)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// secretEqual compares a presented secret with the configured one in constant time.
func secretEqual(got string, want Secret) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("providersim: crypto/rand: %v", err)) // never fails on supported platforms
	}
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomAlnum(n int) string {
	b := randomBytes(n)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// newUUID returns a random version 4 UUID (delivery ids).
func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// seqUUID returns a deterministic UUID-shaped id for entity number n of a
// kind, so seeded data has stable ids run to run.
func seqUUID(kind uint16, n int64) string {
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", 0x5111, kind, n)
}
