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

// SentryInstallation is an installation of the integration in an
// organization; UUID is its external id.
type SentryInstallation struct {
	UUID        string    `json:"uuid"`
	OrgSlug     string    `json:"orgSlug"`
	Status      string    `json:"status"` // pending until PUT {status: installed}
	Deleted     bool      `json:"deleted"`
	DateCreated time.Time `json:"dateCreated"`
}

// SentryProject is an item of GET /api/0/organizations/{org}/projects/.
type SentryProject struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Platform    string    `json:"platform"`
	DateCreated time.Time `json:"dateCreated"`
	IsMember    bool      `json:"isMember"`
	HasAccess   bool      `json:"hasAccess"`
	Status      string    `json:"status"`
}

// SentryIssueProject is the project reference inside an issue.
type SentryIssueProject struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Slug     string `json:"slug"`
	Platform string `json:"platform"`
}

// SentryIssue is an item of GET /api/0/projects/{org}/{project}/issues/.
type SentryIssue struct {
	ID            string             `json:"id"`
	ShortID       string             `json:"shortId"`
	Title         string             `json:"title"`
	Culprit       string             `json:"culprit"`
	Permalink     string             `json:"permalink"`
	Level         string             `json:"level"`
	Status        string             `json:"status"`
	Type          string             `json:"type"`
	IssueCategory string             `json:"issueCategory"`
	Platform      string             `json:"platform"`
	FirstSeen     time.Time          `json:"firstSeen"`
	LastSeen      time.Time          `json:"lastSeen"`
	Count         string             `json:"count"`
	UserCount     int                `json:"userCount"`
	IsUnhandled   bool               `json:"isUnhandled"`
	Project       SentryIssueProject `json:"project"`
	Metadata      map[string]string  `json:"metadata"`
}

type sentryOrg struct {
	id       int64
	slug     string
	projects []*SentryProject
	issues   map[string][]*SentryIssue // by project slug
}

type sentryState struct {
	orgs         map[string]*sentryOrg
	installs     map[string]*SentryInstallation
	installOrder []string
}

func newSentryState() sentryState {
	return sentryState{orgs: map[string]*sentryOrg{}, installs: map[string]*SentryInstallation{}}
}

func (s *Simulator) sentryRoutes() {
	web := "GET " + PrefixSentry + "/sentry-apps/{slug}/external-install"
	s.handle(web+"/{$}", KeySentryInstall, false, s.seInstallPage)
	s.handle(web, KeySentryInstall, false, s.seInstallPage)
	inst := PrefixSentry + "/api/0/sentry-app-installations/{uuid}/"
	s.handle("POST "+inst+"authorizations/{$}", KeySentryAuthorizations, true, s.seAuthorizations)
	s.handle("PUT "+inst+"{$}", KeySentryInstallUpdate, true, s.seUpdateInstallation)
	s.handle("DELETE "+inst+"{$}", KeySentryInstallDelete, true, s.seDeleteInstallation)
	s.handle("GET "+PrefixSentry+"/api/0/organizations/{org}/projects/{$}", KeySentryProjects, true, s.seProjects)
	s.handle("GET "+PrefixSentry+"/api/0/projects/{org}/{project}/issues/{$}", KeySentryIssues, true, s.seIssues)
}

// sentryError writes Sentry's error body.
func sentryError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// sentryOrg returns organization slug, creating it. Callers hold s.mu (or construct).
func (s *Simulator) sentryOrg(slug string) *sentryOrg {
	if o, ok := s.se.orgs[slug]; ok {
		return o
	}
	o := &sentryOrg{id: 100000 + s.nextSeq(), slug: slug, issues: map[string][]*SentryIssue{}}
	s.se.orgs[slug] = o
	return o
}

// SentryInstallations returns every installation, oldest first.
func (s *Simulator) SentryInstallations() []SentryInstallation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentryInstallation, 0, len(s.se.installOrder))
	for _, id := range s.se.installOrder {
		out = append(out, *s.se.installs[id])
	}
	return out
}

