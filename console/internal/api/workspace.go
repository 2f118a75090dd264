package api

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// workspaceService implements WorkspaceService.
type workspaceService struct{ *server }

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

const (
	maxNameLen = 191
	maxSlugLen = 64
)

// slugify derives a slug from a name: lowercase ASCII letters and digits, runs of anything else become
// one dash.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > maxSlugLen {
		s = strings.TrimRight(s[:maxSlugLen], "-")
	}
	return s
}

func (s workspaceService) CreateWorkspace(ctx context.Context, req *connect.Request[consolev1.CreateWorkspaceRequest]) (*connect.Response[consolev1.CreateWorkspaceResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.Msg.GetName())
	if name == "" || utf8.RuneCountInString(name) > maxNameLen {
		return nil, errInvalid("name is required and at most %d characters", maxNameLen)
	}
	slug := req.Msg.GetSlug()
	if slug == "" {
		slug = slugify(name)
	}
	if len(slug) > maxSlugLen || !slugRE.MatchString(slug) {
		return nil, errInvalid("slug must be lowercase letters, digits and single dashes, at most %d characters", maxSlugLen)
	}
	params := dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: p.OrgID, Name: name, Slug: slug}
	if res := req.Msg.GetResources(); res != nil {
		return s.createWithResources(ctx, p.OrgID, params, res)
	}
	w, err := s.q().CreateWorkspace(ctx, params)
	if err != nil {
		return nil, db.Interpret(err)
	}
	return connect.NewResponse(&consolev1.CreateWorkspaceResponse{Workspace: workspaceMsg(w)}), nil
}

// createWithResources is the seed's workspaceAccess.create: the workspace and its first links in one
// transaction, through the same link path as IntegrationService, so a resource that cannot be linked
// leaves no workspace behind.
func (s workspaceService) createWithResources(ctx context.Context, org string, params dbq.CreateWorkspaceParams, res *consolev1.WorkspaceResources) (*connect.Response[consolev1.CreateWorkspaceResponse], error) {
	// The list is capped and de-duplicated before any query.
	resourceIDs, err := linkIDs("resource", res.GetResourceIds(), func(id string) string { return id })
	if err != nil {
		return nil, err
	}
	inst, err := s.installationForOrg(ctx, org, res.GetInstallationId(), "")
	if err != nil {
		return nil, err
	}
	integ := integrationService(s)
	resolve, kind := integ.resolverFor(inst.Provider)
	if resolve == nil {
		return nil, errInvalid("connection %s has no linkable resources", inst.ID)
	}
	nw := &workspaceToCreate{params: params}
	rows, _, err := integ.link(ctx, linkRequest{
		installationID: inst.ID, provider: inst.Provider, kind: kind, resourceIDs: resourceIDs,
		startBackfill: res.GetStartBackfill(), backfill: res.GetBackfillOptions(), resolve: resolve, newWorkspace: nw,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.CreateWorkspaceResponse{Workspace: workspaceMsg(nw.row), Integrations: integrationsMsg(rows)}), nil
}

// githubLoginRE is GitHub's rule for user and organisation logins.
var githubLoginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

func (s workspaceService) ResolveFromGitHubOrgSlug(ctx context.Context, req *connect.Request[consolev1.ResolveFromGitHubOrgSlugRequest]) (*connect.Response[consolev1.ResolveFromGitHubOrgSlugResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	login := req.Msg.GetGithubOrgSlug()
	if !githubLoginRE.MatchString(login) {
		return nil, errInvalid("github_org_slug must be a GitHub login: letters, digits and dashes, at most 39 characters")
	}
	rows, err := s.q().ListWorkspacesByGithubLogin(ctx, dbq.ListWorkspacesByGithubLoginParams{ClerkOrgID: p.OrgID, Login: login})
	if err != nil {
		return nil, err
	}
	out := make([]*consolev1.Workspace, 0, len(rows))
	for _, w := range rows {
		out = append(out, workspaceMsg(w))
	}
	return connect.NewResponse(&consolev1.ResolveFromGitHubOrgSlugResponse{Workspaces: out}), nil
}

func (s workspaceService) ListWorkspaces(ctx context.Context, _ *connect.Request[consolev1.ListWorkspacesRequest]) (*connect.Response[consolev1.ListWorkspacesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q().ListWorkspacesByOrg(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	out := make([]*consolev1.Workspace, 0, len(rows))
	for _, w := range rows {
		out = append(out, workspaceMsg(w))
	}
	return connect.NewResponse(&consolev1.ListWorkspacesResponse{Workspaces: out}), nil
}

func (s workspaceService) GetWorkspace(ctx context.Context, req *connect.Request[consolev1.GetWorkspaceRequest]) (*connect.Response[consolev1.GetWorkspaceResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var w dbq.Workspace
	switch sel := req.Msg.GetWorkspace().(type) {
	case *consolev1.GetWorkspaceRequest_WorkspaceId:
		w, err = s.workspaceForOrg(ctx, p.OrgID, sel.WorkspaceId)
	case *consolev1.GetWorkspaceRequest_Slug:
		if sel.Slug == "" {
			return nil, errInvalid("slug must not be empty")
		}
		w, err = s.q().GetWorkspaceBySlugForOrg(ctx, dbq.GetWorkspaceBySlugForOrgParams{ClerkOrgID: p.OrgID, Slug: sel.Slug})
		if db.IsNotFound(err) {
			err = errNotFound("workspace")
		}
	default:
		return nil, errInvalid("workspace_id or slug is required")
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.GetWorkspaceResponse{Workspace: workspaceMsg(w)}), nil
}
