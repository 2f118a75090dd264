package api

import (
	"context"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// sourceService implements SourceService, the M2M API that keeps GitHub sources in step with GitHub. The
// M2M interceptor has admitted the caller; nothing here is org-scoped. Each procedure changes only the
// column it owns (sync status, sync_config's config keys, resource_meta, is_active).
type sourceService struct{ *server }

const maxSyncErrorLen = 2000

func repoID(id int64) (string, error) {
	if id <= 0 {
		return "", errInvalid("github_repo_id must be a positive GitHub repository id")
	}
	return strconv.FormatInt(id, 10), nil
}

func (s sourceService) FindByGithubRepoId(ctx context.Context, req *connect.Request[consolev1.FindByGithubRepoIdRequest]) (*connect.Response[consolev1.FindByGithubRepoIdResponse], error) {
	repo, err := repoID(req.Msg.GetGithubRepoId())
	if err != nil {
		return nil, err
	}
	params := dbq.FindGithubSourcesParams{RepoID: repo}
	if ws := req.Msg.GetWorkspaceId(); ws != "" {
		params.WorkspaceID = &ws
	}
	rows, unreadable, err := integrations.FindGitHubSources(ctx, s.q(), params)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.FindByGithubRepoIdResponse{
		Sources: integrationsMsg(rows), Unreadable: s.unreadable(unreadable),
	}), nil
}

func (s sourceService) GetSourceIdByGithubRepoId(ctx context.Context, req *connect.Request[consolev1.GetSourceIdByGithubRepoIdRequest]) (*connect.Response[consolev1.GetSourceIdByGithubRepoIdResponse], error) {
	repo, err := repoID(req.Msg.GetGithubRepoId())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetWorkspaceId() == "" {
		return nil, errInvalid("workspace_id is required")
	}
	id, err := s.q().GetGithubSourceID(ctx, dbq.GetGithubSourceIDParams{WorkspaceID: req.Msg.GetWorkspaceId(), RepoID: repo})
	if db.IsNotFound(err) {
		return nil, errNotFound("source")
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.GetSourceIdByGithubRepoIdResponse{SourceId: id}), nil
}

func (s sourceService) UpdateGithubSyncStatus(ctx context.Context, req *connect.Request[consolev1.UpdateGithubSyncStatusRequest]) (*connect.Response[consolev1.UpdateGithubSyncStatusResponse], error) {
	m := req.Msg
	if m.GetSourceId() == "" {
		return nil, errInvalid("source_id is required")
	}
	var status string
	for k, v := range syncStatus {
		if v == m.GetStatus() {
			status = k
		}
	}
	if status == "" {
		return nil, errInvalid("status must be SYNC_STATUS_PENDING, SYNC_STATUS_SUCCESS or SYNC_STATUS_FAILED")
	}
	var syncErr *string
	if status == syncFailed {
		e := m.GetError()
		if len(e) > maxSyncErrorLen {
			e = e[:maxSyncErrorLen]
			for !utf8.ValidString(e) {
				e = e[:len(e)-1]
			}
		}
		syncErr = &e
	}
	syncedAt := s.Now().UTC()
	if m.GetSyncedAt() != nil {
		if err := m.GetSyncedAt().CheckValid(); err != nil {
			return nil, errInvalid("synced_at is not a valid time")
		}
		syncedAt = m.GetSyncedAt().AsTime()
	}
	n, err := s.q().SetGithubSyncStatus(ctx, dbq.SetGithubSyncStatusParams{ID: m.GetSourceId(), Status: &status, SyncError: syncErr, SyncedAt: &syncedAt})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errNotFound("source")
	}
	return connect.NewResponse(&consolev1.UpdateGithubSyncStatusResponse{}), nil
}

