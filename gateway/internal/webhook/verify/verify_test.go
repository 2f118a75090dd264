package verify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Vercel's scheme
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mac(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// fixture reads one of the real GitHub payloads kept in the repository, byte for byte.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return dbtest.Fixture(t, "github/"+name)
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestGitHubFixtures(t *testing.T) {
	t.Parallel()
	g := verify.GitHub{Secrets: [][]byte{[]byte("old"), []byte("new")}}
	cases := []struct {
		file, event, eventType, inst, res string
		lifecycle                         bool
	}{
		{"push/with-installation.payload.json", "push", "push", "1", "186853002", false},
		{"pull_request/opened.payload.json", "pull_request", "pull_request.opened", "1", "186853002", false},
		{"installation/deleted.payload.json", "installation", "installation.deleted", "2", "", true},
		{"installation_repositories/removed.payload.json", "installation_repositories", "installation_repositories.removed", "2", "", true},
		{"deployment/with-installation.payload.json", "deployment", "deployment.created", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			body := fixture(t, c.file)
			for _, secret := range []string{"old", "new"} {
				r := verify.Request{Now: now, Body: body, Header: header(
					"X-Hub-Signature-256", "sha256="+mac(sha256.New, secret, body),
					"X-GitHub-Event", c.event, "X-GitHub-Delivery", "d-1")}
				require.NoError(t, g.Verify(context.Background(), r))
				ev, err := g.Parse(r)
				require.NoError(t, err)
				require.Equal(t, "d-1", ev.DeliveryID)
				require.Equal(t, c.eventType, ev.EventType)
				if c.inst != "" {
					require.Equal(t, c.inst, ev.InstallationExternalID)
				}
				if c.res != "" {
					require.Equal(t, c.res, ev.ResourceID)
				}
				require.Equal(t, c.lifecycle, ev.Lifecycle)
				require.Equal(t, c.event, ev.Headers["x-github-event"])
				require.NotContains(t, ev.Headers, "x-hub-signature-256")
			}
		})
	}
}

