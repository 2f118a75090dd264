package providersim

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// githubConnect runs the consent step and exchanges the code for a user token.
func githubConnect(t *testing.T, b testBundle) (installationID int64, userToken string) {
	t.Helper()
	cb := b.get(t, b.urls.GitHubWeb+"/apps/lightfast-sim/installations/new?state=st-1", "").location(t)
	q := cb.Query()
	require.Equal(t, "/connections/github/callback", cb.Path)
	require.Equal(t, "install", q.Get("setup_action"))
	require.Equal(t, "st-1", q.Get("state"))
	require.NotEmpty(t, q.Get("code"))
	id, err := strconv.ParseInt(q.Get("installation_id"), 10, 64)
	require.NoError(t, err)

	cfg := b.sim.Config()
	r := b.do(t, http.MethodPost, b.urls.GitHubWeb+"/login/oauth/access_token", map[string]string{
		"client_id": cfg.GitHubClientID, "client_secret": string(cfg.GitHubClientSecret), "code": q.Get("code"),
	}, "Accept", "application/json")
	require.Equal(t, http.StatusOK, r.status)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	r.json(t, &tok)
	require.Empty(t, tok.Error)
	require.Equal(t, "bearer", tok.TokenType)
	require.Regexp(t, `^ghu_`, tok.AccessToken)
	return id, tok.AccessToken
}

func TestGitHubConnectFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, userTok := githubConnect(t, b)

	// A second consent picks the same installation for the same account.
	again := b.get(t, b.urls.GitHubWeb+"/apps/lightfast-sim/installations/new?state=x", "").location(t)
	require.Equal(t, strconv.FormatInt(id, 10), again.Query().Get("installation_id"))

	// A spoof target: an installation the user cannot see.
	other := b.sim.SeedGitHubInstallation(555, "someone-else")

	r := b.get(t, b.urls.GitHubAPI+"/user/installations", userTok)
	require.Equal(t, http.StatusOK, r.status)
	var list struct {
		TotalCount    int                  `json:"total_count"`
		Installations []GitHubInstallation `json:"installations"`
	}
	r.json(t, &list)
	require.Equal(t, 1, list.TotalCount)
	require.Equal(t, id, list.Installations[0].ID)
	require.NotEqual(t, other.ID, list.Installations[0].ID)
	require.Equal(t, "lightfast-sim", list.Installations[0].Account.Login)

	// "token" scheme works too, as on GitHub.
	r = b.do(t, http.MethodGet, b.urls.GitHubAPI+"/user/installations", nil, "Authorization", "token "+userTok)
	require.Equal(t, http.StatusOK, r.status)
}

func TestGitHubOAuthTokenErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cb := b.get(t, b.urls.GitHubWeb+"/apps/lightfast-sim/installations/new?state=s", "").location(t)
	code := cb.Query().Get("code")
	cfg := b.sim.Config()

	// Form-encoded answer without Accept: application/json.
	r := b.do(t, http.MethodPost, b.urls.GitHubWeb+"/login/oauth/access_token", url.Values{
		"client_id": {cfg.GitHubClientID}, "client_secret": {string(cfg.GitHubClientSecret)}, "code": {code},
	})
	require.Equal(t, http.StatusOK, r.status)
	form, err := url.ParseQuery(string(r.body))
	require.NoError(t, err)
	require.Regexp(t, `^ghu_`, form.Get("access_token"))

	tests := []struct {
		name, secret, code, wantErr string
	}{
		{"code reused", string(cfg.GitHubClientSecret), code, "bad_verification_code"},
		{"unknown code", string(cfg.GitHubClientSecret), "nope", "bad_verification_code"},
		{"wrong secret", "wrong", code, "incorrect_client_credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, http.MethodPost, b.urls.GitHubWeb+"/login/oauth/access_token", url.Values{
				"client_id": {cfg.GitHubClientID}, "client_secret": {tc.secret}, "code": {tc.code},
			}, "Accept", "application/json")
			require.Equal(t, http.StatusOK, r.status, "GitHub answers OAuth errors with 200")
			var body map[string]string
			r.json(t, &body)
			require.Equal(t, tc.wantErr, body["error"])
			require.Empty(t, body["access_token"])
		})
	}
}

func TestGitHubConsentKnobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := b.urls.GitHubWeb + "/apps/lightfast-sim/installations/new?state=s"

	q := b.get(t, base+"&sim_deny=1", "").location(t).Query()
	require.Equal(t, "access_denied", q.Get("error"))
	require.Equal(t, "s", q.Get("state"))
	require.Empty(t, q.Get("installation_id"))

	q = b.get(t, base+"&sim_installation_id=12345678", "").location(t).Query()
	require.Equal(t, "12345678", q.Get("installation_id"))

	require.NoError(t, b.sim.QueueConsent(ProviderGitHub, Consent{InstallationID: "777", Account: "acme", OmitCode: true}))
	q = b.get(t, base, "").location(t).Query()
	require.Equal(t, "777", q.Get("installation_id"))
	require.Empty(t, q.Get("code"))
	inst, ok := b.sim.GitHubInstallation(777)
	require.True(t, ok)
	require.Equal(t, "acme", inst.Account.Login)

	// The queue is used up: defaults again.
	q = b.get(t, base, "").location(t).Query()
	require.NotEqual(t, "777", q.Get("installation_id"))

	r := b.get(t, b.urls.GitHubWeb+"/apps/other-app/installations/new", "")
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestGitHubAppJWT(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	now := time.Now()
	appID := b.sim.Config().GitHubAppID

	sign := func(key any, method jwt.SigningMethod, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		require.NoError(t, err)
		return s
	}
	claims := func(iss any, iat, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": iss, "iat": iat.Unix(), "exp": exp.Unix()}
	}
	numericID, _ := strconv.Atoi(appID)
	tests := []struct {
		name string
		jwt  string
		want int
	}{
		{"valid", sign(b.key, jwt.SigningMethodRS256, claims(appID, now.Add(-time.Minute), now.Add(9*time.Minute))), http.StatusOK},
		{"iat backdated 60s, exp 10 min", sign(b.key, jwt.SigningMethodRS256, claims(appID, now.Add(-time.Minute), now.Add(10*time.Minute))), http.StatusOK},
		{"numeric iss", sign(b.key, jwt.SigningMethodRS256, claims(numericID, now, now.Add(5*time.Minute))), http.StatusOK},
		{"client id as iss", sign(b.key, jwt.SigningMethodRS256, claims(b.sim.Config().GitHubClientID, now, now.Add(5*time.Minute))), http.StatusOK},
		{"wrong key", sign(otherKey, jwt.SigningMethodRS256, claims(appID, now, now.Add(5*time.Minute))), http.StatusUnauthorized},
		{"expired", sign(b.key, jwt.SigningMethodRS256, claims(appID, now.Add(-20*time.Minute), now.Add(-5*time.Minute))), http.StatusUnauthorized},
		{"exp too far", sign(b.key, jwt.SigningMethodRS256, claims(appID, now, now.Add(30*time.Minute))), http.StatusUnauthorized},
		{"iat in the future", sign(b.key, jwt.SigningMethodRS256, claims(appID, now.Add(5*time.Minute), now.Add(9*time.Minute))), http.StatusUnauthorized},
		{"wrong iss", sign(b.key, jwt.SigningMethodRS256, claims("999", now, now.Add(5*time.Minute))), http.StatusUnauthorized},
		{"no exp", sign(b.key, jwt.SigningMethodRS256, jwt.MapClaims{"iss": appID, "iat": now.Unix()}), http.StatusUnauthorized},
		{"HS256", sign([]byte("secret"), jwt.SigningMethodHS256, claims(appID, now, now.Add(5*time.Minute))), http.StatusUnauthorized},
		{"garbage", "a.b.c", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.get(t, b.urls.GitHubAPI+"/app/installations/"+itoa(inst.ID), tc.jwt)
			require.Equal(t, tc.want, r.status, "body: %s", r.body)
			if tc.want == http.StatusOK {
				var got GitHubInstallation
				r.json(t, &got)
				require.Equal(t, inst.ID, got.ID)
				require.Equal(t, "lightfast-sim", got.AppSlug)
				require.Equal(t, "Organization", got.TargetType)
				require.NotEmpty(t, got.Account.AvatarURL)
				require.Equal(t, "read", got.Permissions["contents"])
			} else {
				var body map[string]string
				r.json(t, &body)
				require.NotEmpty(t, body["message"])
			}
		})
	}

	// Installation tokens are not App JWTs.
	tok := b.installationToken(t, inst.ID)
	r := b.get(t, b.urls.GitHubAPI+"/app/installations/"+itoa(inst.ID), tok)
	require.Equal(t, http.StatusUnauthorized, r.status)
	// Unknown installation.
	r = b.get(t, b.urls.GitHubAPI+"/app/installations/1", b.appJWT(t))
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestGitHubInstallationTokenLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	b.sim.SeedGitHubRepos(inst.ID, 2)

	r := b.do(t, http.MethodPost, b.urls.GitHubAPI+"/app/installations/"+itoa(inst.ID)+"/access_tokens", nil,
		"Authorization", "Bearer "+b.appJWT(t))
	require.Equal(t, http.StatusCreated, r.status)
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.json(t, &tok)
	require.Regexp(t, `^ghs_`, tok.Token)
	require.WithinDuration(t, time.Now().Add(time.Hour), tok.ExpiresAt, time.Minute)

	r = b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok.Token)
	require.Equal(t, http.StatusOK, r.status)

	require.Equal(t, 1, b.sim.ExpireTokens(ProviderGitHub))
	r = b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok.Token)
	require.Equal(t, http.StatusUnauthorized, r.status)
	// Minting again recovers.
	r = b.get(t, b.urls.GitHubAPI+"/installation/repositories", b.installationToken(t, inst.ID))
	require.Equal(t, http.StatusOK, r.status)

	require.NoError(t, b.sim.SuspendGitHubInstallation(inst.ID, true))
	r = b.do(t, http.MethodPost, b.urls.GitHubAPI+"/app/installations/"+itoa(inst.ID)+"/access_tokens", nil,
		"Authorization", "Bearer "+b.appJWT(t))
	require.Equal(t, http.StatusForbidden, r.status)
}

