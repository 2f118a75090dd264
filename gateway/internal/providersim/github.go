package providersim

import (
	"cmp"
	"crypto/sha1" //nolint:gosec // git blob ids are SHA-1 by definition
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitHubAccount is a GitHub user or organization as embedded in API objects.
type GitHubAccount struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	Type      string `json:"type"` // "Organization" or "User"
	AvatarURL string `json:"avatar_url"`
	HTMLURL   string `json:"html_url"`
	SiteAdmin bool   `json:"site_admin"`
}

// GitHubInstallation is a GitHub App installation, shaped like
// GET /app/installations/{id}.
type GitHubInstallation struct {
	ID                  int64             `json:"id"`
	Account             GitHubAccount     `json:"account"`
	AppID               int64             `json:"app_id"`
	AppSlug             string            `json:"app_slug"`
	ClientID            string            `json:"client_id"`
	TargetID            int64             `json:"target_id"`
	TargetType          string            `json:"target_type"`
	Permissions         map[string]string `json:"permissions"`
	Events              []string          `json:"events"`
	RepositorySelection string            `json:"repository_selection"`
	HTMLURL             string            `json:"html_url"`
	AccessTokensURL     string            `json:"access_tokens_url"`
	RepositoriesURL     string            `json:"repositories_url"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
	SuspendedAt         *time.Time        `json:"suspended_at"`
	// Users are the logins that see this installation in GET /user/installations.
	Users []string `json:"-"`
}

// GitHubRepo is a repository, shaped like the items of GET /installation/repositories.
type GitHubRepo struct {
	ID            int64         `json:"id"`
	NodeID        string        `json:"node_id"`
	Name          string        `json:"name"`
	FullName      string        `json:"full_name"`
	Private       bool          `json:"private"`
	Owner         GitHubAccount `json:"owner"`
	HTMLURL       string        `json:"html_url"`
	Description   *string       `json:"description"`
	Fork          bool          `json:"fork"`
	URL           string        `json:"url"`
	DefaultBranch string        `json:"default_branch"`
	Archived      bool          `json:"archived"`
	Disabled      bool          `json:"disabled"`
	Visibility    string        `json:"visibility"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	PushedAt      time.Time     `json:"pushed_at"`
	// InstallationID is the installation the repository is granted to.
	InstallationID int64 `json:"-"`
}

// GitHubUser is a user reference inside issues, pulls and releases.
type GitHubUser struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	Type      string `json:"type"`
	AvatarURL string `json:"avatar_url"`
	HTMLURL   string `json:"html_url"`
}

// GitHubLabel is an issue label.
type GitHubLabel struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// GitHubIssuePullRef is the `pull_request` key GitHub puts on issues that are pull requests.
type GitHubIssuePullRef struct {
	URL      string     `json:"url"`
	HTMLURL  string     `json:"html_url"`
	DiffURL  string     `json:"diff_url"`
	PatchURL string     `json:"patch_url"`
	MergedAt *time.Time `json:"merged_at"`
}

// GitHubIssue is an item of GET /repos/{owner}/{repo}/issues. Pull requests
// appear there too, with PullRequest set, as on GitHub.
type GitHubIssue struct {
	ID                int64               `json:"id"`
	NodeID            string              `json:"node_id"`
	Number            int                 `json:"number"`
	Title             string              `json:"title"`
	Body              *string             `json:"body"`
	State             string              `json:"state"`
	StateReason       *string             `json:"state_reason"`
	User              GitHubUser          `json:"user"`
	Labels            []GitHubLabel       `json:"labels"`
	Comments          int                 `json:"comments"`
	Locked            bool                `json:"locked"`
	URL               string              `json:"url"`
	HTMLURL           string              `json:"html_url"`
	CreatedAt         time.Time           `json:"created_at"`
	UpdatedAt         time.Time           `json:"updated_at"`
	ClosedAt          *time.Time          `json:"closed_at"`
	PullRequest       *GitHubIssuePullRef `json:"pull_request,omitempty"`
	AuthorAssociation string              `json:"author_association"`
}

// GitHubBranchRef is the head or base of a pull request.
type GitHubBranchRef struct {
	Label string `json:"label"`
	Ref   string `json:"ref"`
	SHA   string `json:"sha"`
}

