package providersim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Endpoint keys name each simulated endpoint in call counters and fault
// injection. Faults may also target "<provider>.*" or "*".
const (
	KeyGitHubInstall         = "github.web.install"               // GET  /apps/{slug}/installations/new
	KeyGitHubOAuthToken      = "github.oauth.token"               // POST /login/oauth/access_token
	KeyGitHubAppInstallation = "github.app.installation"          // GET  /app/installations/{id}
	KeyGitHubAccessToken     = "github.app.access_token"          // POST /app/installations/{id}/access_tokens
	KeyGitHubUserInstalls    = "github.user.installations"        // GET  /user/installations
	KeyGitHubUser            = "github.user"                      // GET  /user
	KeyGitHubOrgMembership   = "github.user.membership"           // GET  /user/memberships/orgs/{org}
	KeyGitHubRepositories    = "github.installation.repositories" // GET  /installation/repositories
	KeyGitHubContents        = "github.repos.contents"            // GET  /repos/{o}/{r}/contents/{path}
	KeyGitHubPulls           = "github.repos.pulls"               // GET  /repos/{o}/{r}/pulls
	KeyGitHubIssues          = "github.repos.issues"              // GET  /repos/{o}/{r}/issues
	KeyGitHubReleases        = "github.repos.releases"            // GET  /repos/{o}/{r}/releases
	KeyGitHubRaw             = "github.web.raw"                   // GET  (web) /{o}/{r}/raw/{ref}/{path}: download_url
	KeyVercelInstall         = "vercel.web.install"               // GET  /integrations/{slug}/new
	KeyVercelOAuthToken      = "vercel.oauth.token"               // POST /v2/oauth/access_token
	KeyVercelTeam            = "vercel.teams.get"                 // GET  /v2/teams/{teamId}
	KeyVercelProjects        = "vercel.projects.list"             // GET  /v9/projects, /v10/projects
	KeyVercelDeployments     = "vercel.deployments.list"          // GET  /v6/deployments
	KeyVercelConfigDelete    = "vercel.configuration.delete"      // DELETE /v1/integrations/configuration/{id}
	KeyLinearAuthorize       = "linear.web.authorize"             // GET  /oauth/authorize
	KeyLinearOAuthToken      = "linear.oauth.token"               // POST /oauth/token (both grants)
	KeyLinearRefresh         = "linear.oauth.refresh"             // POST /oauth/token, grant_type=refresh_token (counted in addition)
	KeyLinearRevoke          = "linear.oauth.revoke"              // POST /oauth/revoke
	KeyLinearGraphQL         = "linear.graphql"                   // POST /graphql (each root field also counts as linear.graphql.<field>)
	KeySentryInstall         = "sentry.web.install"               // GET  /sentry-apps/{slug}/external-install/
	KeySentryAuthorizations  = "sentry.oauth.token"               // POST /api/0/sentry-app-installations/{uuid}/authorizations/
	KeySentryRefresh         = "sentry.oauth.refresh"             // same, grant_type=refresh_token (counted in addition)
	KeySentryInstallUpdate   = "sentry.installation.update"       // PUT  /api/0/sentry-app-installations/{uuid}/
	KeySentryInstallDelete   = "sentry.installation.delete"       // DELETE /api/0/sentry-app-installations/{uuid}/
	KeySentryProjects        = "sentry.projects.list"             // GET  /api/0/organizations/{org}/projects/
	KeySentryIssues          = "sentry.issues.list"               // GET  /api/0/projects/{org}/{project}/issues/
)

// Fault is a scripted misbehaviour of matching endpoints for the next Times calls.
type Fault struct {
	// Key is an endpoint key (see the Key* constants), "<provider>.*" or "*".
	Key string
	// Status answers with this HTTP status and the provider's error body.
	Status int
	// Times is how many calls the fault affects: 0 means one, negative means
	// every call until ClearFaults.
	Times int
	// Delay sleeps before answering (or before the real handler runs, when
	// there is no Status/RateLimit/Body). The request context cuts it short.
	Delay time.Duration
	// RateLimit answers with the provider's own rate-limit response: GitHub
	// 403 (or Status 429) with X-RateLimit-Remaining: 0, X-RateLimit-Reset and
	// Retry-After; Vercel 429 with X-RateLimit-Reset; Linear GraphQL 400 with
	// a RATELIMITED error and X-RateLimit-Requests-Reset; Sentry 429 with
	// Retry-After.
	RateLimit bool
	// RetryAfter is when a rate limit resets (default 60s).
	RetryAfter time.Duration
	// Body replaces the response body verbatim (e.g. malformed JSON); status
	// is Status or 200.
	Body string

	remaining int
}

