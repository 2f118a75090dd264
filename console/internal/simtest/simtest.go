// Package simtest runs the provider simulator (gateway/cmd/providersim) as a real process for the Console's
// tests and drives it over its HTTP control endpoints (/_sim/...). The Console module must not import the
// gateway module, so the simulator is built from source with `go build` and talked to over HTTP only.
//
// One simulator process serves a whole test binary: call Main from TestMain, then Get from each test. Tests
// stay independent by using their own accounts (unique GitHub accounts, Vercel teams, Linear and Sentry
// orgs); fault injection is global, so tests that inject faults must not run in parallel with tests that
// call the same endpoints.
package simtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lightfastai/connections/db/ids"
)

// Simulator defaults (providersim's built-in configuration).
const (
	githubAppID        = "424242"
	vercelClientID     = "oac_simvercelclient00000001"
	vercelClientSecret = "sim-vercel-client-secret"
	linearClientID     = "sim-linear-client-id"
	linearClientSecret = "sim-linear-client-secret"
	sentryClientID     = "sim-sentry-client-id"
	sentryClientSecret = "sim-sentry-client-secret"
	linearCallback     = "http://127.0.0.1:4110/connections/linear/callback"
)

// Sim is a running simulator.
type Sim struct {
	// Base is the simulator's root URL.
	Base string
	// Provider base URLs, as the Console's GITHUB_API_URL, VERCEL_API_URL, LINEAR_API_URL and SENTRY_URL.
	GitHubAPIURL, VercelAPIURL, LinearAPIURL, SentryURL string

	key  *rsa.PrivateKey
	http *http.Client
}

var (
	once    sync.Once
	sim     *Sim
	proc    *exec.Cmd
	tmpDir  string
	output  bytes.Buffer
	initErr error
)

// Main runs the tests of m and stops the simulator afterwards. Use it as TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if proc != nil && proc.Process != nil {
		_ = proc.Process.Kill()
		_ = proc.Wait()
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	return code
}

// Get returns the shared simulator, building and starting it on first use.
func Get(t testing.TB) *Sim {
	t.Helper()
	once.Do(func() { sim, initErr = start() })
	if initErr != nil {
		t.Fatalf("simtest: %v\n%s", initErr, output.String())
	}
	return sim
}

// RepoRoot is the repository's root: the directory above the working directory that holds go.work.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.work above %s", wd)
		}
	}
}

func start() (*Sim, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if tmpDir, err = os.MkdirTemp("", "providersim-"); err != nil {
		return nil, err
	}
	bin := filepath.Join(tmpDir, "providersim")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(root, "gateway", "cmd", "providersim")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build providersim: %w\n%s", err, out)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	proc = exec.Command(bin, "-addr", addr, "-demo=false", "-log-level", "warn")
	proc.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GITHUB_APP_PRIVATE_KEY=" + string(keyPEM)}
	proc.Stdout, proc.Stderr = &output, &output
	if err := proc.Start(); err != nil {
		return nil, fmt.Errorf("start providersim: %w", err)
	}
	base := "http://" + addr
	s := &Sim{
		Base: base, GitHubAPIURL: base + "/github/api", VercelAPIURL: base + "/vercel/api",
		LinearAPIURL: base + "/linear/api", SentryURL: base + "/sentry",
		key:  key,
		http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.http.Get(base + "/_sim/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.New("providersim did not become ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// call sends a request to the simulator and decodes a JSON answer into out (when not nil). It fails the
// test unless the status is want.
func (s *Sim) call(t testing.TB, method, path string, body any, form url.Values, want int, out any) http.Header {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch {
	case body != nil:
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("simtest: %v", err)
		}
		rd, ctype = bytes.NewReader(b), "application/json"
	case form != nil:
		rd, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.Base+path, rd)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return s.do(t, req, want, out)
}

func (s *Sim) do(t testing.TB, req *http.Request, want int, out any) http.Header {
	t.Helper()
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("simtest: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("simtest: %s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("simtest: %s %s: decode: %v", req.Method, req.URL.Path, err)
		}
	}
	return resp.Header
}

// Unique returns a short unique name for a test's accounts.
func Unique(prefix string) string {
	return prefix + "-" + strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(ids.New()[:10]))
}

