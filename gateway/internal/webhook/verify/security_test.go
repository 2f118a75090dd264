package verify_test

// The adversarial part of the security suite for webhook signatures (README "Security suite"): every
// kind of tampering a sender without the secret can try, for every provider, plus replay windows and
// secret rotation. Each case is one authentic delivery changed in one way; the authentic one must verify,
// every changed one must fail with the error the HTTP layer maps to 401.

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Vercel's scheme
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// scheme is how one provider signs: the header, an optional prefix before the hex, and the hash.
type scheme struct {
	name    string
	header  string
	prefix  string
	newHash func() hash.Hash
	// wrongHash is another hash a confused or hostile sender might use.
	wrongHash func() hash.Hash
	// verifier returns the provider's verifier for the given configured secrets.
	verifier func(secrets ...string) verify.Provider
	// body is an authentic payload signed at now; extra are the other headers it needs.
	body  func(now time.Time) []byte
	extra func(now time.Time) http.Header
}

func keys(secrets []string) [][]byte {
	out := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		out = append(out, []byte(s))
	}
	return out
}

func noExtra(time.Time) http.Header { return http.Header{} }

var schemes = []scheme{
	{
		name: "github", header: "X-Hub-Signature-256", prefix: "sha256=", newHash: sha256.New, wrongHash: sha1.New,
		verifier: func(s ...string) verify.Provider { return verify.GitHub{Secrets: keys(s)} },
		body: func(time.Time) []byte {
			return []byte(`{"ref":"refs/heads/main","installation":{"id":1},"repository":{"id":2},"after":"abc"}`)
		},
		extra: noExtra,
	},
	{
		name: "vercel", header: "X-Vercel-Signature", newHash: sha1.New, wrongHash: sha256.New,
		verifier: func(s ...string) verify.Provider { return verify.Vercel{Secrets: keys(s)} },
		body: func(time.Time) []byte {
			return []byte(`{"id":"evt_1","type":"deployment.succeeded","payload":{"project":{"id":"prj_1"}}}`)
		},
		extra: noExtra,
	},
	{
		name: "linear", header: "Linear-Signature", newHash: sha256.New, wrongHash: sha1.New,
		// The configured secrets are the fallback list; the installation lookup finds nothing, so only
		// they can verify.
		verifier: func(s ...string) verify.Provider {
			return verify.Linear{Fallback: keys(s), InstallationSecrets: func(context.Context, string) ([][]byte, error) { return nil, nil }}
		},
		body: func(now time.Time) []byte {
			return []byte(`{"action":"create","type":"Issue","organizationId":"org-1","webhookTimestamp":` +
				strconv.FormatInt(now.UnixMilli(), 10) + `,"data":{"id":"iss-1","teamId":"team-1"}}`)
		},
		extra: noExtra,
	},
	{
		name: "sentry", header: "Sentry-Hook-Signature", newHash: sha256.New, wrongHash: sha512.New,
		verifier: func(s ...string) verify.Provider { return verify.Sentry{Secrets: keys(s)} },
		body: func(time.Time) []byte {
			return []byte(`{"action":"created","installation":{"uuid":"u-1"},"data":{"issue":{"id":"1","project":{"id":"42"}}}}`)
		},
		extra: func(now time.Time) http.Header {
			h := http.Header{}
			h.Set("Sentry-Hook-Timestamp", strconv.FormatInt(now.Unix(), 10))
			return h
		},
	},
}