func keyMatches(pattern, key string) bool {
	if pattern == "*" || pattern == key {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(key, prefix+".")
	}
	return false
}

// InjectFault adds f; faults apply in the order they were added.
func (s *Simulator) InjectFault(f Fault) {
	f.remaining = f.Times
	if f.remaining == 0 {
		f.remaining = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next times calls of key answer status with the
// provider's error body.
func (s *Simulator) FailNext(key string, status, times int) {
	s.InjectFault(Fault{Key: key, Status: status, Times: times})
}

// DelayNext delays the next times calls of key by d before handling them normally.
func (s *Simulator) DelayNext(key string, d time.Duration, times int) {
	s.InjectFault(Fault{Key: key, Delay: d, Times: times})
}

// RateLimitNext makes the next times calls of key answer with the provider's
// rate-limit response, resetting after retryAfter.
func (s *Simulator) RateLimitNext(key string, times int, retryAfter time.Duration) {
	s.InjectFault(Fault{Key: key, RateLimit: true, Times: times, RetryAfter: retryAfter})
}

// ClearFaults removes all injected faults and scripted refresh failures.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.refreshFail = map[string]int{}
}

// takeFault consumes one use of the first fault matching key. Callers hold s.mu.
func (s *Simulator) takeFault(key string) *Fault {
	for i, f := range s.faults {
		if !keyMatches(f.Key, key) {
			continue
		}
		applied := *f
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &applied
	}
	return nil
}

// Calls returns how many requests reached the endpoint key (faulted ones included).
func (s *Simulator) Calls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// AllCalls returns a copy of every call counter.
func (s *Simulator) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// ResetCalls zeroes every call counter.
func (s *Simulator) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// count increments key. Callers hold s.mu.
func (s *Simulator) count(key string) { s.calls[key]++ }

// rateWindow is a provider's rate-limit budget for the current window.
type rateWindow struct {
	limit int
	used  int
	reset time.Time
}

// rateTick counts one call against provider's window. Callers hold s.mu.
func (s *Simulator) rateTick(provider string, limit int, window time.Duration) rateWindow {
	now := s.now()
	rw := s.rates[provider]
	if rw == nil || !now.Before(rw.reset) {
		rw = &rateWindow{limit: limit, reset: now.Add(window).Truncate(time.Second)}
		s.rates[provider] = rw
	}
	rw.limit = limit
	rw.used++
	return *rw
}

// handle registers an endpoint: every request is counted under key, may hit
// an injected fault, and API endpoints get the provider's rate-limit headers.
func (s *Simulator) handle(pattern, key string, api bool, h http.HandlerFunc) {
	provider, _, _ := strings.Cut(key, ".")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.count(key)
		f := s.takeFault(key)
		s.mu.Unlock()
		s.cfg.Logger.Debug("providersim request", "key", key, "method", r.Method, "path", r.URL.Path)
		if f != nil && s.applyFault(w, r, key, f) {
			return
		}
		if api && s.setRateHeaders(w, provider) {
			return
		}
		h(w, r)
	})
}

// subFault applies a fault registered for a finer key than the endpoint's
// (a GraphQL root field, a refresh grant) and counts the call under it. It
// reports whether the response has been written.
func (s *Simulator) subFault(w http.ResponseWriter, r *http.Request, key string) bool {
	s.mu.Lock()
	s.count(key)
	f := s.takeFault(key)
	s.mu.Unlock()
	return f != nil && s.applyFault(w, r, key, f)
}

// applyFault sleeps for f.Delay and writes the faulty response, if any. It
// reports whether a response was written.
func (s *Simulator) applyFault(w http.ResponseWriter, r *http.Request, key string, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case f.RateLimit:
		s.writeRateLimited(w, key, f)
	case f.Body != "":
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
	case f.Status != 0:
		s.writeProviderError(w, key, f.Status, http.StatusText(f.Status)+" (injected by providersim)")
	default:
		return false
	}
	return true
}

