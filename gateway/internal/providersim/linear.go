package providersim

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LinearOrganization is a Linear workspace (the installation's external id is its ID).
type LinearOrganization struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URLKey    string    `json:"urlKey"`
	CreatedAt time.Time `json:"createdAt"`
}

// LinearUser is a Linear user (the viewer of a workspace's tokens).
type LinearUser struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email"`
}

// LinearTeam is a team in a workspace.
type LinearTeam struct {
	ID             string    `json:"id"`
	Key            string    `json:"key"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Private        bool      `json:"private"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	OrganizationID string    `json:"organizationId"`
}

// LinearWorkflowState is an issue's state.
type LinearWorkflowState struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type"` // backlog, unstarted, started, completed, canceled
	Color string `json:"color"`
}

// LinearIssue is an issue.
type LinearIssue struct {
	ID          string              `json:"id"`
	Identifier  string              `json:"identifier"`
	Number      int                 `json:"number"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	URL         string              `json:"url"`
	Priority    int                 `json:"priority"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
	CompletedAt *time.Time          `json:"completedAt"`
	CanceledAt  *time.Time          `json:"canceledAt"`
	State       LinearWorkflowState `json:"state"`
	TeamID      string              `json:"teamId"`
}

// LinearWebhook is a webhook created through GraphQL webhookCreate. Secret
// signs the deliveries SendWebhook makes for it.
type LinearWebhook struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Label          string    `json:"label"`
	Secret         string    `json:"secret"`
	Enabled        bool      `json:"enabled"`
	AllPublicTeams bool      `json:"allPublicTeams"`
	ResourceTypes  []string  `json:"resourceTypes"`
	TeamID         string    `json:"teamId,omitempty"`
	OrganizationID string    `json:"organizationId"`
	CreatedAt      time.Time `json:"createdAt"`
}

type linearOrg struct {
	org      LinearOrganization
	viewer   LinearUser
	teams    []*LinearTeam
	issues   []*LinearIssue
	webhooks []*LinearWebhook
	numbers  map[string]int // last issue number per team
}

type linearState struct {
	orgs  map[string]*linearOrg
	order []*linearOrg
}

func newLinearState() linearState { return linearState{orgs: map[string]*linearOrg{}} }

// Id kinds for seqUUID, so Linear ids of different entities never collide.
const (
	idLinearOrg uint16 = iota + 1
	idLinearUser
	idLinearTeam
	idLinearIssue
	idLinearWebhook
	idLinearState
	idSentryInstall
)

var linearStates = []LinearWorkflowState{
	{Name: "Todo", Type: "unstarted", Color: "#e2e2e2"},
	{Name: "In Progress", Type: "started", Color: "#f2c94c"},
	{Name: "Done", Type: "completed", Color: "#5e6ad2"},
	{Name: "Backlog", Type: "backlog", Color: "#bec2c8"},
	{Name: "Canceled", Type: "canceled", Color: "#95a2b3"},
}

var linearTeamNames = []struct{ key, name string }{
	{"ENG", "Engineering"}, {"OPS", "Operations"}, {"DES", "Design"}, {"PRD", "Product"}, {"SUP", "Support"},
}

func (s *Simulator) linearRoutes() {
	s.handle("GET "+PrefixLinearWeb+"/oauth/authorize", KeyLinearAuthorize, false, s.lnAuthorize)
	s.handle("POST "+PrefixLinearAPI+"/oauth/token", KeyLinearOAuthToken, true, s.lnToken)
	s.handle("POST "+PrefixLinearAPI+"/oauth/revoke", KeyLinearRevoke, true, s.lnRevoke)
	s.handle("POST "+PrefixLinearAPI+"/graphql", KeyLinearGraphQL, true, s.lnGraphQL)
}

// oauthError writes an RFC 6749 error body.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// gqlErrorResponse writes a GraphQL response carrying only errors.
func gqlErrorResponse(w http.ResponseWriter, status int, errs ...gqlError) {
	writeJSON(w, status, map[string]any{"data": nil, "errors": errs})
}

// linearEnsureDefaultOrg creates the configured default workspace. Callers hold s.mu (or construct).
func (s *Simulator) linearEnsureDefaultOrg() {
	s.lnOrgByKey(s.cfg.LinearOrgURLKey, s.cfg.LinearOrgName)
}

