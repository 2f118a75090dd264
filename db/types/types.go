// Package types holds the Go types of every jsonb column (SPEC §4). sqlc's overrides map each column to
// one of these, and pgx marshals them with encoding/json. Nil maps and slices are written as {} and [],
// never null, so SQL that reads them (jsonb_array_length, ?, @>) needs no null checks.
package types

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// Provider is one of the four connected providers.
type Provider string

// The providers.
const (
	GitHub Provider = "github"
	Vercel Provider = "vercel"
	Linear Provider = "linear"
	Sentry Provider = "sentry"
)

// Providers lists every provider, in a stable order.
var Providers = []Provider{GitHub, Vercel, Linear, Sentry}

// ParseProvider validates a provider name.
func ParseProvider(s string) (Provider, error) {
	for _, p := range Providers {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown provider %q", s)
}

// Object is a free-form JSON object (installation metadata, workspace settings, observation metadata).
type Object map[string]any

// MarshalJSON writes a nil Object as {}.
func (o Object) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]any(o))
}

// Value lets pgx write a nil Object as {} instead of SQL NULL (pgx treats nil maps as NULL unless the
// type is a driver.Valuer).
func (o Object) Value() (driver.Value, error) { return jsonValue(o) }

// Headers are the provider request headers kept with a delivery (never signatures or secrets).
type Headers map[string]string

// MarshalJSON writes nil Headers as {}.
func (h Headers) MarshalJSON() ([]byte, error) {
	if h == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]string(h))
}

// Actor is who caused an observation.
type Actor struct {
	ID        string `json:"id,omitempty"`
	Login     string `json:"login,omitempty"`
	Name      string `json:"name,omitempty"`
	Email     string `json:"email,omitempty"`
	AvatarURL string `json:"avatarUrl,omitempty"`
}

// nonNil returns s, or an empty slice when s is nil, so it marshals as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Value lets pgx write nil Headers as {} instead of SQL NULL.
func (h Headers) Value() (driver.Value, error) { return jsonValue(h) }

func jsonValue(v json.Marshaler) (driver.Value, error) {
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// wrapDecode prefixes a variant's decode error with its column, so a log line says which column of the
// row could not be read.
func wrapDecode(column string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", column, err)
	}
	return nil
}