var sentryPlatforms = []string{"javascript-nextjs", "python", "go", "node"}

// SeedSentryProjects adds n projects (project-1, ...) to organization org
// ("" = the default one).
func (s *Simulator) SeedSentryProjects(org string, n int) ([]SentryProject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.sentryOrg(cmp.Or(org, s.cfg.SentryOrgSlug))
	return s.seSeedProjects(o, n), nil
}

func (s *Simulator) seSeedProjects(o *sentryOrg, n int) []SentryProject {
	now := s.now()
	out := make([]SentryProject, 0, n)
	for range n {
		i := len(o.projects)
		slug := fmt.Sprintf("project-%d", i+1)
		p := &SentryProject{
			ID: strconv.FormatInt(4500000+s.nextSeq(), 10), Slug: slug, Name: slug,
			Platform:    sentryPlatforms[i%len(sentryPlatforms)],
			DateCreated: now.Add(-time.Duration(90-i) * 24 * time.Hour),
			IsMember:    true, HasAccess: true, Status: "active",
		}
		o.projects = append(o.projects, p)
		out = append(out, *p)
	}
	return out
}

// SeedSentryIssues adds n issues to project (slug) of org ("" = default),
// oldest first; levels cycle error, warning, fatal, info and every third
// issue is resolved. lastSeen is spread like other seeds.
func (s *Simulator) SeedSentryIssues(org, project string, n int) ([]SentryIssue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.se.orgs[cmp.Or(org, s.cfg.SentryOrgSlug)]
	if !ok {
		return nil, fmt.Errorf("seed sentry issues: unknown organization %q", org)
	}
	idx := slices.IndexFunc(o.projects, func(p *SentryProject) bool { return p.Slug == project })
	if idx < 0 {
		return nil, fmt.Errorf("seed sentry issues: unknown project %q", project)
	}
	return s.seSeedIssues(o, o.projects[idx], n), nil
}

func (s *Simulator) seSeedIssues(o *sentryOrg, p *SentryProject, n int) []SentryIssue {
	now := s.now()
	levels := []string{"error", "warning", "fatal", "info"}
	out := make([]SentryIssue, 0, n)
	for k := range n {
		seq := s.nextSeq()
		id := strconv.FormatInt(5000000000+seq, 10)
		last := s.seedAge(now, k, n)
		num := len(o.issues[p.Slug]) + 1
		title := fmt.Sprintf("TypeError: simulated failure %d", num)
		is := &SentryIssue{
			ID:            id,
			ShortID:       fmt.Sprintf("%s-%s", strings.ToUpper(p.Slug), strings.ToUpper(strconv.FormatInt(int64(num), 36))),
			Title:         title,
			Culprit:       fmt.Sprintf("app/handlers/handler%d.ts in handle", num),
			Permalink:     fmt.Sprintf("https://%s.sentry.io/issues/%s/", o.slug, id),
			Level:         levels[k%len(levels)],
			Status:        "unresolved",
			Type:          "error",
			IssueCategory: "error",
			Platform:      p.Platform,
			FirstSeen:     last.Add(-2 * s.cfg.SeedInterval),
			LastSeen:      last,
			Count:         strconv.Itoa(10 * (k + 1)),
			UserCount:     k + 1,
			IsUnhandled:   k%2 == 0,
			Project:       SentryIssueProject{ID: p.ID, Name: p.Name, Slug: p.Slug, Platform: p.Platform},
			Metadata:      map[string]string{"type": "TypeError", "value": fmt.Sprintf("simulated failure %d", num)},
		}
		if k%3 == 2 {
			is.Status = "resolved"
		}
		o.issues[p.Slug] = append(o.issues[p.Slug], is)
		out = append(out, *is)
	}
	return out
}

