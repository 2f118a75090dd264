package providersim

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Vercel and GitHub's legacy header sign with HMAC-SHA1
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// SignGitHub returns the X-Hub-Signature-256 value for body: "sha256=" and
// the hex HMAC-SHA256 keyed with the App's webhook secret.
func SignGitHub(secret string, body []byte) string {
	return "sha256=" + hmacHex(sha256.New, secret, body)
}

// SignGitHubSHA1 returns the legacy X-Hub-Signature value ("sha1=<hex>").
func SignGitHubSHA1(secret string, body []byte) string {
	return "sha1=" + hmacHex(sha1.New, secret, body)
}

// SignVercel returns the x-vercel-signature value: hex HMAC-SHA1 of body
// keyed with the integration's client secret.
func SignVercel(secret string, body []byte) string { return hmacHex(sha1.New, secret, body) }

// SignLinear returns the Linear-Signature value: hex HMAC-SHA256 of body
// keyed with the webhook's own signing secret.
func SignLinear(secret string, body []byte) string { return hmacHex(sha256.New, secret, body) }

// SignSentry returns the Sentry-Hook-Signature value: hex HMAC-SHA256 of body
// keyed with the integration's client secret.
func SignSentry(secret string, body []byte) string { return hmacHex(sha256.New, secret, body) }

func hmacHex(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// WebhookRequest describes one webhook delivery to send.
type WebhookRequest struct {
	// Provider is github, vercel, linear or sentry.
	Provider string `json:"provider"`
	// URL is where to POST (e.g. the gateway's /webhooks/<provider>).
	URL string `json:"url"`
	// Event is the provider's event name: the X-GitHub-Event value, the
	// Vercel `type`, the Linear `type` (Issue, Comment, ...) or the
	// Sentry-Hook-Resource value (issue, installation, ...).
	Event string `json:"event"`
	// Payload is the event body. For Vercel it is the inner `payload`
	// object (the envelope is added); for Linear, `type`, `webhookId`,
	// `webhookTimestamp`, `organizationId` and `createdAt` are filled in
	// when missing; GitHub and Sentry payloads are sent as given.
	Payload json.RawMessage `json:"payload"`
	// Raw sends Payload byte for byte with no envelope or filled-in fields.
	Raw bool `json:"raw,omitempty"`
	// Secret overrides the signing secret (e.g. to test a rotated or wrong one).
	Secret string `json:"secret,omitempty"`
	// WebhookID picks the Linear webhook whose secret signs the delivery
	// (default: the one named in the payload, else the newest one).
	WebhookID string `json:"webhookId,omitempty"`
	// DeliveryID overrides the generated delivery id (to test deduplication).
	DeliveryID string `json:"deliveryId,omitempty"`
	// Timestamp overrides the Linear webhookTimestamp (ms) or Sentry
	// Sentry-Hook-Timestamp (s), to test replay windows. 0 means now.
	Timestamp int64 `json:"timestamp,omitempty"`
	// Unsigned leaves the signature header out.
	Unsigned bool `json:"unsigned,omitempty"`
}

// WebhookResult is what the receiver answered and what was sent.
type WebhookResult struct {
	StatusCode int               `json:"status"`
	Body       string            `json:"body"`
	DeliveryID string            `json:"deliveryId"`
	Headers    map[string]string `json:"headers"`
	Sent       json.RawMessage   `json:"sent"`
}

// SendWebhook signs payload exactly as provider does and POSTs it to
// targetURL. payload may be a []byte / json.RawMessage or any value that
// marshals to JSON.
func (s *Simulator) SendWebhook(ctx context.Context, provider, targetURL, event string, payload any) (*WebhookResult, error) {
	raw, err := toRawJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("send webhook: %w", err)
	}
	return s.SendWebhookRequest(ctx, WebhookRequest{Provider: provider, URL: targetURL, Event: event, Payload: raw})
}

func toRawJSON(v any) (json.RawMessage, error) {
	switch t := v.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		return t, nil
	case []byte:
		return t, nil
	case string:
		return json.RawMessage(t), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal payload: %w", err)
	}
	return b, nil
}

