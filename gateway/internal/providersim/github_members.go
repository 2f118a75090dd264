package providersim

import (
	"fmt"
	"net/http"
	"strings"
)

// GitHubMembership is a user's membership of an organization, shaped like GET
// /user/memberships/orgs/{org} (Org and User name the pair; they are not in the answer).
type GitHubMembership struct {
	Org  string `json:"org"`
	User string `json:"user"`
	// Role is "admin" (an owner) or "member".
	Role string `json:"role"`
	// State is "active", or "pending" for an invitation not yet accepted.
	State string `json:"state"`
}

// SetGitHubMembership makes User a member of organization Org with Role and State (defaults: member,
// active); Role "none" removes the membership, as for an outside collaborator. The user who creates an
// installation on an organization through the consent step becomes an active admin of it, and the
// default user (Config.GitHubUserLogin) administers the default account (Config.GitHubAccountLogin).
// POST /_sim/github/memberships takes the same JSON.
func (s *Simulator) SetGitHubMembership(m GitHubMembership) error {
	if m.Org == "" || m.User == "" {
		return fmt.Errorf("github membership: org and user are required")
	}
	if m.Role == "" {
		m.Role = "member"
	}
	if m.State == "" {
		m.State = "active"
	}
	switch {
	case m.Role != "admin" && m.Role != "member" && m.Role != "none":
		return fmt.Errorf("github membership: role %q is not admin, member or none", m.Role)
	case m.State != "active" && m.State != "pending":
		return fmt.Errorf("github membership: state %q is not active or pending", m.State)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ghSetMembership(m)
	return nil
}

// ghSetMembership records m. Callers hold s.mu.
func (s *Simulator) ghSetMembership(m GitHubMembership) {
	org, user := strings.ToLower(m.Org), strings.ToLower(m.User)
	if m.Role == "none" {
		delete(s.gh.memberships[org], user)
		return
	}
	if s.gh.memberships[org] == nil {
		s.gh.memberships[org] = map[string]GitHubMembership{}
	}
	s.gh.memberships[org][user] = m
}

// ghMembership returns user's membership of org. Callers hold s.mu.
func (s *Simulator) ghMembership(org, user string) (GitHubMembership, bool) {
	m, ok := s.gh.memberships[strings.ToLower(org)][strings.ToLower(user)]
	return m, ok
}

// ghUserAuth authenticates a user-to-server token; an installation token gets GitHub's 403 with forbidden
// as its message. Callers hold s.mu.
func (s *Simulator) ghUserAuth(w http.ResponseWriter, r *http.Request, forbidden string) (ghCaller, bool) {
	caller, ok := s.ghAuth(w, r)
	if !ok {
		return ghCaller{}, false
	}
	if caller.user == "" {
		ghError(w, http.StatusForbidden, forbidden)
		return ghCaller{}, false
	}
	return caller, true
}

// ghAuthenticatedUser is GET /user for a user-to-server token.
func (s *Simulator) ghAuthenticatedUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller, ok := s.ghUserAuth(w, r, "Resource not accessible by integration")
	if !ok {
		return
	}
	u := s.ghUser(caller.user)
	writeJSON(w, http.StatusOK, map[string]any{
		"login": u.Login, "id": u.ID, "node_id": u.NodeID, "avatar_url": u.AvatarURL, "html_url": u.HTMLURL,
		"type": "User", "site_admin": false,
	})
}

// ghUserMembership is GET /user/memberships/orgs/{org}: the caller's membership, or GitHub's 404 when
// the caller is not a member (an outside collaborator is not one).
func (s *Simulator) ghUserMembership(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller, ok := s.ghUserAuth(w, r, "Resource not accessible by integration")
	if !ok {
		return
	}
	org := r.PathValue("org")
	m, ok := s.ghMembership(org, caller.user)
	if !ok {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	acct := s.ghAccount(org, "Organization")
	writeJSON(w, http.StatusOK, map[string]any{
		"url":              "https://api.github.com/orgs/" + acct.Login + "/memberships/" + caller.user,
		"state":            m.State,
		"role":             m.Role,
		"organization_url": "https://api.github.com/orgs/" + acct.Login,
		"organization":     map[string]any{"login": acct.Login, "id": acct.ID, "node_id": acct.NodeID},
		"user":             s.ghUser(caller.user),
	})
}
