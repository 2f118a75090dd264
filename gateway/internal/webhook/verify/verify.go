// Package verify authenticates provider webhooks on their raw bytes and extracts what routing needs
// (SPEC §5.3 steps 2 and 3). It does no I/O of its own: the one secret that lives in the database (a
// Linear installation's webhook secret) comes through a lookup function the caller supplies.
//
// Verification fails closed: no configured secret, no header or a malformed header is a failure, never a
// skip. Comparisons are constant-time (hmac.Equal) and every configured secret is tried, so rotation
// works by listing the new secret next to the old one.
package verify

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lightfastai/connections/db/types"
)

// Errors returned by Verify and Parse. The HTTP layer maps each to a status and a stable code.
var (
	// ErrMissingSignature: the signature header is absent or empty.
	ErrMissingSignature = errors.New("signature header missing")
	// ErrInvalidSignature: the header is malformed or matches none of the configured secrets (also
	// when no secret is configured at all).
	ErrInvalidSignature = errors.New("signature does not match")
	// ErrStaleTimestamp: the signed timestamp is missing, unparsable or outside the allowed window.
	ErrStaleTimestamp = errors.New("timestamp missing or outside the allowed window")
	// ErrMalformedPayload: the body is not the JSON object the provider sends, or a field has the wrong
	// type or cannot be stored.
	ErrMalformedPayload = errors.New("payload is not valid JSON of the expected shape")
	// ErrMissingDeliveryID: no delivery id could be found.
	ErrMissingDeliveryID = errors.New("delivery id missing")
	// ErrMissingEventType: no event type could be found.
	ErrMissingEventType = errors.New("event type missing")
)

// MaxFieldLen is the longest delivery id, event type, installation or resource id that is accepted: the
// varchar(191) of the delivery table.
const MaxFieldLen = 191

// Request is one received webhook: its headers, its body exactly as read, and the time it arrived.
type Request struct {
	Header http.Header
	Body   []byte
	Now    time.Time
}

// Event is what the gateway needs from a verified delivery to record and route it.
type Event struct {
	// DeliveryID is the provider's delivery id: the dedup key together with the provider.
	DeliveryID string
	// EventType is the event and its action, e.g. "push", "pull_request.opened", "Issue.create".
	EventType string
	// InstallationExternalID identifies the installation as the provider names it (GitHub
	// installation.id, Linear organizationId, Sentry installation.uuid, Vercel configuration id).
	InstallationExternalID string
	// ResourceID is the repository / project / team the event is about, when there is one.
	ResourceID string
	// Lifecycle marks installation and repository lifecycle events, which the gateway applies itself
	// (webhook.lifecycle) instead of handing them to the console.
	Lifecycle bool
	// Unconfirmed, when not empty, says why the signed body does not confirm the lifecycle event its
	// unsigned header names. The delivery is authentic but must not act: it is recorded ignored with
	// this reason, and no lifecycle job runs.
	Unconfirmed string
	// Headers are the provider headers worth keeping with the delivery (never a signature).
	Headers types.Headers
}

// Provider verifies and parses one provider's webhooks.
type Provider interface {
	// Verify authenticates the request. ctx is used only for secret lookups.
	Verify(ctx context.Context, r Request) error
	// Parse extracts the event from a verified request.
	Parse(r Request) (Event, error)
}

// Secrets turns configured secrets into the byte keys HMAC wants, dropping empty ones.
func Secrets[S ~string](in []S) [][]byte {
	out := make([][]byte, 0, len(in))
	for _, s := range in {
		if s != "" {
			out = append(out, []byte(s))
		}
	}
	return out
}

// signedHeader returns the one value of a header that carries a signature or a signed timestamp. A
// header sent twice is refused: a proxy in front of the gateway might read the other copy, and no
// provider ever sends two.
func signedHeader(h http.Header, name string) (string, error) {
	switch v := h.Values(name); len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	default:
		return "", ErrInvalidSignature
	}
}

// checkHexMAC reports whether sigHex is the hex MAC of body under any of keys. Every key is tried (no
// early exit), and the comparison itself is constant-time. Only lowercase hex is accepted: every
// provider sends it, and their reference verifiers compare the header as a string, so another spelling
// of the same MAC is not something a provider produced.
func checkHexMAC(newHash func() hash.Hash, keys [][]byte, sigHex string, body []byte) error {
	if sigHex == "" {
		return ErrMissingSignature
	}
	if strings.ToLower(sigHex) != sigHex {
		return ErrInvalidSignature
	}
	want, err := hex.DecodeString(sigHex)
	if err != nil || len(want) != newHash().Size() {
		return ErrInvalidSignature
	}
	ok := false
	for _, k := range keys {
		m := hmac.New(newHash, k)
		m.Write(body)
		if hmac.Equal(m.Sum(nil), want) {
			ok = true
		}
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

// storable reports whether s can go into a varchar column as is: valid UTF-8, no NUL, not too long.
func storable(s string) bool {
	return len(s) <= MaxFieldLen && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// keepHeaders copies the named headers that are present and storable in a jsonb column. Keys are
// lower-case so readers need not care how the provider spelled them.
func keepHeaders(h http.Header, names ...string) types.Headers {
	out := make(types.Headers, len(names))
	for _, n := range names {
		v := h.Get(n)
		if v == "" || len(v) > 512 || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			continue
		}
		out[strings.ToLower(n)] = v
	}
	return out
}

// withAction joins an event name and its action ("pull_request" + "opened").
func withAction(event, action string) string {
	if action == "" {
		return event
	}
	return event + "." + action
}

// finish checks that every extracted field can be stored, so a hostile payload becomes a 400 rather
// than a database error.
func finish(ev Event) (Event, error) {
	if ev.DeliveryID == "" {
		return Event{}, ErrMissingDeliveryID
	}
	if ev.EventType == "" {
		return Event{}, ErrMissingEventType
	}
	for _, s := range []string{ev.DeliveryID, ev.EventType, ev.InstallationExternalID, ev.ResourceID} {
		if !storable(s) {
			return Event{}, ErrMalformedPayload
		}
	}
	return ev, nil
}

// IsLifecycle reports whether a recorded event type (as Parse produced it) is a lifecycle event, so a
// replay can pick the right job kind without the original request.
func IsLifecycle(p types.Provider, eventType string) bool {
	event, _, _ := strings.Cut(eventType, ".")
	switch p {
	case types.GitHub:
		_, ok := githubLifecycle[event]
		return ok
	case types.Vercel:
		return vercelLifecycle[eventType]
	case types.Sentry:
		return event == "installation"
	}
	return false
}