// BuildWebhook returns the body and headers SendWebhookRequest would send,
// without sending anything (for tests that post through their own client).
func (s *Simulator) BuildWebhook(req WebhookRequest) ([]byte, http.Header, string, error) {
	if len(req.Payload) == 0 {
		req.Payload = json.RawMessage("{}")
	}
	deliveryID := req.DeliveryID
	if deliveryID == "" {
		deliveryID = newUUID()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	body := []byte(req.Payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sign := !req.Unsigned
	switch req.Provider {
	case ProviderGitHub:
		secret := cmp.Or(req.Secret, string(s.cfg.GitHubWebhookSecret))
		h.Set("User-Agent", "GitHub-Hookshot/"+randomHex(4)[:7])
		h.Set("X-GitHub-Event", req.Event)
		h.Set("X-GitHub-Delivery", deliveryID)
		h.Set("X-GitHub-Hook-ID", "400000001")
		h.Set("X-GitHub-Hook-Installation-Target-ID", s.cfg.GitHubAppID)
		h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
		if sign {
			h.Set("X-Hub-Signature", SignGitHubSHA1(secret, body))
			h.Set("X-Hub-Signature-256", SignGitHub(secret, body))
		}
	case ProviderVercel:
		if !req.Raw {
			env := map[string]any{
				"id":        cmp.Or(req.DeliveryID, "evt_"+randomAlnum(24)),
				"type":      req.Event,
				"createdAt": now.UnixMilli(),
				"region":    "iad1",
				"payload":   req.Payload,
			}
			deliveryID = env["id"].(string)
			b, err := json.Marshal(env)
			if err != nil {
				return nil, nil, "", fmt.Errorf("build vercel webhook: %w", err)
			}
			body = b
		}
		h.Set("User-Agent", "Vercel")
		if sign {
			h.Set("x-vercel-signature", SignVercel(cmp.Or(req.Secret, string(s.cfg.VercelClientSecret)), body))
		}
	case ProviderLinear:
		var obj map[string]any
		if !req.Raw {
			if err := json.Unmarshal(req.Payload, &obj); err != nil {
				return nil, nil, "", fmt.Errorf("build linear webhook: payload must be a JSON object: %w", err)
			}
		}
		wantID := req.WebhookID
		if id, ok := obj["webhookId"].(string); ok && wantID == "" {
			wantID = id
		}
		wh := s.lnWebhookFor(wantID)
		secret := req.Secret
		if secret == "" && wh != nil {
			secret = wh.Secret
		}
		if secret == "" && sign {
			return nil, nil, "", errors.New("build linear webhook: no webhook registered through webhookCreate and no secret given")
		}
		typ := req.Event
		if obj != nil {
			ts := req.Timestamp
			if ts == 0 {
				ts = now.UnixMilli()
			}
			setDefault(obj, "type", req.Event)
			setDefault(obj, "createdAt", linearTime(now))
			if wh != nil {
				setDefault(obj, "webhookId", wh.ID)
				setDefault(obj, "organizationId", wh.OrganizationID)
			}
			obj["webhookTimestamp"] = ts
			typ, _ = obj["type"].(string)
			b, err := json.Marshal(obj)
			if err != nil {
				return nil, nil, "", fmt.Errorf("build linear webhook: %w", err)
			}
			body = b
		}
		h.Set("User-Agent", "Linear-Webhook")
		h.Set("Linear-Delivery", deliveryID)
		h.Set("Linear-Event", typ)
		if sign {
			h.Set("Linear-Signature", SignLinear(secret, body))
		}
	case ProviderSentry:
		ts := req.Timestamp
		if ts == 0 {
			ts = now.Unix()
		}
		h.Set("User-Agent", "sentry-app")
		h.Set("Request-ID", deliveryID)
		h.Set("Sentry-Hook-Resource", req.Event)
		h.Set("Sentry-Hook-Timestamp", strconv.FormatInt(ts, 10))
		if sign {
			h.Set("Sentry-Hook-Signature", SignSentry(cmp.Or(req.Secret, string(s.cfg.SentryClientSecret)), body))
		}
	default:
		return nil, nil, "", fmt.Errorf("build webhook: unknown provider %q", req.Provider)
	}
	return body, h, deliveryID, nil
}

// lnWebhookFor returns webhook id, or the newest webhook. Callers hold s.mu.
func (s *Simulator) lnWebhookFor(id string) *LinearWebhook {
	var newest *LinearWebhook
	for _, o := range s.ln.order {
		for _, wh := range o.webhooks {
			if id != "" && wh.ID == id {
				return wh
			}
			if newest == nil || !wh.CreatedAt.Before(newest.CreatedAt) {
				newest = wh
			}
		}
	}
	if id != "" {
		return nil
	}
	return newest
}

func setDefault(obj map[string]any, key string, v any) {
	if _, ok := obj[key]; !ok {
		obj[key] = v
	}
}

// SendWebhookRequest builds, signs and POSTs one delivery.
func (s *Simulator) SendWebhookRequest(ctx context.Context, req WebhookRequest) (*WebhookResult, error) {
	body, h, deliveryID, err := s.BuildWebhook(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("send webhook: %w", err)
	}
	hreq.Header = h
	resp, err := s.cfg.HTTPClient.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("send webhook: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBody))
	if err != nil {
		return nil, fmt.Errorf("send webhook: read response: %w", err)
	}
	headers := make(map[string]string, len(h))
	for k := range h {
		headers[k] = h.Get(k)
	}
	return &WebhookResult{
		StatusCode: resp.StatusCode,
		Body:       string(respBody),
		DeliveryID: deliveryID,
		Headers:    headers,
		Sent:       json.RawMessage(body),
	}, nil
}

func (s *Simulator) handleSendWebhook(w http.ResponseWriter, r *http.Request) {
	var req WebhookRequest
	if err := decodeJSON(r, &req); err != nil {
		controlError(w, http.StatusBadRequest, err)
		return
	}
	if req.URL == "" || !strings.HasPrefix(req.URL, "http") {
		controlError(w, http.StatusBadRequest, errors.New("url must be an absolute http(s) url"))
		return
	}
	res, err := s.SendWebhookRequest(r.Context(), req)
	if err != nil {
		controlError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
