package verify

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
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

// linearPaths are the fields Verify and Parse read.
var linearPaths = []string{"organizationId", "webhookTimestamp", "type", "action", "webhookId", "createdAt", "data.teamId", "data.team.id"}

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
	v, perr := object(r.Body, linearPaths[:2]...)
	if perr == nil && l.InstallationSecrets != nil {
		if org, err := idOf(v[0]); err == nil && org != "" && storable(org) {
			own, err := l.InstallationSecrets(ctx, org)
			if err != nil {
				return fmt.Errorf("linear webhook secret: %w", err)
			}
			keys = append(own[:len(own):len(own)], l.Fallback...)
		}
	}
	if err := checkHexMAC(sha256.New, keys, sig, r.Body); err != nil {
		return err
	}
	if perr != nil {
		// Authentic but not JSON: Parse reports it as malformed (400), not as a signature problem.
		return nil
	}
	window := l.Window
	if window == 0 {
		window = LinearWindow
	}
	if v[1].Type != gjson.Number {
		return ErrStaleTimestamp
	}
	ms, err := strconv.ParseInt(v[1].Raw, 10, 64)
	if err != nil {
		return ErrStaleTimestamp
	}
	return checkWindow(time.UnixMilli(ms), r.Now, window)
}

// Parse implements Provider.
func (Linear) Parse(r Request) (Event, error) {
	v, err := object(r.Body, linearPaths...)
	if err != nil {
		return Event{}, err
	}
	org, err1 := idOf(v[0])
	typ, err2 := stringOf(v[2])
	action, err3 := stringOf(v[3])
	webhook, err4 := idOf(v[4])
	created, err5 := idOf(v[5])
	team, err6 := idOf(v[6])
	if err := firstErr(err1, err2, err3, err4, err5, err6); err != nil {
		return Event{}, err
	}
	if team == "" {
		if team, err = idOf(v[7]); err != nil {
			return Event{}, err
		}
	}
	delivery := r.Header.Get("Linear-Delivery")
	if delivery == "" && webhook != "" && created != "" {
		delivery = webhook + ":" + created
	}
	ev := Event{
		DeliveryID:             delivery,
		EventType:              withAction(typ, action),
		InstallationExternalID: org,
		ResourceID:             team,
		Headers:                keepHeaders(r.Header, "Linear-Delivery", "Linear-Event", "User-Agent", "Content-Type"),
	}
	if typ == "" {
		ev.EventType = ""
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
