package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func ptr[T any](v T) *T { return &v }

func TestSourceService(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	inst, gh, repos := e.github("org_a", 2)
	ws1, ws2 := e.workspace("org_a", "one"), e.workspace("org_a", "two")
	admin := e.admin("org_a")
	for _, ws := range []string{ws1.ID, ws2.ID} {
		_, err := admin.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
			WorkspaceId: ws, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID, repos[1].ID),
		}))
		require.NoError(t, err)
	}
	src := e.as(m2mKey).src
	repo := repos[0].ID

	found, err := src.FindByGithubRepoId(ctx, connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repo}))
	require.NoError(t, err)
	require.Len(t, found.Msg.GetSources(), 2, "one per workspace")
	found, err = src.FindByGithubRepoId(ctx, connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repo, WorkspaceId: ws2.ID}))
	require.NoError(t, err)
	require.Len(t, found.Msg.GetSources(), 1)
	sourceID := found.Msg.GetSources()[0].GetId()

	id, err := src.GetSourceIdByGithubRepoId(ctx, connect.NewRequest(&consolev1.GetSourceIdByGithubRepoIdRequest{WorkspaceId: ws2.ID, GithubRepoId: repo}))
	require.NoError(t, err)
	require.Equal(t, sourceID, id.Msg.GetSourceId())

	synced := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	_, err = src.UpdateGithubSyncStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubSyncStatusRequest{
		SourceId: sourceID, Status: consolev1.SyncStatus_SYNC_STATUS_FAILED, Error: strings.Repeat("é", 1500), SyncedAt: timestamppb.New(synced),
	}))
	require.NoError(t, err)
	row, err := e.q.GetIntegration(ctx, sourceID)
	require.NoError(t, err)
	require.Equal(t, "failed", *row.LastSyncStatus)
	require.LessOrEqual(t, len(*row.LastSyncError), 2000, "long errors are cut, on a rune boundary")
	require.True(t, synced.Equal(*row.LastSyncedAt))

	_, err = src.UpdateGithubConfigStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubConfigStatusRequest{
		SourceId: sourceID, ConfigStatus: consolev1.ConfigStatus_CONFIG_STATUS_CONFIGURED, ConfigPath: ".lightfast.yml",
	}))
	require.NoError(t, err)
	row, err = e.q.GetIntegration(ctx, sourceID)
	require.NoError(t, err)
	require.Equal(t, types.ConfigStatusConfigured, row.SyncConfig.ConfigStatus)
	require.Equal(t, ".lightfast.yml", row.SyncConfig.ConfigPath)
	require.Equal(t, types.DefaultEvents[types.GitHub], row.SyncConfig.Events, "only the config keys change")

	up, err := src.UpdateGithubMetadata(ctx, connect.NewRequest(&consolev1.UpdateGithubMetadataRequest{
		GithubRepoId: repo, FullName: ptr(gh.Account + "/renamed"), Name: ptr("renamed"), IsArchived: ptr(true),
	}))
	require.NoError(t, err)
	require.EqualValues(t, 2, up.Msg.GetUpdatedCount())
	row, err = e.q.GetIntegration(ctx, sourceID)
	require.NoError(t, err)
	require.Equal(t, gh.Account+"/renamed", row.ResourceName)
	meta := row.ResourceMeta.GitHub
	require.Equal(t, "renamed", meta.RepoName)
	require.True(t, meta.IsArchived)
	require.Equal(t, "main", meta.DefaultBranch, "unset fields are kept")
	require.Equal(t, repos[0].ID, meta.RepoID)

	del, err := src.MarkGithubDeleted(ctx, connect.NewRequest(&consolev1.MarkGithubDeletedRequest{GithubRepoId: repo}))
	require.NoError(t, err)
	require.EqualValues(t, 2, del.Msg.GetDeactivatedCount())
	found, err = src.FindByGithubRepoId(ctx, connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{GithubRepoId: repo}))
	require.NoError(t, err)
	require.Empty(t, found.Msg.GetSources(), "only active sources are found")
	listed, err := admin.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws2.ID}))
	require.NoError(t, err)
	for _, in := range listed.Msg.GetIntegrations() {
		deleted := in.GetProviderResourceId() == strconv.FormatInt(repo, 10)
		require.Equal(t, deleted, in.GetResourceMeta().GetGithub().GetIsArchived(), "a deleted repository reads as archived")
		require.Equal(t, !deleted, in.GetIsActive())
	}

	off, err := src.MarkGithubInstallationInactive(ctx, connect.NewRequest(&consolev1.MarkGithubInstallationInactiveRequest{GithubInstallationId: gh.ID}))
	require.NoError(t, err)
	require.EqualValues(t, 2, off.Msg.GetDeactivatedCount(), "the other repository's two sources")
	off, err = src.MarkGithubInstallationInactive(ctx, connect.NewRequest(&consolev1.MarkGithubInstallationInactiveRequest{GithubInstallationId: gh.ID}))
	require.NoError(t, err)
	require.Zero(t, off.Msg.GetDeactivatedCount())
}

func TestSourceServiceBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	src := e.as(m2mKey).src
	ws := e.workspace("org_a", "w")
	inst := e.installation("org_a", types.GitHub, "31", "tok", nil)
	_ = inst
	before := e.snapshot()
	unknown := ids.New()

	calls := map[string]struct {
		call func() error
		code connect.Code
	}{
		"find: no repo": {func() error {
			_, err := src.FindByGithubRepoId(ctx, connect.NewRequest(&consolev1.FindByGithubRepoIdRequest{}))
			return err
		}, connect.CodeInvalidArgument},
		"get id: no workspace": {func() error {
			_, err := src.GetSourceIdByGithubRepoId(ctx, connect.NewRequest(&consolev1.GetSourceIdByGithubRepoIdRequest{GithubRepoId: 5}))
			return err
		}, connect.CodeInvalidArgument},
		"get id: not linked": {func() error {
			_, err := src.GetSourceIdByGithubRepoId(ctx, connect.NewRequest(&consolev1.GetSourceIdByGithubRepoIdRequest{WorkspaceId: ws.ID, GithubRepoId: 5}))
			return err
		}, connect.CodeNotFound},
		"sync: no status": {func() error {
			_, err := src.UpdateGithubSyncStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubSyncStatusRequest{SourceId: unknown}))
			return err
		}, connect.CodeInvalidArgument},
		"sync: no source": {func() error {
			_, err := src.UpdateGithubSyncStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubSyncStatusRequest{Status: consolev1.SyncStatus_SYNC_STATUS_SUCCESS}))
			return err
		}, connect.CodeInvalidArgument},
		"sync: unknown source": {func() error {
			_, err := src.UpdateGithubSyncStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubSyncStatusRequest{SourceId: unknown, Status: consolev1.SyncStatus_SYNC_STATUS_SUCCESS}))
			return err
		}, connect.CodeNotFound},
		"sync: bad time": {func() error {
			_, err := src.UpdateGithubSyncStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubSyncStatusRequest{SourceId: unknown, Status: consolev1.SyncStatus_SYNC_STATUS_SUCCESS,
				SyncedAt: &timestamppb.Timestamp{Seconds: -1 << 62}}))
			return err
		}, connect.CodeInvalidArgument},
		"config: no status": {func() error {
			_, err := src.UpdateGithubConfigStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubConfigStatusRequest{SourceId: unknown}))
			return err
		}, connect.CodeInvalidArgument},
		"config: configured without path": {func() error {
			_, err := src.UpdateGithubConfigStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubConfigStatusRequest{SourceId: unknown, ConfigStatus: consolev1.ConfigStatus_CONFIG_STATUS_CONFIGURED}))
			return err
		}, connect.CodeInvalidArgument},
		"config: awaiting with path": {func() error {
			_, err := src.UpdateGithubConfigStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubConfigStatusRequest{SourceId: unknown, ConfigStatus: consolev1.ConfigStatus_CONFIG_STATUS_AWAITING_CONFIG, ConfigPath: "x"}))
			return err
		}, connect.CodeInvalidArgument},
		"config: unknown source": {func() error {
			_, err := src.UpdateGithubConfigStatus(ctx, connect.NewRequest(&consolev1.UpdateGithubConfigStatusRequest{SourceId: unknown, ConfigStatus: consolev1.ConfigStatus_CONFIG_STATUS_AWAITING_CONFIG}))
			return err
		}, connect.CodeNotFound},
		"inactive: no id": {func() error {
			_, err := src.MarkGithubInstallationInactive(ctx, connect.NewRequest(&consolev1.MarkGithubInstallationInactiveRequest{}))
			return err
		}, connect.CodeInvalidArgument},
		"deleted: negative id": {func() error {
			_, err := src.MarkGithubDeleted(ctx, connect.NewRequest(&consolev1.MarkGithubDeletedRequest{GithubRepoId: -4}))
			return err
		}, connect.CodeInvalidArgument},
		"metadata: nothing set": {func() error {
			_, err := src.UpdateGithubMetadata(ctx, connect.NewRequest(&consolev1.UpdateGithubMetadataRequest{GithubRepoId: 5}))
			return err
		}, connect.CodeInvalidArgument},
		"metadata: bad full name": {func() error {
			_, err := src.UpdateGithubMetadata(ctx, connect.NewRequest(&consolev1.UpdateGithubMetadataRequest{GithubRepoId: 5, FullName: ptr("nope")}))
			return err
		}, connect.CodeInvalidArgument},
		"metadata: empty branch": {func() error {
			_, err := src.UpdateGithubMetadata(ctx, connect.NewRequest(&consolev1.UpdateGithubMetadataRequest{GithubRepoId: 5, DefaultBranch: ptr("")}))
			return err
		}, connect.CodeInvalidArgument},
	}
	for name, tc := range calls {
		t.Run(name, func(t *testing.T) { requireCode(t, tc.call(), tc.code) })
	}
	require.Equal(t, before, e.snapshot())
}
