package types

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ResourceMeta is workspace_integrations.resource_meta: what the console knows about the linked repo,
// project or team. A union tagged by sourceType, like ProviderAccountInfo.
type ResourceMeta struct {
	Version    int
	SourceType Provider
	GitHub     *GitHubResourceMeta
	Vercel     *VercelResourceMeta
	Linear     *LinearResourceMeta
	Sentry     *SentryResourceMeta
}

// GitHubResourceMeta describes a linked repository.
type GitHubResourceMeta struct {
	InstallationID int64  `json:"installationId"`
	RepoID         int64  `json:"repoId"`
	RepoName       string `json:"repoName"`
	RepoFullName   string `json:"repoFullName"`
	DefaultBranch  string `json:"defaultBranch"`
	IsPrivate      bool   `json:"isPrivate"`
	IsArchived     bool   `json:"isArchived"`
}

// VercelResourceMeta describes a linked project.
type VercelResourceMeta struct {
	ProjectID       string `json:"projectId"`
	ProjectName     string `json:"projectName"`
	TeamID          string `json:"teamId,omitempty"`
	TeamSlug        string `json:"teamSlug,omitempty"`
	ConfigurationID string `json:"configurationId"`
}

// LinearResourceMeta describes a linked team.
type LinearResourceMeta struct {
	TeamID   string `json:"teamId"`
	TeamKey  string `json:"teamKey"`
	TeamName string `json:"teamName"`
}

// SentryResourceMeta describes a linked project.
type SentryResourceMeta struct {
	ProjectID   string `json:"projectId"`
	ProjectSlug string `json:"projectSlug"`
	OrgSlug     string `json:"orgSlug"`
}

// ResourceMetaVersion is the version written into every ResourceMeta.
const ResourceMetaVersion = 1

// NewGitHubResourceMeta builds a tagged ResourceMeta.
func NewGitHubResourceMeta(v GitHubResourceMeta) *ResourceMeta {
	return &ResourceMeta{Version: ResourceMetaVersion, SourceType: GitHub, GitHub: &v}
}

// NewVercelResourceMeta builds a tagged ResourceMeta.
func NewVercelResourceMeta(v VercelResourceMeta) *ResourceMeta {
	return &ResourceMeta{Version: ResourceMetaVersion, SourceType: Vercel, Vercel: &v}
}

// NewLinearResourceMeta builds a tagged ResourceMeta.
func NewLinearResourceMeta(v LinearResourceMeta) *ResourceMeta {
	return &ResourceMeta{Version: ResourceMetaVersion, SourceType: Linear, Linear: &v}
}

// NewSentryResourceMeta builds a tagged ResourceMeta.
func NewSentryResourceMeta(v SentryResourceMeta) *ResourceMeta {
	return &ResourceMeta{Version: ResourceMetaVersion, SourceType: Sentry, Sentry: &v}
}

// MarshalJSON flattens the variant next to version and sourceType.
func (r ResourceMeta) MarshalJSON() ([]byte, error) {
	var variant any
	switch r.SourceType {
	case GitHub:
		variant = r.GitHub
	case Vercel:
		variant = r.Vercel
	case Linear:
		variant = r.Linear
	case Sentry:
		variant = r.Sentry
	default:
		return nil, fmt.Errorf("resource_meta: unknown sourceType %q", r.SourceType)
	}
	if isNilVariant(variant) {
		return nil, errors.New("resource_meta: " + string(r.SourceType) + " variant missing")
	}
	return mergeTagged(unionTag{Version: r.Version, SourceType: r.SourceType}, variant)
}

func isNilVariant(v any) bool {
	switch x := v.(type) {
	case *GitHubResourceMeta:
		return x == nil
	case *VercelResourceMeta:
		return x == nil
	case *LinearResourceMeta:
		return x == nil
	case *SentryResourceMeta:
		return x == nil
	}
	return v == nil
}

