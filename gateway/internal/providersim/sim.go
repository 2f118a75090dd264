// Package providersim imitates GitHub, Vercel, Linear and Sentry closely enough
// for the gateway's and console's real provider code paths: the same paths,
// query parameters, headers, response shapes, signatures and pagination as the
// real services, served from one HTTP handler on distinct path prefixes so each
// provider gets its own base URL.
//
// Tests start it in-process:
//
//	sim, urls := providersim.Start(t, providersim.Config{GitHubAppPublicKey: &key.PublicKey})
//	// point GITHUB_API_URL at urls.GitHubAPI, LINEAR_API_URL at urls.LinearAPI, ...
//
// and drive it through Go methods (Calls, InjectFault, ExpireTokens, Seed*,
// SendWebhook, ...). The same controls are reachable over HTTP under /_sim/ for
// out-of-process use (see control.go); cmd/providersim runs it as a program.
//
// It is test-side code: it keeps everything in memory behind one mutex and
// never talks to the real providers.
package providersim

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Provider names, as used in endpoint keys, control requests and webhooks.
const (
	ProviderGitHub = "github"
	ProviderVercel = "vercel"
	ProviderLinear = "linear"
	ProviderSentry = "sentry"
)

// Path prefixes of each provider's base URL on the simulator.
const (
	PrefixGitHubWeb = "/github/web"
	PrefixGitHubAPI = "/github/api"
	PrefixVercelWeb = "/vercel/web"
	PrefixVercelAPI = "/vercel/api"
	PrefixLinearWeb = "/linear/web"
	PrefixLinearAPI = "/linear/api"
	PrefixSentry    = "/sentry"
	PrefixControl   = "/_sim"
)

// Secret is a credential in Config. Its String method masks it so a printed
// config never leaks it; use string(s) where the value is really needed.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "****"
}

// GoString masks the secret in %#v output too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// CallbackURLs are where each provider's consent step redirects the browser:
// the gateway's /connections/<provider>/callback.
type CallbackURLs struct {
	GitHub string `json:"github,omitempty"`
	Vercel string `json:"vercel,omitempty"`
	Linear string `json:"linear,omitempty"`
	Sentry string `json:"sentry,omitempty"`
}

// AutoSeed says how much demo data to create whenever a consent step creates
// a new installation (GitHub installation, Vercel configuration owner, Linear
// organization, Sentry organization) that has no data yet. Zero values create
// nothing, which is what tests usually want; cmd/providersim turns it on so
// `make run` has something to show.
type AutoSeed struct {
	Repos                 int // GitHub repositories per installation
	PullsPerRepo          int
	IssuesPerRepo         int
	ReleasesPerRepo       int
	VercelProjects        int
	DeploymentsPerProject int
	LinearTeams           int
	IssuesPerTeam         int
	SentryProjects        int
	IssuesPerProject      int
}