// writeProviderError writes an error body shaped like the provider's own.
func (s *Simulator) writeProviderError(w http.ResponseWriter, key string, status int, msg string) {
	provider, _, _ := strings.Cut(key, ".")
	switch {
	case provider == ProviderGitHub && key == KeyGitHubOAuthToken:
		writeJSON(w, status, map[string]string{"error": "server_error", "error_description": msg})
	case provider == ProviderGitHub:
		ghError(w, status, msg)
	case provider == ProviderVercel:
		vercelError(w, status, strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), msg)
	case strings.HasPrefix(key, KeyLinearGraphQL):
		gqlErrorResponse(w, status, gqlError{Message: msg, Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR", "type": "internal error"}})
	case provider == ProviderLinear:
		oauthError(w, status, "server_error", msg)
	default:
		sentryError(w, status, msg)
	}
}

// writeRateLimited writes provider's rate-limit response.
func (s *Simulator) writeRateLimited(w http.ResponseWriter, key string, f *Fault) {
	retry := f.RetryAfter
	if retry <= 0 {
		retry = time.Minute
	}
	now := s.now()
	reset := now.Add(retry)
	retrySecs := strconv.Itoa(int(math.Ceil(retry.Seconds())))
	h := w.Header()
	provider, _, _ := strings.Cut(key, ".")
	switch provider {
	case ProviderGitHub:
		status := f.Status
		if status != http.StatusTooManyRequests {
			status = http.StatusForbidden
		}
		s.mu.Lock()
		limit := s.cfg.GitHubRateLimit
		s.mu.Unlock()
		h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", strconv.Itoa(limit))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("X-RateLimit-Resource", "core")
		h.Set("Retry-After", retrySecs)
		ghError(w, status, "API rate limit exceeded. (injected by providersim)")
	case ProviderVercel:
		h.Set("X-RateLimit-Limit", "100")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
			"code": "rate_limited", "message": "Rate limit exceeded",
			"limit": map[string]any{"remaining": 0, "reset": reset.Unix(), "resetMs": reset.UnixMilli(), "total": 100},
		}})
	case ProviderLinear:
		h.Set("X-RateLimit-Requests-Limit", "5000")
		h.Set("X-RateLimit-Requests-Remaining", "0")
		h.Set("X-RateLimit-Requests-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
		if strings.HasPrefix(key, KeyLinearGraphQL) {
			status := f.Status
			if status == 0 {
				status = http.StatusBadRequest
			}
			gqlErrorResponse(w, status, gqlError{
				Message: "Rate limit exceeded",
				Extensions: map[string]any{
					"code": "RATELIMITED", "type": "ratelimited", "userError": true,
					"userPresentableMessage": "Too many requests. Please try again later.",
				},
			})
			return
		}
		h.Set("Retry-After", retrySecs)
		oauthError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests")
	default:
		h.Set("Retry-After", retrySecs)
		h.Set("X-Sentry-Rate-Limit-Limit", "40")
		h.Set("X-Sentry-Rate-Limit-Remaining", "0")
		h.Set("X-Sentry-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
		sentryError(w, http.StatusTooManyRequests, "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds")
	}
}

// setRateHeaders adds provider's informational rate-limit headers to a normal
// API response. GitHub's budget is enforced: once used up, the call answers
// 403 like GitHub's primary rate limit and setRateHeaders reports true.
func (s *Simulator) setRateHeaders(w http.ResponseWriter, provider string) bool {
	h := w.Header()
	s.mu.Lock()
	var rw rateWindow
	switch provider {
	case ProviderGitHub:
		rw = s.rateTick(provider, s.cfg.GitHubRateLimit, time.Hour)
	case ProviderLinear:
		rw = s.rateTick(provider, 5000, time.Hour)
	case ProviderVercel:
		rw = s.rateTick(provider, 100, time.Minute)
	default:
		rw = s.rateTick(provider, 40, time.Second)
	}
	s.mu.Unlock()
	remaining := strconv.Itoa(max(0, rw.limit-rw.used))
	switch provider {
	case ProviderGitHub:
		h.Set("X-RateLimit-Limit", strconv.Itoa(rw.limit))
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", strconv.FormatInt(rw.reset.Unix(), 10))
		h.Set("X-RateLimit-Used", strconv.Itoa(min(rw.used, rw.limit)))
		h.Set("X-RateLimit-Resource", "core")
		h.Set("X-GitHub-Media-Type", "github.v3; format=json")
		h.Set("X-GitHub-Request-Id", strings.ToUpper(randomHex(8)))
		if rw.used > rw.limit {
			h.Set("X-RateLimit-Remaining", "0")
			ghError(w, http.StatusForbidden, "API rate limit exceeded.")
			return true
		}
	case ProviderLinear:
		h.Set("X-RateLimit-Requests-Limit", strconv.Itoa(rw.limit))
		h.Set("X-RateLimit-Requests-Remaining", remaining)
		h.Set("X-RateLimit-Requests-Reset", strconv.FormatInt(rw.reset.UnixMilli(), 10))
	case ProviderVercel:
		h.Set("X-RateLimit-Limit", strconv.Itoa(rw.limit))
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", strconv.FormatInt(rw.reset.Unix(), 10))
	default:
		h.Set("X-Sentry-Rate-Limit-Limit", strconv.Itoa(rw.limit))
		h.Set("X-Sentry-Rate-Limit-Remaining", remaining)
		h.Set("X-Sentry-Rate-Limit-Reset", strconv.FormatInt(rw.reset.Unix(), 10))
	}
	return false
}

