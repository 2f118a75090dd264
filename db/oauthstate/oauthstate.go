// Package oauthstate creates and consumes the opaque state of a connect flow (SPEC §4.5, §5.1). The
// Console creates a state when a user starts connecting a provider; the Gateway checks it at authorize and
// consumes it at the callback. Only the SHA-256 of the token is stored, so a database reader cannot
// replay a flow, and a state is single use, bound to one provider and valid for ten minutes.
package oauthstate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
)

// TTL is how long a state stays usable.
const TTL = 10 * time.Minute

// tokenBytes is the entropy of a state token; base64url of 32 bytes is 43 characters.
const tokenBytes = 32

// Why a state was refused. They are distinct so the Gateway can answer with a precise error code; none
// of them carries the token.
var (
	ErrNotFound      = errors.New("oauth state: unknown or already used")
	ErrExpired       = errors.New("oauth state: expired")
	ErrWrongProvider = errors.New("oauth state: made for another provider")
)

// State is what a state token stands for.
type State struct {
	Provider types.Provider
	OrgID    string
	UserID   string
	// CodeVerifier is the PKCE verifier (RFC 7636) for providers that use PKCE (Linear); empty otherwise.
	CodeVerifier secrets.Secret
	// ReturnTo is informational only: the Gateway never redirects to it (no open redirect).
	ReturnTo  string
	ExpiresAt time.Time
}

// UsesPKCE reports whether flows of provider carry a PKCE verifier.
func UsesPKCE(p types.Provider) bool { return p == types.Linear }

// CreateState writes a new state for orgID and userID and returns the opaque token to put in the
// Gateway authorize URL. q may be a pool or a transaction.
func CreateState(ctx context.Context, q dbq.DBTX, provider types.Provider, orgID, userID, returnTo string) (string, error) {
	if _, err := types.ParseProvider(string(provider)); err != nil {
		return "", fmt.Errorf("create oauth state: %w", err)
	}
	if orgID == "" || userID == "" {
		return "", errors.New("create oauth state: org id and user id are required")
	}
	token, err := randomToken()
	if err != nil {
		return "", fmt.Errorf("create oauth state: %w", err)
	}
	params := dbq.CreateOAuthStateParams{
		StateHash:   Hash(token),
		Provider:    provider,
		OrgID:       orgID,
		ConnectedBy: userID,
		ExpiresAt:   time.Now().Add(TTL),
	}
	if returnTo != "" {
		params.ReturnTo = &returnTo
	}
	if UsesPKCE(provider) {
		verifier, err := randomToken()
		if err != nil {
			return "", fmt.Errorf("create oauth state: %w", err)
		}
		params.CodeVerifier = &verifier
	}
	if err := dbq.New(q).CreateOAuthState(ctx, params); err != nil {
		return "", fmt.Errorf("create oauth state: %w", db.Interpret(err))
	}
	return token, nil
}

// Peek checks a state without using it up (the authorize step). It returns ErrNotFound, ErrExpired or
// ErrWrongProvider when the state cannot be used for provider.
func Peek(ctx context.Context, q dbq.DBTX, provider types.Provider, token string) (State, error) {
	if !wellFormed(token) {
		return State{}, ErrNotFound
	}
	row, err := dbq.New(q).GetOAuthState(ctx, Hash(token))
	if err != nil {
		if db.IsNotFound(err) {
			return State{}, ErrNotFound
		}
		return State{}, fmt.Errorf("read oauth state: %w", err)
	}
	if err := usable(row, provider, time.Now()); err != nil {
		return State{}, err
	}
	return fromRow(row), nil
}

// Consume uses a state up: one DELETE … RETURNING, so of two concurrent callbacks with the same state
// exactly one gets it. A state for another provider, or an expired one, is not deleted.
func Consume(ctx context.Context, q dbq.DBTX, provider types.Provider, token string) (State, error) {
	if !wellFormed(token) {
		return State{}, ErrNotFound
	}
	hash := Hash(token)
	queries := dbq.New(q)
	row, err := queries.ConsumeOAuthStateForProvider(ctx, dbq.ConsumeOAuthStateForProviderParams{StateHash: hash, Provider: provider})
	if err == nil {
		return fromRow(row), nil
	}
	if !db.IsNotFound(err) {
		return State{}, fmt.Errorf("consume oauth state: %w", err)
	}
	// Say why, reading only.
	row, err = queries.GetOAuthState(ctx, hash)
	if err != nil {
		if db.IsNotFound(err) {
			return State{}, ErrNotFound
		}
		return State{}, fmt.Errorf("consume oauth state: %w", err)
	}
	if err := usable(row, provider, time.Now()); err != nil {
		return State{}, err
	}
	// The row appeared or was renewed between the two statements: not possible for a random token.
	return State{}, ErrNotFound
}

// Hash is what is stored for token: the lowercase hex SHA-256 of the token exactly as it appears in the URL.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CodeChallenge is the PKCE S256 challenge of verifier.
func CodeChallenge(verifier secrets.Secret) string {
	sum := sha256.Sum256([]byte(verifier.Reveal()))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func usable(row dbq.OAuthState, provider types.Provider, now time.Time) error {
	if row.Provider != provider {
		return ErrWrongProvider
	}
	if !now.Before(row.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

func fromRow(row dbq.OAuthState) State {
	s := State{Provider: row.Provider, OrgID: row.OrgID, UserID: row.ConnectedBy, ExpiresAt: row.ExpiresAt}
	if row.CodeVerifier != nil {
		s.CodeVerifier = secrets.Secret(*row.CodeVerifier)
	}
	if row.ReturnTo != nil {
		s.ReturnTo = *row.ReturnTo
	}
	return s
}

func randomToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// wellFormed rejects anything that cannot be a token before it reaches the database.
func wellFormed(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil
}