// Config configures a Simulator. Every field has a default (see New), so the
// zero Config works for everything except GitHub App JWT endpoints, which need
// GitHubAppPublicKey.
type Config struct {
	// GitHubAppID is the App id accepted as JWT `iss` (default "424242").
	GitHubAppID string
	// GitHubAppSlug is the {slug} of /apps/{slug}/installations/new (default "lightfast-sim").
	GitHubAppSlug string
	// GitHubClientID is the App's OAuth client id; also accepted as JWT `iss`.
	GitHubClientID string
	// GitHubClientSecret is the App's OAuth client secret.
	GitHubClientSecret Secret
	// GitHubWebhookSecret signs GitHub webhooks sent by SendWebhook.
	GitHubWebhookSecret Secret
	// GitHubAppPublicKey verifies App JWTs (RS256). Nil rejects every JWT.
	GitHubAppPublicKey *rsa.PublicKey
	// GitHubAccountLogin is the account the consent step installs on by default.
	GitHubAccountLogin string
	// GitHubAccountType is "Organization" (default) or "User".
	GitHubAccountType string
	// GitHubUserLogin is the user who consents; user tokens belong to them.
	GitHubUserLogin string
	// GitHubInstallationTokenTTL is the lifetime of installation tokens (default 1h).
	GitHubInstallationTokenTTL time.Duration
	// GitHubRateLimit is the core rate-limit budget per hour (default 5000);
	// once used up, API calls answer 403 like GitHub's primary rate limit.
	GitHubRateLimit int

	// VercelClientID is the integration's OAuth client id.
	VercelClientID string
	// VercelClientSecret is the integration's client secret; it also signs Vercel webhooks.
	VercelClientSecret Secret
	// VercelIntegrationSlug is the {slug} of /integrations/{slug}/new.
	VercelIntegrationSlug string
	// VercelTeamID, VercelTeamSlug and VercelTeamName describe the team the
	// consent step installs on by default.
	VercelTeamID   string
	VercelTeamSlug string
	VercelTeamName string
	// VercelUserID and VercelUsername describe the consenting user.
	VercelUserID   string
	VercelUsername string

	// LinearClientID is the OAuth app's client id.
	LinearClientID string
	// LinearClientSecret is the OAuth app's client secret.
	LinearClientSecret Secret
	// LinearAccessTokenTTL is the access token lifetime reported as expires_in (default 1h).
	LinearAccessTokenTTL time.Duration
	// LinearOrgName and LinearOrgURLKey describe the default workspace.
	LinearOrgName   string
	LinearOrgURLKey string

	// SentryClientID is the integration's client id.
	SentryClientID string
	// SentryClientSecret is the integration's client secret; it also signs Sentry webhooks.
	SentryClientSecret Secret
	// SentryAppSlug is the {slug} of /sentry-apps/{slug}/external-install/.
	SentryAppSlug string
	// SentryOrgSlug is the organization the consent step installs on by default.
	SentryOrgSlug string
	// SentryTokenTTL is the lifetime of Sentry tokens (default 8h).
	SentryTokenTTL time.Duration
	// SentryScopes are the scopes reported with Sentry tokens.
	SentryScopes []string

	// Callbacks are the redirect targets of the consent steps; each defaults
	// to http://127.0.0.1:4110/connections/<provider>/callback.
	Callbacks CallbackURLs

	// SeedInterval spaces seeded items in time: item i of a seed call is
	// updated i+1 intervals before now (default 6h), so a few dozen items
	// cover several days and depthDays windows can be tested.
	SeedInterval time.Duration
	// AutoSeed creates demo data for new installations (default none).
	AutoSeed AutoSeed

	// Now is the clock (default time.Now); tests may freeze it.
	Now func() time.Time
	// Logger receives one debug line per request (default: discard).
	Logger *slog.Logger
	// HTTPClient sends webhooks (default: a client with a 30 s timeout).
	HTTPClient *http.Client
}

// DefaultGatewayURL is where callbacks point by default: the gateway's local listen address.
const DefaultGatewayURL = "http://127.0.0.1:4110"

