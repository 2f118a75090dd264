package providersim

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// VercelTeam is a team, shaped like GET /v2/teams/{teamId}.
type VercelTeam struct {
	ID        string  `json:"id"`
	Slug      string  `json:"slug"`
	Name      string  `json:"name"`
	Avatar    *string `json:"avatar"`
	CreatedAt int64   `json:"createdAt"`
}

// VercelConfiguration is one installation of the integration (external id
// configurationId). TeamID is nil for a personal-account installation.
type VercelConfiguration struct {
	ID        string  `json:"id"`
	TeamID    *string `json:"teamId"`
	UserID    string  `json:"userId"`
	Slug      string  `json:"slug"`
	CreatedAt int64   `json:"createdAt"`
	Removed   bool    `json:"removed"`
}

// VercelProjectLink is a project's git link.
type VercelProjectLink struct {
	Type             string `json:"type"`
	Repo             string `json:"repo"`
	Org              string `json:"org"`
	RepoID           int64  `json:"repoId"`
	ProductionBranch string `json:"productionBranch"`
}

// VercelProject is an item of GET /v9/projects.
type VercelProject struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	AccountID string             `json:"accountId"`
	Framework *string            `json:"framework"`
	CreatedAt int64              `json:"createdAt"`
	UpdatedAt int64              `json:"updatedAt"`
	Link      *VercelProjectLink `json:"link,omitempty"`
}

// VercelCreator is the user who created a deployment.
type VercelCreator struct {
	UID         string `json:"uid"`
	Username    string `json:"username"`
	Email       string `json:"email"`
	GitHubLogin string `json:"githubLogin,omitempty"`
}

// VercelDeployment is an item of GET /v6/deployments. Times are Unix milliseconds.
type VercelDeployment struct {
	UID          string            `json:"uid"`
	Name         string            `json:"name"`
	URL          string            `json:"url"`
	Created      int64             `json:"created"`
	CreatedAt    int64             `json:"createdAt"`
	BuildingAt   int64             `json:"buildingAt"`
	Ready        *int64            `json:"ready,omitempty"`
	State        string            `json:"state"`
	ReadyState   string            `json:"readyState"`
	Type         string            `json:"type"`
	Source       string            `json:"source"`
	Target       *string           `json:"target"`
	ProjectID    string            `json:"projectId"`
	InspectorURL string            `json:"inspectorUrl"`
	Creator      VercelCreator     `json:"creator"`
	Meta         map[string]string `json:"meta"`
}

type vercelState struct {
	teams        map[string]*VercelTeam
	configs      map[string]*VercelConfiguration
	configOrder  []string
	projects     map[string][]*VercelProject    // by owner (team or user id)
	deployments  map[string][]*VercelDeployment // by project id
	projectOwner map[string]string
}

func newVercelState() vercelState {
	return vercelState{
		teams:        map[string]*VercelTeam{},
		configs:      map[string]*VercelConfiguration{},
		projects:     map[string][]*VercelProject{},
		deployments:  map[string][]*VercelDeployment{},
		projectOwner: map[string]string{},
	}
}

// Vercel paging: `limit` defaults to 20 and is capped at 100.
const (
	vercelDefaultLimit = 20
	vercelMaxLimit     = 100
)

func (s *Simulator) vercelRoutes() {
	api := PrefixVercelAPI
	s.handle("GET "+PrefixVercelWeb+"/integrations/{slug}/new", KeyVercelInstall, false, s.vcInstallPage)
	s.handle("POST "+api+"/v2/oauth/access_token", KeyVercelOAuthToken, true, s.vcOAuthToken)
	s.handle("GET "+api+"/v2/teams/{teamId}", KeyVercelTeam, true, s.vcTeam)
	s.handle("GET "+api+"/v9/projects", KeyVercelProjects, true, s.vcProjects)
	s.handle("GET "+api+"/v10/projects", KeyVercelProjects, true, s.vcProjects)
	s.handle("GET "+api+"/v6/deployments", KeyVercelDeployments, true, s.vcDeployments)
	s.handle("DELETE "+api+"/v1/integrations/configuration/{id}", KeyVercelConfigDelete, true, s.vcDeleteConfiguration)
}

