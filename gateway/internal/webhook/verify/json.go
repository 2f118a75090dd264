package verify

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// id is a provider identifier that arrives as a JSON number (GitHub, Sentry) or string (Linear, Vercel,
// Sentry uuids). It keeps the text: a number's literal digits, a string's contents.
type id string

// UnmarshalJSON accepts an integer, a string or null; anything else (floats, objects) is malformed.
func (i *id) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*i = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*i = id(s)
	default:
		if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
			return ErrMalformedPayload
		}
		*i = id(b)
	}
	return nil
}

// obj is a nested object with an id ("installation": {"id": …}); missing and null both leave ID empty.
type obj struct {
	ID id `json:"id"`
}

// idOf returns o's id, or "" when o is absent.
func idOf(o *obj) string {
	if o == nil {
		return ""
	}
	return string(o.ID)
}

// decodeObject unmarshals a JSON object body into v. Other JSON values (arrays, strings, null) are
// malformed: every provider sends an object.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ErrMalformedPayload
	}
	if err := json.Unmarshal(body, v); err != nil {
		return ErrMalformedPayload
	}
	return nil
}