// seAutoSeed fills an empty organization with demo data. Callers hold s.mu.
func (s *Simulator) seAutoSeed(o *sentryOrg) {
	a := s.cfg.AutoSeed
	if a.SentryProjects == 0 || len(o.projects) > 0 {
		return
	}
	for _, p := range s.seSeedProjects(o, a.SentryProjects) {
		s.seSeedIssues(o, o.projects[slices.IndexFunc(o.projects, func(x *SentryProject) bool { return x.ID == p.ID })], a.IssuesPerProject)
	}
}

// sentryTime formats times as Sentry's API does (microseconds, Z).
func sentryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// seInstallPage is the external-install consent: it creates a pending
// installation and redirects with code, installationId, orgSlug and state.
func (s *Simulator) seInstallPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PathValue("slug") != s.cfg.SentryAppSlug {
		http.Error(w, "404: integration not found", http.StatusNotFound)
		return
	}
	c := s.takeConsent(ProviderSentry, q)
	callback := s.cfg.Callbacks.Sentry
	state := q.Get("state")
	if c.OmitState {
		state = ""
	}
	if c.Deny {
		redirect(w, callback, url.Values{"error": {"access_denied"}, "state": {state}})
		return
	}
	o := s.sentryOrg(cmp.Or(c.Account, s.cfg.SentryOrgSlug))
	id := c.InstallationID
	if id == "" {
		id = seqUUID(idSentryInstall, s.nextSeq())
	}
	inst, ok := s.se.installs[id]
	if !ok {
		inst = &SentryInstallation{UUID: id, DateCreated: s.now()}
		s.se.installs[id] = inst
		s.se.installOrder = append(s.se.installOrder, id)
	}
	inst.OrgSlug, inst.Status, inst.Deleted = o.slug, "pending", false
	s.seAutoSeed(o)
	redirect(w, callback, url.Values{
		"code":           {s.issueCode(authCode{provider: ProviderSentry, subject: id, redirectURI: callback})},
		"installationId": {id},
		"orgSlug":        {o.slug},
		"state":          {state},
	})
}

// seAuthorizations exchanges a grant code or a refresh token for a token
// pair. Like Sentry, a refresh deletes the old token pair (access and
// refresh), and failures are 401 {"detail": ...}.
func (s *Simulator) seAuthorizations(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(r)
	if err != nil {
		sentryError(w, http.StatusBadRequest, err.Error())
		return
	}
	grant := form.Get("grant_type")
	if grant == "refresh_token" && s.subFault(w, r, KeySentryRefresh) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if form.Get("client_id") != s.cfg.SentryClientID || !secretEqual(form.Get("client_secret"), s.cfg.SentryClientSecret) {
		sentryError(w, http.StatusUnauthorized, "Invalid client_id or client_secret")
		return
	}
	inst, ok := s.se.installs[r.PathValue("uuid")]
	if !ok || inst.Deleted {
		sentryError(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	var grantID string
	switch grant {
	case "authorization_code":
		if form.Get("code") == "" {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"code": {"This field is required."}})
			return
		}
		code := s.redeemCode(ProviderSentry, form.Get("code"))
		if code == nil || code.subject != inst.UUID {
			sentryError(w, http.StatusUnauthorized, "Could not find grant for given code")
			return
		}
		grantID = randomHex(8)
	case "refresh_token":
		old := s.tokens[form.Get("refresh_token")]
		if s.takeRefreshFailure(ProviderSentry) || old == nil || old.provider != ProviderSentry ||
			old.kind != kindRefresh || old.revoked || old.subject != inst.UUID {
			sentryError(w, http.StatusUnauthorized, "Given refresh token does not exist")
			return
		}
		// Sentry deletes the whole old token: both halves stop working.
		s.revokeWhere(ProviderSentry, func(t *token) bool { return t.grant == old.grant })
		grantID = old.grant
	default:
		sentryError(w, http.StatusForbidden, "Invalid grant_type")
		return
	}
	scope := strings.Join(s.cfg.SentryScopes, " ")
	access := s.issueToken(token{provider: ProviderSentry, kind: kindAccess, subject: inst.UUID, grant: grantID, scope: scope}, "", s.cfg.SentryTokenTTL)
	refresh := s.issueToken(token{provider: ProviderSentry, kind: kindRefresh, subject: inst.UUID, grant: grantID, scope: scope}, "", 0)
	writeJSON(w, http.StatusCreated, map[string]any{
		"id":           strconv.FormatInt(s.nextSeq(), 10),
		"token":        access.value,
		"refreshToken": refresh.value,
		"expiresAt":    sentryTime(access.expiresAt),
		"dateCreated":  sentryTime(access.issuedAt),
		"scopes":       s.cfg.SentryScopes,
		"application":  nil,
		"state":        nil,
	})
}

