package providersim

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // verifying Vercel's HMAC-SHA1
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// independentHMAC recomputes a signature without the package's helpers.
func independentHMAC(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestSendWebhookSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecorder(t)
	cfg := b.sim.Config()

	// Linear signs with the per-webhook secret from webhookCreate.
	tok := linearConnect(t, b).AccessToken
	var created struct {
		WebhookCreate struct{ Webhook struct{ ID, Secret string } }
	}
	_, errs := b.gql(t, tok, `mutation { webhookCreate(input: {url: "http://127.0.0.1:1/", allPublicTeams: true, resourceTypes: ["Issue"]}) { webhook { id secret } } }`, nil, &created)
	require.Empty(t, errs)
	lnSecret := created.WebhookCreate.Webhook.Secret

	uuidRe := `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`
	tests := []struct {
		provider, event string
		payload         any
		check           func(t *testing.T, got recorded, res *WebhookResult)
	}{
		{ProviderGitHub, "pull_request", map[string]any{"action": "closed", "installation": map[string]any{"id": 1}},
			func(t *testing.T, got recorded, res *WebhookResult) {
				require.Equal(t, "sha256="+independentHMAC(sha256.New, string(cfg.GitHubWebhookSecret), got.body), got.header.Get("X-Hub-Signature-256"))
				require.Equal(t, "sha1="+independentHMAC(sha1.New, string(cfg.GitHubWebhookSecret), got.body), got.header.Get("X-Hub-Signature"))
				require.Equal(t, "pull_request", got.header.Get("X-GitHub-Event"))
				require.Regexp(t, uuidRe, got.header.Get("X-GitHub-Delivery"))
				require.Equal(t, res.DeliveryID, got.header.Get("X-GitHub-Delivery"))
				require.Equal(t, cfg.GitHubAppID, got.header.Get("X-GitHub-Hook-Installation-Target-ID"))
				require.Regexp(t, `^GitHub-Hookshot/`, got.header.Get("User-Agent"))
				require.JSONEq(t, `{"action":"closed","installation":{"id":1}}`, string(got.body))
			}},
		{ProviderVercel, "deployment.succeeded", map[string]any{"deployment": map[string]any{"id": "dpl_1"}, "project": map[string]any{"id": "prj_1"}},
			func(t *testing.T, got recorded, res *WebhookResult) {
				require.Equal(t, independentHMAC(sha1.New, string(cfg.VercelClientSecret), got.body), got.header.Get("x-vercel-signature"))
				var env struct {
					ID        string          `json:"id"`
					Type      string          `json:"type"`
					CreatedAt int64           `json:"createdAt"`
					Payload   json.RawMessage `json:"payload"`
				}
				require.NoError(t, json.Unmarshal(got.body, &env))
				require.Equal(t, "deployment.succeeded", env.Type)
				require.Equal(t, res.DeliveryID, env.ID)
				require.WithinDuration(t, time.Now(), time.UnixMilli(env.CreatedAt), time.Minute)
				require.JSONEq(t, `{"deployment":{"id":"dpl_1"},"project":{"id":"prj_1"}}`, string(env.Payload))
			}},
		{ProviderLinear, "Issue", map[string]any{"action": "create", "data": map[string]any{"id": "i1", "teamId": "t1"}},
			func(t *testing.T, got recorded, res *WebhookResult) {
				require.Equal(t, independentHMAC(sha256.New, lnSecret, got.body), got.header.Get("Linear-Signature"))
				require.Equal(t, "Issue", got.header.Get("Linear-Event"))
				require.Regexp(t, uuidRe, got.header.Get("Linear-Delivery"))
				var body map[string]any
				require.NoError(t, json.Unmarshal(got.body, &body))
				require.Equal(t, "Issue", body["type"])
				require.Equal(t, created.WebhookCreate.Webhook.ID, body["webhookId"])
				require.Equal(t, b.sim.LinearOrganizations()[0].ID, body["organizationId"])
				ts, ok := body["webhookTimestamp"].(float64)
				require.True(t, ok)
				require.WithinDuration(t, time.Now(), time.UnixMilli(int64(ts)), time.Minute)
			}},
		{ProviderSentry, "issue", map[string]any{"action": "created", "installation": map[string]any{"uuid": "u1"}, "data": map[string]any{}},
			func(t *testing.T, got recorded, res *WebhookResult) {
				require.Equal(t, independentHMAC(sha256.New, string(cfg.SentryClientSecret), got.body), got.header.Get("Sentry-Hook-Signature"))
				require.Equal(t, "issue", got.header.Get("Sentry-Hook-Resource"))
				require.Equal(t, res.DeliveryID, got.header.Get("Request-ID"))
				ts, err := strconv.ParseInt(got.header.Get("Sentry-Hook-Timestamp"), 10, 64)
				require.NoError(t, err)
				require.InDelta(t, time.Now().Unix(), ts, 60)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			res, err := b.sim.SendWebhook(t.Context(), tc.provider, rec.srv.URL+"/webhooks/"+tc.provider, tc.event, tc.payload)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, res.StatusCode)
			require.JSONEq(t, `{"status":"accepted"}`, res.Body)
			got := rec.last(t)
			require.Equal(t, "application/json", got.header.Get("Content-Type"))
			require.Equal(t, string(got.body), string(res.Sent))
			tc.check(t, got, res)
		})
	}
}

func TestSendWebhookOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecorder(t)

	// No Linear webhook exists yet: signing needs an explicit secret.
	_, err := b.sim.SendWebhook(t.Context(), ProviderLinear, rec.srv.URL, "Issue", map[string]any{"action": "create"})
	require.Error(t, err)

	res, err := b.sim.SendWebhookRequest(t.Context(), WebhookRequest{
		Provider: ProviderLinear, URL: rec.srv.URL, Event: "Issue", Payload: json.RawMessage(`{"action":"update"}`),
		Secret: "explicit", DeliveryID: "fixed-id", Timestamp: 1700000000000,
	})
	require.NoError(t, err)
	got := rec.last(t)
	require.Equal(t, "fixed-id", res.DeliveryID)
	require.Equal(t, SignLinear("explicit", got.body), got.header.Get("Linear-Signature"))
	require.Contains(t, string(got.body), `"webhookTimestamp":1700000000000`)

	_, err = b.sim.SendWebhookRequest(t.Context(), WebhookRequest{
		Provider: ProviderGitHub, URL: rec.srv.URL, Event: "push", Payload: json.RawMessage(`{}`), Unsigned: true,
	})
	require.NoError(t, err)
	require.Empty(t, rec.last(t).header.Get("X-Hub-Signature-256"))

	// Raw Vercel bodies go out untouched.
	_, err = b.sim.SendWebhookRequest(t.Context(), WebhookRequest{
		Provider: ProviderVercel, URL: rec.srv.URL, Event: "x", Payload: json.RawMessage(`{"id":"evt_own","type":"x"}`), Raw: true,
	})
	require.NoError(t, err)
	require.Equal(t, `{"id":"evt_own","type":"x"}`, string(rec.last(t).body))

	// Over HTTP.
	r := b.do(t, http.MethodPost, b.urls.Control+"/webhooks/send", map[string]any{
		"provider": "sentry", "url": rec.srv.URL, "event": "installation",
		"payload": map[string]any{"action": "deleted"}, "secret": "s3",
	})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var out WebhookResult
	r.json(t, &out)
	require.Equal(t, http.StatusAccepted, out.StatusCode)
	got = rec.last(t)
	require.Equal(t, independentHMAC(sha256.New, "s3", got.body), got.header.Get("Sentry-Hook-Signature"))
	require.Equal(t, "installation", got.header.Get("Sentry-Hook-Resource"))

	r = b.do(t, http.MethodPost, b.urls.Control+"/webhooks/send", map[string]any{"provider": "nope", "url": rec.srv.URL})
	require.Equal(t, http.StatusBadGateway, r.status)
}

func TestSignersMatchIndependentHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"hello":"world"}`)
	require.Equal(t, "sha256="+independentHMAC(sha256.New, "k", body), SignGitHub("k", body))
	require.Equal(t, independentHMAC(sha1.New, "k", body), SignVercel("k", body))
	require.Equal(t, independentHMAC(sha256.New, "k", body), SignLinear("k", body))
	require.Equal(t, independentHMAC(sha256.New, "k", body), SignSentry("k", body))
	// GitHub's documented test vector, so an encoding slip cannot pass on both sides.
	require.Equal(t, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		SignGitHub("It's a Secret to Everybody", []byte("Hello, World!")))
}