// Seed posts a /_sim/seed request and decodes its items into out (when not nil).
func (s *Sim) Seed(t testing.TB, req map[string]any, out any) {
	t.Helper()
	var resp struct {
		Items json.RawMessage `json:"items"`
	}
	s.call(t, http.MethodPost, "/_sim/seed", req, nil, http.StatusCreated, &resp)
	if out != nil {
		if err := json.Unmarshal(resp.Items, out); err != nil {
			t.Fatalf("simtest: seed %v: %v", req["kind"], err)
		}
	}
}

// Fault injects a fault (see providersim.Fault: key, status, times, delay, rateLimit, retryAfter, body).
func (s *Sim) Fault(t testing.TB, f map[string]any) {
	t.Helper()
	s.call(t, http.MethodPost, "/_sim/faults", f, nil, http.StatusCreated, nil)
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults(t testing.TB) {
	t.Helper()
	s.call(t, http.MethodDelete, "/_sim/faults", nil, nil, http.StatusNoContent, nil)
}

// Calls returns the simulator's call counters by endpoint key.
func (s *Sim) Calls(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	s.call(t, http.MethodGet, "/_sim/calls", nil, nil, http.StatusOK, &out)
	return out
}

// GitHubRepo is a seeded repository.
type GitHubRepo struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	Private       bool   `json:"private"`
}

// GitHubInstallation is a seeded GitHub App installation and an installation access token for it.
type GitHubInstallation struct {
	ID        int64
	AccountID int64
	Account   string
	Token     string
	ExpiresAt time.Time
}

// GitHub seeds an installation on a new account with repos repositories and mints an installation token
// (with an App JWT, as the gateway does).
func (s *Sim) GitHub(t testing.TB, repos int) (GitHubInstallation, []GitHubRepo) {
	t.Helper()
	account := Unique("acct")
	var inst struct {
		ID      int64 `json:"id"`
		Account struct {
			ID int64 `json:"id"`
		} `json:"account"`
	}
	s.Seed(t, map[string]any{"kind": "github.installation", "account": account, "users": []string{"sim-user"}}, &inst)
	var seeded []GitHubRepo
	if repos > 0 {
		s.Seed(t, map[string]any{"kind": "github.repos", "installationId": inst.ID, "count": repos}, &seeded)
	}
	now := time.Now()
	appJWT, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iat": now.Add(-60 * time.Second).Unix(), "exp": now.Add(9 * time.Minute).Unix(), "iss": githubAppID,
	}).SignedString(s.key)
	if err != nil {
		t.Fatalf("simtest: sign app jwt: %v", err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost,
		s.GitHubAPIURL+"/app/installations/"+strconv.FormatInt(inst.ID, 10)+"/access_tokens", nil)
	req.Header.Set("Authorization", "Bearer "+appJWT)
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	s.do(t, req, http.StatusCreated, &tok)
	return GitHubInstallation{ID: inst.ID, AccountID: inst.Account.ID, Account: account, Token: tok.Token, ExpiresAt: tok.ExpiresAt}, seeded
}

// SetGitHubFile puts a file on a repository's branch (ref "" is the default branch).
func (s *Sim) SetGitHubFile(t testing.TB, repo, ref, path, content string) {
	t.Helper()
	s.call(t, http.MethodPost, "/_sim/seed", map[string]any{"kind": "github.file", "repo": repo, "ref": ref, "path": path, "content": content}, nil, http.StatusCreated, nil)
}

// consent opens a consent URL without following the redirect and returns the callback's query.
func (s *Sim) consent(t testing.TB, path string, q url.Values) url.Values {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.Base+path+"?"+q.Encode(), nil)
	h := s.do(t, req, http.StatusFound, nil)
	loc, err := url.Parse(h.Get("Location"))
	if err != nil {
		t.Fatalf("simtest: consent redirect: %v", err)
	}
	if e := loc.Query().Get("error"); e != "" {
		t.Fatalf("simtest: consent refused: %s", e)
	}
	return loc.Query()
}