func hexMAC(newHash func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(newHash, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// flipBit flips bit (0–7) of byte i of a hex string's decoded value and re-encodes it.
func flipBit(t *testing.T, sigHex string, i, bit int) string {
	t.Helper()
	b, err := hex.DecodeString(sigHex)
	require.NoError(t, err)
	b[i] ^= 1 << bit
	return hex.EncodeToString(b)
}

func flipBodyBit(body []byte, i int) []byte {
	out := append([]byte(nil), body...)
	out[i] ^= 0x01
	return out
}

// reserialise decodes and re-encodes a JSON body: the same data, other bytes.
func reserialise(t *testing.T, body []byte) []byte {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	out, err := json.MarshalIndent(v, "", " ")
	require.NoError(t, err)
	require.NotEqual(t, body, out)
	return out
}

func TestSecuritySignatureTampering(t *testing.T) {
	t.Parallel()
	const secret = "the-real-secret"
	for _, s := range schemes {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			body := s.body(now)
			good := hexMAC(s.newHash, secret, body)
			v := s.verifier(secret)

			// request builds the delivery: sigs are the signature header's values (none: header absent).
			request := func(b []byte, sigs ...string) verify.Request {
				h := s.extra(now)
				for _, sig := range sigs {
					h.Add(s.header, sig)
				}
				return verify.Request{Header: h, Body: b, Now: now}
			}
			require.NoError(t, v.Verify(context.Background(), request(body, s.prefix+good)), "the authentic delivery verifies")

			last := len(good)/2 - 1
			cases := map[string]struct {
				req  verify.Request
				want error
			}{
				"no header":                 {request(body), verify.ErrMissingSignature},
				"empty header":              {request(body, ""), verify.ErrMissingSignature},
				"first bit of the MAC":      {request(body, s.prefix+flipBit(t, good, 0, 0)), verify.ErrInvalidSignature},
				"middle bit of the MAC":     {request(body, s.prefix+flipBit(t, good, last/2, 4)), verify.ErrInvalidSignature},
				"last bit of the MAC":       {request(body, s.prefix+flipBit(t, good, last, 7)), verify.ErrInvalidSignature},
				"first byte of the body":    {request(flipBodyBit(body, 0), s.prefix+good), verify.ErrInvalidSignature},
				"middle byte of the body":   {request(flipBodyBit(body, len(body)/2), s.prefix+good), verify.ErrInvalidSignature},
				"last byte of the body":     {request(flipBodyBit(body, len(body)-1), s.prefix+good), verify.ErrInvalidSignature},
				"body with a byte appended": {request(append(append([]byte(nil), body...), ' '), s.prefix+good), verify.ErrInvalidSignature},
				"body truncated":            {request(body[:len(body)-1], s.prefix+good), verify.ErrInvalidSignature},
				"MAC truncated by a digit":  {request(body, s.prefix+good[:len(good)-1]), verify.ErrInvalidSignature},
				"MAC truncated by a byte":   {request(body, s.prefix+good[:len(good)-2]), verify.ErrInvalidSignature},
				"MAC cut in half":           {request(body, s.prefix+good[:len(good)/2]), verify.ErrInvalidSignature},
				"MAC with a byte appended":  {request(body, s.prefix+good+"00"), verify.ErrInvalidSignature},
				"uppercase hex":             {request(body, s.prefix+strings.ToUpper(good)), verify.ErrInvalidSignature},
				"base64 instead of hex":     {request(body, s.prefix+base64Of(t, good)), verify.ErrInvalidSignature},
				"leading space":             {request(body, " "+s.prefix+good), verify.ErrInvalidSignature},
				"trailing junk":             {request(body, s.prefix+good+";x"), verify.ErrInvalidSignature},
				"another hash algorithm":    {request(body, s.prefix+hexMAC(s.wrongHash, secret, body)), verify.ErrInvalidSignature},
				"plain hash, no key":        {request(body, s.prefix+plainHash(s.newHash, body)), verify.ErrInvalidSignature},
				"keyed with an empty secret": {request(body, s.prefix+hexMAC(s.newHash, "", body)),
					verify.ErrInvalidSignature},
				"signature of an empty body": {request(body, s.prefix+hexMAC(s.newHash, secret, nil)), verify.ErrInvalidSignature},
				"signature over the re-serialised body": {request(body, s.prefix+hexMAC(s.newHash, secret, reserialise(t, body))),
					verify.ErrInvalidSignature},
				"header twice, authentic first":    {request(body, s.prefix+good, s.prefix+strings.Repeat("0", len(good))), verify.ErrInvalidSignature},
				"header twice, authentic second":   {request(body, s.prefix+strings.Repeat("0", len(good)), s.prefix+good), verify.ErrInvalidSignature},
				"header twice, both authentic":     {request(body, s.prefix+good, s.prefix+good), verify.ErrInvalidSignature},
				"all zero MAC of the right length": {request(body, s.prefix+strings.Repeat("0", len(good))), verify.ErrInvalidSignature},
			}
			// Algorithm prefixes: GitHub's must be exactly "sha256="; the others carry bare hex.
			if s.prefix != "" {
				cases["no prefix"] = struct {
					req  verify.Request
					want error
				}{request(body, good), verify.ErrInvalidSignature}
				for _, p := range []string{"sha1=", "sha512=", "SHA256=", "sha256:", "hmac-sha256="} {
					cases["prefix "+p] = struct {
						req  verify.Request
						want error
					}{request(body, p+good), verify.ErrInvalidSignature}
				}
			} else {
				for _, p := range []string{"sha256=", "sha1=", "v1="} {
					cases["prefix "+p] = struct {
						req  verify.Request
						want error
					}{request(body, p+good), verify.ErrInvalidSignature}
				}
			}
			for name, c := range cases {
				require.ErrorIs(t, v.Verify(context.Background(), c.req), c.want, name)
			}
		})
	}
}