// lnOrgByKey returns the workspace with urlKey, creating it. Callers hold s.mu.
func (s *Simulator) lnOrgByKey(urlKey, name string) *linearOrg {
	for _, o := range s.ln.order {
		if o.org.URLKey == urlKey {
			return o
		}
	}
	n := s.nextSeq()
	o := &linearOrg{
		org: LinearOrganization{
			ID: seqUUID(idLinearOrg, n), Name: cmp.Or(name, urlKey), URLKey: urlKey,
			CreatedAt: s.now().Add(-365 * 24 * time.Hour),
		},
		viewer: LinearUser{
			ID: seqUUID(idLinearUser, n), Name: "Sim User", DisplayName: "sim",
			Email: "sim-user@" + urlKey + ".example.com",
		},
		numbers: map[string]int{},
	}
	s.ln.orgs[o.org.ID] = o
	s.ln.order = append(s.ln.order, o)
	return o
}

func (s *Simulator) lnOrgParam(urlKey string) (*linearOrg, error) {
	urlKey = cmp.Or(urlKey, s.cfg.LinearOrgURLKey)
	for _, o := range s.ln.order {
		if o.org.URLKey == urlKey || o.org.ID == urlKey {
			return o, nil
		}
	}
	return nil, fmt.Errorf("unknown linear organization %q", urlKey)
}

// LinearOrganizations returns every workspace, oldest first.
func (s *Simulator) LinearOrganizations() []LinearOrganization {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LinearOrganization, 0, len(s.ln.order))
	for _, o := range s.ln.order {
		out = append(out, o.org)
	}
	return out
}

// LinearWebhooks returns every webhook created through webhookCreate, with
// its signing secret.
func (s *Simulator) LinearWebhooks() []LinearWebhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LinearWebhook
	for _, o := range s.ln.order {
		for _, wh := range o.webhooks {
			c := *wh
			c.ResourceTypes = slices.Clone(wh.ResourceTypes)
			out = append(out, c)
		}
	}
	return out
}

// SeedLinearTeams adds n teams (ENG, OPS, DES, ...) to the workspace with
// urlKey ("" = the default one).
func (s *Simulator) SeedLinearTeams(urlKey string, n int) ([]LinearTeam, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.lnOrgParam(urlKey)
	if err != nil {
		return nil, fmt.Errorf("seed linear teams: %w", err)
	}
	return s.lnSeedTeams(o, n), nil
}

func (s *Simulator) lnSeedTeams(o *linearOrg, n int) []LinearTeam {
	now := s.now()
	out := make([]LinearTeam, 0, n)
	for range n {
		i := len(o.teams)
		key, name := fmt.Sprintf("T%d", i+1), fmt.Sprintf("Team %d", i+1)
		if i < len(linearTeamNames) {
			key, name = linearTeamNames[i].key, linearTeamNames[i].name
		}
		t := &LinearTeam{
			ID: seqUUID(idLinearTeam, s.nextSeq()), Key: key, Name: name,
			Description: "Simulated team " + name,
			CreatedAt:   now.Add(-time.Duration(180-i) * 24 * time.Hour), UpdatedAt: now.Add(-24 * time.Hour),
			OrganizationID: o.org.ID,
		}
		o.teams = append(o.teams, t)
		out = append(out, *t)
	}
	return out
}

// lnTeam finds a team by id or key in any workspace. Callers hold s.mu.
func (s *Simulator) lnTeam(idOrKey string) (*linearOrg, *LinearTeam) {
	for _, o := range s.ln.order {
		for _, t := range o.teams {
			if t.ID == idOrKey || t.Key == idOrKey {
				return o, t
			}
		}
	}
	return nil, nil
}

// SeedLinearIssues adds n issues to team teamID (id or key), oldest first;
// states cycle Todo, In Progress, Done, Backlog, Canceled.
func (s *Simulator) SeedLinearIssues(teamID string, n int) ([]LinearIssue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, t := s.lnTeam(teamID)
	if t == nil {
		return nil, fmt.Errorf("seed linear issues: unknown team %q", teamID)
	}
	return s.lnSeedIssues(o, t, n), nil
}