func (s sourceService) UpdateGithubConfigStatus(ctx context.Context, req *connect.Request[consolev1.UpdateGithubConfigStatusRequest]) (*connect.Response[consolev1.UpdateGithubConfigStatusResponse], error) {
	m := req.Msg
	if m.GetSourceId() == "" {
		return nil, errInvalid("source_id is required")
	}
	var status string
	for k, v := range configStatus {
		if v == m.GetConfigStatus() {
			status = k
		}
	}
	switch {
	case status == "":
		return nil, errInvalid("config_status must be CONFIG_STATUS_CONFIGURED or CONFIG_STATUS_AWAITING_CONFIG")
	case status == types.ConfigStatusConfigured && !validConfigPath(m.GetConfigPath()):
		return nil, errInvalid("config_path must name the config file found (lightfast.yml or .lightfast.yml)")
	case status == types.ConfigStatusAwaitingConfig && m.GetConfigPath() != "":
		return nil, errInvalid("config_path must be empty when no config file was found")
	}
	_, err := s.q().SetGithubConfigStatus(ctx, dbq.SetGithubConfigStatusParams{
		ID: m.GetSourceId(), ConfigStatus: status, ConfigPath: m.GetConfigPath(), CheckedAt: s.Now().UTC(),
	})
	if db.IsNotFound(err) {
		return nil, errNotFound("source")
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.UpdateGithubConfigStatusResponse{}), nil
}

func validConfigPath(p string) bool {
	for _, f := range configFiles {
		if p == f {
			return true
		}
	}
	return false
}

func (s sourceService) MarkGithubInstallationInactive(ctx context.Context, req *connect.Request[consolev1.MarkGithubInstallationInactiveRequest]) (*connect.Response[consolev1.MarkGithubInstallationInactiveResponse], error) {
	if req.Msg.GetGithubInstallationId() <= 0 {
		return nil, errInvalid("github_installation_id must be a positive GitHub installation id")
	}
	n, err := s.q().DeactivateGithubInstallationSources(ctx, strconv.FormatInt(req.Msg.GetGithubInstallationId(), 10))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.MarkGithubInstallationInactiveResponse{DeactivatedCount: int32(n)}), nil
}

func (s sourceService) MarkGithubDeleted(ctx context.Context, req *connect.Request[consolev1.MarkGithubDeletedRequest]) (*connect.Response[consolev1.MarkGithubDeletedResponse], error) {
	repo, err := repoID(req.Msg.GetGithubRepoId())
	if err != nil {
		return nil, err
	}
	n, err := s.q().DeactivateGithubRepoSources(ctx, repo)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.MarkGithubDeletedResponse{DeactivatedCount: int32(n)}), nil
}

// githubMetaPatch holds the resource_meta keys UpdateGithubMetadata may change; unset ones are omitted so
// the JSON merge leaves them alone.
type githubMetaPatch struct {
	RepoName      *string `json:"repoName,omitempty"`
	RepoFullName  *string `json:"repoFullName,omitempty"`
	DefaultBranch *string `json:"defaultBranch,omitempty"`
	IsPrivate     *bool   `json:"isPrivate,omitempty"`
	IsArchived    *bool   `json:"isArchived,omitempty"`
}

func (s sourceService) UpdateGithubMetadata(ctx context.Context, req *connect.Request[consolev1.UpdateGithubMetadataRequest]) (*connect.Response[consolev1.UpdateGithubMetadataResponse], error) {
	m := req.Msg
	repo, err := repoID(m.GetGithubRepoId())
	if err != nil {
		return nil, err
	}
	patch := githubMetaPatch{RepoName: m.Name, RepoFullName: m.FullName, DefaultBranch: m.DefaultBranch, IsPrivate: m.IsPrivate, IsArchived: m.IsArchived}
	if patch == (githubMetaPatch{}) {
		return nil, errInvalid("set at least one of name, full_name, default_branch, is_private, is_archived")
	}
	if m.Name != nil && (m.GetName() == "" || len(m.GetName()) > 100) {
		return nil, errInvalid("name must be 1 to 100 characters")
	}
	if m.FullName != nil && !validFullName(m.GetFullName()) {
		return nil, errInvalid("full_name must be owner/name")
	}
	if m.DefaultBranch != nil && (m.GetDefaultBranch() == "" || len(m.GetDefaultBranch()) > 255) {
		return nil, errInvalid("default_branch must be 1 to 255 characters")
	}
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	n, err := s.q().PatchGithubResourceMeta(ctx, dbq.PatchGithubResourceMetaParams{Patch: b, ResourceName: m.FullName, RepoID: repo})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.UpdateGithubMetadataResponse{UpdatedCount: int32(n)}), nil
}
