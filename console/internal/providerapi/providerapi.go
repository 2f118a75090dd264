// Package providerapi is the Console's client for the providers' REST and GraphQL APIs (GitHub, Vercel,
// Linear, Sentry): the look-ups behind the Console API, made with tokens read from the vault. Every call
// has a timeout, follows the provider's own paging, and turns the provider's rate-limit answer into a
// *RateLimitError carrying the reset time. Base URLs come from configuration, so tests and the demo point
// them at the provider simulator.
package providerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lightfastai/connections/db/types"
)

// Config holds the provider base URLs (SPEC §8: GITHUB_API_URL, VERCEL_API_URL, LINEAR_API_URL, SENTRY_URL).
type Config struct {
	GitHubAPIURL string
	VercelAPIURL string
	LinearAPIURL string
	SentryURL    string
	// Timeout bounds each provider call (default 10 s).
	Timeout time.Duration
	// HTTPClient sends the requests (default: a client with no timeout of its own; Timeout applies per call).
	HTTPClient *http.Client
	// Now is the clock used to turn Retry-After into a reset time (default time.Now).
	Now func() time.Time
}

// Clients are the four provider clients.
type Clients struct {
	GitHub *GitHub
	Vercel *Vercel
	Linear *Linear
	Sentry *Sentry
}

// New returns the clients for cfg.
func New(cfg Config) *Clients {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mk := func(p types.Provider, base string) caller {
		return caller{provider: p, base: strings.TrimRight(base, "/"), http: cfg.HTTPClient, timeout: cfg.Timeout, now: cfg.Now}
	}
	return &Clients{
		GitHub: &GitHub{c: mk(types.GitHub, cfg.GitHubAPIURL)},
		Vercel: &Vercel{c: mk(types.Vercel, cfg.VercelAPIURL)},
		Linear: &Linear{c: mk(types.Linear, cfg.LinearAPIURL)},
		Sentry: &Sentry{c: mk(types.Sentry, cfg.SentryURL)},
	}
}

// Error is a provider call that failed: an error status, an unreadable answer, or no answer in time.
// Message is the provider's own error text (truncated); it never contains the token.
type Error struct {
	Provider types.Provider
	Op       string
	// Status is the HTTP status, 0 when there was no usable response (network error, timeout).
	Status  int
	Message string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Provider, e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsStatus reports whether err is a provider answer with HTTP status code.
func IsStatus(err error, code int) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Status == code
}

// RateLimitError is the provider refusing a call because a rate limit is used up. Reset is when the
// budget comes back; callers wait until then (a job snoozes, the API answers Unavailable).
type RateLimitError struct {
	Provider types.Provider
	Op       string
	Reset    time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s: %s: rate limited until %s", e.Provider, e.Op, e.Reset.UTC().Format(time.RFC3339))
}

// ProviderOf returns the provider a client error is about.
func ProviderOf(err error) (types.Provider, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Provider, true
	}
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.Provider, true
	}
	return "", false
}

// maxBody caps what is read from a provider response; a list page is far smaller.
const maxBody = 8 << 20

// caller sends requests to one provider.
type caller struct {
	provider types.Provider
	base     string
	http     *http.Client
	timeout  time.Duration
	now      func() time.Time
}

// request describes one call.
type request struct {
	op     string
	method string
	path   string // appended to the base URL
	query  map[string]string
	token  string
	// authScheme is the Authorization scheme (default "Bearer").
	authScheme string
	header     map[string]string
	body       any // JSON-encoded when set
}

// response is what a call returned when the provider answered 2xx (or an allowed status).
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r and returns the response body, or an *Error / *RateLimitError. isRateLimited lets a
// provider recognise its own rate-limit answer (GitHub's 403 with X-RateLimit-Remaining: 0, Linear's
// RATELIMITED GraphQL error); any 429 is a rate limit too.
func (c caller) do(ctx context.Context, r request, isRateLimited func(*response) (time.Time, bool)) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, &Error{Provider: c.provider, Op: r.op, Err: err}
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, &Error{Provider: c.provider, Op: r.op, Err: err}
	}
	q := req.URL.Query()
	for k, v := range r.query {
		if v != "" {
			q.Set(k, v)
		}
	}
	req.URL.RawQuery = q.Encode()
	scheme := r.authScheme
	if scheme == "" {
		scheme = "Bearer"
	}
	req.Header.Set("Authorization", scheme+" "+r.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lightfast-console")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The url.Error names the URL, never the Authorization header; keep only the cause.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", c.timeout)
		}
		return nil, &Error{Provider: c.provider, Op: r.op, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &Error{Provider: c.provider, Op: r.op, Status: resp.StatusCode, Err: fmt.Errorf("read body: %w", err)}
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if isRateLimited != nil {
		if reset, ok := isRateLimited(out); ok {
			return nil, &RateLimitError{Provider: c.provider, Op: r.op, Reset: reset}
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, &RateLimitError{Provider: c.provider, Op: r.op, Reset: c.retryAfter(resp.Header, time.Minute)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &Error{Provider: c.provider, Op: r.op, Status: resp.StatusCode, Message: errorMessage(b)}
	}
	return out, nil
}

// decode unmarshals a response body into v.
func (c caller) decode(op string, resp *response, v any) error {
	if err := json.Unmarshal(resp.body, v); err != nil {
		return &Error{Provider: c.provider, Op: op, Status: resp.status, Err: fmt.Errorf("decode response: %w", err)}
	}
	return nil
}

// retryAfter reads Retry-After (seconds or an HTTP date) as an absolute time, def from now when absent.
func (c caller) retryAfter(h http.Header, def time.Duration) time.Time {
	now := c.now()
	v := strings.TrimSpace(h.Get("Retry-After"))
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return now.Add(time.Duration(secs) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return now.Add(def)
}

// unixHeader reads a header holding Unix seconds (or milliseconds when ms is set).
func unixHeader(h http.Header, name string, ms bool) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	if ms {
		return time.UnixMilli(n), true
	}
	return time.Unix(n, 0), true
}

// errorMessage pulls a human message out of the providers' error bodies ({"message"}, {"error":{"message"}},
// {"detail"}, {"errors":[{"message"}]}), truncated so a large body cannot flood logs.
func errorMessage(body []byte) string {
	var v struct {
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
		Error   json.RawMessage `json:"error"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		switch {
		case v.Message != "":
			msg = v.Message
		case v.Detail != "":
			msg = v.Detail
		case len(v.Errors) > 0:
			msg = v.Errors[0].Message
		case len(v.Error) > 0:
			var inner struct {
				Message string `json:"message"`
			}
			var s string
			if json.Unmarshal(v.Error, &inner) == nil && inner.Message != "" {
				msg = inner.Message
			} else if json.Unmarshal(v.Error, &s) == nil {
				msg = s
			}
		}
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// linkNext returns the URL of rel="next" in an RFC 8288 Link header, and the attributes of that link
// (Sentry adds results="true|false" and cursor="…").
func linkNext(h http.Header) (string, map[string]string) {
	for _, part := range strings.Split(h.Get("Link"), ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		u := strings.Trim(strings.TrimSpace(segs[0]), "<>")
		attrs := map[string]string{}
		for _, s := range segs[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(s), "=")
			if ok {
				attrs[strings.ToLower(k)] = strings.Trim(v, `"`)
			}
		}
		if attrs["rel"] == "next" {
			return u, attrs
		}
	}
	return "", nil
}

// clamp returns n within [1, max], def when n is 0 or negative.
func clamp(n, def, max int) int {
	if n <= 0 {
		return def
	}
	if n > max {
		return max
	}
	return n
}
