package verify

import (
	"bytes"
	"strconv"

	"github.com/tidwall/gjson"
)

// Payloads are validated and read with gjson rather than encoding/json: ingest reads three or four
// fields of a body that is often tens of KB, and a validating scan plus direct path lookups is several
// times cheaper than decoding into structs (it was the largest CPU cost of the ingest path).

// MaxDepth is the deepest nesting of objects and arrays a webhook body may have; deeper is
// ErrMalformedPayload. gjson's validator recurses once per level, so without this bound one request of
// a few MB of '[' overflows the goroutine stack, which is a fatal error that no recover() catches and
// that takes the whole process down. Provider payloads nest a handful of levels (the real GitHub
// payloads in db/dbtest/testdata: at most 5); 128 leaves room for deep user data in Sentry events while
// keeping gjson's recursion to a few tens of KB of stack.
const MaxDepth = 128

// object validates body as a JSON object and returns the values at paths (gjson path syntax). Every
// byte from a sender reaches gjson only through here, after withinDepth.
func object(body []byte, paths ...string) ([]gjson.Result, error) {
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n') {
		i++
	}
	if i == len(body) || body[i] != '{' || !withinDepth(body) || !gjson.ValidBytes(body) {
		return nil, ErrMalformedPayload
	}
	// GetManyBytes descends only as deep as each path's own components (values it skips are stepped
	// over by an iterative scanner), and the paths are this package's constants.
	return gjson.GetManyBytes(body, paths...), nil
}

// withinDepth reports whether the objects and arrays of body nest at most MaxDepth deep: iteratively,
// allocating nothing, in one counting pass and, when that cannot settle it, one scan. It is not a
// validator (gjson validates next): the scan only counts brackets outside strings. On any prefix that is
// valid JSON, which is as far as gjson's validator ever recurses, its strings are exactly the ones seen
// here, so gjson recurses no deeper than counted. The scan refuses closing more than was opened.
func withinDepth(body []byte) bool {
	// Nesting cannot be deeper than the number of openers, brackets in strings included: most payloads
	// (a push: 44) have fewer than MaxDepth, and counting them is a vectorised pass over the body.
	if bytes.Count(body, []byte{'{'})+bytes.Count(body, []byte{'['}) <= MaxDepth {
		return true
	}
	depth := 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !structural[c] {
			continue
		}
		switch c {
		case '"':
			// Jump to the closing quote: the next quote not escaped, i.e. not preceded by an odd run of
			// backslashes. IndexByte keeps the common case (long strings) fast; each backslash is counted
			// at most once, so the pass stays linear.
			for {
				j := bytes.IndexByte(body[i+1:], '"')
				if j < 0 {
					return false // unterminated string
				}
				i += j + 1
				n := 0
				for k := i - 1; body[k] == '\\'; k-- { // stops at the opening quote at the latest
					n++
				}
				if n%2 == 0 {
					break
				}
			}
		case '[', '{':
			depth++
			if depth > MaxDepth {
				return false
			}
		default: // ']', '}'
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return true
}

// structural are the bytes withinDepth stops at; everything else outside strings (whitespace, numbers,
// literals, colons, commas) is stepped over with one table load.
var structural = [256]bool{'"': true, '[': true, ']': true, '{': true, '}': true}

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