// UnmarshalJSON reads the tag, then the matching variant.
func (r *ResourceMeta) UnmarshalJSON(b []byte) error {
	var tag unionTag
	if err := json.Unmarshal(b, &tag); err != nil {
		return fmt.Errorf("resource_meta: %w", err)
	}
	*r = ResourceMeta{Version: tag.Version, SourceType: tag.SourceType}
	switch tag.SourceType {
	case GitHub:
		r.GitHub = &GitHubResourceMeta{}
		return wrapDecode("resource_meta", json.Unmarshal(b, r.GitHub))
	case Vercel:
		r.Vercel = &VercelResourceMeta{}
		return wrapDecode("resource_meta", json.Unmarshal(b, r.Vercel))
	case Linear:
		r.Linear = &LinearResourceMeta{}
		return wrapDecode("resource_meta", json.Unmarshal(b, r.Linear))
	case Sentry:
		r.Sentry = &SentryResourceMeta{}
		return wrapDecode("resource_meta", json.Unmarshal(b, r.Sentry))
	}
	return fmt.Errorf("resource_meta: unknown sourceType %q", tag.SourceType)
}

// SyncConfig is workspace_integrations.sync_config: which events become observations, and what the
// repository's lightfast.yml said when it was last read.
type SyncConfig struct {
	Events          []string   `json:"events"`
	Branches        []string   `json:"branches"`
	Paths           []string   `json:"paths"`
	AutoSync        bool       `json:"autoSync"`
	ConfigStatus    string     `json:"configStatus,omitempty"`
	ConfigPath      string     `json:"configPath,omitempty"`
	LastConfigCheck *time.Time `json:"lastConfigCheck,omitempty"`
}

// MarshalJSON writes nil lists as [].
func (s SyncConfig) MarshalJSON() ([]byte, error) {
	type plain SyncConfig
	s.Events, s.Branches, s.Paths = nonNil(s.Events), nonNil(s.Branches), nonNil(s.Paths)
	return json.Marshal(plain(s))
}

// Allows reports whether an event type (for example "push" or "pull_request") is on the allow-list.
func (s SyncConfig) Allows(event string) bool {
	for _, e := range s.Events {
		if e == event {
			return true
		}
	}
	return false
}

// DefaultEvents is the allow-list a new link starts with, per provider.
var DefaultEvents = map[Provider][]string{
	GitHub: {"push", "pull_request", "issues", "issue_comment", "release"},
	Vercel: {"deployment"},
	Linear: {"Issue", "Comment", "Project"},
	Sentry: {"issue", "error", "event_alert"},
}

// DefaultSyncConfig is a provider's default sync_config: every event the transformers handle, auto-sync
// on and, for GitHub, every path. SyncConfigForLink adds the repository's default branch.
func DefaultSyncConfig(p Provider) SyncConfig {
	paths := []string{}
	if p == GitHub {
		paths = []string{AllPaths}
	}
	return SyncConfig{Events: append([]string(nil), DefaultEvents[p]...), Branches: []string{}, Paths: paths, AutoSync: true}
}

// BackfillStatus is the state of an integration's backfill.
type BackfillStatus string

// The backfill states.
const (
	BackfillIdle      BackfillStatus = "idle"
	BackfillPending   BackfillStatus = "pending"
	BackfillRunning   BackfillStatus = "running"
	BackfillCompleted BackfillStatus = "completed"
	BackfillFailed    BackfillStatus = "failed"
	BackfillCancelled BackfillStatus = "cancelled"
)

// Active reports whether a backfill in this state is queued or running.
func (s BackfillStatus) Active() bool { return s == BackfillPending || s == BackfillRunning }

// BackfillState is workspace_integrations.backfill_state.
type BackfillState struct {
	Status      BackfillStatus      `json:"status"`
	StartedAt   *time.Time          `json:"startedAt,omitempty"`
	CompletedAt *time.Time          `json:"completedAt,omitempty"`
	Checkpoint  *BackfillCheckpoint `json:"checkpoint,omitempty"`
	Progress    BackfillProgress    `json:"progress"`
	Error       string              `json:"error,omitempty"`
	// JobID is the River job running this backfill, so cancellation can reach it.
	JobID int64 `json:"jobId,omitempty"`
}

// BackfillCheckpoint is where a backfill resumes after a crash: the entity type being paged and the
// provider's cursor for the next page.
type BackfillCheckpoint struct {
	EntityType string   `json:"entityType"`
	Cursor     string   `json:"cursor,omitempty"`
	Done       []string `json:"done,omitempty"`
}

// BackfillProgress counts processed items.
type BackfillProgress struct {
	Processed int64  `json:"processed"`
	Total     *int64 `json:"total,omitempty"`
}
