package verify

import (
	"slices"
	"strconv"

	"github.com/tidwall/gjson"
)

// shape is what the signed body of a lifecycle event must look like before the event name, which comes
// from an unsigned header (X-GitHub-Event, Sentry-Hook-Resource), is believed. Without it a captured
// body of another event (an issues.deleted, a release.deleted) replayed with the header changed and a
// fresh delivery id would be applied as an installation or repository lifecycle event.
type shape struct {
	// objects and arrays are paths that must hold an object / an array.
	objects, arrays []string
	// only lists, per object ("" is the body itself), the only fields it may have. Provider events each
	// carry an object of their own kind (issue, pull_request, release, ...) beside a few common ones, so
	// a body of another kind has a field that is not listed.
	only []fields
	// same are pairs of paths that must hold the same non-empty string.
	same [][2]string
}

type fields struct {
	path    string
	allowed []string
}

// confirm returns "" when body (already validated by object) has the shape, otherwise what does not
// match, for the delivery's last_error.
func (s shape) confirm(body []byte) string {
	for _, p := range s.objects {
		if !gjson.GetBytes(body, p).IsObject() {
			return "no " + p + " object"
		}
	}
	for _, p := range s.arrays {
		if !gjson.GetBytes(body, p).IsArray() {
			return "no " + p + " array"
		}
	}
	for _, f := range s.only {
		obj := gjson.ParseBytes(body)
		if f.path != "" {
			obj = gjson.GetBytes(body, f.path)
		}
		var unexpected string
		obj.ForEach(func(k, _ gjson.Result) bool {
			if !slices.Contains(f.allowed, k.Str) {
				unexpected = k.Str
				return false
			}
			return true
		})
		if unexpected != "" {
			return "unexpected field " + quoteField(f.path, unexpected)
		}
	}
	for _, pair := range s.same {
		a, b := gjson.GetBytes(body, pair[0]), gjson.GetBytes(body, pair[1])
		if a.Type != gjson.String || a.Str == "" || b.Type != gjson.String || a.Str != b.Str {
			return pair[0] + " and " + pair[1] + " differ"
		}
	}
	return ""
}

// quoteField names a field for a reason that is stored and shown: quoted (so any byte is escaped) and
// cut short (the name comes from the sender's body).
func quoteField(path, key string) string {
	const max = 64
	if len(key) > max {
		key = key[:max] + "..."
	}
	if path != "" {
		key = path + "." + key
	}
	return strconv.Quote(key)
}

// unconfirmed words the reason a lifecycle event is not applied.
func unconfirmed(header, event, why string) string {
	return header + " " + strconv.Quote(event) + " is not confirmed by the signed body: " + why
}