// VercelInstallation is an integration configuration and its token.
type VercelInstallation struct {
	ConfigurationID string
	TeamID          string // empty for a personal installation
	UserID          string
	Token           string
}

// Vercel installs the integration on a new team with projects projects (or on the personal account when
// personal is set) and exchanges the code for a token.
func (s *Sim) Vercel(t testing.TB, projects int, personal bool) VercelInstallation {
	t.Helper()
	team := "team_" + strings.ReplaceAll(Unique("t"), "-", "")
	q := url.Values{"state": {"x"}, "sim_account": {team}}
	if personal {
		q.Set("sim_personal", "true")
	}
	cb := s.consent(t, "/vercel/web/integrations/lightfast-sim/new", q)
	var tok struct {
		AccessToken string  `json:"access_token"`
		UserID      string  `json:"user_id"`
		TeamID      *string `json:"team_id"`
	}
	s.call(t, http.MethodPost, "/vercel/api/v2/oauth/access_token", nil, url.Values{
		"client_id": {vercelClientID}, "client_secret": {vercelClientSecret}, "code": {cb.Get("code")},
	}, http.StatusOK, &tok)
	out := VercelInstallation{ConfigurationID: cb.Get("configurationId"), UserID: tok.UserID, Token: tok.AccessToken}
	owner := tok.UserID
	if tok.TeamID != nil {
		out.TeamID, owner = *tok.TeamID, *tok.TeamID
	}
	if projects > 0 {
		s.Seed(t, map[string]any{"kind": "vercel.projects", "owner": owner, "count": projects}, nil)
	}
	return out
}

// LinearInstallation is a Linear workspace and an access token for it.
type LinearInstallation struct {
	OrganizationID string
	URLKey         string
	Token          string
}

// Linear authorizes on a new workspace with teams teams and exchanges the code for a token.
func (s *Sim) Linear(t testing.TB, teams int) LinearInstallation {
	t.Helper()
	key := Unique("lin")
	cb := s.consent(t, "/linear/web/oauth/authorize", url.Values{
		"client_id": {linearClientID}, "redirect_uri": {linearCallback}, "response_type": {"code"},
		"scope": {"read"}, "state": {"x"}, "sim_account": {key},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	s.call(t, http.MethodPost, "/linear/api/oauth/token", nil, url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "client_id": {linearClientID},
		"client_secret": {linearClientSecret}, "redirect_uri": {linearCallback},
	}, http.StatusOK, &tok)
	if teams > 0 {
		s.Seed(t, map[string]any{"kind": "linear.teams", "org": key, "count": teams}, nil)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.LinearAPIURL+"/graphql",
		strings.NewReader(`{"query":"{ organization { id } }"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	var org struct {
		Data struct {
			Organization struct {
				ID string `json:"id"`
			} `json:"organization"`
		} `json:"data"`
	}
	s.do(t, req, http.StatusOK, &org)
	return LinearInstallation{OrganizationID: org.Data.Organization.ID, URLKey: key, Token: tok.AccessToken}
}

// SentryInstallation is a Sentry integration installation and its token.
type SentryInstallation struct {
	UUID    string
	OrgSlug string
	Token   string
}

// Sentry installs the integration in a new organization with projects projects and exchanges the code.
func (s *Sim) Sentry(t testing.TB, projects int) SentryInstallation {
	t.Helper()
	org := Unique("org")
	cb := s.consent(t, "/sentry/sentry-apps/lightfast-sim/external-install/", url.Values{"state": {"x"}, "sim_account": {org}})
	uuid := cb.Get("installationId")
	var tok struct {
		Token string `json:"token"`
	}
	s.call(t, http.MethodPost, "/sentry/api/0/sentry-app-installations/"+uuid+"/authorizations/", map[string]any{
		"grant_type": "authorization_code", "code": cb.Get("code"), "client_id": sentryClientID, "client_secret": sentryClientSecret,
	}, nil, http.StatusCreated, &tok)
	if projects > 0 {
		s.Seed(t, map[string]any{"kind": "sentry.projects", "org": org, "count": projects}, nil)
	}
	return SentryInstallation{UUID: uuid, OrgSlug: cb.Get("orgSlug"), Token: tok.Token}
}
