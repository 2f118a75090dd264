package verify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
)

// LinearWindow is how far webhookTimestamp may be from now (Linear's own guidance is one minute).
const LinearWindow = time.Minute

// Linear verifies Linear-Signature (hex HMAC-SHA256 of the body) with the installation's own webhook
// secret, falling back to LINEAR_WEBHOOK_SECRETS for webhooks registered by hand, then checks the signed
// webhookTimestamp. It reads Linear-Delivery (else webhookId + createdAt), type + action,
// organizationId and data.teamId.
type Linear struct {
	// Fallback are LINEAR_WEBHOOK_SECRETS.
	Fallback [][]byte
	// InstallationSecrets returns the webhook secrets stored for the installation of a Linear
	// organization (none when it is unknown). An error means the store is unreachable.
	InstallationSecrets func(ctx context.Context, organizationID string) ([][]byte, error)
	// Window overrides LinearWindow when not zero.
	Window time.Duration
}

type linearPayload struct {
	Type             string          `json:"type"`
	Action           string          `json:"action"`
	OrganizationID   id              `json:"organizationId"`
	WebhookID        id              `json:"webhookId"`
	CreatedAt        json.RawMessage `json:"createdAt"`
	WebhookTimestamp json.RawMessage `json:"webhookTimestamp"`
	Data             *struct {
		TeamID id   `json:"teamId"`
		Team   *obj `json:"team"`
	} `json:"data"`
}

// Verify implements Provider. The body is read before it is authenticated only to learn which
// organization's secret to try; nothing from it is trusted until the signature matches.
func (l Linear) Verify(ctx context.Context, r Request) error {
	sig, err := signedHeader(r.Header, "Linear-Signature")
	if err != nil {
		return err
	}
	if sig == "" {
		return ErrMissingSignature
	}
	keys := l.Fallback
	var p linearPayload
	parsed := decodeObject(r.Body, &p) == nil
	if parsed && p.OrganizationID != "" && storable(string(p.OrganizationID)) && l.InstallationSecrets != nil {
		own, err := l.InstallationSecrets(ctx, string(p.OrganizationID))
		if err != nil {
			return fmt.Errorf("linear webhook secret: %w", err)
		}
		keys = append(own, l.Fallback...)
	}
	if err := checkHexMAC(sha256.New, keys, sig, r.Body); err != nil {
		return err
	}
	if !parsed {
		// Authentic but not JSON: Parse reports it as malformed (400), not as a signature problem.
		return nil
	}
	window := l.Window
	if window == 0 {
		window = LinearWindow
	}
	var ms int64
	if err := json.Unmarshal(p.WebhookTimestamp, &ms); err != nil {
		return ErrStaleTimestamp
	}
	return checkWindow(time.UnixMilli(ms), r.Now, window)
}

// Parse implements Provider.
func (Linear) Parse(r Request) (Event, error) {
	var p linearPayload
	if err := decodeObject(r.Body, &p); err != nil {
		return Event{}, err
	}
	delivery := r.Header.Get("Linear-Delivery")
	if delivery == "" && p.WebhookID != "" && len(p.CreatedAt) > 0 {
		var created id
		if err := json.Unmarshal(p.CreatedAt, &created); err != nil || created == "" {
			return Event{}, ErrMissingDeliveryID
		}
		delivery = string(p.WebhookID) + ":" + string(created)
	}
	ev := Event{
		DeliveryID:             delivery,
		EventType:              withAction(p.Type, p.Action),
		InstallationExternalID: string(p.OrganizationID),
		Headers:                keepHeaders(r.Header, "Linear-Delivery", "Linear-Event", "User-Agent", "Content-Type"),
	}
	if p.Type == "" {
		ev.EventType = ""
	}
	if p.Data != nil {
		ev.ResourceID = string(p.Data.TeamID)
		if ev.ResourceID == "" {
			ev.ResourceID = idOf(p.Data.Team)
		}
	}
	return finish(ev)
}

// checkWindow accepts t within ±window of now.
func checkWindow(t, now time.Time, window time.Duration) error {
	d := now.Sub(t)
	if d > window || d < -window {
		return ErrStaleTimestamp
	}
	return nil
}
