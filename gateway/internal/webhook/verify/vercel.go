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

type vercelPayload struct {
	ID      id     `json:"id"`
	Type    string `json:"type"`
	Payload *struct {
		Configuration *obj `json:"configuration"`
		Project       *obj `json:"project"`
	} `json:"payload"`
}

// Parse implements Provider.
func (Vercel) Parse(r Request) (Event, error) {
	var p vercelPayload
	if err := decodeObject(r.Body, &p); err != nil {
		return Event{}, err
	}
	ev := Event{
		DeliveryID: string(p.ID),
		EventType:  p.Type,
		Lifecycle:  vercelLifecycle[p.Type],
		Headers:    keepHeaders(r.Header, "User-Agent", "Content-Type"),
	}
	if p.Payload != nil {
		ev.InstallationExternalID = idOf(p.Payload.Configuration)
		ev.ResourceID = idOf(p.Payload.Project)
	}
	return finish(ev)
}
