package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/pending"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// errClaimed: the installation belongs to another org (pending, active or errored there) and is not
// taken over; only a revoked installation moves.
var errClaimed = errors.New("installation belongs to another org")

// errRaced: a concurrent callback inserted the same installation first; the write is redone against
// its row (ciphertexts are bound to row ids, so they must be made again).
var errRaced = errors.New("installation inserted concurrently")

// claimedElsewhere is the read-only check made before any provider-side change (Linear webhook, Sentry
// verification): does the installation belong to another org? save checks again under a row lock.
func (s *Service) claimedElsewhere(ctx context.Context, p types.Provider, externalID, orgID string) (bool, error) {
	inst, err := dbq.New(s.pool).GetInstallationByExternalID(ctx, dbq.GetInstallationByExternalIDParams{Provider: p, ExternalID: externalID})
	if db.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read installation: %w", err)
	}
	return claimed(inst, orgID), nil
}

// claimed reports whether inst belongs to an org other than orgID. Only a revoked installation may move:
// one in error there still has that org's integrations on it.
func claimed(inst dbq.Installation, orgID string) bool {
	return inst.OrgID != orgID && inst.Status != types.InstallationRevoked
}

// save writes the installation and its token in one transaction: pending, bound to the state's org and
// user with the confirmation deadline of db/pending, except a re-consent of an installation already
// active in the same org, which stays active. An installation of another org is left untouched
// (errClaimed) unless it is revoked. It also returns the row as it was before, when there was one.
func (s *Service) save(ctx context.Context, p types.Provider, st oauthstate.State, conn *Connection) (saved dbq.Installation, previous *dbq.Installation, err error) {
	for range 2 {
		err = db.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
			saved, previous, err = s.write(ctx, dbq.New(tx), p, st, conn)
			return err
		})
		if !errors.Is(err, errRaced) {
			return saved, previous, err
		}
	}
	return dbq.Installation{}, nil, errRaced
}

func (s *Service) write(ctx context.Context, q *dbq.Queries, p types.Provider, st oauthstate.State, conn *Connection) (dbq.Installation, *dbq.Installation, error) {
	id := ids.New()
	var previous *dbq.Installation
	existing, err := q.LockInstallationByExternalID(ctx, dbq.LockInstallationByExternalIDParams{Provider: p, ExternalID: conn.ExternalID})
	switch {
	case err == nil:
		if claimed(existing, st.OrgID) {
			return dbq.Installation{}, nil, errClaimed
		}
		id, previous = existing.ID, &existing
	case !db.IsNotFound(err):
		return dbq.Installation{}, nil, fmt.Errorf("lock installation: %w", err)
	}

	status, deadline := types.InstallationPending, ptr(time.Now().Add(pending.TTL))
	if previous != nil && previous.Status == types.InstallationActive && previous.OrgID == st.OrgID {
		status, deadline = types.InstallationActive, nil
	}
	params := dbq.UpsertInstallationParams{
		ID: id, Provider: p, ExternalID: conn.ExternalID, ConnectedBy: st.UserID, OrgID: st.OrgID,
		Status: &status, PendingExpiresAt: deadline,
		Metadata: conn.Metadata, ProviderAccountInfo: conn.AccountInfo,
	}
	if conn.AccountLogin != "" {
		params.AccountLogin = &conn.AccountLogin
	}
	if conn.WebhookSecret != "" {
		enc, err := s.keyring.Encrypt(conn.WebhookSecret.Reveal(), dbvault.WebhookSecretField(id))
		if err != nil {
			return dbq.Installation{}, nil, fmt.Errorf("encrypt webhook secret: %w", err)
		}
		params.WebhookSecret = &enc
	}
	inst, err := q.UpsertInstallation(ctx, params)
	if db.IsNotFound(err) {
		return dbq.Installation{}, nil, errClaimed // claimed by another org since the lock found nothing
	}
	if err != nil {
		return dbq.Installation{}, nil, fmt.Errorf("write installation: %w", err)
	}
	if inst.ID != id {
		return dbq.Installation{}, nil, errRaced
	}

	// The installation row is locked now, so the token row cannot appear or change under us.
	tokenID, err := q.GetTokenIDByInstallation(ctx, inst.ID)
	if db.IsNotFound(err) {
		tokenID = ids.New()
	} else if err != nil {
		return dbq.Installation{}, nil, fmt.Errorf("read token id: %w", err)
	}
	tp := dbq.UpsertTokenParams{ID: tokenID, InstallationID: inst.ID, ExpiresAt: conn.Token.ExpiresAt}
	if tp.AccessToken, err = s.keyring.Encrypt(conn.Token.AccessToken.Reveal(), dbvault.AccessTokenField(tokenID)); err != nil {
		return dbq.Installation{}, nil, fmt.Errorf("encrypt access token: %w", err)
	}
	if conn.Token.RefreshToken != "" {
		enc, err := s.keyring.Encrypt(conn.Token.RefreshToken.Reveal(), dbvault.RefreshTokenField(tokenID))
		if err != nil {
			return dbq.Installation{}, nil, fmt.Errorf("encrypt refresh token: %w", err)
		}
		tp.RefreshToken = &enc
	}
	if conn.Token.TokenType != "" {
		tp.TokenType = &conn.Token.TokenType
	}
	if conn.Token.Scope != "" {
		tp.Scope = &conn.Token.Scope
	}
	if _, err := q.UpsertToken(ctx, tp); err != nil {
		return dbq.Installation{}, nil, fmt.Errorf("write token: %w", err)
	}
	return inst, previous, nil
}

func ptr[T any](v T) *T { return &v }
