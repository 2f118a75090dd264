package verify_test

// Hostile bodies (README "Security suite"): nesting deep enough to overflow a recursive parser, and
// authentic bodies of one event replayed under another event's unsigned header.

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // Vercel's scheme
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// nested returns a JSON object whose field "a" holds depth-1 nested arrays (so the whole body nests
// depth deep), with prefix fields before it.
func nested(prefix string, depth int) []byte {
	var b bytes.Buffer
	b.WriteString("{" + prefix + `"a":`)
	b.WriteString(strings.Repeat("[", depth-1))
	b.WriteString(strings.Repeat("]", depth-1))
	b.WriteString("}")
	return b.Bytes()
}

// deepOpen is the attack as reported: a few million '[' after a field, never closed.
func deepOpen(prefix string, n int) []byte {
	return append([]byte("{"+prefix+`"a":`), bytes.Repeat([]byte("["), n)...)
}

// parsers returns each provider's Parse with the headers it needs to reach the body.
func parsers() map[string]func(body []byte) error {
	parse := func(p verify.Provider, h http.Header) func([]byte) error {
		return func(body []byte) error {
			_, err := p.Parse(verify.Request{Now: now, Body: body, Header: h})
			return err
		}
	}
	return map[string]func([]byte) error{
		"github": parse(verify.GitHub{}, header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d")),
		"vercel": parse(verify.Vercel{}, http.Header{}),
		"linear": parse(verify.Linear{}, header("Linear-Delivery", "d")),
		"sentry": parse(verify.Sentry{}, header("Sentry-Hook-Resource", "issue", "Request-ID", "d")),
	}
}

func TestSecurityNestingDepthIsBounded(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"github": `"action":"x",`,
		"vercel": `"id":"e","type":"deployment.created",`,
		"linear": `"type":"Issue","organizationId":"o",`,
		"sentry": `"action":"created",`,
	}
	for name, parse := range parsers() {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, parse(nested(valid[name], verify.MaxDepth)), "MaxDepth itself is accepted")
			require.ErrorIs(t, parse(nested(valid[name], verify.MaxDepth+1)), verify.ErrMalformedPayload)
			deep := deepOpen(valid[name], 5_000_000)
			start := time.Now()
			require.ErrorIs(t, parse(deep), verify.ErrMalformedPayload)
			t.Logf("%s: 5,000,000 '[' refused in %s", name, time.Since(start))
		})
	}

	// Brackets inside strings are not nesting, and a string ends at the first quote not escaped by an odd
	// run of backslashes. Each body has more openers than MaxDepth (most inside strings), so it is
	// scanned, and its real nesting is exactly MaxDepth: it is accepted only if every string is delimited
	// right (a quote taken for the wrong one flips strings and structure, and the brackets count).
	parse := parsers()["vercel"]
	for name, fields := range map[string]string{
		"brackets in a string":            `"s":"` + strings.Repeat("[{", 1000) + `",`,
		"escaped quote":                   `"s":"a\"[[[[",`,
		"escaped backslash, then the end": `"s":"a\\","t":"[[[[",`,
		"three backslashes":               `"s":"a\\\"[[[[","t":"[[",`,
		"four backslashes":                `"s":"a\\\\","t":"[[[[",`,
		"escapes of every kind":           `"s":"\\\/\b\f\n\r\t\u005b\"[","t":"]]]][[[[",`,
	} {
		require.NoError(t, parse(nested(`"id":"e","type":"t",`+fields, verify.MaxDepth)), name)
		require.ErrorIs(t, parse(nested(`"id":"e","type":"t",`+fields, verify.MaxDepth+1)), verify.ErrMalformedPayload, name)
	}
	// Closing more than was opened, and an unterminated string.
	require.ErrorIs(t, parse([]byte(`{"id":"e","type":"t"}]]]]`+strings.Repeat("[", 1000))), verify.ErrMalformedPayload)
	require.ErrorIs(t, parse([]byte(`{"id":"e","type":"t","s":"`+strings.Repeat("[", 1000))), verify.ErrMalformedPayload)
}

// Linear reads organizationId before the signature is checked (to pick the installation's secret); that
// read goes through the same bound, and an unauthenticated deep body stays a signature failure.
func TestSecurityLinearDeepBodyBeforeVerification(t *testing.T) {
	t.Parallel()
	lookups := 0
	l := verify.Linear{
		Fallback: [][]byte{[]byte("fallback")},
		InstallationSecrets: func(context.Context, string) ([][]byte, error) {
			lookups++
			return [][]byte{[]byte("installation")}, nil
		},
	}
	body := deepOpen(`"organizationId":"org-1",`, 5_000_000)
	for sig, want := range map[string]error{
		"":                                    verify.ErrMissingSignature,
		mac(sha256.New, "attacker", body):     verify.ErrInvalidSignature,
		mac(sha256.New, "installation", body): verify.ErrInvalidSignature, // the organization cannot be read, so its secret is not tried
		strings.Repeat("0", sha256.Size*2):    verify.ErrInvalidSignature,
		mac(sha1.New, "fallback", body):       verify.ErrInvalidSignature,
	} {
		err := l.Verify(context.Background(), verify.Request{Now: now, Body: body, Header: header("Linear-Signature", sig)})
		require.ErrorIs(t, err, want)
	}
	require.Zero(t, lookups, "no secret lookup for a body whose organization cannot be read")

	// Authentic (fallback secret) but too deep: verified, then malformed, never a signature problem.
	r := verify.Request{Now: now, Body: body, Header: header("Linear-Signature", mac(sha256.New, "fallback", body), "Linear-Delivery", "d")}
	require.NoError(t, l.Verify(context.Background(), r))
	_, err := l.Parse(r)
	require.ErrorIs(t, err, verify.ErrMalformedPayload)
}

