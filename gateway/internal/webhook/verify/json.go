package verify

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// Payloads are validated and read with gjson rather than encoding/json: ingest reads three or four
// fields of a body that is often tens of KB, and a validating scan plus direct path lookups is several
// times cheaper than decoding into structs (it was the largest CPU cost of the ingest path).

// object validates body as a JSON object and returns the values at paths (gjson path syntax).
func object(body []byte, paths ...string) ([]gjson.Result, error) {
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n') {
		i++
	}
	if i == len(body) || body[i] != '{' || !gjson.ValidBytes(body) {
		return nil, ErrMalformedPayload
	}
	return gjson.GetManyBytes(body, paths...), nil
}

// idOf reads a provider identifier, which arrives as a JSON integer (GitHub, Sentry) or string (Linear,
// Vercel, Sentry uuids). Absent and null are "". Floats, booleans, objects and arrays are malformed.
func idOf(r gjson.Result) (string, error) {
	switch r.Type {
	case gjson.Null:
		return "", nil
	case gjson.String:
		return r.Str, nil
	case gjson.Number:
		if _, err := strconv.ParseInt(r.Raw, 10, 64); err != nil {
			return "", ErrMalformedPayload
		}
		return r.Raw, nil
	}
	return "", ErrMalformedPayload
}

// stringOf reads an optional string field: absent and null are "", other types are malformed.
func stringOf(r gjson.Result) (string, error) {
	switch r.Type {
	case gjson.Null:
		return "", nil
	case gjson.String:
		return r.Str, nil
	}
	return "", ErrMalformedPayload
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
