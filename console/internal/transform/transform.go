// Package transform turns a provider's raw webhook payload into observations. It is pure: no I/O, no
// clock; the same input always yields the same observations with the same source ids, which is what lets
// a retried delivery, a replayed delivery and a backfill of the same fact converge on one row.
package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lightfastai/connections/db/types"
)

// Observation is one fact derived from a payload, ready to be written to workspace_observations.
type Observation struct {
	// SourceType is the kind of fact, e.g. "push", "pull_request.merged", "deployment.succeeded".
	SourceType string
	// SourceID identifies the fact deterministically (see the *SourceID helpers); unique per workspace.
	SourceID string
	Title    string
	// Body is longer text (description, commit messages), capped at MaxBodyBytes; may be empty.
	Body string
	// Actor is who caused it; nil when the payload does not say.
	Actor *types.Actor
	// URL links to the fact at the provider.
	URL string
	// OccurredAt is when it happened at the provider (the delivery's receipt time when the payload
	// carries no time of its own).
	OccurredAt time.Time
	// Metadata holds a few provider-specific fields worth filtering or displaying (repo, ref, state...).
	Metadata types.Object
}

// Input is one delivery as the worker holds it.
type Input struct {
	Provider types.Provider
	// EventType is the delivery's event_type: GitHub's X-GitHub-Event, Vercel's type, Linear's type,
	// Sentry's Sentry-Hook-Resource, optionally followed by "." and the action. Only the part before the
	// first dot is used where the payload carries the action itself.
	EventType string
	Payload   []byte
	// ReceivedAt is when the gateway received the delivery; the fallback for OccurredAt.
	ReceivedAt time.Time
}

// ErrInvalidPayload is returned (wrapped) when a payload of a handled event cannot be read or lacks the
// fields that identify its fact. Retrying cannot fix it.
var ErrInvalidPayload = errors.New("invalid payload")

// MaxBodyBytes caps Observation.Body; bodies (PR descriptions, commit lists) can be megabytes.
const MaxBodyBytes = 32 << 10

// Transform returns the observations in in. An event or action the platform does not record yields no
// observations and no error.
func Transform(in Input) ([]Observation, error) {
	event := BaseEvent(in.EventType)
	var (
		obs []Observation
		err error
	)
	switch in.Provider {
	case types.GitHub:
		obs, err = github(event, in.Payload, in.ReceivedAt)
	case types.Vercel:
		obs, err = vercel(in.EventType, in.Payload, in.ReceivedAt)
	case types.Linear:
		obs, err = linear(in.Payload, in.ReceivedAt)
	case types.Sentry:
		obs, err = sentry(event, in.Payload, in.ReceivedAt)
	default:
		return nil, fmt.Errorf("transform: %w: unknown provider %q", ErrInvalidPayload, in.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("transform %s %s: %w", in.Provider, in.EventType, err)
	}
	for i := range obs {
		obs[i].Body = capBody(obs[i].Body)
		if obs[i].OccurredAt.IsZero() {
			obs[i].OccurredAt = in.ReceivedAt
		}
		obs[i].OccurredAt = obs[i].OccurredAt.UTC()
	}
	return obs, nil
}

// BaseEvent is the event name without its action: "pull_request.opened" → "pull_request",
// "deployment.succeeded" → "deployment". It is what sync_config.events lists.
func BaseEvent(eventType string) string {
	base, _, _ := strings.Cut(eventType, ".")
	return base
}

func decode(payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		// json's messages can quote payload bytes; the offset is enough to debug with.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return fmt.Errorf("%w: malformed JSON at offset %d", ErrInvalidPayload, syn.Offset)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fmt.Errorf("%w: field %s has the wrong type", ErrInvalidPayload, typ.Field)
		}
		return fmt.Errorf("%w: %s", ErrInvalidPayload, "cannot decode")
	}
	return nil
}

func missing(field string) error { return fmt.Errorf("%w: missing %s", ErrInvalidPayload, field) }

// parseTime reads an RFC 3339 time; empty or unreadable gives the zero time (the caller falls back).
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// firstTime returns the first non-zero time.
func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func capBody(s string) string {
	if len(s) <= MaxBodyBytes {
		return s
	}
	cut := MaxBodyBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// firstLine is a commit message's subject.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

func or(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
