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
	// The project is in a different place per resource: issue → data.issue.project.id, error →
	// data.error.project, event_alert → data.event.project.
	v, err := object(r.Body, "action", "installation.uuid", "data.issue.project.id", "data.error.project", "data.event.project")
	if err != nil {
		return Event{}, err
	}
	action, err1 := stringOf(v[0])
	installation, err2 := idOf(v[1])
	if err := firstErr(err1, err2); err != nil {
		return Event{}, err
	}
	var project string
	for _, p := range v[2:] {
		if project, err = idOf(p); err != nil {
			return Event{}, err
		}
		if project != "" {
			break
		}
	}
	ev := Event{
		DeliveryID:             delivery,
		EventType:              withAction(resource, action),
		InstallationExternalID: installation,
		ResourceID:             project,
		Lifecycle:              resource == "installation",
		Headers:                keepHeaders(r.Header, "Request-ID", "Sentry-Hook-Resource", "Sentry-Hook-Timestamp", "User-Agent", "Content-Type"),
	}
	if ev.Lifecycle {
		if why := sentryInstallation.confirm(r.Body); why != "" {
			ev.Unconfirmed = unconfirmed("Sentry-Hook-Resource", resource, why)
		}
	}
	return finish(ev)
}

// sentryInstallation is the shape of an installation webhook: the installation itself under data, with
// the uuid the envelope names, and nothing else there (issue, error, event_alert... bodies carry their own
// object under data).
var sentryInstallation = shape{
	objects: []string{"data.installation"},
	only:    []fields{{"", []string{"action", "actor", "data", "installation"}}, {"data", []string{"installation"}}},
	same:    [][2]string{{"installation.uuid", "data.installation.uuid"}},
}
