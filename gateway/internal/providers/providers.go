// Package providers holds what the gateway's provider clients share: the token a provider hands out,
// the error a provider call fails with, and one HTTP helper that never lets a response body (which can
// echo codes or tokens) into an error. The clients themselves live in the sub-packages github, vercel,
// linear and sentry; each is pointed at a configurable base URL so tests run against the simulator.
package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/lightfastai/connections/db/secrets"
)

// Token is an access token as a provider issued it.
type Token struct {
	AccessToken secrets.Secret
	// RefreshToken is empty when the provider issues none (GitHub installation tokens, Vercel).
	RefreshToken secrets.Secret
	// ExpiresAt is nil for tokens that do not expire (Vercel).
	ExpiresAt *time.Time
	TokenType string
	Scope     string
}

// ErrInvalidGrant means the provider refused a code or refresh token for good (OAuth invalid_grant,
// Sentry's 401 on a refresh): retrying the same grant cannot succeed.
var ErrInvalidGrant = errors.New("provider refused the grant")

// Error is a provider call that did not succeed. It names the call, the HTTP status and, when the
// provider gave one, its short error code; never the body.
type Error struct {
	Provider string
	Op       string
	Status   int
	Code     string
	// Err is the transport error, when there was no response.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s %s: %v", e.Provider, e.Op, e.Err)
	case e.Code != "":
		return fmt.Sprintf("%s %s: status %d (%s)", e.Provider, e.Op, e.Status, e.Code)
	}
	return fmt.Sprintf("%s %s: status %d", e.Provider, e.Op, e.Status)
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may help (transport errors, 429 and 5xx).
func (e *Error) Temporary() bool {
	return e.Err != nil || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// NewHTTPClient is the client every provider call goes through: bounded in time, and it does not follow
// redirects (an API answering with a redirect is an error, not something to chase with a token).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// maxBody caps what is read from a provider response.
const maxBody = 4 << 20

// Call is one provider request.
type Call struct {
	Provider string
	Op       string
	Method   string
	URL      string
	Header   http.Header
	// Body is sent as JSON unless it is url.Values (a form).
	Body any
	// Out receives the decoded JSON of a 2xx answer; nil discards it.
	Out any
}

// Do sends c with hc. A non-2xx answer is an *Error carrying the provider's error code when it has one.
// It returns the response headers (paging links, rate limits).
func Do(ctx context.Context, hc *http.Client, c Call) (http.Header, error) {
	var body io.Reader
	contentType := ""
	switch b := c.Body.(type) {
	case nil:
	case url.Values:
		body, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode: %w", c.Provider, c.Op, err)
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: build request: %w", c.Provider, c.Op, err)
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", "lightfast-gateway")
	resp, err := hc.Do(req)
	if err != nil {
		// url.Error carries the URL, which may hold a code or state in its query: keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, &Error{Provider: c.Provider, Op: c.Op, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.Header, &Error{Provider: c.Provider, Op: c.Op, Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, &Error{Provider: c.Provider, Op: c.Op, Status: resp.StatusCode, Code: ErrorCode(raw)}
	}
	if c.Out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, c.Out); err != nil {
			return resp.Header, &Error{Provider: c.Provider, Op: c.Op, Status: resp.StatusCode, Code: "malformed_response"}
		}
	}
	return resp.Header, nil
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// ErrorCode extracts a provider's short error code from an error body: OAuth {"error": "invalid_grant"},
// Vercel {"error": {"code": …}}, GraphQL {"errors": [{"extensions": {"code": …}}]}. Anything that does
// not look like a code is dropped, so free text never reaches a log line.
func ErrorCode(body []byte) string {
	var shape struct {
		Error  json.RawMessage `json:"error"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &shape) != nil {
		return ""
	}
	var code string
	if len(shape.Error) > 0 {
		if json.Unmarshal(shape.Error, &code) != nil {
			var obj struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(shape.Error, &obj)
			code = obj.Code
		}
	} else if len(shape.Errors) > 0 {
		code = shape.Errors[0].Extensions.Code
	}
	return SafeCode(code)
}

// SafeCode returns code when it looks like a provider error code, else "": only such codes may reach
// an error message or a log line.
func SafeCode(code string) string {
	if !codePattern.MatchString(code) {
		return ""
	}
	return code
}

// StatusIs reports whether err is a provider *Error with one of the statuses.
func StatusIs(err error, statuses ...int) bool {
	var perr *Error
	if !errors.As(err, &perr) {
		return false
	}
	for _, s := range statuses {
		if perr.Status == s {
			return true
		}
	}
	return false
}

// CodeIs reports whether err is a provider *Error with the given error code.
func CodeIs(err error, code string) bool {
	var perr *Error
	return errors.As(err, &perr) && perr.Code == code
}

// SameOrigin reports whether next (a paging link a provider returned) points at the same scheme and
// host as base, so a token is never sent to a host the gateway was not configured for.
func SameOrigin(base, next string) bool {
	b, err1 := url.Parse(base)
	n, err2 := url.Parse(next)
	return err1 == nil && err2 == nil && b.Scheme == n.Scheme && b.Host == n.Host
}

// NextLink returns the rel="next" URL of an RFC 8288 Link header, or "".
func NextLink(h http.Header) string {
	for _, part := range strings.Split(h.Get("Link"), ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		target = strings.TrimSpace(target)
		return strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">")
	}
	return ""
}

// Bearer is an Authorization header for token.
func Bearer(token secrets.Secret) http.Header {
	return http.Header{"Authorization": {"Bearer " + token.Reveal()}}
}