// seAuth resolves the bearer token to its installation. Callers hold s.mu.
func (s *Simulator) seAuth(w http.ResponseWriter, r *http.Request) (*SentryInstallation, bool) {
	t := s.accessToken(ProviderSentry, bearer(r))
	var inst *SentryInstallation
	if t != nil {
		inst = s.se.installs[t.subject]
	}
	if inst == nil || inst.Deleted {
		sentryError(w, http.StatusUnauthorized, "Invalid token")
		return nil, false
	}
	return inst, true
}

func (s *Simulator) seInstallationParam(w http.ResponseWriter, r *http.Request) (*SentryInstallation, bool) {
	inst, ok := s.seAuth(w, r)
	if !ok {
		return nil, false
	}
	if inst.UUID != r.PathValue("uuid") {
		sentryError(w, http.StatusForbidden, "You do not have permission to perform this action.")
		return nil, false
	}
	return inst, true
}

func (s *Simulator) seUpdateInstallation(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
	}
	if err := decodeJSON(r, &body); err != nil {
		sentryError(w, http.StatusBadRequest, "Invalid JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.seInstallationParam(w, r)
	if !ok {
		return
	}
	if body.Status != "installed" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"status": {"Invalid value for status. Valid values: 'installed'"}})
		return
	}
	inst.Status = "installed"
	writeJSON(w, http.StatusOK, map[string]any{
		"app":          map[string]string{"uuid": seqUUID(0xA99, 1), "slug": s.cfg.SentryAppSlug},
		"organization": map[string]any{"slug": inst.OrgSlug, "id": strconv.FormatInt(s.se.orgs[inst.OrgSlug].id, 10)},
		"uuid":         inst.UUID,
		"status":       inst.Status,
		"code":         nil,
	})
}

// seDeleteInstallation uninstalls: the installation and all its tokens die.
func (s *Simulator) seDeleteInstallation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.seInstallationParam(w, r)
	if !ok {
		return
	}
	inst.Deleted = true
	s.revokeWhere(ProviderSentry, func(t *token) bool { return t.subject == inst.UUID })
	w.WriteHeader(http.StatusNoContent)
}

// seOrgAccess checks the token may read organization {org}. Callers hold s.mu.
func (s *Simulator) seOrgAccess(w http.ResponseWriter, r *http.Request) (*sentryOrg, bool) {
	inst, ok := s.seAuth(w, r)
	if !ok {
		return nil, false
	}
	o, exists := s.se.orgs[r.PathValue("org")]
	switch {
	case !exists:
		sentryError(w, http.StatusNotFound, "The requested resource does not exist")
		return nil, false
	case inst.OrgSlug != o.slug:
		sentryError(w, http.StatusForbidden, "You do not have permission to perform this action.")
		return nil, false
	}
	return o, true
}

// sePage reads cursor and per_page, cuts the page and writes the Link header.
func sePage[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, bool) {
	q := r.URL.Query()
	offset, err := parseSentryCursor(q.Get("cursor"))
	if err != nil {
		sentryError(w, http.StatusBadRequest, "Invalid cursor parameter.")
		return nil, false
	}
	limit := intParam(q, "per_page", sentryDefaultPerPage, sentryMaxPerPage)
	if q.Get("per_page") == "" {
		limit = intParam(q, "limit", sentryDefaultPerPage, sentryMaxPerPage)
	}
	start := min(offset, len(items))
	end := min(start+limit, len(items))
	setSentryLink(w, r, offset, limit, end < len(items))
	page := items[start:end]
	if page == nil {
		page = []T{}
	}
	return page, true
}