// vercelError writes Vercel's REST error body.
func vercelError(w http.ResponseWriter, status int, code, msg string, extra ...any) {
	body := map[string]any{"code": code, "message": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	writeJSON(w, status, map[string]any{"error": body})
}

// vercelEnsureDefaults creates the configured default team. Callers hold s.mu (or construct).
func (s *Simulator) vercelEnsureDefaults() {
	s.vcTeamFor(s.cfg.VercelTeamID, s.cfg.VercelTeamSlug, s.cfg.VercelTeamName)
}

func (s *Simulator) vcTeamFor(id, slug, name string) *VercelTeam {
	if t, ok := s.vc.teams[id]; ok {
		return t
	}
	t := &VercelTeam{ID: id, Slug: cmp.Or(slug, strings.ToLower(id)), Name: cmp.Or(name, id), CreatedAt: s.now().Add(-90 * 24 * time.Hour).UnixMilli()}
	s.vc.teams[id] = t
	return t
}

func (s *Simulator) vcOwnerSlug(owner string) string {
	if t, ok := s.vc.teams[owner]; ok {
		return t.Slug
	}
	return s.cfg.VercelUsername
}

// VercelConfigurations returns every integration configuration, oldest first.
func (s *Simulator) VercelConfigurations() []VercelConfiguration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]VercelConfiguration, 0, len(s.vc.configOrder))
	for _, id := range s.vc.configOrder {
		out = append(out, *s.vc.configs[id])
	}
	return out
}

// SeedVercelProjects adds n projects owned by owner (a team id or the user
// id; "" = the default team). Item i is updated i+1 SeedIntervals ago.
func (s *Simulator) SeedVercelProjects(owner string, n int) ([]VercelProject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner = cmp.Or(owner, s.cfg.VercelTeamID)
	if _, ok := s.vc.teams[owner]; !ok && owner != s.cfg.VercelUserID {
		return nil, fmt.Errorf("seed vercel projects: unknown owner %q", owner)
	}
	return s.vcSeedProjects(owner, n), nil
}

func (s *Simulator) vcSeedProjects(owner string, n int) []VercelProject {
	now := s.now()
	existing := len(s.vc.projects[owner])
	framework := "nextjs"
	out := make([]VercelProject, 0, n)
	for i := range n {
		seq := s.nextSeq()
		name := fmt.Sprintf("project-%d", existing+i+1)
		updated := now.Add(-time.Duration(i+1) * s.cfg.SeedInterval)
		p := &VercelProject{
			ID:        fmt.Sprintf("prj_sim%021d", seq),
			Name:      name,
			AccountID: owner,
			Framework: &framework,
			CreatedAt: updated.Add(-30 * 24 * time.Hour).UnixMilli(),
			UpdatedAt: updated.UnixMilli(),
			Link: &VercelProjectLink{
				Type: "github", Repo: name, Org: s.vcOwnerSlug(owner), RepoID: 700000000 + seq, ProductionBranch: "main",
			},
		}
		s.vc.projects[owner] = append(s.vc.projects[owner], p)
		s.vc.projectOwner[p.ID] = owner
		out = append(out, *p)
	}
	return out
}

// SeedVercelDeployments adds n deployments to project projectID, oldest
// first. States cycle READY, READY, ERROR, READY, CANCELED; every second one
// targets production.
func (s *Simulator) SeedVercelDeployments(projectID string, n int) ([]VercelDeployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vc.projectOwner[projectID]; !ok {
		return nil, fmt.Errorf("seed vercel deployments: unknown project %q", projectID)
	}
	return s.vcSeedDeployments(projectID, n), nil
}

