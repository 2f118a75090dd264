// Package vault is the read side of the token vault (SPEC §5.2), shared by both services: one query for
// an installation's token and the state of the installation, then a decrypt. The Console uses it as is;
// the Gateway builds its refreshing token endpoint on the same read. It also names the encrypted-column
// fields (the additional authenticated data of db/secrets) of tokens and webhook secrets, so every writer
// and reader binds a ciphertext to the same table, column and row.
package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
)

// Table names used as additional authenticated data.
const (
	TokensTable        = "lightfast_gw_tokens"
	InstallationsTable = "lightfast_gw_installations"
)

// StatusReasonReauthRequired is gw_installations.status_reason when the provider refused a refresh and
// only a new connect flow can help.
const StatusReasonReauthRequired = "reauth_required"

// AccessTokenField is where gw_tokens.access_token of token row tokenID lives.
func AccessTokenField(tokenID string) secrets.Field {
	return secrets.Field{Table: TokensTable, Column: "access_token", RowID: tokenID}
}

// RefreshTokenField is where gw_tokens.refresh_token of token row tokenID lives.
func RefreshTokenField(tokenID string) secrets.Field {
	return secrets.Field{Table: TokensTable, Column: "refresh_token", RowID: tokenID}
}

// WebhookSecretField is where gw_installations.webhook_secret of installation installationID lives (the
// Linear per-installation webhook signing secret).
func WebhookSecretField(installationID string) secrets.Field {
	return secrets.Field{Table: InstallationsTable, Column: "webhook_secret", RowID: installationID}
}

// Errors of Get. ErrReauthRequired is a kind of ErrNotActive.
var (
	ErrNotFound       = errors.New("vault: no token for this installation")
	ErrNotActive      = errors.New("vault: installation is not active")
	ErrReauthRequired = fmt.Errorf("%w: the provider refused a refresh, the connection must be made again", ErrNotActive)
	ErrTokenExpired   = errors.New("vault: token has expired")
)

// Token is a decrypted access token with what a caller needs to use it.
type Token struct {
	InstallationID string
	Provider       types.Provider
	OrgID          string
	// ExternalID is the provider's id of the installation (GitHub installation id, Vercel configuration
	// id, Linear organization id, Sentry installation uuid).
	ExternalID  string
	AccessToken secrets.Secret
	// ExpiresAt is nil for tokens that do not expire (Vercel).
	ExpiresAt *time.Time
	// Version is gw_tokens.version, bumped on every write of the row.
	Version int64
	// Scope is what the provider granted the token ("" when it does not say); for GitHub, the
	// installation's permissions (types.ParseGitHubPermissions).
	Scope string
	// UpdatedAt is when the token was last written (minted or refreshed).
	UpdatedAt time.Time
}

// Get returns the access token of an installation: one query and one decrypt. It fails with
// ErrNotFound (no such installation or no token), ErrNotActive (revoked, pending or errored; the
// reauth case is ErrReauthRequired) or ErrTokenExpired (the Gateway has not refreshed it in time).
func Get(ctx context.Context, q dbq.DBTX, kr *secrets.Keyring, installationID string) (Token, error) {
	return get(ctx, q, kr, installationID, func(string) bool { return true })
}

// GetForOrg is Get for a caller acting for an org: another org's installation is ErrNotFound, never
// visible, whatever its state.
func GetForOrg(ctx context.Context, q dbq.DBTX, kr *secrets.Keyring, orgID, installationID string) (Token, error) {
	return get(ctx, q, kr, installationID, func(owner string) bool { return owner == orgID })
}

// GetForIntegration is Get for the workers of a workspace integration (backfill, sync): the token of the
// integration's installation, only while that installation belongs to the integration's organisation. An
// installation that has moved to another organisation (revoked, then connected elsewhere) is ErrNotFound.
func GetForIntegration(ctx context.Context, q dbq.DBTX, kr *secrets.Keyring, integrationID string) (Token, error) {
	row, err := dbq.New(q).VaultReadForIntegration(ctx, integrationID)
	if err != nil {
		if db.IsNotFound(err) {
			return Token{}, ErrNotFound
		}
		return Token{}, fmt.Errorf("vault read: %w", err)
	}
	vr := dbq.VaultReadRow(row)
	if err := Check(vr, time.Now()); err != nil {
		return Token{}, err
	}
	return Decrypt(kr, vr)
}

func get(ctx context.Context, q dbq.DBTX, kr *secrets.Keyring, installationID string, visible func(orgID string) bool) (Token, error) {
	row, err := dbq.New(q).VaultRead(ctx, installationID)
	if err != nil {
		if db.IsNotFound(err) {
			return Token{}, ErrNotFound
		}
		return Token{}, fmt.Errorf("vault read: %w", err)
	}
	if !visible(row.OrgID) {
		return Token{}, ErrNotFound
	}
	if err := Check(row, time.Now()); err != nil {
		return Token{}, err
	}
	return Decrypt(kr, row)
}

// Check judges a vault row at now: ErrNotActive / ErrReauthRequired for an installation that is not
// active, ErrTokenExpired for an expired token, nil when the token may be used.
func Check(row dbq.VaultReadRow, now time.Time) error {
	if err := CheckInstallation(row.InstallationStatus, row.StatusReason); err != nil {
		return err
	}
	if row.Token.ExpiresAt != nil && !now.Before(*row.Token.ExpiresAt) {
		return ErrTokenExpired
	}
	return nil
}

// CheckInstallation maps an installation's status to ErrNotActive / ErrReauthRequired, or nil when active.
func CheckInstallation(status string, reason *string) error {
	if status == types.InstallationActive {
		return nil
	}
	if status == types.InstallationError && reason != nil && *reason == StatusReasonReauthRequired {
		return ErrReauthRequired
	}
	return ErrNotActive
}

// Decrypt opens the access token of row without judging it.
func Decrypt(kr *secrets.Keyring, row dbq.VaultReadRow) (Token, error) {
	plain, err := kr.Decrypt(row.Token.AccessToken, AccessTokenField(row.Token.ID))
	if err != nil {
		return Token{}, fmt.Errorf("vault decrypt: %w", err)
	}
	return Token{
		InstallationID: row.Token.InstallationID,
		Provider:       row.Provider,
		OrgID:          row.OrgID,
		ExternalID:     row.ExternalID,
		AccessToken:    secrets.Secret(plain),
		ExpiresAt:      row.Token.ExpiresAt,
		Version:        row.Token.Version,
		Scope:          deref(row.Token.Scope),
		UpdatedAt:      row.Token.UpdatedAt,
	}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