func (s *Simulator) seProjects(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.seOrgAccess(w, r)
	if !ok {
		return
	}
	page, ok := sePage(w, r, o.projects)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// sentryQuery is the subset of Sentry's issue search syntax the simulator
// understands: is:<status> and lastSeen/firstSeen comparisons against an
// ISO date or a relative period (lastSeen:-14d).
type sentryQuery struct {
	status string
	since  map[string]time.Time // field → inclusive lower bound
	until  map[string]time.Time // field → exclusive upper bound
}

func (s *Simulator) parseSentryQuery(raw string) (sentryQuery, error) {
	sq := sentryQuery{since: map[string]time.Time{}, until: map[string]time.Time{}}
	for _, term := range strings.Fields(raw) {
		key, val, ok := strings.Cut(term, ":")
		if !ok {
			continue // free text: ignored
		}
		switch key {
		case "is":
			sq.status = val
		case "lastSeen", "firstSeen":
			op := ""
			for _, p := range []string{">=", "<=", ">", "<"} {
				if strings.HasPrefix(val, p) {
					op, val = p, val[len(p):]
					break
				}
			}
			t, err := s.parseSentryTime(val)
			if err != nil {
				return sq, fmt.Errorf("invalid %s value %q", key, val)
			}
			if op == "" && strings.HasPrefix(val, "-") {
				op = ">="
			}
			switch op {
			case ">=", ">":
				sq.since[key] = t
			case "<=", "<":
				sq.until[key] = t
			default:
				return sq, fmt.Errorf("invalid %s comparison %q", key, term)
			}
		}
	}
	return sq, nil
}

// parseSentryTime reads an ISO timestamp or a relative period like "-14d" / "-24h".
func (s *Simulator) parseSentryTime(v string) (time.Time, error) {
	if rel, ok := strings.CutPrefix(v, "-"); ok && len(rel) > 1 {
		n, err := strconv.Atoi(rel[:len(rel)-1])
		if err == nil {
			unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[rel[len(rel)-1]]
			if unit > 0 {
				return s.now().Add(-time.Duration(n) * unit), nil
			}
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", v)
}

func (s *Simulator) seIssues(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.seOrgAccess(w, r)
	if !ok {
		return
	}
	if !slices.ContainsFunc(o.projects, func(p *SentryProject) bool { return p.Slug == r.PathValue("project") }) {
		sentryError(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	q := r.URL.Query()
	// Like Sentry, no `query` parameter at all means "is:unresolved"; an
	// empty one means everything.
	rawQuery := "is:unresolved"
	if q.Has("query") {
		rawQuery = q.Get("query")
	}
	sq, err := s.parseSentryQuery(rawQuery)
	if err != nil {
		sentryError(w, http.StatusBadRequest, "Error parsing search query: "+err.Error())
		return
	}
	var items []*SentryIssue
	for _, is := range o.issues[r.PathValue("project")] {
		if sq.status != "" && is.Status != sq.status {
			continue
		}
		at := map[string]time.Time{"lastSeen": is.LastSeen, "firstSeen": is.FirstSeen}
		keep := true
		for f, t := range sq.since {
			keep = keep && !at[f].Before(t)
		}
		for f, t := range sq.until {
			keep = keep && at[f].Before(t)
		}
		if keep {
			items = append(items, is)
		}
	}
	byFirst := q.Get("sort") == "new"
	slices.SortStableFunc(items, func(a, b *SentryIssue) int {
		ta, tb := a.LastSeen, b.LastSeen
		if byFirst {
			ta, tb = a.FirstSeen, b.FirstSeen
		}
		return cmp.Or(tb.Compare(ta), strings.Compare(b.ID, a.ID))
	})
	page, ok := sePage(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, page)
}