func (s *Simulator) vcSeedDeployments(projectID string, n int) []VercelDeployment {
	owner := s.vc.projectOwner[projectID]
	var project *VercelProject
	for _, p := range s.vc.projects[owner] {
		if p.ID == projectID {
			project = p
		}
	}
	now := s.now()
	states := []string{"READY", "READY", "ERROR", "READY", "CANCELED"}
	out := make([]VercelDeployment, 0, n)
	for k := range n {
		seq := s.nextSeq()
		created := s.seedAge(now, k, n)
		uid := fmt.Sprintf("dpl_sim%021d", seq)
		state := states[k%len(states)]
		d := &VercelDeployment{
			UID:          uid,
			Name:         project.Name,
			URL:          fmt.Sprintf("%s-%s.vercel.app", project.Name, strings.ToLower(uid[len(uid)-9:])),
			Created:      created.UnixMilli(),
			CreatedAt:    created.UnixMilli(),
			BuildingAt:   created.Add(2 * time.Second).UnixMilli(),
			State:        state,
			ReadyState:   state,
			Type:         "LAMBDAS",
			Source:       "git",
			ProjectID:    projectID,
			InspectorURL: fmt.Sprintf("https://vercel.com/%s/%s/%s", s.vcOwnerSlug(owner), project.Name, uid),
			Creator:      VercelCreator{UID: s.cfg.VercelUserID, Username: s.cfg.VercelUsername, Email: s.cfg.VercelUsername + "@example.com", GitHubLogin: s.cfg.GitHubUserLogin},
			Meta: map[string]string{
				"githubCommitSha":         fmt.Sprintf("%040x", 0xdec0de00+seq),
				"githubCommitMessage":     fmt.Sprintf("Simulated commit %d", seq),
				"githubCommitRef":         "main",
				"githubCommitAuthorLogin": s.cfg.GitHubUserLogin,
				"githubOrg":               project.Link.Org,
				"githubRepo":              project.Link.Repo,
				"githubDeployment":        "1",
			},
		}
		if state == "READY" {
			ready := created.Add(45 * time.Second).UnixMilli()
			d.Ready = &ready
		}
		if k%2 == 0 {
			prod := "production"
			d.Target = &prod
		}
		s.vc.deployments[projectID] = append(s.vc.deployments[projectID], d)
		out = append(out, *d)
	}
	return out
}

// vcAutoSeed fills a new owner with demo data. Callers hold s.mu.
func (s *Simulator) vcAutoSeed(owner string) {
	a := s.cfg.AutoSeed
	if a.VercelProjects == 0 || len(s.vc.projects[owner]) > 0 {
		return
	}
	for _, p := range s.vcSeedProjects(owner, a.VercelProjects) {
		s.vcSeedDeployments(p.ID, a.DeploymentsPerProject)
	}
}

// vcInstallPage is the integration install consent: it creates a
// configuration and redirects with code, configurationId, teamId, next, state.
func (s *Simulator) vcInstallPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PathValue("slug") != s.cfg.VercelIntegrationSlug {
		http.Error(w, "404: integration not found", http.StatusNotFound)
		return
	}
	c := s.takeConsent(ProviderVercel, q)
	callback := s.cfg.Callbacks.Vercel
	state := q.Get("state")
	if c.OmitState {
		state = ""
	}
	if c.Deny {
		redirect(w, callback, url.Values{"error": {"access_denied"}, "state": {state}})
		return
	}
	var teamID *string
	owner := s.cfg.VercelUserID
	if !c.Personal {
		t := s.vcTeamFor(cmp.Or(c.Account, s.cfg.VercelTeamID), "", "")
		teamID, owner = &t.ID, t.ID
	}
	id := c.InstallationID
	if id == "" {
		id = fmt.Sprintf("icfg_sim%016d", s.nextSeq())
	}
	cfg, ok := s.vc.configs[id]
	if !ok {
		cfg = &VercelConfiguration{ID: id, CreatedAt: s.now().UnixMilli(), Slug: s.cfg.VercelIntegrationSlug}
		s.vc.configs[id] = cfg
		s.vc.configOrder = append(s.vc.configOrder, id)
	}
	cfg.TeamID, cfg.UserID, cfg.Removed = teamID, s.cfg.VercelUserID, false
	s.vcAutoSeed(owner)
	self := requestURL(r)
	params := url.Values{
		"code":            {s.issueCode(authCode{provider: ProviderVercel, subject: id, redirectURI: callback})},
		"configurationId": {id},
		"next":            {fmt.Sprintf("%s://%s%s/dashboard/integrations/%s", self.Scheme, self.Host, PrefixVercelWeb, id)},
		"source":          {"marketplace"},
		"state":           {state},
	}
	if teamID != nil {
		params.Set("teamId", *teamID)
	}
	redirect(w, callback, params)
}

