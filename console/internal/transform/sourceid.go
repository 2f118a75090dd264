package transform

import (
	"fmt"
	"strconv"
	"time"
)

// Source ids (SPEC §4.8) name a fact by its entity and its transition, never by the delivery that
// carried it, so the webhook worker and a backfill that sees the same fact write one row. Backfill
// connectors must build theirs with these helpers.
//
// Transitions that can happen once per entity (a pull request is opened or merged once, a release is
// published once) use the bare transition. Transitions that can repeat carry a discriminator taken from
// the provider's own data, so each occurrence is its own fact but a redelivery is not:
//
//	closed           ClosedTransition(closed_at)        → "closed:<unix seconds>"
//	reopened, edited, ready_for_review
//	                 AtTransition(name, updated_at)      → "<name>:<unix seconds>"
//	synchronize      SynchronizeTransition(head sha)     → "synchronize:<sha>"

// Transition names used in GitHub source ids and source types.
const (
	TransitionOpened         = "opened"
	TransitionMerged         = "merged"
	TransitionClosed         = "closed"
	TransitionReopened       = "reopened"
	TransitionEdited         = "edited"
	TransitionReadyForReview = "ready_for_review"
	TransitionSynchronize    = "synchronize"
	TransitionPublished      = "published"
)

// ClosedTransition is the transition of a close at closedAt ("closed:<unix>"): a pull request or issue
// can be closed, reopened and closed again, and each close is a fact.
func ClosedTransition(closedAt time.Time) string { return AtTransition(TransitionClosed, closedAt) }

// AtTransition qualifies a repeatable transition with the provider time it happened at.
func AtTransition(name string, at time.Time) string {
	return name + ":" + strconv.FormatInt(at.Unix(), 10)
}

// SynchronizeTransition is a pull request's head moving to headSHA.
func SynchronizeTransition(headSHA string) string { return TransitionSynchronize + ":" + headSHA }

// GitHubPushSourceID is a push that moved a ref to after: "github:push:<repoId>:<after sha>".
func GitHubPushSourceID(repoID int64, after string) string {
	return fmt.Sprintf("github:push:%d:%s", repoID, after)
}

// GitHubRefDeletedSourceID is a push that deleted ref (after is all zeros, so the sha cannot name it):
// "github:push:<repoId>:deleted:<ref>:<before sha>".
func GitHubRefDeletedSourceID(repoID int64, ref, before string) string {
	return fmt.Sprintf("github:push:%d:deleted:%s:%s", repoID, ref, before)
}

// GitHubPullRequestSourceID is "github:pr:<repoId>:<number>:<transition>", e.g.
// GitHubPullRequestSourceID(1, 2, TransitionMerged) = "github:pr:1:2:merged".
func GitHubPullRequestSourceID(repoID, number int64, transition string) string {
	return fmt.Sprintf("github:pr:%d:%d:%s", repoID, number, transition)
}

// GitHubIssueSourceID is "github:issue:<repoId>:<number>:<transition>".
func GitHubIssueSourceID(repoID, number int64, transition string) string {
	return fmt.Sprintf("github:issue:%d:%d:%s", repoID, number, transition)
}

// GitHubIssueCommentSourceID is "github:issue_comment:<repoId>:<commentId>".
func GitHubIssueCommentSourceID(repoID, commentID int64) string {
	return fmt.Sprintf("github:issue_comment:%d:%d", repoID, commentID)
}

// GitHubReleaseSourceID is "github:release:<repoId>:<releaseId>:<transition>".
func GitHubReleaseSourceID(repoID, releaseID int64, transition string) string {
	return fmt.Sprintf("github:release:%d:%d:%s", repoID, releaseID, transition)
}

// VercelDeploymentSourceID is "vercel:deployment:<deploymentId>:<state>" with state one of created,
// succeeded, error, canceled.
func VercelDeploymentSourceID(deploymentID, state string) string {
	return "vercel:deployment:" + deploymentID + ":" + state
}

// LinearSourceID is "linear:<entity>:<id>:<action>:<updatedAt>" with entity issue, comment or project,
// action create, update or remove, and updatedAt the entity's updatedAt as Linear sent it (RFC 3339).
// Updates repeat; the entity's updatedAt tells them apart.
func LinearSourceID(entity, id, action, updatedAt string) string {
	return "linear:" + entity + ":" + id + ":" + action + ":" + updatedAt
}

// SentryIssueSourceID is "sentry:issue:<issueId>:<action>" (created, resolved).
func SentryIssueSourceID(issueID, action string) string {
	return "sentry:issue:" + issueID + ":" + action
}

// SentryErrorSourceID is "sentry:error:<eventId>": one error event.
func SentryErrorSourceID(eventID string) string { return "sentry:error:" + eventID }

// SentryEventAlertSourceID is "sentry:event_alert:<eventId>:<rule>": one alert rule firing on one event.
func SentryEventAlertSourceID(eventID, rule string) string {
	return "sentry:event_alert:" + eventID + ":" + rule
}