func TestSecurityLifecycleNeedsItsOwnShape(t *testing.T) {
	t.Parallel()
	g := verify.GitHub{}
	parseGitHub := func(event string, body []byte) verify.Event {
		t.Helper()
		ev, err := g.Parse(verify.Request{Body: body, Header: header("X-GitHub-Event", event, "X-GitHub-Delivery", "d")})
		require.NoError(t, err)
		return ev
	}
	// Real lifecycle bodies under their own event are confirmed.
	for file, event := range map[string]string{
		"installation/created.payload.json":                       "installation",
		"installation/created.with-requester.payload.json":        "installation",
		"installation/deleted.payload.json":                       "installation",
		"installation/suspend.payload.json":                       "installation",
		"installation/unsuspend.payload.json":                     "installation",
		"installation/new_permissions_accepted.payload.json":      "installation",
		"installation_repositories/added.payload.json":            "installation_repositories",
		"installation_repositories/removed.payload.json":          "installation_repositories",
		"repository/created.with-installation.payload.json":       "repository",
		"repository/edited.with-default_branch-edit.payload.json": "repository",
		"repository/privatized.payload.json":                      "repository",
		"repository/publicized.payload.json":                      "repository",
		"repository/renamed.payload.json":                         "repository",
		"repository/transferred.with-installation.payload.json":   "repository",
		"repository/edited.payload.json":                          "repository",
		"repository/created.payload.json":                         "repository",
		"repository/transferred.payload.json":                     "repository",
	} {
		ev := parseGitHub(event, fixture(t, file))
		require.True(t, ev.Lifecycle, file)
		require.Empty(t, ev.Unconfirmed, file)
	}
	// Authentic bodies of other events replayed under a lifecycle header are not.
	for _, c := range []struct{ file, event, why string }{
		{"issues/deleted.payload.json", "installation", "no installation.account object"},
		{"issues/deleted.payload.json", "repository", `unexpected field "issue"`},
		{"release/deleted.payload.json", "repository", `unexpected field "release"`},
		{"pull_request/closed.payload.json", "repository", `unexpected field "number"`},
		{"push/with-installation.payload.json", "repository", `unexpected field "ref"`},
		{"issues/deleted.payload.json", "installation_repositories", "no installation.account object"},
		{"installation/deleted.payload.json", "installation_repositories", "no repositories_added array"},
		{"installation_repositories/removed.payload.json", "installation", `unexpected field "repository_selection"`},
		{"installation/deleted.payload.json", "repository", "no repository object"},
		{"repository/renamed.payload.json", "installation", "no installation.account object"},
	} {
		ev := parseGitHub(c.event, fixture(t, c.file))
		require.True(t, ev.Lifecycle, c.file)
		require.Equal(t, "X-GitHub-Event "+strconv.Quote(c.event)+" is not confirmed by the signed body: "+c.why, ev.Unconfirmed, c.file+" as "+c.event)
	}
	// Content events are not checked: their bodies are the console's to read.
	require.Empty(t, parseGitHub("issues", fixture(t, "installation/deleted.payload.json")).Unconfirmed)

	// Sentry: the installation webhook as Sentry documents it, then impostors.
	s := verify.Sentry{}
	parseSentry := func(resource, body string) verify.Event {
		t.Helper()
		ev, err := s.Parse(verify.Request{Body: []byte(body), Header: header("Sentry-Hook-Resource", resource, "Request-ID", "r")})
		require.NoError(t, err)
		return ev
	}
	installation := `{"action":"deleted","actor":{"id":1,"name":"M","type":"user"},"data":{"installation":{"status":"installed",` +
		`"organization":{"slug":"o"},"app":{"uuid":"app","slug":"s"},"uuid":"inst-uuid"}},"installation":{"uuid":"inst-uuid"}}`
	ev := parseSentry("installation", installation)
	require.True(t, ev.Lifecycle)
	require.Empty(t, ev.Unconfirmed)
	require.Equal(t, "installation.deleted", ev.EventType)
	for body, why := range map[string]string{
		`{"action":"deleted","installation":{"uuid":"u"},"data":{"issue":{"id":"1","project":{"id":"2"}}}}`:          "no data.installation object",
		`{"action":"deleted","installation":{"uuid":"u"}}`:                                                           "no data.installation object",
		`{"action":"deleted","installation":{"uuid":"u"},"data":{"installation":{"uuid":"u"},"issue":{}}}`:           `unexpected field "data.issue"`,
		`{"action":"deleted","installation":{"uuid":"u"},"data":{"installation":{"uuid":"other"}}}`:                  "installation.uuid and data.installation.uuid differ",
		`{"action":"deleted","installation":{"uuid":""},"data":{"installation":{"uuid":""}}}`:                        "installation.uuid and data.installation.uuid differ",
		`{"action":"deleted","installation":{"uuid":"u"},"data":{"installation":{"uuid":"u"}},"triggered_rule":"r"}`: `unexpected field "triggered_rule"`,
	} {
		ev := parseSentry("installation", body)
		require.Equal(t, `Sentry-Hook-Resource "installation" is not confirmed by the signed body: `+why, ev.Unconfirmed, body)
	}
	// A field name from the body is quoted and cut short in the reason.
	long := `\u0000` + strings.Repeat("x", 500)
	ev = parseSentry("installation", `{"action":"deleted","installation":{"uuid":"u"},"data":{"installation":{"uuid":"u"}},"`+long+`":1}`)
	require.Less(t, len(ev.Unconfirmed), 200)
	require.NotContains(t, ev.Unconfirmed, "\x00")
}