// --- HTTP control surface (/_sim/...) for out-of-process tests ---
//
//	GET    /_sim/healthz          liveness
//	GET    /_sim/urls             provider base URLs for this host
//	GET    /_sim/calls            call counters {key: n}
//	DELETE /_sim/calls            reset counters (also POST /_sim/calls/reset)
//	GET    /_sim/faults           pending faults
//	POST   /_sim/faults           add {key, status, times, delay, rateLimit, retryAfter, body} or a list
//	DELETE /_sim/faults           clear faults and scripted refresh failures
//	POST   /_sim/tokens/expire    {provider} → {expired: n}
//	POST   /_sim/refresh/fail     {provider, times}
//	POST   /_sim/consent          {provider, deny, installationId, account, user, personal, omitCode, omitState}
//	POST   /_sim/callbacks        {gateway} or {github, vercel, linear, sentry}
//	POST   /_sim/github/memberships {org, user, role: admin|member|none, state: active|pending}
//	POST   /_sim/seed             SeedRequest → {items}
//	POST   /_sim/webhooks/send    WebhookRequest → WebhookResult
//	GET    /_sim/state            State snapshot (installations, Linear webhook secrets, calls)
//	POST   /_sim/reset            forget everything but the config

// faultJSON is Fault on the wire: durations are Go duration strings ("250ms").
type faultJSON struct {
	Key        string `json:"key"`
	Status     int    `json:"status,omitempty"`
	Times      int    `json:"times,omitempty"`
	Delay      string `json:"delay,omitempty"`
	RateLimit  bool   `json:"rateLimit,omitempty"`
	RetryAfter string `json:"retryAfter,omitempty"`
	Body       string `json:"body,omitempty"`
	Remaining  int    `json:"remaining,omitempty"`
}

func (fj faultJSON) fault() (Fault, error) {
	f := Fault{Key: fj.Key, Status: fj.Status, Times: fj.Times, RateLimit: fj.RateLimit, Body: fj.Body}
	if f.Key == "" {
		return f, fmt.Errorf("key is required")
	}
	var err error
	if fj.Delay != "" {
		if f.Delay, err = time.ParseDuration(fj.Delay); err != nil {
			return f, fmt.Errorf("delay: %w", err)
		}
	}
	if fj.RetryAfter != "" {
		if f.RetryAfter, err = time.ParseDuration(fj.RetryAfter); err != nil {
			return f, fmt.Errorf("retryAfter: %w", err)
		}
	}
	return f, nil
}

