// Package auth authenticates Console API callers (SPEC §6.1): users by a Clerk-compatible session JWT
// (RS256 through the issuer's JWKS, or HS256 with a development secret outside production), machines by an
// M2M API key. It only answers "who is calling"; what they may touch is decided by the API handlers.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Principal is an authenticated user and the organisation their session is active in.
type Principal struct {
	// UserID is the session's subject (sub).
	UserID string
	// OrgID is the active organisation (org_id, or o.id in v2 tokens); empty when none is selected.
	OrgID string
	// OrgRole is the caller's role in OrgID, without Clerk's "org:" prefix (e.g. "admin", "member").
	OrgRole string
}

// IsAdmin reports whether the caller holds the organisation admin role.
func (p Principal) IsAdmin() bool { return p.OrgRole == RoleAdmin }

// RoleAdmin is the organisation role allowed to disconnect providers.
const RoleAdmin = "admin"

// ErrUnauthenticated is returned (wrapped with the reason) for every rejected credential. The reason is
// safe to show: it never contains the token.
var ErrUnauthenticated = errors.New("unauthenticated")

// SessionCookie is the cookie Clerk keeps the session token in.
const SessionCookie = "__session"

// BearerToken returns the credential of an "Authorization: Bearer <x>" header, or "".
func BearerToken(h http.Header) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	return ""
}

// TokenFromRequest returns the session token of an Authorization bearer header, or else of the __session
// cookie (browsers on the Console's own origin send the cookie).
func TokenFromRequest(h http.Header) string {
	if h.Get("Authorization") != "" {
		return BearerToken(h)
	}
	r := http.Request{Header: h}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// Config configures a Verifier.
type Config struct {
	// JWKSURL is where the issuer publishes its RS256 keys; empty disables RS256.
	JWKSURL string
	// Issuer is the required iss claim; empty accepts any issuer (development only: config requires it with
	// JWKSURL).
	Issuer string
	// DevSecret verifies HS256 tokens; ignored when Production is set.
	DevSecret string
	// Production refuses HS256 development tokens whatever DevSecret says.
	Production bool
	// HTTPClient fetches the JWKS (default: 5 s timeout).
	HTTPClient *http.Client
	// JWKSMinRefetch bounds how often an unknown kid may trigger a refetch (default 10 s), so a flood of
	// forged kids cannot turn into a flood of requests to the issuer.
	JWKSMinRefetch time.Duration
	// JWKSMaxAge is how long fetched keys are trusted before a refetch (default 1 h).
	JWKSMaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier checks session tokens.
type Verifier struct {
	cfg  Config
	jwks *jwksCache
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) *Verifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.JWKSMinRefetch == 0 {
		cfg.JWKSMinRefetch = 10 * time.Second
	}
	if cfg.JWKSMaxAge == 0 {
		cfg.JWKSMaxAge = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg}
	if cfg.JWKSURL != "" {
		v.jwks = newJWKSCache(cfg.JWKSURL, cfg.HTTPClient, cfg.JWKSMinRefetch, cfg.JWKSMaxAge, cfg.Now)
	}
	return v
}

// devEnabled reports whether HS256 development tokens are accepted.
func (v *Verifier) devEnabled() bool { return v.cfg.DevSecret != "" && !v.cfg.Production }

// claims are the session token claims the Console reads. Clerk v1 tokens carry org_id / org_role; v2
// tokens carry them in the compact "o" object.
type claims struct {
	jwt.RegisteredClaims
	OrgID   string     `json:"org_id,omitempty"`
	OrgRole string     `json:"org_role,omitempty"`
	Org     *orgClaims `json:"o,omitempty"`
	Version int        `json:"v,omitempty"`
}

type orgClaims struct {
	ID   string `json:"id,omitempty"`
	Role string `json:"rol,omitempty"`
	Slug string `json:"slg,omitempty"`
}

// Verify checks token and returns its principal. Every failure wraps ErrUnauthenticated.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: no session token", ErrUnauthenticated)
	}
	opts := []jwt.ParserOption{
		// Only these two, so "none" and the other algorithms never reach the key function.
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(v.cfg.Now),
		jwt.WithExpirationRequired(),
		// Clerk tokens live a minute; a few seconds absorb clock drift between issuer and us.
		jwt.WithLeeway(5 * time.Second),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// The algorithm decides the key, and each algorithm has exactly one key source, so an HS256 token
		// can never be checked against an RSA public key (algorithm confusion).
		switch t.Method.Alg() {
		case jwt.SigningMethodRS256.Alg():
			if v.jwks == nil {
				return nil, &keyError{msg: "RS256 tokens are not accepted (AUTH_JWKS_URL is not set)"}
			}
			kid, _ := t.Header["kid"].(string)
			return v.jwks.key(ctx, kid)
		case jwt.SigningMethodHS256.Alg():
			if !v.devEnabled() {
				return nil, &keyError{msg: "development tokens are not accepted"}
			}
			return []byte(v.cfg.DevSecret), nil
		}
		return nil, &keyError{msg: "signing method not accepted"}
	}, opts...)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthenticated, reason(err))
	}
	if c.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token has no subject", ErrUnauthenticated)
	}
	p := Principal{UserID: c.Subject, OrgID: c.OrgID, OrgRole: c.OrgRole}
	if c.Org != nil {
		p.OrgID, p.OrgRole = c.Org.ID, c.Org.Role
	}
	p.OrgRole = strings.TrimPrefix(p.OrgRole, "org:")
	return p, nil
}

// reason turns a jwt error into a short message that names what was wrong but never echoes the token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	}
	var ke *keyError
	if errors.As(err, &ke) {
		return ke.msg
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return "bad signature"
	}
	return "invalid token"
}

// DevTokenOptions describe a development token.
type DevTokenOptions struct {
	Principal
	// Issuer is set as iss (use AUTH_ISSUER when the console has one).
	Issuer string
	// TTL is the token lifetime (default 24 h).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SignDevToken returns an HS256 session token for local development and tests, shaped like a Clerk v1
// session token (sub, org_id, org_role).
func SignDevToken(secret string, o DevTokenOptions) (string, error) {
	if secret == "" {
		return "", errors.New("sign dev token: AUTH_DEV_SECRET is empty")
	}
	if o.UserID == "" {
		return "", errors.New("sign dev token: user is required")
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	t := now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   o.UserID,
			Issuer:    o.Issuer,
			IssuedAt:  jwt.NewNumericDate(t),
			NotBefore: jwt.NewNumericDate(t.Add(-5 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(t.Add(o.TTL)),
		},
		OrgID: o.OrgID,
	}
	if o.OrgRole != "" {
		c.OrgRole = "org:" + strings.TrimPrefix(o.OrgRole, "org:")
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign dev token: %w", err)
	}
	return signed, nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of an authenticated request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
