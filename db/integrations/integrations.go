// Package integrations reads several workspace_integrations rows at once and decodes each row's JSON
// columns (resource_meta, sync_config, backfill_state) on its own. A row that cannot be decoded — a
// malformed value written by hand, by an older build, or by another tool — comes back as an Unreadable
// beside the rows that could be read, instead of failing the whole read: one bad row fails alone.
//
// The queries select those columns as undecoded JSON (see db/queries); readers of a single row by id keep
// the generated queries, whose scan error is that row's alone anyway.
package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
)

// Unreadable is a row whose JSON columns could not be decoded. Its plain columns are there so a caller
// can say which integration it skipped.
type Unreadable struct {
	ID                 string
	WorkspaceID        string
	InstallationID     string
	Provider           types.Provider
	ProviderResourceID string
	ResourceName       string
	// Err names the column, the field and the kind of value found there (not the value's content).
	Err error
}

func (u Unreadable) Error() string {
	return fmt.Sprintf("integration %s is unreadable: %v", u.ID, u.Err)
}

// ListByWorkspace is every integration of a workspace, oldest first.
func ListByWorkspace(ctx context.Context, q *dbq.Queries, workspaceID string) ([]dbq.Integration, []Unreadable, error) {
	rows, err := q.ListIntegrationsByWorkspace(ctx, workspaceID)
	return collect("list integrations", rows, err, func(r dbq.ListIntegrationsByWorkspaceRow) raw { return raw(r) })
}

// ListActiveForResources is the active integrations of several (installation, provider resource) pairs:
// installationIDs[i] goes with resourceIDs[i].
func ListActiveForResources(ctx context.Context, q *dbq.Queries, installationIDs, resourceIDs []string) ([]dbq.Integration, []Unreadable, error) {
	rows, err := q.ListActiveIntegrationsForResources(ctx, dbq.ListActiveIntegrationsForResourcesParams{
		InstallationIds: installationIDs, ResourceIds: resourceIDs,
	})
	return collect("list integrations", rows, err, func(r dbq.ListActiveIntegrationsForResourcesRow) raw { return raw(r) })
}

// ListForResource is every integration, active or not, of one provider resource of an installation.
func ListForResource(ctx context.Context, q *dbq.Queries, installationID, resourceID string) ([]dbq.Integration, []Unreadable, error) {
	rows, err := q.ListIntegrationsForResource(ctx, dbq.ListIntegrationsForResourceParams{
		InstallationID: installationID, ProviderResourceID: resourceID,
	})
	return collect("list integrations", rows, err, func(r dbq.ListIntegrationsForResourceRow) raw { return raw(r) })
}

// FindGitHubSources is the active integrations of a GitHub repository, in one workspace or all.
func FindGitHubSources(ctx context.Context, q *dbq.Queries, p dbq.FindGithubSourcesParams) ([]dbq.Integration, []Unreadable, error) {
	rows, err := q.FindGithubSources(ctx, p)
	return collect("find github sources", rows, err, func(r dbq.FindGithubSourcesRow) raw { return raw(r) })
}

// collect maps a query's error once, then decodes each of its rows on its own.
func collect[R any](what string, rows []R, err error, conv func(R) raw) ([]dbq.Integration, []Unreadable, error) {
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, db.Interpret(err))
	}
	ok, bad := decodeAll(rows, conv)
	return ok, bad, nil
}

// raw is the row every query above returns: the table's columns in order, the JSON ones undecoded. Each
// query's generated row type converts to it, so a column added to one query and not the others does not
// compile.
type raw struct {
	ID                 string
	WorkspaceID        string
	InstallationID     string
	Provider           types.Provider
	ProviderResourceID string
	ResourceName       string
	ResourceMeta       []byte
	SyncConfig         []byte
	BackfillState      []byte
	IsActive           bool
	LastSyncedAt       *time.Time
	LastSyncStatus     *string
	LastSyncError      *string
	DocumentCount      int32
	ConnectedBy        *string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

func decodeAll[R any](rows []R, conv func(R) raw) ([]dbq.Integration, []Unreadable) {
	out := make([]dbq.Integration, 0, len(rows))
	var bad []Unreadable
	for _, r := range rows {
		in, unreadable := decode(conv(r))
		if unreadable != nil {
			bad = append(bad, *unreadable)
			continue
		}
		out = append(out, in)
	}
	return out, bad
}

// decode turns a raw row into an Integration, or says why it cannot.
func decode(r raw) (dbq.Integration, *Unreadable) {
	in := dbq.Integration{
		ID: r.ID, WorkspaceID: r.WorkspaceID, InstallationID: r.InstallationID, Provider: r.Provider,
		ProviderResourceID: r.ProviderResourceID, ResourceName: r.ResourceName, IsActive: r.IsActive,
		LastSyncedAt: r.LastSyncedAt, LastSyncStatus: r.LastSyncStatus, LastSyncError: r.LastSyncError,
		DocumentCount: r.DocumentCount, ConnectedBy: r.ConnectedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	var err error
	if r.ResourceMeta != nil && string(r.ResourceMeta) != "null" {
		in.ResourceMeta = &types.ResourceMeta{}
		err = json.Unmarshal(r.ResourceMeta, in.ResourceMeta) // its errors name the column already
	}
	if err == nil {
		if err = json.Unmarshal(r.SyncConfig, &in.SyncConfig); err != nil {
			err = fmt.Errorf("sync_config: %w", err)
		}
	}
	if err == nil {
		if err = json.Unmarshal(r.BackfillState, &in.BackfillState); err != nil {
			err = fmt.Errorf("backfill_state: %w", err)
		}
	}
	if err != nil {
		return dbq.Integration{}, &Unreadable{
			ID: r.ID, WorkspaceID: r.WorkspaceID, InstallationID: r.InstallationID, Provider: r.Provider,
			ProviderResourceID: r.ProviderResourceID, ResourceName: r.ResourceName, Err: err,
		}
	}
	return in, nil
}