func (c Config) withDefaults() Config {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defSecret := func(p *Secret, v Secret) {
		if *p == "" {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.GitHubAppID, "424242")
	def(&c.GitHubAppSlug, "lightfast-sim")
	def(&c.GitHubClientID, "Iv1.simgithubclient0")
	defSecret(&c.GitHubClientSecret, "sim-github-client-secret")
	defSecret(&c.GitHubWebhookSecret, "sim-github-webhook-secret")
	def(&c.GitHubAccountLogin, "lightfast-sim")
	def(&c.GitHubAccountType, "Organization")
	def(&c.GitHubUserLogin, "sim-user")
	defDur(&c.GitHubInstallationTokenTTL, time.Hour)
	if c.GitHubRateLimit <= 0 {
		c.GitHubRateLimit = 5000
	}
	def(&c.VercelClientID, "oac_simvercelclient00000001")
	defSecret(&c.VercelClientSecret, "sim-vercel-client-secret")
	def(&c.VercelIntegrationSlug, "lightfast-sim")
	def(&c.VercelTeamID, "team_simlightfast0000000001")
	def(&c.VercelTeamSlug, "lightfast-sim")
	def(&c.VercelTeamName, "Lightfast Sim")
	def(&c.VercelUserID, "simuser00000000000000001")
	def(&c.VercelUsername, "sim-user")
	def(&c.LinearClientID, "sim-linear-client-id")
	defSecret(&c.LinearClientSecret, "sim-linear-client-secret")
	defDur(&c.LinearAccessTokenTTL, time.Hour)
	def(&c.LinearOrgName, "Lightfast Sim")
	def(&c.LinearOrgURLKey, "lightfast-sim")
	def(&c.SentryClientID, "sim-sentry-client-id")
	defSecret(&c.SentryClientSecret, "sim-sentry-client-secret")
	def(&c.SentryAppSlug, "lightfast-sim")
	def(&c.SentryOrgSlug, "lightfast-sim")
	defDur(&c.SentryTokenTTL, 8*time.Hour)
	if len(c.SentryScopes) == 0 {
		c.SentryScopes = []string{"event:read", "org:read", "project:read"}
	}
	def(&c.Callbacks.GitHub, DefaultGatewayURL+"/connections/github/callback")
	def(&c.Callbacks.Vercel, DefaultGatewayURL+"/connections/vercel/callback")
	def(&c.Callbacks.Linear, DefaultGatewayURL+"/connections/linear/callback")
	def(&c.Callbacks.Sentry, DefaultGatewayURL+"/connections/sentry/callback")
	defDur(&c.SeedInterval, 6*time.Hour)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return c
}

// SetGatewayCallbacks points every callback at
// gatewayURL/connections/<provider>/callback.
func (c *Config) SetGatewayCallbacks(gatewayURL string) error {
	if err := validateAbsURL(gatewayURL); err != nil {
		return fmt.Errorf("providersim: gateway url: %w", err)
	}
	base := strings.TrimRight(gatewayURL, "/") + "/connections/"
	c.Callbacks = CallbackURLs{
		GitHub: base + ProviderGitHub + "/callback",
		Vercel: base + ProviderVercel + "/callback",
		Linear: base + ProviderLinear + "/callback",
		Sentry: base + ProviderSentry + "/callback",
	}
	return nil
}

// Validate reports settings that cannot work: callback URLs that are not
// absolute http(s) URLs and a GitHub App id that is not a number.
func (c Config) Validate() error {
	c = c.withDefaults()
	for name, raw := range map[string]string{
		"github": c.Callbacks.GitHub, "vercel": c.Callbacks.Vercel,
		"linear": c.Callbacks.Linear, "sentry": c.Callbacks.Sentry,
	} {
		if err := validateAbsURL(raw); err != nil {
			return fmt.Errorf("providersim: %s callback url: %w", name, err)
		}
	}
	if _, err := strconv.ParseInt(c.GitHubAppID, 10, 64); err != nil {
		return fmt.Errorf("providersim: github app id %q is not a number", c.GitHubAppID)
	}
	return nil
}

func validateAbsURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) url", raw)
	}
	return nil
}

// Simulator is the fake provider server. It is an http.Handler; all its
// methods are safe for concurrent use.
type Simulator struct {
	cfg Config
	mux *http.ServeMux

	// mu guards everything below. One lock keeps the bookkeeping obviously
	// consistent; handlers hold it only while touching state, never while
	// sleeping for an injected delay or sending a webhook.
	mu          sync.Mutex
	calls       map[string]int
	faults      []*Fault
	refreshFail map[string]int
	consents    map[string][]Consent
	tokens      map[string]*token
	codes       map[string]*authCode
	seq         int64
	rates       map[string]*rateWindow
	gh          githubState
	vc          vercelState
	ln          linearState
	se          sentryState
}

// New builds a Simulator from cfg, filling defaults. It does not listen;
// serve it with httptest.NewServer, Start, or an http.Server.
func New(cfg Config) *Simulator {
	s := &Simulator{cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	s.resetState()
	s.routes()
	return s
}

// Start serves a new Simulator on a loopback httptest server closed at the
// end of the test, and returns it with the base URLs of every provider.
func Start(tb testing.TB, cfg Config) (*Simulator, URLs) {
	tb.Helper()
	s := New(cfg)
	srv := httptest.NewServer(s)
	tb.Cleanup(srv.Close)
	return s, URLsFor(srv.URL)
}

// Config returns the effective configuration (defaults filled in).
func (s *Simulator) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// resetState drops every installation, token, counter and fault. Callers
// other than New hold s.mu.
func (s *Simulator) resetState() {
	s.calls = map[string]int{}
	s.faults = nil
	s.refreshFail = map[string]int{}
	s.consents = map[string][]Consent{}
	s.tokens = map[string]*token{}
	s.codes = map[string]*authCode{}
	s.rates = map[string]*rateWindow{}
	s.seq = 0
	s.gh = newGitHubState()
	if s.cfg.GitHubAccountType == "Organization" {
		s.ghSetMembership(GitHubMembership{Org: s.cfg.GitHubAccountLogin, User: s.cfg.GitHubUserLogin, Role: "admin", State: "active"})
	}
	s.vc = newVercelState()
	s.ln = newLinearState()
	s.se = newSentryState()
	s.vercelEnsureDefaults()
	s.linearEnsureDefaultOrg()
	s.sentryOrg(s.cfg.SentryOrgSlug)
}

// Reset returns the simulator to its freshly constructed state (config and
// callback URLs are kept).
func (s *Simulator) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetState()
}

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// URLs are the base URLs of each provider on one simulator, i.e. the values
// for the gateway's GITHUB_WEB_URL, GITHUB_API_URL, VERCEL_WEB_URL,
// VERCEL_API_URL, LINEAR_WEB_URL, LINEAR_API_URL and SENTRY_URL.
type URLs struct {
	Base      string `json:"base"`
	GitHubWeb string `json:"githubWeb"`
	GitHubAPI string `json:"githubApi"`
	VercelWeb string `json:"vercelWeb"`
	VercelAPI string `json:"vercelApi"`
	LinearWeb string `json:"linearWeb"`
	LinearAPI string `json:"linearApi"`
	Sentry    string `json:"sentry"`
	Control   string `json:"control"`
}