// vcOAuthToken exchanges the install code for a long-lived integration token.
func (s *Simulator) vcOAuthToken(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if form.Get("client_id") != s.cfg.VercelClientID || !secretEqual(form.Get("client_secret"), s.cfg.VercelClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client_id or client_secret")
		return
	}
	code := s.redeemCode(ProviderVercel, form.Get("code"))
	if code == nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The authorization code is invalid or has expired")
		return
	}
	if ru := form.Get("redirect_uri"); ru != "" && ru != code.redirectURI {
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("redirect_uri %q does not match the one used to authorize (%q)", ru, code.redirectURI))
		return
	}
	cfg := s.vc.configs[code.subject]
	tok := s.issueToken(token{provider: ProviderVercel, kind: kindAccess, subject: cfg.ID}, "", 0)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":      "Bearer",
		"access_token":    tok.value,
		"installation_id": cfg.ID,
		"user_id":         cfg.UserID,
		"team_id":         cfg.TeamID,
	})
}

// vcAuth resolves the integration token of r. With scoped, it also enforces
// Vercel's team scoping: a team installation's token must name its team in
// `teamId` (or `slug`), a personal one must not name any. Callers hold s.mu.
func (s *Simulator) vcAuth(w http.ResponseWriter, r *http.Request, scoped bool) (*VercelConfiguration, bool) {
	t := s.accessToken(ProviderVercel, bearer(r))
	var cfg *VercelConfiguration
	if t != nil {
		cfg = s.vc.configs[t.subject]
	}
	if cfg == nil || cfg.Removed {
		vercelError(w, http.StatusUnauthorized, "forbidden", "Not authorized", "invalidToken", true)
		return nil, false
	}
	if !scoped {
		return cfg, true
	}
	q := r.URL.Query()
	teamQ, slugQ := q.Get("teamId"), q.Get("slug")
	if cfg.TeamID == nil {
		if teamQ != "" || slugQ != "" {
			vercelError(w, http.StatusForbidden, "forbidden", "Not authorized: this token has no access to the requested team")
			return nil, false
		}
		return cfg, true
	}
	team := s.vc.teams[*cfg.TeamID]
	switch {
	case teamQ == "" && slugQ == "":
		vercelError(w, http.StatusForbidden, "forbidden",
			fmt.Sprintf("Not authorized: Trying to access resource under scope %q. You must re-authenticate to this scope or use a token with access to this scope.", s.cfg.VercelUsername))
		return nil, false
	case teamQ != "" && teamQ != team.ID, slugQ != "" && slugQ != team.Slug:
		vercelError(w, http.StatusForbidden, "forbidden", "Not authorized: this token has no access to the requested team")
		return nil, false
	}
	return cfg, true
}

func vcOwner(cfg *VercelConfiguration) string {
	if cfg.TeamID != nil {
		return *cfg.TeamID
	}
	return cfg.UserID
}

