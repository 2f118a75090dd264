package types

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
)

// The sync_config rules (SPEC §6.3) as the webhook worker applies them and IntegrationService validates
// them. Branches and paths are doublestar globs: "*" stays within one path segment, "**" spans any
// number of them, so "release/*" follows release/1.2 and "docs/**" every file under docs/. An empty
// list is no restriction; the defaults written at link are explicit (the default branch, "**/*").

// Bounds on what a caller may store in sync_config.
const (
	MaxSyncEvents     = 50
	MaxSyncBranches   = 50
	MaxSyncPaths      = 100
	MaxSyncPatternLen = 255
)

// AllPaths is the paths default: every file of the repository.
const AllPaths = "**/*"

// ValidateGlob says what is wrong with a branch or path pattern, or returns nil.
func ValidateGlob(pattern string) error {
	switch {
	case pattern == "":
		return fmt.Errorf("empty pattern")
	case len(pattern) > MaxSyncPatternLen:
		return fmt.Errorf("pattern longer than %d bytes", MaxSyncPatternLen)
	case !utf8.ValidString(pattern) || strings.ContainsAny(pattern, "\x00\r\n"):
		return fmt.Errorf("pattern %q has characters a branch or path cannot have", pattern)
	case !doublestar.ValidatePattern(pattern):
		return fmt.Errorf("pattern %q is not a valid glob", pattern)
	}
	return nil
}

// FollowsBranch reports whether branch matches sync_config.branches (empty: every branch).
func (s SyncConfig) FollowsBranch(branch string) bool {
	if len(s.Branches) == 0 {
		return true
	}
	for _, p := range s.Branches {
		if doublestar.MatchUnvalidated(p, branch) {
			return true
		}
	}
	return false
}

// FollowsAnyPath reports whether one of files matches sync_config.paths (empty: every path). File
// paths are repository-relative, as GitHub lists them in a push's commits.
func (s SyncConfig) FollowsAnyPath(files []string) bool {
	if len(s.Paths) == 0 {
		return true
	}
	for _, p := range s.Paths {
		for _, f := range files {
			if doublestar.MatchUnvalidated(p, strings.TrimPrefix(f, "/")) {
				return true
			}
		}
	}
	return false
}

// SyncConfigForLink is the sync_config a new link starts with (SPEC §4.7): the provider's defaults, and
// for a GitHub repository its default branch when the metadata names it.
func SyncConfigForLink(p Provider, meta *ResourceMeta) SyncConfig {
	cfg := DefaultSyncConfig(p)
	if p == GitHub && meta != nil && meta.GitHub != nil && meta.GitHub.DefaultBranch != "" {
		cfg.Branches = []string{meta.GitHub.DefaultBranch}
	}
	return cfg
}