func TestGitHubShortTokenTTL(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, func(c *Config) {
		c.GitHubInstallationTokenTTL = time.Minute
		c.Now = clock.Now
	})
	inst := b.sim.SeedGitHubInstallation(0, "")
	tok := b.installationToken(t, inst.ID)
	require.Equal(t, http.StatusOK, b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok).status)
	clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusUnauthorized, b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok).status)
}

// followLinks GETs url and every rel="next" after it, returning each page's body.
func followLinks(t *testing.T, b testBundle, first, tok string) []response {
	t.Helper()
	var pages []response
	next := first
	for next != "" {
		r := b.get(t, next, tok)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		pages = append(pages, r)
		next = links(r.header)["next"]
		require.Less(t, len(pages), 100, "paging does not terminate")
	}
	return pages
}

func TestGitHubLinkPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	repos := b.sim.SeedGitHubRepos(inst.ID, 23)
	full := repos[0].FullName
	pulls, err := b.sim.SeedGitHubPulls(full, 17)
	require.NoError(t, err)
	issues, err := b.sim.SeedGitHubIssues(full, 11)
	require.NoError(t, err)
	releases, err := b.sim.SeedGitHubReleases(full, 7)
	require.NoError(t, err)
	tok := b.installationToken(t, inst.ID)

	t.Run("repositories", func(t *testing.T) {
		pages := followLinks(t, b, b.urls.GitHubAPI+"/installation/repositories?per_page=5", tok)
		require.Len(t, pages, 5)
		first := links(pages[0].header)
		require.Contains(t, first["last"], "page=5")
		require.NotContains(t, first, "prev")
		require.Contains(t, links(pages[4].header), "prev")
		seen := map[int64]int{}
		for _, p := range pages {
			var body struct {
				TotalCount   int          `json:"total_count"`
				Repositories []GitHubRepo `json:"repositories"`
			}
			p.json(t, &body)
			require.Equal(t, 23, body.TotalCount)
			for _, r := range body.Repositories {
				seen[r.ID]++
			}
		}
		require.Len(t, seen, 23)
		for _, r := range repos {
			require.Equal(t, 1, seen[r.ID], "repo %s seen once", r.FullName)
		}
	})

	t.Run("pulls", func(t *testing.T) {
		pages := followLinks(t, b, b.urls.GitHubAPI+"/repos/"+full+"/pulls?state=all&sort=updated&direction=desc&per_page=4", tok)
		var got []GitHubPull
		for _, p := range pages {
			var page []GitHubPull
			p.json(t, &page)
			got = append(got, page...)
		}
		require.Len(t, got, len(pulls))
		seen := map[int]bool{}
		for i, p := range got {
			require.False(t, seen[p.Number], "pull %d twice", p.Number)
			seen[p.Number] = true
			if i > 0 {
				require.False(t, p.UpdatedAt.After(got[i-1].UpdatedAt), "sorted by updated desc")
			}
		}
		// Default state is open only.
		r := b.get(t, b.urls.GitHubAPI+"/repos/"+full+"/pulls?per_page=100", tok)
		var open []GitHubPull
		r.json(t, &open)
		require.Len(t, open, 6)
		for _, p := range open {
			require.Equal(t, "open", p.State)
		}
	})

	t.Run("issues include pull requests", func(t *testing.T) {
		pages := followLinks(t, b, b.urls.GitHubAPI+"/repos/"+full+"/issues?state=all&sort=updated&direction=desc&per_page=10", tok)
		var got []GitHubIssue
		for _, p := range pages {
			var page []GitHubIssue
			p.json(t, &page)
			got = append(got, page...)
		}
		require.Len(t, got, len(pulls)+len(issues))
		prs := 0
		for _, is := range got {
			if is.PullRequest != nil {
				prs++
			}
		}
		require.Equal(t, len(pulls), prs)

		// since filters by updated_at.
		since := got[4].UpdatedAt
		r := b.get(t, b.urls.GitHubAPI+"/repos/"+full+"/issues?state=all&since="+since.Format(time.RFC3339)+"&per_page=100", tok)
		var recent []GitHubIssue
		r.json(t, &recent)
		for _, is := range recent {
			require.False(t, is.UpdatedAt.Before(since))
		}
		require.GreaterOrEqual(t, len(recent), 5)
	})

	t.Run("releases", func(t *testing.T) {
		pages := followLinks(t, b, b.urls.GitHubAPI+"/repos/"+full+"/releases?per_page=3", tok)
		require.Len(t, pages, 3)
		var got []GitHubRelease
		for _, p := range pages {
			var page []GitHubRelease
			p.json(t, &page)
			got = append(got, page...)
		}
		require.Len(t, got, len(releases))
		require.Equal(t, releases[len(releases)-1].ID, got[0].ID, "newest first")
	})

	t.Run("seeded timestamps spread over days", func(t *testing.T) {
		oldest := pulls[0].UpdatedAt
		require.WithinDuration(t, time.Now().Add(-17*6*time.Hour), oldest, time.Minute)
		require.WithinDuration(t, time.Now().Add(-6*time.Hour), pulls[len(pulls)-1].UpdatedAt, time.Minute)
	})

	t.Run("other installation cannot see repo", func(t *testing.T) {
		other := b.sim.SeedGitHubInstallation(0, "other-org")
		r := b.get(t, b.urls.GitHubAPI+"/repos/"+full+"/pulls", b.installationToken(t, other.ID))
		require.Equal(t, http.StatusNotFound, r.status)
	})
}