func (s *Simulator) vcTeam(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, ok := s.vcAuth(w, r, false)
	if !ok {
		return
	}
	id := r.PathValue("teamId")
	t := s.vc.teams[id]
	if t == nil {
		for _, cand := range s.vc.teams {
			if cand.Slug == id {
				t = cand
			}
		}
	}
	if t == nil || cfg.TeamID == nil || *cfg.TeamID != t.ID {
		vercelError(w, http.StatusForbidden, "forbidden", "Not authorized")
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// msParam reads a Unix-milliseconds query parameter.
func msParam(q url.Values, name string) (int64, bool, error) {
	raw := q.Get(name)
	if raw == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("invalid %s %q", name, raw)
	}
	return v, true, nil
}

// vcPage cuts one page of items sorted newest first by ts and builds
// Vercel's pagination object.
func vcPage[T any](items []T, limit int, ts func(T) int64) ([]T, vercelPagination) {
	page := items[:min(limit, len(items))]
	pg := vercelPagination{Count: len(page)}
	if len(page) > 0 {
		prev := ts(page[0])
		pg.Prev = &prev
	}
	if len(items) > len(page) {
		next := ts(page[len(page)-1])
		pg.Next = &next
	}
	if page == nil {
		page = []T{}
	}
	return page, pg
}

func (s *Simulator) vcProjects(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, ok := s.vcAuth(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	until, hasUntil, err := msParam(q, "until")
	if err != nil {
		vercelError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	search := strings.ToLower(q.Get("search"))
	var items []*VercelProject
	for _, p := range s.vc.projects[vcOwner(cfg)] {
		if hasUntil && p.UpdatedAt >= until {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(p.Name), search) {
			continue
		}
		items = append(items, p)
	}
	slices.SortStableFunc(items, func(a, b *VercelProject) int { return cmp.Compare(b.UpdatedAt, a.UpdatedAt) })
	page, pg := vcPage(items, intParam(q, "limit", vercelDefaultLimit, vercelMaxLimit), func(p *VercelProject) int64 { return p.UpdatedAt })
	writeJSON(w, http.StatusOK, map[string]any{"projects": page, "pagination": pg})
}

func (s *Simulator) vcDeployments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, ok := s.vcAuth(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	until, hasUntil, err1 := msParam(q, "until")
	since, hasSince, err2 := msParam(q, "since")
	if err := cmp.Or(err1, err2); err != nil {
		vercelError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	owner := vcOwner(cfg)
	var projectIDs []string
	if pid := q.Get("projectId"); pid != "" {
		if s.vc.projectOwner[pid] != owner {
			vercelError(w, http.StatusNotFound, "not_found", "Project not found")
			return
		}
		projectIDs = []string{pid}
	} else {
		for _, p := range s.vc.projects[owner] {
			projectIDs = append(projectIDs, p.ID)
		}
	}
	var states []string
	if st := q.Get("state"); st != "" {
		states = strings.Split(strings.ToUpper(st), ",")
	}
	target := q.Get("target")
	var items []*VercelDeployment
	for _, pid := range projectIDs {
		for _, d := range s.vc.deployments[pid] {
			switch {
			case hasUntil && d.Created >= until, hasSince && d.Created <= since:
				continue
			case len(states) > 0 && !slices.Contains(states, d.State):
				continue
			case target != "" && (d.Target == nil || *d.Target != target):
				continue
			}
			items = append(items, d)
		}
	}
	slices.SortStableFunc(items, func(a, b *VercelDeployment) int { return cmp.Compare(b.Created, a.Created) })
	page, pg := vcPage(items, intParam(q, "limit", vercelDefaultLimit, vercelMaxLimit), func(d *VercelDeployment) int64 { return d.Created })
	writeJSON(w, http.StatusOK, map[string]any{"deployments": page, "pagination": pg})
}

// vcDeleteConfiguration uninstalls the integration: the configuration is
// removed and its tokens stop working.
func (s *Simulator) vcDeleteConfiguration(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, ok := s.vcAuth(w, r, true)
	if !ok {
		return
	}
	if r.PathValue("id") != cfg.ID {
		vercelError(w, http.StatusNotFound, "not_found", "Integration configuration not found")
		return
	}
	cfg.Removed = true
	s.revokeWhere(ProviderVercel, func(t *token) bool { return t.subject == cfg.ID })
	w.WriteHeader(http.StatusNoContent)
}