func (s *Simulator) lnSeedIssues(o *linearOrg, t *LinearTeam, n int) []LinearIssue {
	now := s.now()
	out := make([]LinearIssue, 0, n)
	for k := range n {
		o.numbers[t.ID]++
		num := o.numbers[t.ID]
		updated := s.seedAge(now, k, n)
		state := linearStates[k%len(linearStates)]
		state.ID = seqUUID(idLinearState, int64(k%len(linearStates))+1)
		ident := fmt.Sprintf("%s-%d", t.Key, num)
		title := fmt.Sprintf("Simulated issue %s", ident)
		is := &LinearIssue{
			ID: seqUUID(idLinearIssue, s.nextSeq()), Identifier: ident, Number: num,
			Title: title, Description: "Simulated description of " + ident + ".",
			URL:      fmt.Sprintf("https://linear.app/%s/issue/%s/%s", o.org.URLKey, strings.ToLower(ident), slugify(title)),
			Priority: k % 5, CreatedAt: updated.Add(-s.cfg.SeedInterval / 2), UpdatedAt: updated,
			State: state, TeamID: t.ID,
		}
		switch state.Type {
		case "completed":
			at := updated
			is.CompletedAt = &at
		case "canceled":
			at := updated
			is.CanceledAt = &at
		}
		o.issues = append(o.issues, is)
		out = append(out, *is)
	}
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// lnAutoSeed fills an empty workspace with demo data. Callers hold s.mu.
func (s *Simulator) lnAutoSeed(o *linearOrg) {
	a := s.cfg.AutoSeed
	if a.LinearTeams == 0 || len(o.teams) > 0 {
		return
	}
	for _, t := range s.lnSeedTeams(o, a.LinearTeams) {
		_, team := s.lnTeam(t.ID)
		s.lnSeedIssues(o, team, a.IssuesPerTeam)
	}
}

// --- OAuth ---

// normalizeScope turns Linear's comma-separated scope list into the
// space-separated form the token response reports; `read` is always granted.
func normalizeScope(raw string) string {
	scopes := []string{"read"}
	for _, sc := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return strings.Join(scopes, " ")
}

// lnAuthorize is the OAuth consent: it validates the client and
// redirect_uri, remembers the PKCE challenge and redirects with code and state.
func (s *Simulator) lnAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Get("client_id") != s.cfg.LinearClientID {
		http.Error(w, "Invalid client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI != s.cfg.Callbacks.Linear {
		http.Error(w, fmt.Sprintf("Invalid redirect_uri %q (registered: %q)", redirectURI, s.cfg.Callbacks.Linear), http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	if q.Get("response_type") != "code" {
		redirect(w, redirectURI, url.Values{"error": {"unsupported_response_type"}, "state": {state}})
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method != "S256" && method != "plain" {
		redirect(w, redirectURI, url.Values{"error": {"invalid_request"}, "error_description": {"code_challenge_method must be S256 or plain"}, "state": {state}})
		return
	}
	c := s.takeConsent(ProviderLinear, q)
	if c.OmitState {
		state = ""
	}
	if c.Deny {
		redirect(w, redirectURI, url.Values{"error": {"access_denied"}, "error_description": {"The user denied the request"}, "state": {state}})
		return
	}
	o := s.lnOrgByKey(cmp.Or(c.Account, s.cfg.LinearOrgURLKey), "")
	s.lnAutoSeed(o)
	code := s.issueCode(authCode{
		provider: ProviderLinear, subject: o.org.ID, redirectURI: redirectURI,
		scope: normalizeScope(q.Get("scope")), challenge: challenge, method: method,
	})
	redirect(w, redirectURI, url.Values{"code": {code}, "state": {state}})
}

// lnClientAuth reads client credentials from the form or HTTP Basic auth.
func lnClientAuth(r *http.Request, form url.Values) (string, string) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return form.Get("client_id"), form.Get("client_secret")
}

// lnToken is the token endpoint: authorization_code (with PKCE) and
// refresh_token grants. Refresh tokens rotate: the presented one dies.
func (s *Simulator) lnToken(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	grant := form.Get("grant_type")
	if grant == "refresh_token" && s.subFault(w, r, KeyLinearRefresh) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, secret := lnClientAuth(r, form)
	if id != s.cfg.LinearClientID || !secretEqual(secret, s.cfg.LinearClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	var subject, scope, grantID string
	switch grant {
	case "authorization_code":
		code := s.redeemCode(ProviderLinear, form.Get("code"))
		if code == nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The authorization code is invalid, expired or already used")
			return
		}
		if ru := form.Get("redirect_uri"); ru != "" && ru != code.redirectURI {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		if !checkPKCE(code.challenge, code.method, form.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed: code_verifier does not match code_challenge")
			return
		}
		subject, scope, grantID = code.subject, code.scope, randomHex(8)
	case "refresh_token":
		old := s.tokens[form.Get("refresh_token")]
		if s.takeRefreshFailure(ProviderLinear) || old == nil || old.provider != ProviderLinear || old.kind != kindRefresh || old.revoked {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token is invalid, expired or revoked")
			return
		}
		// Rotation: the presented refresh token is single use.
		old.revoked = true
		subject, scope, grantID = old.subject, old.scope, old.grant
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", grant))
		return
	}
	ttl := s.cfg.LinearAccessTokenTTL
	access := s.issueToken(token{provider: ProviderLinear, kind: kindAccess, subject: subject, scope: scope, grant: grantID}, "lin_oauth_", ttl)
	refresh := s.issueToken(token{provider: ProviderLinear, kind: kindRefresh, subject: subject, scope: scope, grant: grantID}, "lin_refresh_", 0)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  access.value,
		"token_type":    "Bearer",
		"expires_in":    int(ttl.Seconds()),
		"scope":         scope,
		"refresh_token": refresh.value,
	})
}

// lnRevoke revokes the grant of a token (access and refresh together), taken
// from the `token` form field or the Authorization header. As RFC 7009 asks,
// unknown tokens are not an error.
func (s *Simulator) lnRevoke(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	value := cmp.Or(form.Get("token"), form.Get("access_token"), bearer(r))
	if value == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[value]; ok && t.provider == ProviderLinear {
		s.revokeWhere(ProviderLinear, func(o *token) bool { return o == t || (t.grant != "" && o.grant == t.grant) })
	}
	w.WriteHeader(http.StatusOK)
}

// --- GraphQL ---

// linearTime formats times as Linear does (ISO 8601 with milliseconds).
func linearTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func linearTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return linearTime(*t)
}

// lnSchema builds the GraphQL object graph of one workspace. Callers hold s.mu.
type lnSchema struct {
	s   *Simulator
	org *linearOrg
}

func (g lnSchema) orgObj() map[string]any {
	o := g.org.org
	return map[string]any{
		"__typename": "Organization", "id": o.ID, "name": o.Name, "urlKey": o.URLKey,
		"createdAt": linearTime(o.CreatedAt), "logoUrl": nil,
		"teams": gqlResolver(g.teamsConn),
	}
}

func (g lnSchema) userObj() map[string]any {
	u := g.org.viewer
	return map[string]any{
		"__typename": "User", "id": u.ID, "name": u.Name, "displayName": u.DisplayName,
		"email": u.Email, "active": true, "admin": true, "avatarUrl": nil,
		"organization": g.orgObj(),
	}
}

func (g lnSchema) teamObj(t *LinearTeam) map[string]any {
	return map[string]any{
		"__typename": "Team", "id": t.ID, "key": t.Key, "name": t.Name, "description": t.Description,
		"private": t.Private, "createdAt": linearTime(t.CreatedAt), "updatedAt": linearTime(t.UpdatedAt),
		"archivedAt":   nil,
		"organization": gqlResolver(func(map[string]any) (any, error) { return g.orgObj(), nil }),
		"issues": gqlResolver(func(args map[string]any) (any, error) {
			return g.issuesConn(args, t.ID)
		}),
	}
}

func (g lnSchema) issueObj(is *LinearIssue) map[string]any {
	_, team := g.s.lnTeam(is.TeamID)
	creator := g.org.viewer
	return map[string]any{
		"__typename": "Issue", "id": is.ID, "identifier": is.Identifier, "number": is.Number,
		"title": is.Title, "description": is.Description, "url": is.URL, "priority": is.Priority,
		"createdAt": linearTime(is.CreatedAt), "updatedAt": linearTime(is.UpdatedAt),
		"completedAt": linearTimePtr(is.CompletedAt), "canceledAt": linearTimePtr(is.CanceledAt),
		"archivedAt": nil, "assignee": nil, "project": nil,
		"state": map[string]any{
			"__typename": "WorkflowState", "id": is.State.ID, "name": is.State.Name, "type": is.State.Type, "color": is.State.Color,
		},
		"creator": map[string]any{
			"__typename": "User", "id": creator.ID, "name": creator.Name, "displayName": creator.DisplayName, "email": creator.Email,
		},
		"team": g.teamObj(team),
		"labels": gqlResolver(func(args map[string]any) (any, error) {
			return lnConnection(nil, args, "IssueLabelConnection")
		}),
	}
}

func (g lnSchema) webhookObj(wh *LinearWebhook) map[string]any {
	obj := map[string]any{
		"__typename": "Webhook", "id": wh.ID, "url": wh.URL, "label": wh.Label, "enabled": wh.Enabled,
		"secret": wh.Secret, "resourceTypes": slices.Clone(wh.ResourceTypes), "allPublicTeams": wh.AllPublicTeams,
		"createdAt": linearTime(wh.CreatedAt), "updatedAt": linearTime(wh.CreatedAt), "team": nil,
	}
	if _, t := g.s.lnTeam(wh.TeamID); t != nil {
		obj["team"] = g.teamObj(t)
	}
	return obj
}

func (g lnSchema) teamsConn(args map[string]any) (any, error) {
	var items []map[string]any
	for _, t := range g.org.teams {
		obj := g.teamObj(t)
		if f, ok := args["filter"].(map[string]any); ok && !g.s.lnMatch(obj, f) {
			continue
		}
		items = append(items, obj)
	}
	return lnConnection(items, args, "TeamConnection")
}

// issuesConn lists the workspace's issues (of one team when teamID is set),
// newest first by createdAt or by orderBy, filtered by `filter`.
func (g lnSchema) issuesConn(args map[string]any, teamID string) (any, error) {
	order := "createdAt"
	if o, ok := args["orderBy"].(string); ok && o == "updatedAt" {
		order = "updatedAt"
	}
	issues := slices.Clone(g.org.issues)
	slices.SortStableFunc(issues, func(a, b *LinearIssue) int {
		ta, tb := a.CreatedAt, b.CreatedAt
		if order == "updatedAt" {
			ta, tb = a.UpdatedAt, b.UpdatedAt
		}
		return cmp.Or(tb.Compare(ta), strings.Compare(b.ID, a.ID))
	})
	var items []map[string]any
	for _, is := range issues {
		if teamID != "" && is.TeamID != teamID {
			continue
		}
		obj := g.issueObj(is)
		if f, ok := args["filter"].(map[string]any); ok && !g.s.lnMatch(obj, f) {
			continue
		}
		items = append(items, obj)
	}
	return lnConnection(items, args, "IssueConnection")
}

func (g lnSchema) webhooksConn(args map[string]any) (any, error) {
	var items []map[string]any
	for _, wh := range g.org.webhooks {
		items = append(items, g.webhookObj(wh))
	}
	return lnConnection(items, args, "WebhookConnection")
}

// Linear's connection limits: `first` defaults to 50 and may not exceed 250.
const (
	linearDefaultFirst = 50
	linearMaxFirst     = 250
)

func inputError(msg string) gqlError {
	return gqlError{Message: msg, Extensions: map[string]any{
		"type": "invalid input", "code": "INPUT_ERROR", "userError": true, "userPresentableMessage": msg,
	}}
}

// lnConnection pages items Relay-style with the node id as cursor
// (first/after forward, last/before backward).
func lnConnection(items []map[string]any, args map[string]any, typename string) (any, error) {
	index := func(cursor string) (int, error) {
		for i, it := range items {
			if it["id"] == cursor {
				return i, nil
			}
		}
		return 0, inputError("Argument Validation Error: cursor " + strconv.Quote(cursor) + " not found")
	}
	start, end := 0, len(items)
	if after, ok := args["after"].(string); ok && after != "" {
		i, err := index(after)
		if err != nil {
			return nil, err
		}
		start = i + 1
	}
	if before, ok := args["before"].(string); ok && before != "" {
		i, err := index(before)
		if err != nil {
			return nil, err
		}
		end = i
	}
	if v, ok := args["first"].(float64); ok {
		if v < 0 || v > linearMaxFirst {
			return nil, inputError(fmt.Sprintf("Argument Validation Error: first must be between 0 and %d", linearMaxFirst))
		}
		end = min(end, start+int(v))
	} else if v, ok := args["last"].(float64); ok {
		start = max(start, end-int(v))
	} else {
		end = min(end, start+linearDefaultFirst)
	}
	start = min(start, end)
	page := items[start:end]
	nodes := make([]any, len(page))
	edges := make([]any, len(page))
	for i, it := range page {
		nodes[i] = it
		edges[i] = map[string]any{"__typename": strings.TrimSuffix(typename, "Connection") + "Edge", "node": it, "cursor": it["id"]}
	}
	pageInfo := map[string]any{
		"__typename":      "PageInfo",
		"hasNextPage":     end < len(items),
		"hasPreviousPage": start > 0,
		"startCursor":     nil,
		"endCursor":       nil,
	}
	if len(page) > 0 {
		pageInfo["startCursor"] = page[0]["id"]
		pageInfo["endCursor"] = page[len(page)-1]["id"]
	}
	return map[string]any{"__typename": typename, "nodes": nodes, "edges": edges, "pageInfo": pageInfo}, nil
}

// lnComparators are Linear's filter comparator names.
var lnComparators = map[string]bool{
	"eq": true, "neq": true, "in": true, "nin": true, "gt": true, "gte": true, "lt": true, "lte": true,
	"null": true, "contains": true, "containsIgnoreCase": true, "notContains": true, "startsWith": true,
	"endsWith": true, "eqIgnoreCase": true, "neqIgnoreCase": true,
}

// lnMatch evaluates a Linear filter object (e.g. {team: {id: {eq: $id}},
// updatedAt: {gte: $since}}) against an object of the graph. Callers hold s.mu.
func (s *Simulator) lnMatch(obj, filter map[string]any) bool {
	for k, cond := range filter {
		switch k {
		case "and", "or":
			list, _ := cond.([]any)
			matched := false
			for _, sub := range list {
				m, _ := sub.(map[string]any)
				ok := s.lnMatch(obj, m)
				if k == "and" && !ok {
					return false
				}
				matched = matched || ok
			}
			if k == "or" && len(list) > 0 && !matched {
				return false
			}
			continue
		}
		cm, ok := cond.(map[string]any)
		if !ok {
			continue
		}
		isComparator := false
		for ck := range cm {
			isComparator = isComparator || lnComparators[ck]
		}
		if !isComparator {
			sub, _ := obj[k].(map[string]any)
			if sub == nil || !s.lnMatch(sub, cm) {
				return false
			}
			continue
		}
		for op, want := range cm {
			if !s.lnCompare(obj[k], op, want) {
				return false
			}
		}
	}
	return true
}

func (s *Simulator) lnCompare(got any, op string, want any) bool {
	switch op {
	case "null":
		isNull := got == nil
		return want == isNull
	case "in", "nin":
		list, _ := want.([]any)
		found := slices.ContainsFunc(list, func(v any) bool { return s.lnOrder(got, v) == 0 })
		return found == (op == "in")
	}
	gs, _ := got.(string)
	ws, _ := want.(string)
	switch op {
	case "contains":
		return strings.Contains(gs, ws)
	case "notContains":
		return !strings.Contains(gs, ws)
	case "containsIgnoreCase":
		return strings.Contains(strings.ToLower(gs), strings.ToLower(ws))
	case "startsWith":
		return strings.HasPrefix(gs, ws)
	case "endsWith":
		return strings.HasSuffix(gs, ws)
	case "eqIgnoreCase":
		return strings.EqualFold(gs, ws)
	case "neqIgnoreCase":
		return !strings.EqualFold(gs, ws)
	}
	if got == nil {
		return op == "neq" && want != nil
	}
	c := s.lnOrder(got, want)
	switch op {
	case "eq":
		return c == 0
	case "neq":
		return c != 0
	case "gt":
		return c > 0
	case "gte":
		return c >= 0
	case "lt":
		return c < 0
	case "lte":
		return c <= 0
	}
	return false
}

// lnOrder compares two filter values: as times when both read as dates (or
// ISO 8601 durations relative to now, like "-P2W"), as numbers, else as strings.
func (s *Simulator) lnOrder(a, b any) int {
	if as, ok := a.(string); ok {
		if bs, ok := b.(string); ok {
			if at, ok := s.lnParseTime(as); ok {
				if bt, ok := s.lnParseTime(bs); ok {
					return at.Compare(bt)
				}
			}
			return strings.Compare(as, bs)
		}
	}
	af, aok := toFloat(a)
	bf, bok := toFloat(b)
	if aok && bok {
		return cmp.Compare(af, bf)
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	}
	return 0, false
}

var isoDuration = regexp.MustCompile(`^([+-])?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

func (s *Simulator) lnParseTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	m := isoDuration.FindStringSubmatch(v)
	if m == nil || v == "P" || v == "-P" {
		return time.Time{}, false
	}
	n := func(i int) int { x, _ := strconv.Atoi(m[i]); return x }
	sign := 1
	if m[1] == "-" {
		sign = -1
	}
	d := time.Duration(n(4)*7+n(5))*24*time.Hour + time.Duration(n(6))*time.Hour + time.Duration(n(7))*time.Minute + time.Duration(n(8))*time.Second
	t := s.now().AddDate(sign*n(2), sign*n(3), 0).Add(time.Duration(sign) * d)
	return t, true
}

// lnQueryFields and lnMutationFields are the root fields the simulator answers.
var (
	lnQueryFields    = []string{"viewer", "organization", "teams", "team", "issues", "issue", "webhooks", "webhook"}
	lnMutationFields = []string{"webhookCreate", "webhookDelete"}
)

func (g lnSchema) root(kind string) map[string]any {
	if kind == "mutation" {
		return map[string]any{
			"__typename":    "Mutation",
			"webhookCreate": gqlResolver(g.webhookCreate),
			"webhookDelete": gqlResolver(g.webhookDelete),
		}
	}
	return map[string]any{
		"__typename":   "Query",
		"viewer":       g.userObj(),
		"organization": g.orgObj(),
		"teams":        gqlResolver(g.teamsConn),
		"team": gqlResolver(func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			for _, t := range g.org.teams {
				if t.ID == id || t.Key == id {
					return g.teamObj(t), nil
				}
			}
			return nil, inputError("Entity not found: Team")
		}),
		"issues": gqlResolver(func(args map[string]any) (any, error) { return g.issuesConn(args, "") }),
		"issue": gqlResolver(func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			for _, is := range g.org.issues {
				if is.ID == id || is.Identifier == id {
					return g.issueObj(is), nil
				}
			}
			return nil, inputError("Entity not found: Issue")
		}),
		"webhooks": gqlResolver(g.webhooksConn),
		"webhook": gqlResolver(func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			for _, wh := range g.org.webhooks {
				if wh.ID == id {
					return g.webhookObj(wh), nil
				}
			}
			return nil, inputError("Entity not found: Webhook")
		}),
	}
}

// webhookCreate registers a workspace or team webhook. Like Linear it
// generates the signing secret when the client does not choose one.
func (g lnSchema) webhookCreate(args map[string]any) (any, error) {
	in, _ := args["input"].(map[string]any)
	if in == nil {
		return nil, inputError("Argument Validation Error: input is required")
	}
	rawURL, _ := in["url"].(string)
	if u, err := url.Parse(rawURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, inputError("Argument Validation Error: url must be a valid URL")
	}
	var types []string
	list, _ := in["resourceTypes"].([]any)
	for _, v := range list {
		if s, ok := v.(string); ok {
			types = append(types, s)
		}
	}
	if len(types) == 0 {
		return nil, inputError("Argument Validation Error: resourceTypes must not be empty")
	}
	allPublic, _ := in["allPublicTeams"].(bool)
	teamID, _ := in["teamId"].(string)
	var team *LinearTeam
	if teamID != "" {
		for _, t := range g.org.teams {
			if t.ID == teamID || t.Key == teamID {
				team = t
			}
		}
		if team == nil {
			return nil, inputError("Entity not found: Team")
		}
	} else if !allPublic {
		return nil, inputError("Argument Validation Error: either teamId or allPublicTeams must be set")
	}
	secret, _ := in["secret"].(string)
	if secret == "" {
		secret = "lin_wh_" + randomHex(16)
	}
	enabled := true
	if v, ok := in["enabled"].(bool); ok {
		enabled = v
	}
	label, _ := in["label"].(string)
	wh := &LinearWebhook{
		ID: seqUUID(idLinearWebhook, g.s.nextSeq()), URL: rawURL, Label: label, Secret: secret,
		Enabled: enabled, AllPublicTeams: allPublic, ResourceTypes: types,
		OrganizationID: g.org.org.ID, CreatedAt: g.s.now(),
	}
	if team != nil {
		wh.TeamID = team.ID
	}
	g.org.webhooks = append(g.org.webhooks, wh)
	return map[string]any{
		"__typename": "WebhookPayload", "success": true, "lastSyncId": float64(g.s.seq),
		"webhook": g.webhookObj(wh),
	}, nil
}

func (g lnSchema) webhookDelete(args map[string]any) (any, error) {
	id, _ := args["id"].(string)
	for i, wh := range g.org.webhooks {
		if wh.ID == id {
			g.org.webhooks = slices.Delete(g.org.webhooks, i, i+1)
			return map[string]any{"__typename": "DeletePayload", "success": true, "entityId": id, "lastSyncId": float64(g.s.seq)}, nil
		}
	}
	return nil, inputError("Entity not found: Webhook")
}

// graphqlRequest is the body of POST /graphql.
type graphqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

func (s *Simulator) lnGraphQL(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.accessToken(ProviderLinear, bearer(r))
	var org *linearOrg
	if t != nil {
		org = s.ln.orgs[t.subject]
	}
	s.mu.Unlock()
	if org == nil {
		gqlErrorResponse(w, http.StatusUnauthorized, gqlError{
			Message: "Authentication required, not authenticated",
			Extensions: map[string]any{
				"type": "authentication error", "code": "AUTHENTICATION_ERROR", "userError": true,
				"userPresentableMessage": "You need to authenticate to access this operation.",
			},
		})
		return
	}
	var req graphqlRequest
	if err := decodeJSON(r, &req); err != nil {
		gqlErrorResponse(w, http.StatusBadRequest, gqlError{Message: "Invalid JSON body: " + err.Error(), Extensions: map[string]any{"code": "BAD_USER_INPUT"}})
		return
	}
	doc, err := parseGraphQL(req.Query)
	var op *gqlOperation
	if err == nil {
		op, err = doc.pick(req.OperationName)
	}
	if err != nil {
		gqlErrorResponse(w, http.StatusBadRequest, gqlError{Message: err.Error(), Extensions: map[string]any{"code": "GRAPHQL_PARSE_FAILED"}})
		return
	}
	known := lnQueryFields
	typeName := "Query"
	if op.kind == "mutation" {
		known, typeName = lnMutationFields, "Mutation"
	}
	roots := doc.fields(op.sel)
	for _, f := range roots {
		if f.name != "__typename" && !slices.Contains(known, f.name) {
			gqlErrorResponse(w, http.StatusBadRequest, gqlError{
				Message:    fmt.Sprintf("Cannot query field %q on type %q.", f.name, typeName),
				Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
			})
			return
		}
	}
	for _, f := range roots {
		if f.name != "__typename" && s.subFault(w, r, KeyLinearGraphQL+"."+f.name) {
			return
		}
	}
	vars := map[string]any{}
	for k, v := range op.defs {
		vars[k] = v
	}
	for k, v := range req.Variables {
		vars[k] = v
	}
	s.mu.Lock()
	ex := &gqlExec{doc: doc, vars: vars}
	data, err := ex.project(lnSchema{s: s, org: org}.root(op.kind), op.sel, nil)
	s.mu.Unlock()
	if err != nil {
		var ge gqlError
		if !errors.As(err, &ge) {
			ge = gqlError{Message: err.Error()}
		}
		gqlErrorResponse(w, http.StatusOK, ge)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
