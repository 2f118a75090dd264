package api

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// Conversions between database rows and API messages. Rows never leave this package.

var toProtoProvider = map[types.Provider]consolev1.Provider{
	types.GitHub: consolev1.Provider_PROVIDER_GITHUB,
	types.Vercel: consolev1.Provider_PROVIDER_VERCEL,
	types.Linear: consolev1.Provider_PROVIDER_LINEAR,
	types.Sentry: consolev1.Provider_PROVIDER_SENTRY,
}

// fromProtoProvider maps a request's provider; unspecified or unknown values are InvalidArgument.
func fromProtoProvider(p consolev1.Provider) (types.Provider, error) {
	for k, v := range toProtoProvider {
		if v == p {
			return k, nil
		}
	}
	return "", errInvalid("provider must be one of PROVIDER_GITHUB, PROVIDER_VERCEL, PROVIDER_LINEAR, PROVIDER_SENTRY")
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var connectionStatus = map[string]consolev1.ConnectionStatus{
	"active":  consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE,
	"pending": consolev1.ConnectionStatus_CONNECTION_STATUS_PENDING,
	"error":   consolev1.ConnectionStatus_CONNECTION_STATUS_ERROR,
	"revoked": consolev1.ConnectionStatus_CONNECTION_STATUS_REVOKED,
}

func connectionMsg(i dbq.Installation) *consolev1.Connection {
	c := &consolev1.Connection{
		InstallationId: i.ID,
		Provider:       toProtoProvider[i.Provider],
		ExternalId:     i.ExternalID,
		AccountLogin:   str(i.AccountLogin),
		Status:         connectionStatus[i.Status],
		StatusReason:   str(i.StatusReason),
		ConnectedBy:    i.ConnectedBy,
		CreatedAt:      timestamppb.New(i.CreatedAt),
	}
	info := i.ProviderAccountInfo
	switch {
	case info == nil:
	case info.GitHub != nil:
		gh := &consolev1.GitHubAccount{}
		for _, in := range info.GitHub.Installations {
			gh.Installations = append(gh.Installations, &consolev1.GitHubInstallation{
				Id: in.ID, AccountId: in.AccountID, AccountLogin: in.AccountLogin, AccountType: in.AccountType,
				AvatarUrl: in.AvatarURL, InstalledAt: ts(in.InstalledAt), LastValidatedAt: ts(in.LastValidatedAt),
				Permissions: in.Permissions,
			})
		}
		c.Account = &consolev1.Connection_Github{Github: gh}
	case info.Vercel != nil:
		v := info.Vercel
		c.Account = &consolev1.Connection_Vercel{Vercel: &consolev1.VercelAccount{
			UserId: v.UserID, TeamId: v.TeamID, TeamSlug: v.TeamSlug, ConfigurationId: v.ConfigurationID,
		}}
	case info.Linear != nil:
		l := info.Linear
		c.Account = &consolev1.Connection_Linear{Linear: &consolev1.LinearAccount{
			OrganizationId: l.OrganizationID, OrganizationName: l.OrganizationName, UrlKey: l.URLKey,
		}}
	case info.Sentry != nil:
		c.Account = &consolev1.Connection_Sentry{Sentry: &consolev1.SentryAccount{
			InstallationUuid: info.Sentry.InstallationUUID, OrgSlug: info.Sentry.OrgSlug,
		}}
	}
	return c
}

func connectionsMsg(rows []dbq.Installation) []*consolev1.Connection {
	out := make([]*consolev1.Connection, 0, len(rows))
	for _, r := range rows {
		out = append(out, connectionMsg(r))
	}
	return out
}

func resourceMsg(r dbq.Resource) *consolev1.Resource {
	status := consolev1.ResourceStatus_RESOURCE_STATUS_ACTIVE
	if r.Status == "removed" {
		status = consolev1.ResourceStatus_RESOURCE_STATUS_REMOVED
	}
	return &consolev1.Resource{Id: r.ID, ProviderResourceId: r.ProviderResourceID, ResourceName: str(r.ResourceName), Status: status}
}

func workspaceMsg(w dbq.Workspace) *consolev1.Workspace {
	return &consolev1.Workspace{Id: w.ID, Name: w.Name, Slug: w.Slug, CreatedAt: timestamppb.New(w.CreatedAt)}
}

var configStatus = map[string]consolev1.ConfigStatus{
	types.ConfigStatusConfigured:     consolev1.ConfigStatus_CONFIG_STATUS_CONFIGURED,
	types.ConfigStatusAwaitingConfig: consolev1.ConfigStatus_CONFIG_STATUS_AWAITING_CONFIG,
}

// Values of workspace_integrations.last_sync_status.
const (
	syncPending = types.SyncStatusPending
	syncSuccess = types.SyncStatusSuccess
	syncFailed  = types.SyncStatusFailed
)

var syncStatus = map[string]consolev1.SyncStatus{
	syncPending: consolev1.SyncStatus_SYNC_STATUS_PENDING,
	syncSuccess: consolev1.SyncStatus_SYNC_STATUS_SUCCESS,
	syncFailed:  consolev1.SyncStatus_SYNC_STATUS_FAILED,
}

var backfillStatus = map[types.BackfillStatus]consolev1.BackfillStatus{
	types.BackfillIdle:      consolev1.BackfillStatus_BACKFILL_STATUS_IDLE,
	types.BackfillPending:   consolev1.BackfillStatus_BACKFILL_STATUS_PENDING,
	types.BackfillRunning:   consolev1.BackfillStatus_BACKFILL_STATUS_RUNNING,
	types.BackfillCompleted: consolev1.BackfillStatus_BACKFILL_STATUS_COMPLETED,
	types.BackfillFailed:    consolev1.BackfillStatus_BACKFILL_STATUS_FAILED,
	types.BackfillCancelled: consolev1.BackfillStatus_BACKFILL_STATUS_CANCELLED,
}

func backfillMsg(b types.BackfillState) *consolev1.BackfillState {
	m := &consolev1.BackfillState{
		Status: backfillStatus[b.Status], StartedAt: ts(b.StartedAt), CompletedAt: ts(b.CompletedAt),
		Processed: int32(b.Progress.Processed), Error: b.Error,
	}
	if b.Progress.Total != nil {
		total := int32(*b.Progress.Total)
		m.Total = &total
	}
	return m
}

func integrationMsg(i dbq.Integration) *consolev1.Integration {
	sc := i.SyncConfig
	return &consolev1.Integration{
		Id:                 i.ID,
		WorkspaceId:        i.WorkspaceID,
		InstallationId:     i.InstallationID,
		Provider:           toProtoProvider[i.Provider],
		ProviderResourceId: i.ProviderResourceID,
		ResourceName:       i.ResourceName,
		IsActive:           i.IsActive,
		SyncConfig: &consolev1.SyncConfig{
			Events: nonNil(sc.Events), Branches: nonNil(sc.Branches), Paths: nonNil(sc.Paths), AutoSync: sc.AutoSync,
			ConfigStatus: configStatus[sc.ConfigStatus], ConfigPath: sc.ConfigPath, LastConfigCheck: ts(sc.LastConfigCheck),
		},
		Backfill:       backfillMsg(i.BackfillState),
		LastSyncedAt:   ts(i.LastSyncedAt),
		LastSyncStatus: syncStatus[str(i.LastSyncStatus)],
		LastSyncError:  str(i.LastSyncError),
		DocumentCount:  i.DocumentCount,
		CreatedAt:      timestamppb.New(i.CreatedAt),
		ResourceMeta:   resourceMetaMsg(i.ResourceMeta),
	}
}

// resourceMetaMsg converts resource_meta; GitHub ids go out as decimal strings whatever Go type holds them.
func resourceMetaMsg(m *types.ResourceMeta) *consolev1.ResourceMeta {
	switch {
	case m == nil:
		return nil
	case m.GitHub != nil:
		g := m.GitHub
		return &consolev1.ResourceMeta{Resource: &consolev1.ResourceMeta_Github{Github: &consolev1.GitHubRepositoryMeta{
			InstallationId: fmt.Sprint(g.InstallationID), RepoId: fmt.Sprint(g.RepoID), RepoName: g.RepoName,
			RepoFullName: g.RepoFullName, DefaultBranch: g.DefaultBranch, IsPrivate: g.IsPrivate, IsArchived: g.IsArchived,
		}}}
	case m.Vercel != nil:
		v := m.Vercel
		return &consolev1.ResourceMeta{Resource: &consolev1.ResourceMeta_Vercel{Vercel: &consolev1.VercelProjectMeta{
			ProjectId: v.ProjectID, ProjectName: v.ProjectName, TeamId: v.TeamID, TeamSlug: v.TeamSlug, ConfigurationId: v.ConfigurationID,
		}}}
	case m.Linear != nil:
		l := m.Linear
		return &consolev1.ResourceMeta{Resource: &consolev1.ResourceMeta_Linear{Linear: &consolev1.LinearTeamMeta{
			TeamId: l.TeamID, TeamKey: l.TeamKey, TeamName: l.TeamName,
		}}}
	case m.Sentry != nil:
		e := m.Sentry
		return &consolev1.ResourceMeta{Resource: &consolev1.ResourceMeta_Sentry{Sentry: &consolev1.SentryProjectMeta{
			ProjectId: e.ProjectID, ProjectSlug: e.ProjectSlug, OrgSlug: e.OrgSlug,
		}}}
	}
	return nil
}

func unreadableMsg(rows []integrations.Unreadable) []*consolev1.UnreadableIntegration {
	out := make([]*consolev1.UnreadableIntegration, 0, len(rows))
	for _, u := range rows {
		out = append(out, &consolev1.UnreadableIntegration{
			Id: u.ID, WorkspaceId: u.WorkspaceID, InstallationId: u.InstallationID, Provider: toProtoProvider[u.Provider],
			ProviderResourceId: u.ProviderResourceID, ResourceName: u.ResourceName, Reason: u.Err.Error(),
		})
	}
	return out
}

func integrationsMsg(rows []dbq.Integration) []*consolev1.Integration {
	out := make([]*consolev1.Integration, 0, len(rows))
	for _, r := range rows {
		out = append(out, integrationMsg(r))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// linkRowIntegration turns the LinkIntegration row into the plain integration row.
func linkRowIntegration(r dbq.UpsertIntegrationRow) dbq.Integration {
	return dbq.Integration{
		ID: r.ID, WorkspaceID: r.WorkspaceID, InstallationID: r.InstallationID, Provider: r.Provider,
		ProviderResourceID: r.ProviderResourceID, ResourceName: r.ResourceName, ResourceMeta: r.ResourceMeta,
		SyncConfig: r.SyncConfig, BackfillState: r.BackfillState, IsActive: r.IsActive, LastSyncedAt: r.LastSyncedAt,
		LastSyncStatus: r.LastSyncStatus, LastSyncError: r.LastSyncError, DocumentCount: r.DocumentCount,
		ConnectedBy: r.ConnectedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}