// URLsFor derives every provider base URL from the simulator's own base URL
// (e.g. "http://127.0.0.1:4120").
func URLsFor(base string) URLs {
	base = strings.TrimRight(base, "/")
	return URLs{
		Base:      base,
		GitHubWeb: base + PrefixGitHubWeb,
		GitHubAPI: base + PrefixGitHubAPI,
		VercelWeb: base + PrefixVercelWeb,
		VercelAPI: base + PrefixVercelAPI,
		LinearWeb: base + PrefixLinearWeb,
		LinearAPI: base + PrefixLinearAPI,
		Sentry:    base + PrefixSentry,
		Control:   base + PrefixControl,
	}
}

// Env returns the URLs keyed by the gateway's environment variable names.
func (u URLs) Env() map[string]string {
	return map[string]string{
		"GITHUB_WEB_URL": u.GitHubWeb,
		"GITHUB_API_URL": u.GitHubAPI,
		"VERCEL_WEB_URL": u.VercelWeb,
		"VERCEL_API_URL": u.VercelAPI,
		"LINEAR_WEB_URL": u.LinearWeb,
		"LINEAR_API_URL": u.LinearAPI,
		"SENTRY_URL":     u.Sentry,
	}
}

// GitHubWebURL returns the GitHub web base URL for a simulator served at base.
func GitHubWebURL(base string) string { return URLsFor(base).GitHubWeb }

// GitHubAPIURL returns the GitHub API base URL for a simulator served at base.
func GitHubAPIURL(base string) string { return URLsFor(base).GitHubAPI }

// VercelWebURL returns the Vercel web base URL for a simulator served at base.
func VercelWebURL(base string) string { return URLsFor(base).VercelWeb }

// VercelAPIURL returns the Vercel API base URL for a simulator served at base.
func VercelAPIURL(base string) string { return URLsFor(base).VercelAPI }

// LinearWebURL returns the Linear web base URL for a simulator served at base.
func LinearWebURL(base string) string { return URLsFor(base).LinearWeb }

// LinearAPIURL returns the Linear API base URL for a simulator served at base.
func LinearAPIURL(base string) string { return URLsFor(base).LinearAPI }

// SentryURL returns the Sentry base URL for a simulator served at base.
func SentryURL(base string) string { return URLsFor(base).Sentry }

