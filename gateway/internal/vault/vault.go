// Package vault is the gateway's token vault (SPEC §5.2): GET /connections/:id/token, refresh that is
// single-flight across replicas, and the refresh-ahead job that keeps tokens fresh for the Console's
// read-only vault (db/vault).
//
// A refresh runs at most once at a time per installation, whatever the number of replicas:
//   - in a process, callers for the same installation share one refresh (singleflight);
//   - across processes, the refresh happens inside a transaction holding the gw_tokens row lock
//     (SELECT … FOR UPDATE). Whoever waited for the lock re-reads the row and, finding a fresh token,
//     uses it instead of refreshing again;
//   - the write is a compare-and-set on gw_tokens.version, and a rotated refresh token is always stored.
//
// When the provider refuses the refresh token (invalid_grant) the row is re-read outside the lock — a
// new connect flow may have replaced the token meanwhile — and only then is the installation marked
// status error / reauth_required, which the token endpoint answers with 409.
package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

// Refresher renews an installation's access token: a refresh-token grant (Linear, Sentry) or a new
// installation token minted with the App JWT (GitHub, which ignores refreshToken).
type Refresher interface {
	Refresh(ctx context.Context, externalID string, refreshToken secrets.Secret) (providers.Token, error)
}

// Errors of Token beyond db/vault's ErrNotFound, ErrNotActive and ErrReauthRequired.
var (
	// ErrRefreshUnavailable: the token is stale and the provider could not be reached or failed; retry later.
	ErrRefreshUnavailable = errors.New("vault: token refresh is temporarily unavailable")

	errNoRefresher = errors.New("the provider is not configured in this gateway")
)

const (
	// githubReuseMargin: a GitHub installation token is reused until five minutes before it expires.
	githubReuseMargin = 5 * time.Minute
	// refreshMargin: other tokens are refreshed when they have less than a minute left, so a caller never
	// receives a token that dies before it can be used.
	refreshMargin = time.Minute
	// RefreshAheadWindow: the periodic job refreshes tokens that expire within this window.
	RefreshAheadWindow = 15 * time.Minute
	// retryFailedAfter: the periodic job leaves a token whose refresh failed alone for this long.
	retryFailedAfter = 5 * time.Minute
	// refreshTimeout bounds a refresh that callers share (it is detached from any one caller).
	refreshTimeout = 30 * time.Second
)

// Result is what the token endpoint returns.
type Result struct {
	AccessToken secrets.Secret
	Provider    types.Provider
	ExpiresAt   *time.Time
}

// Service is the token vault.
type Service struct {
	pool       *pgxpool.Pool
	keyring    *secrets.Keyring
	refreshers map[types.Provider]Refresher
	log        *zap.Logger
	group      singleflight.Group
	cache      *tokenCache
	now        func() time.Time
}

// DefaultCacheTTL is how long the token endpoint may answer from memory after reading a token.
const DefaultCacheTTL = time.Second

// New returns the vault. refreshers holds one Refresher per provider whose tokens expire; a provider
// without one (Vercel) is never refreshed. cacheTTL is how long a read token may be served from memory
// (0 turns the cache off; see tokenCache for what it may and may not serve).
func New(pool *pgxpool.Pool, keyring *secrets.Keyring, refreshers map[types.Provider]Refresher, cacheTTL time.Duration, log *zap.Logger) *Service {
	return &Service{pool: pool, keyring: keyring, refreshers: refreshers, log: log, cache: newTokenCache(cacheTTL), now: time.Now}
}

// Forget drops what the vault remembers about an installation; call it after revoking one.
func (s *Service) Forget(installationID string) { s.cache.forget(installationID) }

// margin is how long before expiry a token of provider stops being handed out.
func margin(p types.Provider) time.Duration {
	if p == types.GitHub {
		return githubReuseMargin
	}
	return refreshMargin
}

// stale reports whether the token of row should be renewed before due.
func stale(row dbq.VaultReadRow, due time.Time) bool {
	return row.Token.ExpiresAt != nil && row.Token.ExpiresAt.Before(due)
}

// Token returns a usable access token for the installation, refreshing it first when it is (nearly)
// expired. Errors: dbvault.ErrNotFound, dbvault.ErrNotActive, dbvault.ErrReauthRequired,
// ErrRefreshUnavailable.
func (s *Service) Token(ctx context.Context, installationID string) (Result, error) {
	if res, ok := s.cache.get(installationID, s.now()); ok {
		return res, nil
	}
	res, err := s.token(ctx, installationID)
	if err != nil {
		s.cache.forget(installationID)
		return Result{}, err
	}
	s.cache.put(installationID, res, s.now())
	return res, nil
}