// GitHubPull is an item of GET /repos/{owner}/{repo}/pulls.
type GitHubPull struct {
	ID                int64           `json:"id"`
	NodeID            string          `json:"node_id"`
	Number            int             `json:"number"`
	State             string          `json:"state"`
	Title             string          `json:"title"`
	Body              *string         `json:"body"`
	User              GitHubUser      `json:"user"`
	Labels            []GitHubLabel   `json:"labels"`
	Draft             bool            `json:"draft"`
	Locked            bool            `json:"locked"`
	URL               string          `json:"url"`
	HTMLURL           string          `json:"html_url"`
	DiffURL           string          `json:"diff_url"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	ClosedAt          *time.Time      `json:"closed_at"`
	MergedAt          *time.Time      `json:"merged_at"`
	MergeCommitSHA    *string         `json:"merge_commit_sha"`
	Head              GitHubBranchRef `json:"head"`
	Base              GitHubBranchRef `json:"base"`
	AuthorAssociation string          `json:"author_association"`
}

// GitHubRelease is an item of GET /repos/{owner}/{repo}/releases.
type GitHubRelease struct {
	ID              int64      `json:"id"`
	NodeID          string     `json:"node_id"`
	TagName         string     `json:"tag_name"`
	TargetCommitish string     `json:"target_commitish"`
	Name            *string    `json:"name"`
	Body            *string    `json:"body"`
	Draft           bool       `json:"draft"`
	Prerelease      bool       `json:"prerelease"`
	Author          GitHubUser `json:"author"`
	URL             string     `json:"url"`
	HTMLURL         string     `json:"html_url"`
	CreatedAt       time.Time  `json:"created_at"`
	PublishedAt     *time.Time `json:"published_at"`
}

type githubState struct {
	installations map[int64]*GitHubInstallation
	accountIDs    map[string]int64
	// memberships are organization memberships: lower-case org login → lower-case user login.
	memberships map[string]map[string]GitHubMembership
	repos       map[string]*ghRepoData // by lower-case full name
	repoOrder   []*ghRepoData
}

type ghRepoData struct {
	repo     *GitHubRepo
	issues   []*GitHubIssue // issues and the issue twins of pulls, by number
	pulls    []*GitHubPull
	releases []*GitHubRelease
	files    map[string]map[string][]byte // ref → path → content
	number   int                          // last issue/pull number used
}

func newGitHubState() githubState {
	return githubState{
		installations: map[int64]*GitHubInstallation{},
		accountIDs:    map[string]int64{},
		memberships:   map[string]map[string]GitHubMembership{},
		repos:         map[string]*ghRepoData{},
	}
}

// firstInstallationID is where generated installation ids start; real ones
// are 8-digit numbers too.
const firstInstallationID = 40000000

func (s *Simulator) githubRoutes() {
	web, api := "GET "+PrefixGitHubWeb, PrefixGitHubAPI
	s.handle(web+"/apps/{slug}/installations/new", KeyGitHubInstall, false, s.ghInstallPage)
	s.handle("POST "+PrefixGitHubWeb+"/login/oauth/access_token", KeyGitHubOAuthToken, false, s.ghOAuthToken)
	s.handle(web+"/{owner}/{repo}/raw/{ref}/{path...}", KeyGitHubRaw, false, s.ghRaw)
	s.handle("GET "+api+"/app/installations/{id}", KeyGitHubAppInstallation, true, s.ghAppInstallation)
	s.handle("POST "+api+"/app/installations/{id}/access_tokens", KeyGitHubAccessToken, true, s.ghAccessToken)
	s.handle("GET "+api+"/user/installations", KeyGitHubUserInstalls, true, s.ghUserInstallations)
	s.handle("GET "+api+"/user", KeyGitHubUser, true, s.ghAuthenticatedUser)
	s.handle("GET "+api+"/user/memberships/orgs/{org}", KeyGitHubOrgMembership, true, s.ghUserMembership)
	s.handle("GET "+api+"/installation/repositories", KeyGitHubRepositories, true, s.ghInstallationRepos)
	s.handle("GET "+api+"/repos/{owner}/{repo}/contents/{path...}", KeyGitHubContents, true, s.ghContents)
	s.handle("GET "+api+"/repos/{owner}/{repo}/pulls", KeyGitHubPulls, true, s.ghPulls)
	s.handle("GET "+api+"/repos/{owner}/{repo}/issues", KeyGitHubIssues, true, s.ghIssues)
	s.handle("GET "+api+"/repos/{owner}/{repo}/releases", KeyGitHubReleases, true, s.ghReleases)
}

// ghError writes GitHub's REST error body.
func ghError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{
		"message":           msg,
		"documentation_url": "https://docs.github.com/rest",
		"status":            strconv.Itoa(status),
	})
}

// ghAccount returns the account object for login with a stable id. Callers hold s.mu.
func (s *Simulator) ghAccount(login, typ string) GitHubAccount {
	id, ok := s.gh.accountIDs[strings.ToLower(login)]
	if !ok {
		id = 9000000 + s.nextSeq()
		s.gh.accountIDs[strings.ToLower(login)] = id
	}
	return GitHubAccount{
		Login:     login,
		ID:        id,
		NodeID:    "MDQ6VXNlcj" + strconv.FormatInt(id, 10),
		Type:      typ,
		AvatarURL: fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		HTMLURL:   "https://github.com/" + login,
	}
}

func (s *Simulator) ghUser(login string) GitHubUser {
	a := s.ghAccount(login, "User")
	return GitHubUser{Login: a.Login, ID: a.ID, NodeID: a.NodeID, Type: "User", AvatarURL: a.AvatarURL, HTMLURL: a.HTMLURL}
}

// ghEnsureInstallation returns installation id, creating it on account when
// missing, and grants users access. Callers hold s.mu.
func (s *Simulator) ghEnsureInstallation(id int64, account string, users ...string) (*GitHubInstallation, bool) {
	if account == "" {
		account = s.cfg.GitHubAccountLogin
	}
	if id == 0 {
		for _, inst := range s.ghInstallationsSorted() {
			if strings.EqualFold(inst.Account.Login, account) {
				id = inst.ID
				break
			}
		}
	}
	if id == 0 {
		id = firstInstallationID + s.nextSeq()
		for s.gh.installations[id] != nil {
			id++
		}
	}
	inst, ok := s.gh.installations[id]
	created := false
	if !ok {
		typ := s.cfg.GitHubAccountType
		if !strings.EqualFold(account, s.cfg.GitHubAccountLogin) {
			typ = "Organization"
		}
		for _, u := range users {
			if strings.EqualFold(account, u) {
				typ = "User" // installed on the consenting user's own account
			}
		}
		acct := s.ghAccount(account, typ)
		appID, _ := strconv.ParseInt(s.cfg.GitHubAppID, 10, 64)
		now := s.now().Truncate(time.Second)
		inst = &GitHubInstallation{
			ID:         id,
			Account:    acct,
			AppID:      appID,
			AppSlug:    s.cfg.GitHubAppSlug,
			ClientID:   s.cfg.GitHubClientID,
			TargetID:   acct.ID,
			TargetType: acct.Type,
			Permissions: map[string]string{
				"contents": "read", "issues": "read", "metadata": "read", "pull_requests": "read",
			},
			Events:              []string{"issue_comment", "issues", "pull_request", "push", "release", "repository"},
			RepositorySelection: "selected",
			HTMLURL:             fmt.Sprintf("https://github.com/organizations/%s/settings/installations/%d", account, id),
			AccessTokensURL:     fmt.Sprintf("https://api.github.com/app/installations/%d/access_tokens", id),
			RepositoriesURL:     "https://api.github.com/installation/repositories",
			CreatedAt:           now,
			UpdatedAt:           now,
		}
		s.gh.installations[id] = inst
		created = true
	}
	for _, u := range users {
		if u != "" && !slices.Contains(inst.Users, u) {
			inst.Users = append(inst.Users, u)
		}
	}
	return inst, created
}

func (s *Simulator) ghInstallationsSorted() []*GitHubInstallation {
	out := make([]*GitHubInstallation, 0, len(s.gh.installations))
	for _, inst := range s.gh.installations {
		out = append(out, inst)
	}
	slices.SortFunc(out, func(a, b *GitHubInstallation) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SeedGitHubInstallation creates (or updates) installation id on account,
// visible to users in GET /user/installations. id 0 picks the account's
// existing installation or a new id; account "" is Config.GitHubAccountLogin.
// Pass no users to make an installation the consenting user cannot see (the
// target of a spoofed installation_id).
func (s *Simulator) SeedGitHubInstallation(id int64, account string, users ...string) GitHubInstallation {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, _ := s.ghEnsureInstallation(id, account, users...)
	return *inst
}

// GitHubInstallation returns installation id.
func (s *Simulator) GitHubInstallation(id int64) (GitHubInstallation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.gh.installations[id]
	if !ok {
		return GitHubInstallation{}, false
	}
	return *inst, true
}

// GitHubInstallations returns every installation, by id.
func (s *Simulator) GitHubInstallations() []GitHubInstallation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GitHubInstallation
	for _, inst := range s.ghInstallationsSorted() {
		out = append(out, *inst)
	}
	return out
}

// SuspendGitHubInstallation suspends or unsuspends installation id; a
// suspended installation cannot mint tokens and its tokens stop working.
func (s *Simulator) SuspendGitHubInstallation(id int64, suspended bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.gh.installations[id]
	if !ok {
		return fmt.Errorf("suspend github installation %d: not found", id)
	}
	if suspended {
		t := s.now().Truncate(time.Second)
		inst.SuspendedAt = &t
	} else {
		inst.SuspendedAt = nil
	}
	return nil
}

// DeleteGitHubInstallation uninstalls the App from installation id: it and
// its repositories disappear and its tokens stop working.
func (s *Simulator) DeleteGitHubInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.gh.installations, id)
	sid := strconv.FormatInt(id, 10)
	s.revokeWhere(ProviderGitHub, func(t *token) bool { return !t.ghUser && t.subject == sid })
	kept := s.gh.repoOrder[:0]
	for _, rd := range s.gh.repoOrder {
		if rd.repo.InstallationID == id {
			delete(s.gh.repos, strings.ToLower(rd.repo.FullName))
			continue
		}
		kept = append(kept, rd)
	}
	s.gh.repoOrder = kept
}

// SeedGitHubRepos adds n repositories to installation id (created on the
// default account when missing). Repositories are named <account>/repo-<k>;
// ids are deterministic; item i is updated i+1 SeedIntervals ago.
func (s *Simulator) SeedGitHubRepos(installationID int64, n int) []GitHubRepo {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, _ := s.ghEnsureInstallation(installationID, "", s.cfg.GitHubUserLogin)
	return s.ghSeedRepos(inst, n)
}

func (s *Simulator) ghSeedRepos(inst *GitHubInstallation, n int) []GitHubRepo {
	existing := 0
	for _, rd := range s.gh.repoOrder {
		if strings.EqualFold(rd.repo.Owner.Login, inst.Account.Login) {
			existing++
		}
	}
	now := s.now().Truncate(time.Second)
	out := make([]GitHubRepo, 0, n)
	for i := range n {
		id := 700000000 + s.nextSeq()
		name := fmt.Sprintf("repo-%d", existing+i+1)
		full := inst.Account.Login + "/" + name
		updated := now.Add(-time.Duration(i+1) * s.cfg.SeedInterval)
		desc := "Simulated repository " + name
		private := i%2 == 0
		vis := "public"
		if private {
			vis = "private"
		}
		repo := &GitHubRepo{
			ID:             id,
			NodeID:         "R_sim" + strconv.FormatInt(id, 10),
			Name:           name,
			FullName:       full,
			Private:        private,
			Owner:          inst.Account,
			HTMLURL:        "https://github.com/" + full,
			Description:    &desc,
			URL:            "https://api.github.com/repos/" + full,
			DefaultBranch:  "main",
			Visibility:     vis,
			CreatedAt:      updated.Add(-30 * 24 * time.Hour),
			UpdatedAt:      updated,
			PushedAt:       updated,
			InstallationID: inst.ID,
		}
		rd := &ghRepoData{repo: repo, files: map[string]map[string][]byte{"main": {}}}
		s.gh.repos[strings.ToLower(full)] = rd
		s.gh.repoOrder = append(s.gh.repoOrder, rd)
		out = append(out, *repo)
	}
	return out
}

func (s *Simulator) ghRepo(fullName string) (*ghRepoData, error) {
	rd, ok := s.gh.repos[strings.ToLower(fullName)]
	if !ok {
		return nil, fmt.Errorf("github repo %q not seeded", fullName)
	}
	return rd, nil
}

// seedAge returns when item k of n (oldest first) was last updated: the
// newest one SeedInterval ago, each older one a further interval back.
func (s *Simulator) seedAge(now time.Time, k, n int) time.Time {
	return now.Add(-time.Duration(n-k) * s.cfg.SeedInterval)
}

// SeedGitHubPulls adds n pull requests to repo ("owner/name"), oldest first
// (so numbers grow with recency): every third is open, the next merged, the
// next closed unmerged. Each also appears in /issues with a pull_request key.
func (s *Simulator) SeedGitHubPulls(repo string, n int) ([]GitHubPull, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, err := s.ghRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("seed github pulls: %w", err)
	}
	return s.ghSeedPulls(rd, n), nil
}

func (s *Simulator) ghSeedPulls(rd *ghRepoData, n int) []GitHubPull {
	now := s.now().Truncate(time.Second)
	author := s.ghUser(s.cfg.GitHubUserLogin)
	full := rd.repo.FullName
	out := make([]GitHubPull, 0, n)
	for k := range n {
		rd.number++
		num := rd.number
		updated := s.seedAge(now, k, n)
		created := updated.Add(-s.cfg.SeedInterval / 2)
		body := fmt.Sprintf("Simulated pull request #%d.", num)
		sha := fmt.Sprintf("%040x", 0xabc000+s.nextSeq())
		p := &GitHubPull{
			ID:                800000000 + s.nextSeq(),
			Number:            num,
			State:             "open",
			Title:             fmt.Sprintf("Simulated change %d", num),
			Body:              &body,
			User:              author,
			Labels:            []GitHubLabel{},
			URL:               fmt.Sprintf("https://api.github.com/repos/%s/pulls/%d", full, num),
			HTMLURL:           fmt.Sprintf("https://github.com/%s/pull/%d", full, num),
			DiffURL:           fmt.Sprintf("https://github.com/%s/pull/%d.diff", full, num),
			CreatedAt:         created,
			UpdatedAt:         updated,
			Head:              GitHubBranchRef{Label: rd.repo.Owner.Login + ":feature-" + strconv.Itoa(num), Ref: "feature-" + strconv.Itoa(num), SHA: sha},
			Base:              GitHubBranchRef{Label: rd.repo.Owner.Login + ":main", Ref: "main", SHA: fmt.Sprintf("%040x", 0xba5e0)},
			AuthorAssociation: "MEMBER",
		}
		p.NodeID = "PR_sim" + strconv.FormatInt(p.ID, 10)
		switch k % 3 {
		case 1:
			p.State = "closed"
			t := updated
			p.ClosedAt, p.MergedAt = &t, &t
			mc := fmt.Sprintf("%040x", 0xfeed000+num)
			p.MergeCommitSHA = &mc
		case 2:
			p.State = "closed"
			t := updated
			p.ClosedAt = &t
		}
		rd.pulls = append(rd.pulls, p)
		issueID := 900000000 + s.nextSeq()
		rd.issues = append(rd.issues, &GitHubIssue{
			ID: issueID, NodeID: "I_sim" + strconv.FormatInt(issueID, 10),
			Number: num, Title: p.Title, Body: p.Body, State: p.State, User: author, Labels: []GitHubLabel{},
			URL:       fmt.Sprintf("https://api.github.com/repos/%s/issues/%d", full, num),
			HTMLURL:   p.HTMLURL,
			CreatedAt: created, UpdatedAt: updated, ClosedAt: p.ClosedAt,
			PullRequest: &GitHubIssuePullRef{
				URL: p.URL, HTMLURL: p.HTMLURL, DiffURL: p.DiffURL, PatchURL: p.HTMLURL + ".patch", MergedAt: p.MergedAt,
			},
			AuthorAssociation: "MEMBER",
		})
		out = append(out, *p)
	}
	return out
}

// SeedGitHubIssues adds n issues (not pull requests) to repo, oldest first;
// every second one is closed as completed.
func (s *Simulator) SeedGitHubIssues(repo string, n int) ([]GitHubIssue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, err := s.ghRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("seed github issues: %w", err)
	}
	return s.ghSeedIssues(rd, n), nil
}

func (s *Simulator) ghSeedIssues(rd *ghRepoData, n int) []GitHubIssue {
	now := s.now().Truncate(time.Second)
	author := s.ghUser(s.cfg.GitHubUserLogin)
	full := rd.repo.FullName
	out := make([]GitHubIssue, 0, n)
	for k := range n {
		rd.number++
		num := rd.number
		updated := s.seedAge(now, k, n)
		body := fmt.Sprintf("Simulated issue #%d.", num)
		id := 900000000 + s.nextSeq()
		is := &GitHubIssue{
			ID: id, NodeID: "I_sim" + strconv.FormatInt(id, 10),
			Number: num, Title: fmt.Sprintf("Simulated issue %d", num), Body: &body, State: "open",
			User: author, Labels: []GitHubLabel{{ID: 1000 + int64(k%3), Name: []string{"bug", "enhancement", "question"}[k%3], Color: "d73a4a"}},
			Comments:  k % 4,
			URL:       fmt.Sprintf("https://api.github.com/repos/%s/issues/%d", full, num),
			HTMLURL:   fmt.Sprintf("https://github.com/%s/issues/%d", full, num),
			CreatedAt: updated.Add(-s.cfg.SeedInterval / 2), UpdatedAt: updated,
			AuthorAssociation: "MEMBER",
		}
		if k%2 == 1 {
			is.State = "closed"
			t, reason := updated, "completed"
			is.ClosedAt, is.StateReason = &t, &reason
		}
		rd.issues = append(rd.issues, is)
		out = append(out, *is)
	}
	return out
}

// SeedGitHubReleases adds n published releases (v1.0.0, v1.1.0, ...) to
// repo, oldest first; every fourth is a prerelease.
func (s *Simulator) SeedGitHubReleases(repo string, n int) ([]GitHubRelease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, err := s.ghRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("seed github releases: %w", err)
	}
	return s.ghSeedReleases(rd, n), nil
}

func (s *Simulator) ghSeedReleases(rd *ghRepoData, n int) []GitHubRelease {
	now := s.now().Truncate(time.Second)
	author := s.ghUser(s.cfg.GitHubUserLogin)
	full := rd.repo.FullName
	out := make([]GitHubRelease, 0, n)
	for k := range n {
		at := s.seedAge(now, k, n)
		tag := fmt.Sprintf("v1.%d.0", len(rd.releases))
		name, body := "Release "+tag, "Simulated release notes for "+tag+"."
		id := 600000000 + s.nextSeq()
		rel := &GitHubRelease{
			ID: id, NodeID: "RE_sim" + strconv.FormatInt(id, 10),
			TagName: tag, TargetCommitish: "main", Name: &name, Body: &body,
			Prerelease: k%4 == 3, Author: author,
			URL:       fmt.Sprintf("https://api.github.com/repos/%s/releases/%d", full, id),
			HTMLURL:   fmt.Sprintf("https://github.com/%s/releases/tag/%s", full, tag),
			CreatedAt: at, PublishedAt: &at,
		}
		rd.releases = append(rd.releases, rel)
		out = append(out, *rel)
	}
	return out
}

// SetGitHubFile stores content at path in repo on ref ("" = the default
// branch), served by GET /repos/{owner}/{repo}/contents/{path}?ref=.
func (s *Simulator) SetGitHubFile(repo, ref, filePath string, content []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, err := s.ghRepo(repo)
	if err != nil {
		return fmt.Errorf("set github file: %w", err)
	}
	if ref == "" {
		ref = rd.repo.DefaultBranch
	}
	if rd.files[ref] == nil {
		rd.files[ref] = map[string][]byte{}
	}
	rd.files[ref][strings.Trim(filePath, "/")] = slices.Clone(content)
	return nil
}

// ghAutoSeed fills a new installation with demo data. Callers hold s.mu.
func (s *Simulator) ghAutoSeed(inst *GitHubInstallation) {
	a := s.cfg.AutoSeed
	if a.Repos == 0 {
		return
	}
	for i, repo := range s.ghSeedRepos(inst, a.Repos) {
		rd := s.gh.repos[strings.ToLower(repo.FullName)]
		s.ghSeedPulls(rd, a.PullsPerRepo)
		s.ghSeedIssues(rd, a.IssuesPerRepo)
		s.ghSeedReleases(rd, a.ReleasesPerRepo)
		if i == 0 {
			rd.files["main"]["lightfast.yml"] = []byte("version: 1\nevents: [push, pull_request, issues, release]\n")
		}
	}
}

// --- web ---

// ghInstallPage is the App installation consent: it picks or creates the
// installation and redirects to the setup URL with installation_id,
// setup_action, state and (user authorization during installation) code.
func (s *Simulator) ghInstallPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PathValue("slug") != s.cfg.GitHubAppSlug {
		http.Error(w, "404: GitHub App not found", http.StatusNotFound)
		return
	}
	c := s.takeConsent(ProviderGitHub, q)
	callback := s.cfg.Callbacks.GitHub
	state := q.Get("state")
	if c.OmitState {
		state = ""
	}
	if c.Deny {
		redirect(w, callback, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user has denied your application access."},
			"error_uri":         {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied"},
			"state":             {state},
		})
		return
	}
	var id int64
	if c.InstallationID != "" {
		var err error
		if id, err = strconv.ParseInt(c.InstallationID, 10, 64); err != nil {
			http.Error(w, "providersim: installation id must be numeric", http.StatusBadRequest)
			return
		}
	}
	user := cmp.Or(c.User, s.cfg.GitHubUserLogin)
	inst, created := s.ghEnsureInstallation(id, c.Account, user)
	if created {
		// Only an owner can install an App on an organization: whoever created the installation is one.
		if inst.Account.Type == "Organization" {
			s.ghSetMembership(GitHubMembership{Org: inst.Account.Login, User: user, Role: "admin", State: "active"})
		}
		s.ghAutoSeed(inst)
	}
	params := url.Values{
		"installation_id": {strconv.FormatInt(inst.ID, 10)},
		"setup_action":    {"install"},
		"state":           {state},
	}
	if !c.OmitCode {
		params.Set("code", s.issueCode(authCode{provider: ProviderGitHub, subject: user, redirectURI: callback}))
	}
	redirect(w, callback, params)
}

// ghOAuthToken exchanges a user authorization code for a user-to-server
// token. Like GitHub, failures are 200 responses with an `error` field, and
// the answer is form-encoded unless the client asks for JSON.
func (s *Simulator) ghOAuthToken(w http.ResponseWriter, r *http.Request) {
	asJSON := strings.Contains(r.Header.Get("Accept"), "json")
	answer := func(vals map[string]string) {
		if asJSON {
			writeJSON(w, http.StatusOK, vals)
			return
		}
		form := url.Values{}
		for k, v := range vals {
			form.Set(k, v)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(form.Encode()))
	}
	form, err := readForm(r)
	if err != nil {
		answer(map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if form.Get("client_id") != s.cfg.GitHubClientID || !secretEqual(form.Get("client_secret"), s.cfg.GitHubClientSecret) {
		answer(map[string]string{
			"error":             "incorrect_client_credentials",
			"error_description": "The client_id and/or client_secret passed are incorrect.",
			"error_uri":         "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials",
		})
		return
	}
	code := s.redeemCode(ProviderGitHub, form.Get("code"))
	if code == nil {
		answer(map[string]string{
			"error":             "bad_verification_code",
			"error_description": "The code passed is incorrect or expired.",
			"error_uri":         "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
		})
		return
	}
	tok := s.issueToken(token{provider: ProviderGitHub, kind: kindAccess, subject: code.subject, ghUser: true}, "ghu_", 0)
	answer(map[string]string{"access_token": tok.value, "token_type": "bearer", "scope": ""})
}

// ghRaw serves a file's raw bytes (what download_url points at).
func (s *Simulator) ghRaw(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, ok := s.gh.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	if !ok {
		http.NotFound(w, r)
		return
	}
	content, ok := rd.files[r.PathValue("ref")][r.PathValue("path")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(content)
}

// --- API ---

// ghAppJWT authenticates an App JWT request, writing GitHub's 401 when it fails.
func (s *Simulator) ghAppJWT(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.Count(raw, ".") != 2 {
		ghError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return false
	}
	if err := s.verifyAppJWT(strings.TrimSpace(raw)); err != nil {
		ghError(w, http.StatusUnauthorized, err.Error())
		return false
	}
	return true
}

func (s *Simulator) ghInstallationParam(w http.ResponseWriter, r *http.Request) (*GitHubInstallation, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	inst := s.gh.installations[id]
	if err != nil || inst == nil {
		ghError(w, http.StatusNotFound, "Not Found")
		return nil, false
	}
	return inst, true
}

func (s *Simulator) ghAppInstallation(w http.ResponseWriter, r *http.Request) {
	if !s.ghAppJWT(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.ghInstallationParam(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, inst)
}

func (s *Simulator) ghAccessToken(w http.ResponseWriter, r *http.Request) {
	if !s.ghAppJWT(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.ghInstallationParam(w, r)
	if !ok {
		return
	}
	if inst.SuspendedAt != nil {
		ghError(w, http.StatusForbidden, "This installation has been suspended")
		return
	}
	tok := s.issueToken(token{
		provider: ProviderGitHub, kind: kindAccess, subject: strconv.FormatInt(inst.ID, 10),
	}, "ghs_", s.cfg.GitHubInstallationTokenTTL)
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                tok.value,
		"expires_at":           tok.expiresAt.UTC().Truncate(time.Second).Format(time.RFC3339),
		"permissions":          inst.Permissions,
		"repository_selection": inst.RepositorySelection,
	})
}

// ghCaller is who a user or installation token belongs to.
type ghCaller struct {
	user         string // login, for user-to-server tokens
	installation *GitHubInstallation
}

// ghAuth resolves the token of r, writing 401 when it is missing, unknown
// or expired. Callers hold s.mu.
func (s *Simulator) ghAuth(w http.ResponseWriter, r *http.Request) (ghCaller, bool) {
	t := s.accessToken(ProviderGitHub, bearer(r))
	if t == nil {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return ghCaller{}, false
	}
	if t.ghUser {
		return ghCaller{user: t.subject}, true
	}
	id, _ := strconv.ParseInt(t.subject, 10, 64)
	inst := s.gh.installations[id]
	if inst == nil || inst.SuspendedAt != nil {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return ghCaller{}, false
	}
	return ghCaller{installation: inst}, true
}

func (s *Simulator) ghUserInstallations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller, ok := s.ghUserAuth(w, r, "You must authenticate with an access token authorized to a GitHub App in order to list installations")
	if !ok {
		return
	}
	var mine []*GitHubInstallation
	for _, inst := range s.ghInstallationsSorted() {
		if slices.Contains(inst.Users, caller.user) {
			mine = append(mine, inst)
		}
	}
	page, per := ghPageParams(r)
	setGitHubLink(w, r, page, per, len(mine))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(mine), "installations": pageSlice(mine, page, per)})
}

func (s *Simulator) ghInstallationRepos(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller, ok := s.ghAuth(w, r)
	if !ok {
		return
	}
	if caller.installation == nil {
		ghError(w, http.StatusForbidden, "You must authenticate with an installation access token in order to list repositories for an installation.")
		return
	}
	var repos []*GitHubRepo
	for _, rd := range s.gh.repoOrder {
		if rd.repo.InstallationID == caller.installation.ID {
			repos = append(repos, rd.repo)
		}
	}
	page, per := ghPageParams(r)
	setGitHubLink(w, r, page, per, len(repos))
	writeJSON(w, http.StatusOK, map[string]any{
		"total_count":          len(repos),
		"repository_selection": caller.installation.RepositorySelection,
		"repositories":         pageSlice(repos, page, per),
	})
}

// ghRepoAccess finds {owner}/{repo} if the caller may read it, else writes
// GitHub's 404 (GitHub hides repositories you cannot see). Callers hold s.mu.
func (s *Simulator) ghRepoAccess(w http.ResponseWriter, r *http.Request) (*ghRepoData, bool) {
	caller, ok := s.ghAuth(w, r)
	if !ok {
		return nil, false
	}
	rd := s.gh.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	if rd != nil {
		inst := s.gh.installations[rd.repo.InstallationID]
		switch {
		case caller.installation != nil && caller.installation.ID == rd.repo.InstallationID:
			return rd, true
		case caller.user != "" && inst != nil && slices.Contains(inst.Users, caller.user):
			return rd, true
		}
	}
	ghError(w, http.StatusNotFound, "Not Found")
	return nil, false
}

// gitBlobSHA is the git object id of content, as GitHub reports in `sha`.
func gitBlobSHA(content []byte) string {
	h := sha1.New() //nolint:gosec // git object ids
	_, _ = fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// wrapBase64 encodes content the way the contents API does: base64 with a
// newline every 60 characters (clients must tolerate them).
func wrapBase64(content []byte) string {
	enc := base64.StdEncoding.EncodeToString(content)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteByte('\n')
		enc = enc[60:]
	}
	b.WriteString(enc)
	b.WriteByte('\n')
	return b.String()
}

func (s *Simulator) ghContents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, ok := s.ghRepoAccess(w, r)
	if !ok {
		return
	}
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rd.repo.DefaultBranch
	}
	files, ok := rd.files[ref]
	if !ok {
		ghError(w, http.StatusNotFound, "No commit found for the ref "+ref)
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	content, ok := files[p]
	if !ok {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/vnd.github.raw") ||
		strings.Contains(r.Header.Get("Accept"), "application/vnd.github.v3.raw") {
		w.Header().Set("Content-Type", "application/vnd.github.raw; charset=utf-8")
		_, _ = w.Write(content)
		return
	}
	self := requestURL(r)
	apiURL := self.Scheme + "://" + self.Host + r.URL.Path + "?ref=" + url.QueryEscape(ref)
	sha := gitBlobSHA(content)
	full := rd.repo.FullName
	writeJSON(w, http.StatusOK, map[string]any{
		"type":         "file",
		"encoding":     "base64",
		"size":         len(content),
		"name":         path.Base(p),
		"path":         p,
		"content":      wrapBase64(content),
		"sha":          sha,
		"url":          apiURL,
		"git_url":      fmt.Sprintf("https://api.github.com/repos/%s/git/blobs/%s", full, sha),
		"html_url":     fmt.Sprintf("https://github.com/%s/blob/%s/%s", full, ref, p),
		"download_url": fmt.Sprintf("%s://%s%s/%s/raw/%s/%s", self.Scheme, self.Host, PrefixGitHubWeb, full, ref, p),
	})
}

// listOpts reads state/sort/direction/since as the issues and pulls
// endpoints do. defaultAsc says whether the direction defaults to ascending
// for the given sort (pulls: asc unless sorting by created).
type listOpts struct {
	state string
	sort  string
	asc   bool
	since time.Time
}

func ghListOpts(r *http.Request, pulls bool) (listOpts, error) {
	q := r.URL.Query()
	o := listOpts{state: cmp.Or(q.Get("state"), "open"), sort: cmp.Or(q.Get("sort"), "created")}
	switch o.state {
	case "open", "closed", "all":
	default:
		return o, fmt.Errorf("invalid state %q", o.state)
	}
	o.asc = pulls && o.sort != "created"
	switch q.Get("direction") {
	case "asc":
		o.asc = true
	case "desc":
		o.asc = false
	case "":
	default:
		return o, fmt.Errorf("invalid direction %q", q.Get("direction"))
	}
	if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			return o, fmt.Errorf("invalid since %q", since)
		}
		o.since = t
	}
	return o, nil
}

// sortByTime orders items by the chosen timestamp (ties by id) in the
// requested direction.
func sortByTime[T any](items []T, asc bool, key func(T) (time.Time, int64)) {
	slices.SortStableFunc(items, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		c := ta.Compare(tb)
		if c == 0 {
			c = cmp.Compare(ia, ib)
		}
		if !asc {
			c = -c
		}
		return c
	})
}

func (s *Simulator) ghPulls(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, ok := s.ghRepoAccess(w, r)
	if !ok {
		return
	}
	o, err := ghListOpts(r, true)
	if err != nil {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed: "+err.Error())
		return
	}
	var items []*GitHubPull
	for _, p := range rd.pulls {
		if o.state == "all" || p.State == o.state {
			items = append(items, p)
		}
	}
	sortByTime(items, o.asc, func(p *GitHubPull) (time.Time, int64) {
		if o.sort == "updated" {
			return p.UpdatedAt, int64(p.Number)
		}
		return p.CreatedAt, int64(p.Number)
	})
	page, per := ghPageParams(r)
	setGitHubLink(w, r, page, per, len(items))
	writeJSON(w, http.StatusOK, pageSlice(items, page, per))
}

func (s *Simulator) ghIssues(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, ok := s.ghRepoAccess(w, r)
	if !ok {
		return
	}
	o, err := ghListOpts(r, false)
	if err != nil {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed: "+err.Error())
		return
	}
	var items []*GitHubIssue
	for _, is := range rd.issues {
		if (o.state == "all" || is.State == o.state) && !is.UpdatedAt.Before(o.since) {
			items = append(items, is)
		}
	}
	sortByTime(items, o.asc, func(is *GitHubIssue) (time.Time, int64) {
		if o.sort == "updated" {
			return is.UpdatedAt, int64(is.Number)
		}
		return is.CreatedAt, int64(is.Number)
	})
	page, per := ghPageParams(r)
	setGitHubLink(w, r, page, per, len(items))
	writeJSON(w, http.StatusOK, pageSlice(items, page, per))
}

func (s *Simulator) ghReleases(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, ok := s.ghRepoAccess(w, r)
	if !ok {
		return
	}
	items := slices.Clone(rd.releases)
	sortByTime(items, false, func(rel *GitHubRelease) (time.Time, int64) { return rel.CreatedAt, rel.ID })
	page, per := ghPageParams(r)
	setGitHubLink(w, r, page, per, len(items))
	writeJSON(w, http.StatusOK, pageSlice(items, page, per))
}
