package gatewaytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// secretKeys are the JSON and form fields whose values are credentials, in either direction of a
// provider call: authorization codes, PKCE verifiers, client secrets, access and refresh tokens, and
// webhook signing secrets.
var secretKeys = map[string]bool{
	"access_token": true, "refresh_token": true, "token": true, "refreshToken": true, "code": true,
	"code_verifier": true, "client_secret": true, "secret": true,
}

// recorder is an http.RoundTripper for the gateway's provider client that remembers every credential
// crossing it, so a test can search the logs for values the test itself never saw (a GitHub user token,
// the PKCE verifier, a webhook secret).
type recorder struct {
	next http.RoundTripper
	seen *Secrets
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if auth := req.Header.Get("Authorization"); auth != "" {
		_, cred, _ := strings.Cut(auth, " ")
		r.seen.Add(cred)
	}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.collect(req.Header.Get("Content-Type"), body)
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.collect(resp.Header.Get("Content-Type"), body)
	return resp, nil
}

func (r recorder) collect(contentType string, body []byte) {
	if strings.Contains(contentType, "json") {
		var v any
		if json.Unmarshal(body, &v) == nil {
			r.walk("", v, 0)
		}
		return
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		for k, vs := range form {
			if secretKeys[k] {
				r.seen.Add(vs...)
			}
		}
	}
}

// walk collects secret fields at any depth, except "code": an authorization code is a top-level field
// (Sentry's grant body), while nested codes are provider error codes, which may be logged.
func (r recorder) walk(key string, v any, depth int) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			r.walk(k, child, depth+1)
		}
	case []any:
		for _, child := range t {
			r.walk(key, child, depth)
		}
	case string:
		if secretKeys[key] && (key != "code" || depth == 1) {
			r.seen.Add(t)
		}
	}
}