func (s *Service) token(ctx context.Context, installationID string) (Result, error) {
	row, err := dbq.New(s.pool).VaultRead(ctx, installationID)
	if err != nil {
		if db.IsNotFound(err) {
			return Result{}, dbvault.ErrNotFound
		}
		return Result{}, fmt.Errorf("vault read: %w", err)
	}
	if err := dbvault.CheckInstallation(row.InstallationStatus, row.StatusReason); err != nil {
		return Result{}, err
	}
	if !stale(row, s.now().Add(margin(row.Provider))) {
		return s.result(row)
	}
	// The refresh is shared by every caller in this process and must not die with the first of them.
	ch := s.group.DoChan(installationID, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return s.refresh(rctx, installationID)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Result{}, r.Err
		}
		return r.Val.(Result), nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func (s *Service) result(row dbq.VaultReadRow) (Result, error) {
	tok, err := dbvault.Decrypt(s.keyring, row)
	if err != nil {
		return Result{}, err
	}
	return Result{AccessToken: tok.AccessToken, Provider: tok.Provider, ExpiresAt: tok.ExpiresAt}, nil
}

// attempt is what one locked refresh ended with.
type attempt struct {
	result Result
	// refused: the provider refused the refresh token (ciphertext tried is in triedRefresh).
	refused      bool
	triedRefresh *string
	// failed: a temporary provider failure, already recorded on the row. usable says that result holds
	// the old token, which has not expired yet.
	failed error
	usable bool
}

// refresh renews the token of installationID under the row lock. It retries once when the give-up
// check finds that somebody stored a different refresh token in between.
func (s *Service) refresh(ctx context.Context, installationID string) (Result, error) {
	for range 2 {
		var a attempt
		err := db.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
			q := dbq.New(tx)
			locked, err := q.LockTokenForRefresh(ctx, installationID)
			if err != nil {
				if db.IsNotFound(err) {
					return dbvault.ErrNotFound
				}
				return fmt.Errorf("lock token: %w", err)
			}
			row := dbq.VaultReadRow(locked)
			// Re-read under the lock: another replica may have refreshed while this one waited.
			if err := dbvault.CheckInstallation(row.InstallationStatus, row.StatusReason); err != nil {
				return err
			}
			if !stale(row, s.now().Add(margin(row.Provider))) {
				a.result, err = s.result(row)
				return err
			}
			a, err = s.refreshLocked(ctx, q, row)
			return err
		})
		switch {
		case err != nil:
			return Result{}, err
		case a.refused:
			res, retry, err := s.giveUp(ctx, installationID, a.triedRefresh)
			if retry {
				continue
			}
			return res, err
		case a.failed != nil && !a.usable:
			return Result{}, ErrRefreshUnavailable
		}
		return a.result, nil
	}
	return Result{}, ErrRefreshUnavailable
}

