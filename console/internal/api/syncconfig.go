package api

import (
	"context"
	"encoding/json"
	"slices"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/listcap"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// syncConfigPatch holds the sync_config keys UpdateSyncConfig changes; unset ones are omitted so the
// JSON merge leaves them alone.
type syncConfigPatch struct {
	Events   *[]string `json:"events,omitempty"`
	Branches *[]string `json:"branches,omitempty"`
	Paths    *[]string `json:"paths,omitempty"`
	AutoSync *bool     `json:"autoSync,omitempty"`
}

// UpdateSyncConfig validates every field it is given before writing any, then merges them into
// sync_config in one statement.
func (s integrationService) UpdateSyncConfig(ctx context.Context, req *connect.Request[consolev1.UpdateSyncConfigRequest]) (*connect.Response[consolev1.UpdateSyncConfigResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if m.GetIntegrationId() == "" {
		return nil, errInvalid("integration_id is required")
	}
	if m.Events == nil && m.Branches == nil && m.Paths == nil && m.AutoSync == nil {
		return nil, errInvalid("set at least one of events, branches, paths, auto_sync")
	}
	// Sizes are checked before the row is read: an oversized request costs no query.
	if len(m.GetEvents().GetValues()) > types.MaxSyncEvents {
		return nil, errInvalid("at most %d events", types.MaxSyncEvents)
	}
	if len(m.GetBranches().GetValues()) > types.MaxSyncBranches {
		return nil, errInvalid("at most %d branches", types.MaxSyncBranches)
	}
	if len(m.GetPaths().GetValues()) > types.MaxSyncPaths {
		return nil, errInvalid("at most %d paths", types.MaxSyncPaths)
	}
	in, err := s.q().GetIntegrationForOrg(ctx, dbq.GetIntegrationForOrgParams{ID: m.GetIntegrationId(), ClerkOrgID: p.OrgID})
	if db.IsNotFound(err) {
		return nil, errNotFound("integration")
	}
	if err != nil {
		return nil, err
	}
	var patch syncConfigPatch
	if m.Events != nil {
		events, err := knownEvents(in.Provider, m.GetEvents().GetValues())
		if err != nil {
			return nil, err
		}
		patch.Events = &events
	}
	if (m.Branches != nil || m.Paths != nil) && in.Provider != types.GitHub {
		return nil, errInvalid("branches and paths apply to GitHub repositories only; integration %s is %s", in.ID, in.Provider)
	}
	if m.Branches != nil {
		branches, err := globs("branches", m.GetBranches().GetValues())
		if err != nil {
			return nil, err
		}
		patch.Branches = &branches
	}
	if m.Paths != nil {
		paths, err := globs("paths", m.GetPaths().GetValues())
		if err != nil {
			return nil, err
		}
		patch.Paths = &paths
	}
	patch.AutoSync = m.AutoSync
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	row, err := s.q().UpdateIntegrationSyncConfigForOrg(ctx, dbq.UpdateIntegrationSyncConfigForOrgParams{ID: in.ID, ClerkOrgID: p.OrgID, Patch: b})
	if db.IsNotFound(err) {
		return nil, errNotFound("integration") // unlinked meanwhile
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.UpdateSyncConfigResponse{Integration: integrationMsg(row)}), nil
}

// knownEvents checks events against what the provider's transformers handle and drops repeats.
func knownEvents(p types.Provider, in []string) ([]string, error) {
	known := types.DefaultEvents[p]
	for _, e := range in {
		// known has a handful of entries: a scan of it is constant work per event.
		if !slices.Contains(known, e) {
			return nil, errInvalid("unknown %s event %q; known events: %v", p, e, known)
		}
	}
	return listcap.Unique(in, len(in)) // callers cap the list before any work
}

// globs validates branch or path patterns and drops repeats.
func globs(field string, in []string) ([]string, error) {
	for i, g := range in {
		if err := types.ValidateGlob(g); err != nil {
			return nil, errInvalid("%s[%d]: %v", field, i, err)
		}
	}
	return listcap.Unique(in, len(in)) // callers cap the list before any work
}
