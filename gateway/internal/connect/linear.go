package connect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers/linear"
)

// metaLinearWebhookID is the gw_installations.metadata key of the webhook the gateway registered.
const metaLinearWebhookID = "linearWebhookId"

// linearFlow is Linear OAuth with PKCE. The installation is the Linear organization; the callback
// registers a workspace webhook signed with a secret of the gateway's own making, stored encrypted.
type linearFlow struct {
	client      *linear.Client
	redirectURI string
	webhookURL  string
}

func (f linearFlow) AuthorizeURL(token string, st oauthstate.State) string {
	return f.client.AuthorizeURL(token, oauthstate.CodeChallenge(st.CodeVerifier), f.redirectURI)
}

func (f linearFlow) Exchange(ctx context.Context, q url.Values, st oauthstate.State) (*Connection, error) {
	code, err := required(q, "code")
	if err != nil {
		return nil, err
	}
	if st.CodeVerifier == "" {
		return nil, badRequest("invalid_state", "the state carries no PKCE verifier")
	}
	tok, err := f.client.Exchange(ctx, code, st.CodeVerifier, f.redirectURI)
	if err != nil {
		return nil, err
	}
	org, err := f.client.Viewer(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	return &Connection{
		ExternalID:   org.ID,
		AccountLogin: org.URLKey,
		AccountInfo: types.NewLinearAccountInfo(types.LinearAccountInfo{
			OrganizationID: org.ID, OrganizationName: org.Name, URLKey: org.URLKey,
		}),
		Token: tok,
	}, nil
}

// Finish registers the workspace webhook.
func (f linearFlow) Finish(ctx context.Context, conn *Connection) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("linear webhook secret: %w", err)
	}
	secret := secrets.Secret(hex.EncodeToString(raw))
	id, err := f.client.CreateWebhook(ctx, conn.Token.AccessToken, f.webhookURL, secret)
	if err != nil {
		return err
	}
	conn.WebhookSecret = secret
	conn.Metadata = types.Object{metaLinearWebhookID: id}
	return nil
}

// Replaced deletes the webhook an earlier connection of the same workspace registered, so a reconnect
// does not leave two webhooks delivering every event. (After a teardown it is already gone; Linear then
// answers that it does not exist, which is fine.)
func (f linearFlow) Replaced(ctx context.Context, previous dbq.Installation, conn *Connection) error {
	old, _ := previous.Metadata[metaLinearWebhookID].(string)
	if old == "" || old == conn.Metadata[metaLinearWebhookID] {
		return nil
	}
	return f.client.DeleteWebhook(ctx, conn.Token.AccessToken, old)
}

// Revoke deletes the webhook, then revokes the grant (access and refresh token).
func (f linearFlow) Revoke(ctx context.Context, inst dbq.Installation, token secrets.Secret) error {
	var firstErr error
	if id, ok := inst.Metadata[metaLinearWebhookID].(string); ok && id != "" {
		firstErr = f.client.DeleteWebhook(ctx, token, id)
	}
	if err := f.client.Revoke(ctx, token); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// EchoesState implements Flow.
func (linearFlow) EchoesState() bool { return true }