func TestGitHubContents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	full := b.sim.SeedGitHubRepos(inst.ID, 1)[0].FullName
	content := []byte("version: 1\nevents: [push]\n# a long line to make the base64 wrap past sixty characters for sure\n")
	require.NoError(t, b.sim.SetGitHubFile(full, "", "lightfast.yml", content))
	require.NoError(t, b.sim.SetGitHubFile(full, "dev", "lightfast.yml", []byte("dev")))
	tok := b.installationToken(t, inst.ID)

	r := b.get(t, b.urls.GitHubAPI+"/repos/"+full+"/contents/lightfast.yml", tok)
	require.Equal(t, http.StatusOK, r.status)
	var file struct {
		Type, Encoding, Content, Path, SHA, DownloadURL string
		Size                                            int
	}
	r.json(t, &file)
	require.Equal(t, "file", file.Type)
	require.Equal(t, "base64", file.Encoding)
	require.Contains(t, file.Content, "\n", "GitHub wraps base64")
	decoded, err := base64.StdEncoding.DecodeString(file.Content)
	require.NoError(t, err)
	require.Equal(t, content, decoded)
	require.Equal(t, len(content), file.Size)
	require.Len(t, file.SHA, 40)

	r = b.get(t, b.urls.GitHubAPI+"/repos/"+full+"/contents/lightfast.yml?ref=dev", tok)
	r.json(t, &file)
	decoded, _ = base64.StdEncoding.DecodeString(file.Content)
	require.Equal(t, "dev", string(decoded))

	r = b.do(t, http.MethodGet, b.urls.GitHubAPI+"/repos/"+full+"/contents/lightfast.yml", nil,
		"Authorization", "Bearer "+tok, "Accept", "application/vnd.github.raw+json")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, content, r.body)

	for _, p := range []string{"/contents/.lightfast.yml", "/contents/lightfast.yml?ref=missing-branch"} {
		r = b.get(t, b.urls.GitHubAPI+"/repos/"+full+p, tok)
		require.Equal(t, http.StatusNotFound, r.status, p)
		var body map[string]string
		r.json(t, &body)
		require.NotEmpty(t, body["message"])
	}
}

func TestGitHubRateLimitHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.GitHubRateLimit = 3 })
	inst := b.sim.SeedGitHubInstallation(0, "")
	tok := b.installationToken(t, inst.ID) // call 1
	for want := 1; want >= 0; want-- {
		r := b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "3", r.header.Get("X-RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(want), r.header.Get("X-RateLimit-Remaining"))
		require.Equal(t, strconv.Itoa(3-want), r.header.Get("X-RateLimit-Used"))
		require.Equal(t, "core", r.header.Get("X-RateLimit-Resource"))
		reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
		require.NoError(t, err)
		require.Greater(t, reset, time.Now().Unix())
	}
	r := b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
}