// SetCallbackURL changes where provider's consent step redirects. Tests call
// it once the gateway under test is listening (its URL is only known then).
func (s *Simulator) SetCallbackURL(provider, callbackURL string) error {
	if err := validateAbsURL(callbackURL); err != nil {
		return fmt.Errorf("set callback url: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch provider {
	case ProviderGitHub:
		s.cfg.Callbacks.GitHub = callbackURL
	case ProviderVercel:
		s.cfg.Callbacks.Vercel = callbackURL
	case ProviderLinear:
		s.cfg.Callbacks.Linear = callbackURL
	case ProviderSentry:
		s.cfg.Callbacks.Sentry = callbackURL
	default:
		return fmt.Errorf("set callback url: unknown provider %q", provider)
	}
	return nil
}

// SetGatewayURL points all four callbacks at gatewayURL/connections/<provider>/callback.
func (s *Simulator) SetGatewayURL(gatewayURL string) error {
	gatewayURL = strings.TrimRight(gatewayURL, "/")
	for _, p := range []string{ProviderGitHub, ProviderVercel, ProviderLinear, ProviderSentry} {
		if err := s.SetCallbackURL(p, gatewayURL+"/connections/"+p+"/callback"); err != nil {
			return err
		}
	}
	return nil
}

// Consent scripts the answer of the next consent step of one provider
// (queue it with QueueConsent). Fields a provider has no use for are ignored.
type Consent struct {
	// Deny makes the user refuse: the redirect carries error=access_denied.
	Deny bool `json:"deny,omitempty"`
	// InstallationID picks the installation: the GitHub installation id
	// (numeric), the Vercel configurationId or the Sentry installation uuid.
	// An unknown id is created. Empty picks the account's existing GitHub
	// installation, or creates a new one.
	InstallationID string `json:"installationId,omitempty"`
	// Account is the GitHub account login, the Vercel team id, the Linear
	// organization urlKey or the Sentry organization slug to install on.
	Account string `json:"account,omitempty"`
	// User is the GitHub user login who consents (default Config.GitHubUserLogin).
	User string `json:"user,omitempty"`
	// Personal installs the Vercel integration on the user's personal
	// account: no teamId in the callback and a token without team_id.
	Personal bool `json:"personal,omitempty"`
	// OmitCode leaves `code` out of the GitHub callback, as when the App does
	// not request user authorization during installation.
	OmitCode bool `json:"omitCode,omitempty"`
	// OmitState leaves `state` out of the callback, for testing the
	// gateway's cookie fallback for providers that do not echo it.
	OmitState bool `json:"omitState,omitempty"`
}

// QueueConsent makes the next consent step of provider answer as c. Queued
// consents are used in order, one per consent request; with none queued the
// defaults from Config apply. Query parameters sim_deny, sim_installation_id,
// sim_account, sim_user, sim_personal, sim_omit_code and sim_omit_state on
// the consent URL override both.
func (s *Simulator) QueueConsent(provider string, c Consent) error {
	switch provider {
	case ProviderGitHub, ProviderVercel, ProviderLinear, ProviderSentry:
	default:
		return fmt.Errorf("queue consent: unknown provider %q", provider)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consents[provider] = append(s.consents[provider], c)
	return nil
}

// takeConsent pops the queued consent for provider and applies the sim_*
// query overrides. Callers hold s.mu.
func (s *Simulator) takeConsent(provider string, q url.Values) Consent {
	var c Consent
	if queue := s.consents[provider]; len(queue) > 0 {
		c = queue[0]
		s.consents[provider] = queue[1:]
	}
	if v := q.Get("sim_deny"); v != "" {
		c.Deny = v != "0" && v != "false"
	}
	if q.Get("error") == "access_denied" {
		c.Deny = true
	}
	if v := q.Get("sim_installation_id"); v != "" {
		c.InstallationID = v
	}
	if v := q.Get("sim_account"); v != "" {
		c.Account = v
	}
	if v := q.Get("sim_user"); v != "" {
		c.User = v
	}
	if v := q.Get("sim_personal"); v != "" {
		c.Personal = v != "0" && v != "false"
	}
	if v := q.Get("sim_omit_code"); v != "" {
		c.OmitCode = v != "0" && v != "false"
	}
	if v := q.Get("sim_omit_state"); v != "" {
		c.OmitState = v != "0" && v != "false"
	}
	return c
}

// now is the simulator clock, truncated to milliseconds: no provider reports
// finer times and it keeps JSON output stable.
func (s *Simulator) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Millisecond)
}

// nextSeq returns the next value of the deterministic id counter. Callers hold s.mu.
func (s *Simulator) nextSeq() int64 {
	s.seq++
	return s.seq
}

// redirect answers 302 to target with params added to its query.
func redirect(w http.ResponseWriter, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "providersim: bad callback url", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusFound)
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// maxRequestBody caps request bodies the simulator reads; nothing a real
// client sends to these endpoints comes close.
const maxRequestBody = 1 << 20

// readForm parses a form body (and the query string) or, when the request is
// JSON, decodes the JSON object into string values, because OAuth clients
// send either.
func readForm(r *http.Request) (url.Values, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("decode json body: %w", err)
		}
		vals := r.URL.Query()
		for k, v := range m {
			switch t := v.(type) {
			case string:
				vals.Set(k, t)
			case nil:
			default:
				b, _ := json.Marshal(t)
				vals.Set(k, string(b))
			}
		}
		return vals, nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("parse form: %w", err)
	}
	return r.Form, nil
}

// decodeJSON decodes a JSON request body into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body")
		}
		return err
	}
	return nil
}

// bearer extracts the credential of an "Authorization: Bearer|token <x>"
// header; a bare value (Linear API keys) is returned as is.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return ""
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok {
		return h
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return strings.TrimSpace(rest)
	}
	return ""
}
