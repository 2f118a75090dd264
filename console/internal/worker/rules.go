package worker

import (
	"fmt"
	"strings"

	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db/types"
)

// Why a delivery was ignored, written to the delivery's last_error so an operator (and the sources page)
// can tell a rule from a fault. Each names the rule; the integration is named by the caller.
const (
	reasonNoIntegration = "no active integration links this resource"
	reasonNoObservation = "the event yields no observation"
	reasonAutoSyncOff   = "sync_config.autoSync is off"
)

// skipReason applies an integration's sync_config (SPEC §6.3) to a delivery and says why the
// integration does not take it, or "" when it does. scope is nil for events without branch or files.
func skipReason(cfg types.SyncConfig, eventType string, scope *transform.GitHubScope) string {
	switch {
	case !cfg.AutoSync:
		return reasonAutoSyncOff
	case !allows(cfg, eventType):
		return fmt.Sprintf("event %q is not in sync_config.events", transform.BaseEvent(eventType))
	case scope == nil:
		return ""
	case scope.HasBranch && !cfg.FollowsBranch(scope.Branch):
		return fmt.Sprintf("branch %q is not in sync_config.branches", truncate(scope.Branch, 255))
	// A push that lists no files (a branch created or deleted without new commits) has nothing for the
	// path rule to judge.
	case scope.IsPush && len(scope.Files) > 0 && !cfg.FollowsAnyPath(scope.Files):
		return "no file of the push matches sync_config.paths"
	}
	return ""
}

// ignoredBecause joins the per-integration reasons into one last_error, bounded by maxErrorLen.
func ignoredBecause(reasons []string) string {
	return truncate(strings.Join(reasons, "; "), maxErrorLen)
}
