package verify

import (
	"context"
	"crypto/sha256"
	"strings"
)

// GitHub verifies X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of the body, keyed with the App's
// webhook secret) and reads X-GitHub-Delivery, X-GitHub-Event + action, installation.id and
// repository.id.
type GitHub struct {
	// Secrets are the App webhook secrets (GITHUB_WEBHOOK_SECRETS); several during rotation.
	Secrets [][]byte
}

// githubLifecycle are the events the gateway applies itself.
var githubLifecycle = map[string]bool{"installation": true, "installation_repositories": true, "repository": true}

// Verify implements Provider.
func (g GitHub) Verify(_ context.Context, r Request) error {
	sig, err := signedHeader(r.Header, "X-Hub-Signature-256")
	if err != nil {
		return err
	}
	if sig == "" {
		return ErrMissingSignature
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return ErrInvalidSignature
	}
	return checkHexMAC(sha256.New, g.Secrets, hexSig, r.Body)
}

// Parse implements Provider.
func (GitHub) Parse(r Request) (Event, error) {
	event := r.Header.Get("X-GitHub-Event")
	if event == "" {
		return Event{}, ErrMissingEventType
	}
	delivery := r.Header.Get("X-GitHub-Delivery")
	if delivery == "" {
		return Event{}, ErrMissingDeliveryID
	}
	v, err := object(r.Body, "action", "installation.id", "repository.id")
	if err != nil {
		return Event{}, err
	}
	action, err1 := stringOf(v[0])
	installation, err2 := idOf(v[1])
	repository, err3 := idOf(v[2])
	if err := firstErr(err1, err2, err3); err != nil {
		return Event{}, err
	}
	return finish(Event{
		DeliveryID:             delivery,
		EventType:              withAction(event, action),
		InstallationExternalID: installation,
		ResourceID:             repository,
		Lifecycle:              githubLifecycle[event],
		Headers: keepHeaders(r.Header, "X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID",
			"X-GitHub-Hook-Installation-Target-ID", "X-GitHub-Hook-Installation-Target-Type", "User-Agent", "Content-Type"),
	})
}
