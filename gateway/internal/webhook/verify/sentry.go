package verify

import (
	"context"
	"crypto/sha256"
	"strconv"
	"time"
)

// SentryWindow is how far Sentry-Hook-Timestamp may be from now. The timestamp is not covered by the
// signature, so it only rejects stale or badly clocked deliveries; replays of a signed body are stopped by
// the Request-ID dedup key. Five minutes tolerates ordinary clock skew.
const SentryWindow = 5 * time.Minute

// Sentry verifies Sentry-Hook-Signature (hex HMAC-SHA256 of the body, keyed with the integration's client
// secret) and Sentry-Hook-Timestamp, and reads Request-ID, Sentry-Hook-Resource + action,
// installation.uuid and the project id.
type Sentry struct {
	// Secrets are the integration client secrets (SENTRY_CLIENT_SECRETS).
	Secrets [][]byte
	// Window overrides SentryWindow when not zero.
	Window time.Duration
}

// Verify implements Provider.
func (s Sentry) Verify(_ context.Context, r Request) error {
	sig, err := signedHeader(r.Header, "Sentry-Hook-Signature")
	if err != nil {
		return err
	}
	if err := checkHexMAC(sha256.New, s.Secrets, sig, r.Body); err != nil {
		return err
	}
	ts, err := signedHeader(r.Header, "Sentry-Hook-Timestamp")
	if err != nil {
		return ErrStaleTimestamp
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || secs < 0 || secs > 1<<40 {
		return ErrStaleTimestamp
	}
	window := s.Window
	if window == 0 {
		window = SentryWindow
	}
	return checkWindow(time.Unix(secs, 0), r.Now, window)
}

type sentryPayload struct {
	Action       string `json:"action"`
	Installation *struct {
		UUID id `json:"uuid"`
	} `json:"installation"`
	Data *struct {
		Issue *struct {
			Project *obj `json:"project"`
		} `json:"issue"`
		Error *struct {
			Project id `json:"project"`
		} `json:"error"`
		Event *struct {
			Project id `json:"project"`
		} `json:"event"`
	} `json:"data"`
}

// Parse implements Provider.
func (Sentry) Parse(r Request) (Event, error) {
	resource := r.Header.Get("Sentry-Hook-Resource")
	if resource == "" {
		return Event{}, ErrMissingEventType
	}
	delivery := r.Header.Get("Request-ID")
	if delivery == "" {
		return Event{}, ErrMissingDeliveryID
	}
	var p sentryPayload
	if err := decodeObject(r.Body, &p); err != nil {
		return Event{}, err
	}
	ev := Event{
		DeliveryID: delivery,
		EventType:  withAction(resource, p.Action),
		Lifecycle:  resource == "installation",
		Headers:    keepHeaders(r.Header, "Request-ID", "Sentry-Hook-Resource", "Sentry-Hook-Timestamp", "User-Agent", "Content-Type"),
	}
	if p.Installation != nil {
		ev.InstallationExternalID = string(p.Installation.UUID)
	}
	if d := p.Data; d != nil {
		switch {
		case d.Issue != nil && d.Issue.Project != nil:
			ev.ResourceID = idOf(d.Issue.Project)
		case d.Error != nil:
			ev.ResourceID = string(d.Error.Project)
		case d.Event != nil:
			ev.ResourceID = string(d.Event.Project)
		}
	}
	return finish(ev)
}