// controlError answers a bad control request.
func controlError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func (s *Simulator) controlRoutes() {
	s.mux.HandleFunc("GET "+PrefixControl+"/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET "+PrefixControl+"/urls", func(w http.ResponseWriter, r *http.Request) {
		u := requestURL(r)
		writeJSON(w, http.StatusOK, URLsFor(u.Scheme+"://"+u.Host))
	})
	s.mux.HandleFunc("GET "+PrefixControl+"/calls", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.AllCalls())
	})
	resetCalls := func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	}
	s.mux.HandleFunc("DELETE "+PrefixControl+"/calls", resetCalls)
	s.mux.HandleFunc("POST "+PrefixControl+"/calls/reset", resetCalls)

	s.mux.HandleFunc("GET "+PrefixControl+"/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		out := make([]faultJSON, 0, len(s.faults))
		for _, f := range s.faults {
			fj := faultJSON{Key: f.Key, Status: f.Status, Times: f.Times, RateLimit: f.RateLimit, Body: f.Body, Remaining: f.remaining}
			if f.Delay > 0 {
				fj.Delay = f.Delay.String()
			}
			if f.RetryAfter > 0 {
				fj.RetryAfter = f.RetryAfter.String()
			}
			out = append(out, fj)
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/faults", func(w http.ResponseWriter, r *http.Request) {
		var raw json.RawMessage
		if err := decodeJSON(r, &raw); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		var list []faultJSON
		if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
			if err := json.Unmarshal(raw, &list); err != nil {
				controlError(w, http.StatusBadRequest, err)
				return
			}
		} else {
			var one faultJSON
			if err := json.Unmarshal(raw, &one); err != nil {
				controlError(w, http.StatusBadRequest, err)
				return
			}
			list = []faultJSON{one}
		}
		faults := make([]Fault, 0, len(list))
		for _, fj := range list {
			f, err := fj.fault()
			if err != nil {
				controlError(w, http.StatusBadRequest, err)
				return
			}
			faults = append(faults, f)
		}
		for _, f := range faults {
			s.InjectFault(f)
		}
		writeJSON(w, http.StatusCreated, map[string]int{"added": len(faults)})
	})
	s.mux.HandleFunc("DELETE "+PrefixControl+"/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})

	s.mux.HandleFunc("POST "+PrefixControl+"/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Provider string `json:"provider"`
		}
		if err := decodeJSON(r, &req); err != nil || !knownProvider(req.Provider) {
			controlError(w, http.StatusBadRequest, fmt.Errorf("want {\"provider\": \"github|vercel|linear|sentry\"}"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"expired": s.ExpireTokens(req.Provider)})
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/refresh/fail", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Provider string `json:"provider"`
			Times    *int   `json:"times"`
		}
		if err := decodeJSON(r, &req); err != nil || !knownProvider(req.Provider) {
			controlError(w, http.StatusBadRequest, fmt.Errorf("want {\"provider\": \"linear|sentry\", \"times\": n}"))
			return
		}
		times := 1
		if req.Times != nil {
			times = *req.Times
		}
		s.FailRefresh(req.Provider, times)
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/consent", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Provider string `json:"provider"`
			Consent
		}
		if err := decodeJSON(r, &req); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.QueueConsent(req.Provider, req.Consent); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/callbacks", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			CallbackURLs
			Gateway string `json:"gateway,omitempty"`
		}
		if err := decodeJSON(r, &req); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		if req.Gateway != "" {
			if err := s.SetGatewayURL(req.Gateway); err != nil {
				controlError(w, http.StatusBadRequest, err)
				return
			}
		}
		for p, u := range map[string]string{ProviderGitHub: req.GitHub, ProviderVercel: req.Vercel, ProviderLinear: req.Linear, ProviderSentry: req.Sentry} {
			if u == "" {
				continue
			}
			if err := s.SetCallbackURL(p, u); err != nil {
				controlError(w, http.StatusBadRequest, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, s.Config().Callbacks)
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/github/memberships", func(w http.ResponseWriter, r *http.Request) {
		var req GitHubMembership
		if err := decodeJSON(r, &req); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.SetGitHubMembership(req); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/seed", s.handleSeed)
	s.mux.HandleFunc("POST "+PrefixControl+"/webhooks/send", s.handleSendWebhook)
	s.mux.HandleFunc("GET "+PrefixControl+"/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	s.mux.HandleFunc("POST "+PrefixControl+"/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

func knownProvider(p string) bool {
	switch p {
	case ProviderGitHub, ProviderVercel, ProviderLinear, ProviderSentry:
		return true
	}
	return false
}

// SeedRequest is the body of POST /_sim/seed. Kind selects what to create:
//
//	github.installation  installationId, account, users[]
//	github.repos         installationId, count
//	github.pulls         repo ("owner/name"), count
//	github.issues        repo, count
//	github.releases      repo, count
//	github.file          repo, ref (default branch when empty), path, content
//	vercel.projects      owner (team or user id; default team), count
//	vercel.deployments   projectId, count
//	linear.teams         org (urlKey; default org), count
//	linear.issues        teamId, count
//	sentry.projects      org (slug; default org), count
//	sentry.issues        org, project (slug), count
type SeedRequest struct {
	Kind           string   `json:"kind"`
	Count          int      `json:"count,omitempty"`
	InstallationID int64    `json:"installationId,omitempty"`
	Account        string   `json:"account,omitempty"`
	Users          []string `json:"users,omitempty"`
	Repo           string   `json:"repo,omitempty"`
	Ref            string   `json:"ref,omitempty"`
	Path           string   `json:"path,omitempty"`
	Content        string   `json:"content,omitempty"`
	Owner          string   `json:"owner,omitempty"`
	ProjectID      string   `json:"projectId,omitempty"`
	Org            string   `json:"org,omitempty"`
	TeamID         string   `json:"teamId,omitempty"`
	Project        string   `json:"project,omitempty"`
}

// Seed creates data as described by req and returns what it created.
func (s *Simulator) Seed(req SeedRequest) (any, error) {
	switch req.Kind {
	case "github.installation":
		return s.SeedGitHubInstallation(req.InstallationID, req.Account, req.Users...), nil
	case "github.repos":
		return s.SeedGitHubRepos(req.InstallationID, req.Count), nil
	case "github.pulls":
		return s.SeedGitHubPulls(req.Repo, req.Count)
	case "github.issues":
		return s.SeedGitHubIssues(req.Repo, req.Count)
	case "github.releases":
		return s.SeedGitHubReleases(req.Repo, req.Count)
	case "github.file":
		return nil, s.SetGitHubFile(req.Repo, req.Ref, req.Path, []byte(req.Content))
	case "vercel.projects":
		return s.SeedVercelProjects(req.Owner, req.Count)
	case "vercel.deployments":
		return s.SeedVercelDeployments(req.ProjectID, req.Count)
	case "linear.teams":
		return s.SeedLinearTeams(req.Org, req.Count)
	case "linear.issues":
		return s.SeedLinearIssues(req.TeamID, req.Count)
	case "sentry.projects":
		return s.SeedSentryProjects(req.Org, req.Count)
	case "sentry.issues":
		return s.SeedSentryIssues(req.Org, req.Project, req.Count)
	}
	return nil, fmt.Errorf("seed: unknown kind %q", req.Kind)
}

func (s *Simulator) handleSeed(w http.ResponseWriter, r *http.Request) {
	var req SeedRequest
	if err := decodeJSON(r, &req); err != nil {
		controlError(w, http.StatusBadRequest, err)
		return
	}
	items, err := s.Seed(req)
	if err != nil {
		controlError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"items": items})
}

// State is a snapshot of what the simulator holds, for debugging and for
// out-of-process tests that need an id or a Linear webhook secret.
type State struct {
	GitHubInstallations  []GitHubInstallation  `json:"githubInstallations"`
	GitHubRepos          map[int64][]string    `json:"githubRepos"`
	VercelConfigurations []VercelConfiguration `json:"vercelConfigurations"`
	LinearOrganizations  []LinearOrganization  `json:"linearOrganizations"`
	LinearWebhooks       []LinearWebhook       `json:"linearWebhooks"`
	SentryInstallations  []SentryInstallation  `json:"sentryInstallations"`
	Calls                map[string]int        `json:"calls"`
}

// State returns a snapshot of the simulator's data.
func (s *Simulator) State() State {
	st := State{
		GitHubInstallations:  s.GitHubInstallations(),
		VercelConfigurations: s.VercelConfigurations(),
		LinearOrganizations:  s.LinearOrganizations(),
		LinearWebhooks:       s.LinearWebhooks(),
		SentryInstallations:  s.SentryInstallations(),
		Calls:                s.AllCalls(),
	}
	s.mu.Lock()
	st.GitHubRepos = map[int64][]string{}
	for _, rd := range s.gh.repoOrder {
		st.GitHubRepos[rd.repo.InstallationID] = append(st.GitHubRepos[rd.repo.InstallationID], rd.repo.FullName)
	}
	s.mu.Unlock()
	return st
}

// routes registers every endpoint.
func (s *Simulator) routes() {
	s.githubRoutes()
	s.vercelRoutes()
	s.linearRoutes()
	s.sentryRoutes()
	s.controlRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"message": "providersim: no simulated endpoint for " + r.Method + " " + r.URL.Path,
		})
	})
}