// refreshLocked calls the provider for row, whose gw_tokens row the caller's transaction has locked,
// and writes the new token with a compare-and-set on its version.
func (s *Service) refreshLocked(ctx context.Context, q *dbq.Queries, row dbq.VaultReadRow) (attempt, error) {
	log := s.log.With(zap.String("installation_id", row.Token.InstallationID), zap.String("provider", string(row.Provider)))
	var refreshToken secrets.Secret
	if row.Token.RefreshToken != nil {
		plain, err := s.keyring.Decrypt(*row.Token.RefreshToken, dbvault.RefreshTokenField(row.Token.ID))
		if err != nil {
			return attempt{}, fmt.Errorf("decrypt refresh token: %w", err)
		}
		refreshToken = secrets.Secret(plain)
	}
	if refreshToken == "" && row.Provider != types.GitHub {
		return attempt{refused: true, triedRefresh: row.Token.RefreshToken}, nil
	}

	var tok providers.Token
	var err error
	if refresher := s.refreshers[row.Provider]; refresher != nil {
		tok, err = refresher.Refresh(ctx, row.ExternalID, refreshToken)
	} else {
		err = errNoRefresher
	}
	if errors.Is(err, providers.ErrInvalidGrant) {
		log.Warn("provider refused the refresh")
		return attempt{refused: true, triedRefresh: row.Token.RefreshToken}, nil
	}
	if err != nil {
		log.Warn("token refresh failed", zap.Error(err))
		if merr := q.MarkTokenRefreshFailed(ctx, dbq.MarkTokenRefreshFailedParams{
			ID: row.Token.ID, Version: row.Token.Version, RefreshError: ptr(err.Error()),
		}); merr != nil {
			return attempt{}, fmt.Errorf("record refresh failure: %w", merr)
		}
		// A token that still works is better than none.
		if row.Token.ExpiresAt != nil && s.now().Before(*row.Token.ExpiresAt) {
			res, derr := s.result(row)
			return attempt{result: res, failed: err, usable: true}, derr
		}
		return attempt{failed: err}, nil
	}

	params := dbq.CompareAndSetTokenParams{
		ID: row.Token.ID, Version: row.Token.Version, ExpiresAt: tok.ExpiresAt,
		// A rotated refresh token is always stored; a provider that does not rotate keeps the old one.
		RefreshToken: row.Token.RefreshToken,
	}
	if params.AccessToken, err = s.keyring.Encrypt(tok.AccessToken.Reveal(), dbvault.AccessTokenField(row.Token.ID)); err != nil {
		return attempt{}, fmt.Errorf("encrypt access token: %w", err)
	}
	if tok.RefreshToken != "" {
		enc, err := s.keyring.Encrypt(tok.RefreshToken.Reveal(), dbvault.RefreshTokenField(row.Token.ID))
		if err != nil {
			return attempt{}, fmt.Errorf("encrypt refresh token: %w", err)
		}
		params.RefreshToken = &enc
	}
	if tok.TokenType != "" {
		params.TokenType = &tok.TokenType
	}
	if tok.Scope != "" {
		params.Scope = &tok.Scope
	}
	if _, err := q.CompareAndSetToken(ctx, params); err != nil {
		if db.IsNotFound(err) {
			// Cannot happen while the row lock is held; if it does, the new tokens are lost and the
			// caller sees a temporary failure rather than a token nobody stored.
			return attempt{}, errors.New("token version changed under the row lock")
		}
		return attempt{}, fmt.Errorf("store refreshed token: %w", err)
	}
	s.cache.forget(row.Token.InstallationID)
	log.Info("token refreshed")
	return attempt{result: Result{AccessToken: tok.AccessToken, Provider: row.Provider, ExpiresAt: tok.ExpiresAt}}, nil
}

// giveUp handles a refused refresh. It re-reads the row first: if a usable token appeared (a new
// connect flow), that is the answer; if a different refresh token was stored, the caller retries; only
// when the refresh token that was refused is still the stored one is the installation marked
// error / reauth_required.
func (s *Service) giveUp(ctx context.Context, installationID string, tried *string) (res Result, retry bool, err error) {
	marked := false
	err = db.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		locked, err := q.LockTokenForRefresh(ctx, installationID)
		if err != nil {
			if db.IsNotFound(err) {
				return dbvault.ErrNotFound
			}
			return fmt.Errorf("lock token: %w", err)
		}
		row := dbq.VaultReadRow(locked)
		if err := dbvault.CheckInstallation(row.InstallationStatus, row.StatusReason); err != nil {
			return err
		}
		if !stale(row, s.now().Add(margin(row.Provider))) {
			res, err = s.result(row)
			return err
		}
		if !samePtr(row.Token.RefreshToken, tried) {
			retry = true
			return nil
		}
		if err := q.MarkTokenRefreshFailed(ctx, dbq.MarkTokenRefreshFailedParams{
			ID: row.Token.ID, Version: row.Token.Version, RefreshError: ptr("invalid_grant"),
		}); err != nil {
			return fmt.Errorf("record refused refresh: %w", err)
		}
		if _, err := q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{
			ID: installationID, Status: "error", StatusReason: ptr(dbvault.StatusReasonReauthRequired),
		}); err != nil {
			return fmt.Errorf("mark installation: %w", err)
		}
		s.log.Warn("installation needs to be connected again",
			zap.String("installation_id", installationID), zap.String("provider", string(row.Provider)))
		marked = true
		return nil // commit the marks; the caller's answer is below
	})
	if err == nil && marked {
		err = dbvault.ErrReauthRequired
	}
	return res, retry, err
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func ptr[T any](v T) *T { return &v }
