package api

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// githubService implements GitHubService.
type githubService struct{ *server }

// configFiles are the config file names DetectConfig looks for, in order.
var configFiles = []string{"lightfast.yml", ".lightfast.yml"}

// maxConfigBytes bounds the config content returned; a real lightfast.yml is a few hundred bytes.
const maxConfigBytes = 64 << 10

func (s githubService) GetInstallations(ctx context.Context, req *connect.Request[consolev1.GetInstallationsRequest]) (*connect.Response[consolev1.GetInstallationsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var rows []dbq.Installation
	if id := req.Msg.GetInstallationId(); id != "" {
		inst, err := s.installationForOrg(ctx, p.OrgID, id, types.GitHub)
		if err != nil {
			return nil, err
		}
		rows = []dbq.Installation{inst}
	} else {
		provider, active := string(types.GitHub), "active"
		rows, err = s.q().ListInstallationsByOrg(ctx, dbq.ListInstallationsByOrgParams{OrgID: p.OrgID, Provider: &provider, Status: &active})
		if err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(&consolev1.GetInstallationsResponse{Connections: connectionsMsg(rows)}), nil
}

func (s githubService) ValidateInstallations(ctx context.Context, req *connect.Request[consolev1.ValidateInstallationsRequest]) (*connect.Response[consolev1.ValidateInstallationsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, req.Msg.GetInstallationId(), types.GitHub)
	if err != nil {
		return nil, err
	}
	tok, err := vault.GetForOrg(ctx, s.Pool, s.Keyring, p.OrgID, inst.ID)
	if err != nil {
		return nil, err
	}
	// An installation token can list its own repositories; their owner is the installation's account. A
	// deleted or suspended installation fails here (GitHub refuses the token), and nothing is written.
	page, err := s.Providers.GitHub.ListRepositories(ctx, tok.AccessToken.Reveal(), 1, 1)
	if err != nil {
		return nil, err
	}
	ghID, _ := strconv.ParseInt(inst.ExternalID, 10, 64)
	info := types.GitHubAccountInfo{}
	if inst.ProviderAccountInfo != nil && inst.ProviderAccountInfo.GitHub != nil {
		info = *inst.ProviderAccountInfo.GitHub
		info.Installations = append([]types.GitHubInstallation(nil), info.Installations...)
	}
	idx := -1
	for i, in := range info.Installations {
		if in.ID == ghID {
			idx = i
		}
	}
	if idx < 0 {
		info.Installations = append(info.Installations, types.GitHubInstallation{ID: ghID})
		idx = len(info.Installations) - 1
	}
	now := s.Now().UTC()
	in := &info.Installations[idx]
	// The token carries the permissions GitHub granted when it was minted; they replace the recorded
	// ones unless those are newer (an accepted-permissions event after the mint).
	if perms := types.ParseGitHubPermissions(tok.Scope); perms != nil && (in.LastValidatedAt == nil || tok.UpdatedAt.After(*in.LastValidatedAt)) {
		in.Permissions = perms
	}
	in.LastValidatedAt = &now
	if len(page.Repos) > 0 {
		owner := page.Repos[0].Owner
		in.AccountID, in.AccountLogin, in.AccountType, in.AvatarURL = owner.ID, owner.Login, owner.Type, owner.AvatarURL
	}
	updated, err := s.q().SetInstallationAccountInfo(ctx, dbq.SetInstallationAccountInfoParams{
		ID: inst.ID, ProviderAccountInfo: types.NewGitHubAccountInfo(info),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.ValidateInstallationsResponse{Connection: connectionMsg(updated)}), nil
}

// pageCursor parses a numeric page cursor ("" is the first page).
func pageCursor(c string) (int, error) {
	if c == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 1 || n > 100000 {
		return 0, errInvalid("cursor is not one this server returned")
	}
	return n, nil
}

func checkPageSize(n int32) error {
	if n < 0 {
		return errInvalid("page_size must not be negative")
	}
	return nil
}

func (s githubService) ListRepositories(ctx context.Context, req *connect.Request[consolev1.ListRepositoriesRequest]) (*connect.Response[consolev1.ListRepositoriesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	page, err := pageCursor(req.Msg.GetCursor())
	if err != nil {
		return nil, err
	}
	if err := checkPageSize(req.Msg.GetPageSize()); err != nil {
		return nil, err
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, req.Msg.GetInstallationId(), types.GitHub)
	if err != nil {
		return nil, err
	}
	token, err := s.token(ctx, p.OrgID, inst.ID)
	if err != nil {
		return nil, err
	}
	res, err := s.Providers.GitHub.ListRepositories(ctx, token, page, int(req.Msg.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &consolev1.ListRepositoriesResponse{Repositories: make([]*consolev1.GitHubRepository, 0, len(res.Repos))}
	for _, r := range res.Repos {
		out.Repositories = append(out.Repositories, githubRepoMsg(r))
	}
	if res.NextPage > 0 {
		out.NextCursor = strconv.Itoa(res.NextPage)
	}
	return connect.NewResponse(out), nil
}

func githubRepoMsg(r providerapi.GitHubRepo) *consolev1.GitHubRepository {
	return &consolev1.GitHubRepository{
		Id: r.ID, Name: r.Name, FullName: r.FullName, DefaultBranch: r.DefaultBranch,
		IsPrivate: r.Private, IsArchived: r.Archived, HtmlUrl: r.HTMLURL,
	}
}

// validFullName checks an "owner/name" repository name.
func validFullName(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	return ok && owner != "" && name != "" && !strings.ContainsAny(name, "/\\") && !strings.Contains(s, "..") && utf8.RuneCountInString(s) <= 200
}

func (s githubService) DetectConfig(ctx context.Context, req *connect.Request[consolev1.DetectConfigRequest]) (*connect.Response[consolev1.DetectConfigResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var (
		installationID, fullName, ref string
		integration                   *dbq.Integration
	)
	switch sel := req.Msg.GetTarget().(type) {
	case *consolev1.DetectConfigRequest_IntegrationId:
		if sel.IntegrationId == "" {
			return nil, errInvalid("integration_id must not be empty")
		}
		in, err := s.q().GetIntegrationForOrg(ctx, dbq.GetIntegrationForOrgParams{ID: sel.IntegrationId, ClerkOrgID: p.OrgID})
		if err != nil {
			if db.IsNotFound(err) {
				return nil, errNotFound("integration")
			}
			return nil, err
		}
		if in.Provider != types.GitHub || in.ResourceMeta == nil || in.ResourceMeta.GitHub == nil {
			return nil, errInvalid("integration %s is not a GitHub repository", in.ID)
		}
		integration = &in
		installationID, fullName, ref = in.InstallationID, in.ResourceMeta.GitHub.RepoFullName, in.ResourceMeta.GitHub.DefaultBranch
	case *consolev1.DetectConfigRequest_Repository_:
		if !validFullName(sel.Repository.GetFullName()) {
			return nil, errInvalid("repository.full_name must be owner/name")
		}
		installationID, fullName = sel.Repository.GetInstallationId(), sel.Repository.GetFullName()
	default:
		return nil, errInvalid("integration_id or repository is required")
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, installationID, types.GitHub)
	if err != nil {
		return nil, err
	}
	token, err := s.token(ctx, p.OrgID, inst.ID)
	if err != nil {
		return nil, err
	}
	out := &consolev1.DetectConfigResponse{}
	for _, name := range configFiles {
		// An empty ref reads the default branch.
		content, found, err := s.Providers.GitHub.GetFile(ctx, token, fullName, name, ref)
		if err != nil {
			return nil, err
		}
		if found {
			if len(content) > maxConfigBytes || !utf8.Valid(content) {
				return nil, errPrecondition("%s in %s is not a UTF-8 file of at most %d bytes", name, fullName, maxConfigBytes)
			}
			out.Found, out.Path, out.Content = true, name, string(content)
			break
		}
	}
	if integration != nil {
		status := types.ConfigStatusAwaitingConfig
		if out.Found {
			status = types.ConfigStatusConfigured
		}
		if _, err := s.q().SetGithubConfigStatus(ctx, dbq.SetGithubConfigStatusParams{
			ID: integration.ID, ConfigStatus: status, ConfigPath: out.Path, CheckedAt: s.Now().UTC(),
		}); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(out), nil
}
