package verify_test

import (
	"context"
	"crypto/sha1" //nolint:gosec // Vercel's scheme
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// hostile are seeds every target starts from besides its realistic ones: nesting at and just past
// verify.MaxDepth, the reported attack's shape (a long run of '[' after a field; millions of them
// overflowed the stack of the recursive validator), brackets and escaped quotes inside a long string,
// and a large flat body. Sizes stay in the hundreds of KB so the fuzzer keeps its pace; the
// multi-megabyte versions are in TestSecurityNestingDepthIsBounded and the HTTP tests.
func hostile(prefix string) [][]byte {
	return [][]byte{
		nested(prefix, verify.MaxDepth),
		nested(prefix, verify.MaxDepth+1),
		deepOpen(prefix, 100_000),
		[]byte("{" + prefix + `"s":"` + strings.Repeat(`[{\"`, 100_000) + `"}`),
		[]byte("{" + prefix + `"s":"` + strings.Repeat("x", 256<<10) + `"}`),
	}
}

// The verifier fuzz targets check two things: no input panics, and a signature is accepted only when
// it is the true MAC of the body under the configured secret.

func FuzzGitHubVerify(f *testing.F) {
	body := fixture(f, "push/payload.json")
	f.Add("sha256="+mac(sha256.New, "s", body), body)
	f.Add("sha256=", []byte("{}"))
	f.Add("sha1=00", []byte(""))
	for _, b := range hostile(`"action":"x",`) {
		f.Add("sha256="+mac(sha256.New, "s", b), b)
	}
	g := verify.GitHub{Secrets: [][]byte{[]byte("s")}}
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		err := g.Verify(context.Background(), verify.Request{Body: body, Header: header("X-Hub-Signature-256", sig)})
		if err == nil && sig != "sha256="+mac(sha256.New, "s", body) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
	})
}

func FuzzVercelVerify(f *testing.F) {
	f.Add(mac(sha1.New, "s", []byte("{}")), []byte("{}"))
	for _, b := range hostile(`"id":"e","type":"t",`) {
		f.Add(mac(sha1.New, "s", b), b)
	}
	v := verify.Vercel{Secrets: [][]byte{[]byte("s")}}
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		err := v.Verify(context.Background(), verify.Request{Body: body, Header: header("X-Vercel-Signature", sig)})
		if err == nil && sig != mac(sha1.New, "s", body) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
	})
}

func FuzzLinearVerify(f *testing.F) {
	b := linearBody(now)
	f.Add(mac(sha256.New, "inst", b), b)
	f.Add(mac(sha256.New, "fb", b), b)
	for _, b := range hostile(`"organizationId":"org-1","webhookTimestamp":` + strconv.FormatInt(now.UnixMilli(), 10) + `,`) {
		f.Add(mac(sha256.New, "inst", b), b)
		f.Add(mac(sha256.New, "fb", b), b)
	}
	l := verify.Linear{
		Fallback:            [][]byte{[]byte("fb")},
		InstallationSecrets: func(context.Context, string) ([][]byte, error) { return [][]byte{[]byte("inst")}, nil },
	}
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		err := l.Verify(context.Background(), verify.Request{Now: now, Body: body, Header: header("Linear-Signature", sig)})
		if err == nil && sig != mac(sha256.New, "inst", body) && sig != mac(sha256.New, "fb", body) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
	})
}

func FuzzSentryVerify(f *testing.F) {
	f.Add(mac(sha256.New, "s", []byte("{}")), strconv.FormatInt(now.Unix(), 10), []byte("{}"))
	for _, b := range hostile(`"action":"created",`) {
		f.Add(mac(sha256.New, "s", b), strconv.FormatInt(now.Unix(), 10), b)
	}
	s := verify.Sentry{Secrets: [][]byte{[]byte("s")}}
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		err := s.Verify(context.Background(), verify.Request{Now: now, Body: body,
			Header: header("Sentry-Hook-Signature", sig, "Sentry-Hook-Timestamp", ts)})
		if err == nil && sig != mac(sha256.New, "s", body) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
	})
}

// The parser fuzz targets check that no input panics and that whatever is extracted can be stored.

func checkEvent(t *testing.T, ev verify.Event, err error) {
	t.Helper()
	if err != nil {
		return
	}
	for _, s := range []string{ev.DeliveryID, ev.EventType, ev.InstallationExternalID, ev.ResourceID} {
		if len(s) > verify.MaxFieldLen || !utf8.ValidString(s) || containsNUL(s) {
			t.Fatalf("extracted an unstorable value %q", s)
		}
	}
	if ev.DeliveryID == "" || ev.EventType == "" {
		t.Fatalf("accepted an event without delivery id or type: %+v", ev)
	}
	for k, v := range ev.Headers {
		if !utf8.ValidString(k+v) || containsNUL(v) {
			t.Fatalf("kept an unstorable header %q", v)
		}
	}
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func FuzzGitHubParse(f *testing.F) {
	for _, name := range []string{"push/payload.json", "installation/deleted.payload.json", "repository/renamed.payload.json"} {
		f.Add("push", "d-1", fixture(f, name))
	}
	f.Add("issues", "", []byte(`{"action":"opened","installation":{"id":"1"}}`))
	for _, b := range hostile(`"installation":{"id":1,"account":{}},`) {
		f.Add("installation", "d-1", b)
		f.Add("push", "d-1", b)
	}
	f.Fuzz(func(t *testing.T, event, delivery string, body []byte) {
		ev, err := verify.GitHub{}.Parse(verify.Request{Body: body, Header: http.Header{"X-Github-Event": {event}, "X-Github-Delivery": {delivery}}})
		checkEvent(t, ev, err)
	})
}

func FuzzVercelParse(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"deployment.created","payload":{"project":{"id":"prj_1"}}}`))
	f.Add([]byte(`{"id":1,"type":"integration-configuration.removed","payload":{"configuration":{"id":"icfg"}}}`))
	for _, b := range hostile(`"id":"e","type":"deployment.created",`) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := verify.Vercel{}.Parse(verify.Request{Body: body, Header: http.Header{}})
		checkEvent(t, ev, err)
	})
}

func FuzzLinearParse(f *testing.F) {
	f.Add("", linearBody(now))
	f.Add("ld", []byte(`{"type":"Comment","action":"create","organizationId":"o","data":{"team":{"id":"t"}}}`))
	for _, b := range hostile(`"type":"Issue","organizationId":"o",`) {
		f.Add("ld", b)
	}
	f.Fuzz(func(t *testing.T, delivery string, body []byte) {
		ev, err := verify.Linear{}.Parse(verify.Request{Body: body, Header: http.Header{"Linear-Delivery": {delivery}}})
		checkEvent(t, ev, err)
	})
}

func FuzzSentryParse(f *testing.F) {
	f.Add("issue", "r", []byte(`{"action":"created","installation":{"uuid":"u"},"data":{"issue":{"project":{"id":"1"}}}}`))
	f.Add("event_alert", "r", []byte(`{"action":"triggered","data":{"event":{"project":3}}}`))
	for _, b := range hostile(`"action":"deleted","installation":{"uuid":"u"},`) {
		f.Add("installation", "r", b)
		f.Add("issue", "r", b)
	}
	f.Fuzz(func(t *testing.T, resource, delivery string, body []byte) {
		ev, err := verify.Sentry{}.Parse(verify.Request{Body: body, Header: http.Header{"Sentry-Hook-Resource": {resource}, "Request-Id": {delivery}}})
		checkEvent(t, ev, err)
	})
}