func TestGitHubRejects(t *testing.T) {
	t.Parallel()
	body := fixture(t, "push/payload.json")
	good := "sha256=" + mac(sha256.New, "s", body)
	reserialised := []byte(`{"ref": "refs/heads/main"}`)
	cases := map[string]struct {
		secrets [][]byte
		sig     string
		body    []byte
		want    error
	}{
		"missing":            {[][]byte{[]byte("s")}, "", body, verify.ErrMissingSignature},
		"no prefix":          {[][]byte{[]byte("s")}, good[len("sha256="):], body, verify.ErrInvalidSignature},
		"sha1 prefix":        {[][]byte{[]byte("s")}, "sha1=" + good[len("sha256="):], body, verify.ErrInvalidSignature},
		"not hex":            {[][]byte{[]byte("s")}, "sha256=zz", body, verify.ErrInvalidSignature},
		"empty hex":          {[][]byte{[]byte("s")}, "sha256=", body, verify.ErrMissingSignature},
		"wrong secret":       {[][]byte{[]byte("other")}, good, body, verify.ErrInvalidSignature},
		"no secret":          {nil, good, body, verify.ErrInvalidSignature},
		"body changed":       {[][]byte{[]byte("s")}, good, append([]byte(" "), body...), verify.ErrInvalidSignature},
		"truncated":          {[][]byte{[]byte("s")}, good[:len(good)-2], body, verify.ErrInvalidSignature},
		"re-serialised body": {[][]byte{[]byte("s")}, "sha256=" + mac(sha256.New, "s", reserialised), body, verify.ErrInvalidSignature},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := verify.Request{Now: now, Body: c.body, Header: header("X-Hub-Signature-256", c.sig)}
			require.ErrorIs(t, verify.GitHub{Secrets: c.secrets}.Verify(context.Background(), r), c.want)
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	g := verify.GitHub{}
	cases := map[string]struct {
		h    http.Header
		body string
		want error
	}{
		"no event":       {header("X-GitHub-Delivery", "d"), `{}`, verify.ErrMissingEventType},
		"no delivery":    {header("X-GitHub-Event", "push"), `{}`, verify.ErrMissingDeliveryID},
		"not json":       {header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d"), `{"a":`, verify.ErrMalformedPayload},
		"array":          {header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d"), `[]`, verify.ErrMalformedPayload},
		"null":           {header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d"), `null`, verify.ErrMalformedPayload},
		"float id":       {header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d"), `{"installation":{"id":1.5}}`, verify.ErrMalformedPayload},
		"object action":  {header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d"), `{"action":{}}`, verify.ErrMalformedPayload},
		"NUL in id":      {header("X-GitHub-Event", "push", "X-GitHub-Delivery", "d"), `{"repository":{"id":"a\u0000b"}}`, verify.ErrMalformedPayload},
		"long delivery":  {header("X-GitHub-Event", "push", "X-GitHub-Delivery", string(make([]byte, 200))), `{}`, verify.ErrMalformedPayload},
		"bad utf8 event": {header("X-GitHub-Event", "\xff", "X-GitHub-Delivery", "d"), `{}`, verify.ErrMalformedPayload},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := g.Parse(verify.Request{Now: now, Header: c.h, Body: []byte(c.body)})
			require.ErrorIs(t, err, c.want)
		})
	}
}

func TestVercel(t *testing.T) {
	t.Parallel()
	v := verify.Vercel{Secrets: [][]byte{[]byte("cs1"), []byte("cs2")}}
	body := []byte(`{"id":"evt_1","type":"deployment.created","createdAt":1,"payload":{"project":{"id":"prj_1"},"team":{"id":"team_1"}}}`)
	r := verify.Request{Now: now, Body: body, Header: header("x-vercel-signature", mac(sha1.New, "cs2", body))}
	require.NoError(t, v.Verify(context.Background(), r))
	ev, err := v.Parse(r)
	require.NoError(t, err)
	require.Equal(t, verify.Event{DeliveryID: "evt_1", EventType: "deployment.created", ResourceID: "prj_1", Headers: ev.Headers}, ev)

	removed := []byte(`{"id":"evt_2","type":"integration-configuration.removed","payload":{"configuration":{"id":"icfg_1"}}}`)
	ev, err = v.Parse(verify.Request{Body: removed, Header: http.Header{}})
	require.NoError(t, err)
	require.True(t, ev.Lifecycle)
	require.Equal(t, "icfg_1", ev.InstallationExternalID)

	for name, sig := range map[string]string{"missing": "", "sha256 instead": mac(sha256.New, "cs1", body), "wrong": mac(sha1.New, "x", body)} {
		err := v.Verify(context.Background(), verify.Request{Body: body, Header: header("x-vercel-signature", sig)})
		require.Error(t, err, name)
	}
	_, err = v.Parse(verify.Request{Body: []byte(`{"type":"deployment.created"}`), Header: http.Header{}})
	require.ErrorIs(t, err, verify.ErrMissingDeliveryID)
	_, err = v.Parse(verify.Request{Body: []byte(`{"id":"e"}`), Header: http.Header{}})
	require.ErrorIs(t, err, verify.ErrMissingEventType)
}

func linearBody(ts time.Time) []byte {
	return []byte(`{"action":"create","type":"Issue","organizationId":"org-1","webhookId":"wh-1","createdAt":"2026-01-02T03:04:05.000Z","webhookTimestamp":` +
		strconv.FormatInt(ts.UnixMilli(), 10) + `,"data":{"id":"iss-1","teamId":"team-1"}}`)
}

func TestLinear(t *testing.T) {
	t.Parallel()
	lookups := 0
	l := verify.Linear{
		Fallback: [][]byte{[]byte("fallback")},
		InstallationSecrets: func(_ context.Context, org string) ([][]byte, error) {
			lookups++
			if org == "org-1" {
				return [][]byte{[]byte("installation")}, nil
			}
			return nil, nil
		},
	}
	body := linearBody(now.Add(-30 * time.Second))
	for _, secret := range []string{"installation", "fallback"} {
		r := verify.Request{Now: now, Body: body, Header: header("Linear-Signature", mac(sha256.New, secret, body), "Linear-Delivery", "ld-1")}
		require.NoError(t, l.Verify(context.Background(), r), secret)
		ev, err := l.Parse(r)
		require.NoError(t, err)
		require.Equal(t, "ld-1", ev.DeliveryID)
		require.Equal(t, "Issue.create", ev.EventType)
		require.Equal(t, "org-1", ev.InstallationExternalID)
		require.Equal(t, "team-1", ev.ResourceID)
	}
	require.Equal(t, 2, lookups)

	// Without Linear-Delivery the id is webhookId + createdAt.
	ev, err := l.Parse(verify.Request{Body: body, Header: http.Header{}})
	require.NoError(t, err)
	require.Equal(t, "wh-1:2026-01-02T03:04:05.000Z", ev.DeliveryID)

	for name, ts := range map[string]time.Time{"stale": now.Add(-61 * time.Second), "future": now.Add(61 * time.Second)} {
		b := linearBody(ts)
		r := verify.Request{Now: now, Body: b, Header: header("Linear-Signature", mac(sha256.New, "installation", b))}
		require.ErrorIs(t, l.Verify(context.Background(), r), verify.ErrStaleTimestamp, name)
	}
	noTS := []byte(`{"type":"Issue","organizationId":"org-1"}`)
	require.ErrorIs(t, l.Verify(context.Background(), verify.Request{Now: now, Body: noTS,
		Header: header("Linear-Signature", mac(sha256.New, "installation", noTS))}), verify.ErrStaleTimestamp)

	// Another organization's secret does not verify this organization's delivery.
	require.ErrorIs(t, l.Verify(context.Background(), verify.Request{Now: now, Body: body,
		Header: header("Linear-Signature", mac(sha256.New, "someone-else", body))}), verify.ErrInvalidSignature)
	require.ErrorIs(t, l.Verify(context.Background(), verify.Request{Now: now, Body: body}), verify.ErrMissingSignature)

	// A store outage is not a signature failure.
	down := verify.Linear{InstallationSecrets: func(context.Context, string) ([][]byte, error) { return nil, errors.New("db down") }}
	err = down.Verify(context.Background(), verify.Request{Now: now, Body: body, Header: header("Linear-Signature", mac(sha256.New, "x", body))})
	require.Error(t, err)
	require.NotErrorIs(t, err, verify.ErrInvalidSignature)

	// Authentic (fallback) but not JSON: Verify passes, Parse says malformed.
	bad := []byte(`{"type":`)
	r := verify.Request{Now: now, Body: bad, Header: header("Linear-Signature", mac(sha256.New, "fallback", bad))}
	require.NoError(t, l.Verify(context.Background(), r))
	_, err = l.Parse(r)
	require.ErrorIs(t, err, verify.ErrMalformedPayload)
}

func TestSentry(t *testing.T) {
	t.Parallel()
	s := verify.Sentry{Secrets: [][]byte{[]byte("cs")}}
	body := []byte(`{"action":"created","installation":{"uuid":"inst-uuid"},"data":{"issue":{"id":"1","project":{"id":"42","slug":"web"}}}}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	r := verify.Request{Now: now, Body: body, Header: header("Sentry-Hook-Signature", mac(sha256.New, "cs", body),
		"Sentry-Hook-Timestamp", ts, "Sentry-Hook-Resource", "issue", "Request-ID", "req-1")}
	require.NoError(t, s.Verify(context.Background(), r))
	ev, err := s.Parse(r)
	require.NoError(t, err)
	require.Equal(t, "req-1", ev.DeliveryID)
	require.Equal(t, "issue.created", ev.EventType)
	require.Equal(t, "inst-uuid", ev.InstallationExternalID)
	require.Equal(t, "42", ev.ResourceID)
	require.False(t, ev.Lifecycle)

	for name, c := range map[string]struct {
		ts   string
		want error
	}{
		"missing": {"", verify.ErrStaleTimestamp}, "garbage": {"soon", verify.ErrStaleTimestamp},
		"stale":  {strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), verify.ErrStaleTimestamp},
		"future": {strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), verify.ErrStaleTimestamp},
	} {
		r := verify.Request{Now: now, Body: body, Header: header("Sentry-Hook-Signature", mac(sha256.New, "cs", body), "Sentry-Hook-Timestamp", c.ts)}
		require.ErrorIs(t, s.Verify(context.Background(), r), c.want, name)
	}
	errBody := []byte(`{"action":"created","installation":{"uuid":"u"},"data":{"error":{"project":7}}}`)
	ev, err = s.Parse(verify.Request{Body: errBody, Header: header("Sentry-Hook-Resource", "error", "Request-ID", "r")})
	require.NoError(t, err)
	require.Equal(t, "7", ev.ResourceID)
	ev, err = s.Parse(verify.Request{Body: []byte(`{"action":"deleted","installation":{"uuid":"u"}}`), Header: header("Sentry-Hook-Resource", "installation", "Request-ID", "r")})
	require.NoError(t, err)
	require.True(t, ev.Lifecycle)
}
