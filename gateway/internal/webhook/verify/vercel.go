package verify

import (
	"context"
	"crypto/sha1" //nolint:gosec // Vercel signs webhooks with HMAC-SHA1; HMAC-SHA1 is still a sound MAC.
)

// Vercel verifies x-vercel-signature (hex HMAC-SHA1 of the body, keyed with the integration's client
// secret) and reads the payload's id, type, payload.configuration.id and payload.project.id.
type Vercel struct {
	// Secrets are the integration client secrets (VERCEL_CLIENT_SECRETS).
	Secrets [][]byte
}

// vercelLifecycle: the integration was removed from the account (both spellings Vercel has used).
var vercelLifecycle = map[string]bool{"integration-configuration.removed": true, "integration-configuration-removed": true}

// Verify implements Provider.
func (v Vercel) Verify(_ context.Context, r Request) error {
	sig, err := signedHeader(r.Header, "X-Vercel-Signature")
	if err != nil {
		return err
	}
	return checkHexMAC(sha1.New, v.Secrets, sig, r.Body)
}

// Parse implements Provider.
func (Vercel) Parse(r Request) (Event, error) {
	v, err := object(r.Body, "id", "type", "payload.configuration.id", "payload.project.id")
	if err != nil {
		return Event{}, err
	}
	id, err1 := idOf(v[0])
	typ, err2 := stringOf(v[1])
	configuration, err3 := idOf(v[2])
	project, err4 := idOf(v[3])
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return Event{}, err
	}
	return finish(Event{
		DeliveryID:             id,
		EventType:              typ,
		InstallationExternalID: configuration,
		ResourceID:             project,
		Lifecycle:              vercelLifecycle[typ],
		Headers:                keepHeaders(r.Header, "User-Agent", "Content-Type"),
	})
}
