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

// githubLifecycle are the events the gateway applies itself, each with the shape its body must have
// (the fields GitHub's webhook schema gives the event). installation and installation_repositories
// bodies carry the installation's account, which no content event does; a repository body has nothing
// but the repository and the common fields, so an issue, release, label... body is not one.
var githubLifecycle = map[string]shape{
	"installation": {
		objects: []string{"installation.account"},
		only: []fields{{"", []string{"action", "enterprise", "installation", "organization", "repositories", "repository",
			"requester", "sender"}}},
	},
	"installation_repositories": {
		objects: []string{"installation.account"},
		arrays:  []string{"repositories_added", "repositories_removed"},
		only: []fields{{"", []string{"action", "enterprise", "installation", "organization", "repositories_added",
			"repositories_removed", "repository", "repository_selection", "requester", "sender"}}},
	},
	"repository": {
		objects: []string{"repository"},
		only:    []fields{{"", []string{"action", "changes", "enterprise", "installation", "organization", "repository", "sender"}}},
	},
}

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
	ev := Event{
		DeliveryID:             delivery,
		EventType:              withAction(event, action),
		InstallationExternalID: installation,
		ResourceID:             repository,
		Headers: keepHeaders(r.Header, "X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID",
			"X-GitHub-Hook-Installation-Target-ID", "X-GitHub-Hook-Installation-Target-Type", "User-Agent", "Content-Type"),
	}
	if s, ok := githubLifecycle[event]; ok {
		ev.Lifecycle = true
		if why := s.confirm(r.Body); why != "" {
			ev.Unconfirmed = unconfirmed("X-GitHub-Event", event, why)
		}
	}
	return finish(ev)
}