func base64Of(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(h)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func plainHash(newHash func() hash.Hash, body []byte) string {
	h := newHash()
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// TestSecuritySecretRotation: during a rotation both the old and the new secret verify; once the old one
// is removed from the configuration it is refused; with no secret configured at all, nothing verifies.
func TestSecuritySecretRotation(t *testing.T) {
	t.Parallel()
	for _, s := range schemes {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			body := s.body(now)
			signed := func(secret string) verify.Request {
				h := s.extra(now)
				h.Set(s.header, s.prefix+hexMAC(s.newHash, secret, body))
				return verify.Request{Header: h, Body: body, Now: now}
			}
			rotating := s.verifier("old-secret", "new-secret")
			require.NoError(t, rotating.Verify(context.Background(), signed("old-secret")))
			require.NoError(t, rotating.Verify(context.Background(), signed("new-secret")))
			require.ErrorIs(t, rotating.Verify(context.Background(), signed("other-secret")), verify.ErrInvalidSignature)

			rotated := s.verifier("new-secret")
			require.NoError(t, rotated.Verify(context.Background(), signed("new-secret")))
			require.ErrorIs(t, rotated.Verify(context.Background(), signed("old-secret")), verify.ErrInvalidSignature, "a removed secret is refused")

			none := s.verifier()
			require.ErrorIs(t, none.Verify(context.Background(), signed("new-secret")), verify.ErrInvalidSignature, "fails closed")
			require.ErrorIs(t, none.Verify(context.Background(), signed("")), verify.ErrInvalidSignature, "an empty key is not a key")
		})
	}

	// Linear: an installation's own secret rotates by reconnecting; the previous one stops verifying as
	// soon as the stored secret changes, while the configured fallback keeps working.
	now := time.Now()
	body := schemes[2].body(now)
	stored := "installation-secret-1"
	l := verify.Linear{Fallback: keys([]string{"fallback"}), InstallationSecrets: func(_ context.Context, org string) ([][]byte, error) {
		return keys([]string{stored}), nil
	}}
	signed := func(secret string) verify.Request {
		h := http.Header{}
		h.Set("Linear-Signature", hexMAC(sha256.New, secret, body))
		return verify.Request{Header: h, Body: body, Now: now}
	}
	require.NoError(t, l.Verify(context.Background(), signed("installation-secret-1")))
	stored = "installation-secret-2"
	require.ErrorIs(t, l.Verify(context.Background(), signed("installation-secret-1")), verify.ErrInvalidSignature)
	require.NoError(t, l.Verify(context.Background(), signed("installation-secret-2")))
	require.NoError(t, l.Verify(context.Background(), signed("fallback")))
}

// TestSecurityReplayWindows: a correctly signed Linear delivery is accepted only within 60 s of its signed
// webhookTimestamp, a Sentry one only within 5 minutes of Sentry-Hook-Timestamp, on either side; a
// timestamp in the wrong unit, of the wrong type, missing or sent twice is refused. (A replay inside the
// window has the same delivery id and is answered "duplicate" without a second row: see the webhook
// package's duplicate tests.)
func TestSecurityReplayWindows(t *testing.T) {
	t.Parallel()
	now := time.Now()
	const secret = "s"

	linear := verify.Linear{Fallback: keys([]string{secret})}
	linearAt := func(ts string) verify.Request {
		body := []byte(`{"action":"create","type":"Issue","organizationId":"org-1","webhookTimestamp":` + ts + `,"data":{"teamId":"t"}}`)
		h := http.Header{}
		h.Set("Linear-Signature", hexMAC(sha256.New, secret, body))
		return verify.Request{Header: h, Body: body, Now: now}
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	for _, d := range []time.Duration{0, -59 * time.Second, 59 * time.Second, -verify.LinearWindow + time.Millisecond, verify.LinearWindow - time.Millisecond} {
		require.NoError(t, linear.Verify(context.Background(), linearAt(ms(d))), "linear %s", d)
	}
	for name, ts := range map[string]string{
		"61 s old": ms(-61 * time.Second), "61 s ahead": ms(61 * time.Second), "an hour old": ms(-time.Hour),
		"a minute and 2 ms old": ms(-verify.LinearWindow - 2*time.Millisecond),
		"seconds instead of ms": strconv.FormatInt(now.Unix(), 10),
		"a string":              `"` + ms(0) + `"`,
		"null":                  "null",
		"a float":               ms(0) + ".5",
		"negative":              "-1",
	} {
		require.ErrorIs(t, linear.Verify(context.Background(), linearAt(ts)), verify.ErrStaleTimestamp, "linear %s", name)
	}

	sentry := verify.Sentry{Secrets: keys([]string{secret})}
	body := schemes[3].body(now)
	sentryAt := func(ts ...string) verify.Request {
		h := http.Header{}
		h.Set("Sentry-Hook-Signature", hexMAC(sha256.New, secret, body))
		for _, v := range ts {
			h.Add("Sentry-Hook-Timestamp", v)
		}
		return verify.Request{Header: h, Body: body, Now: now}
	}
	secs := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	for _, d := range []time.Duration{0, -4 * time.Minute, 4 * time.Minute, -verify.SentryWindow + time.Second} {
		require.NoError(t, sentry.Verify(context.Background(), sentryAt(secs(d))), "sentry %s", d)
	}
	for name, ts := range map[string][]string{
		"6 min old": {secs(-6 * time.Minute)}, "6 min ahead": {secs(6 * time.Minute)}, "a day old": {secs(-24 * time.Hour)},
		"milliseconds instead of s": {strconv.FormatInt(now.UnixMilli(), 10)},
		"missing":                   nil, "empty": {""}, "not a number": {"now"}, "negative": {"-1"},
		"sent twice":       {secs(0), secs(0)},
		"fresh then stale": {secs(0), secs(-time.Hour)},
	} {
		require.ErrorIs(t, sentry.Verify(context.Background(), sentryAt(ts...)), verify.ErrStaleTimestamp, "sentry %s", name)
	}
}
