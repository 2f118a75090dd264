// Package jobs is the contract for durable work between the services: River job argument types, their
// kinds, queues and insert options. Both services import it; the worker for each kind lives in the
// service named below.
package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// Queues.
const (
	QueueWebhooks = "webhooks" // console: webhook.process
	QueueBackfill = "backfill" // console: backfill.run
	QueueSync     = "sync"     // console: sync.config
	QueueGateway  = "gateway"  // gateway: lifecycle, token refresh-ahead, state cleanup, retention, delivery sweep, re-encryption
)

// WebhookProcess turns one delivery into observations (console).
type WebhookProcess struct {
	DeliveryID string `json:"deliveryId"`
}

// Kind implements river.JobArgs.
func (WebhookProcess) Kind() string { return "webhook.process" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (WebhookProcess) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: 8}
}

// WebhookLifecycle applies an installation / repository lifecycle event (gateway).
type WebhookLifecycle struct {
	DeliveryID string `json:"deliveryId"`
}

// Kind implements river.JobArgs.
func (WebhookLifecycle) Kind() string { return "webhook.lifecycle" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (WebhookLifecycle) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 8}
}

// TokenRefreshAhead refreshes tokens that expire soon (gateway, periodic).
type TokenRefreshAhead struct{}

// Kind implements river.JobArgs.
func (TokenRefreshAhead) Kind() string { return "token.refresh_ahead" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (TokenRefreshAhead) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// OAuthStateCleanup deletes connect states that expired unused (gateway, periodic).
type OAuthStateCleanup struct{}

// Kind implements river.JobArgs.
func (OAuthStateCleanup) Kind() string { return "oauth_states.cleanup" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (OAuthStateCleanup) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: 10 * time.Minute}}
}

// DeliveryRetention drops old delivery payloads and rows (gateway, periodic).
type DeliveryRetention struct{}

// Kind implements river.JobArgs.
func (DeliveryRetention) Kind() string { return "delivery.retention" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeliveryRetention) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// DeliverySweep dead-letters deliveries left received after their job is gone (gateway, periodic).
type DeliverySweep struct{}

// Kind implements river.JobArgs.
func (DeliverySweep) Kind() string { return "delivery.sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts. Not unique: overlapping sweeps share the work
// (FOR UPDATE SKIP LOCKED), and a gateway started within a period of the last run still sweeps at once.
func (DeliverySweep) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 3}
}

// TokensReencrypt moves encrypted columns to the active key (gateway).
type TokensReencrypt struct{}

// Kind implements river.JobArgs.
func (TokensReencrypt) Kind() string { return "tokens.reencrypt" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (TokensReencrypt) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// BackfillRun pages through a provider's history for one integration (console).
type BackfillRun struct {
	IntegrationID string   `json:"integrationId"`
	DepthDays     int      `json:"depthDays"`
	EntityTypes   []string `json:"entityTypes"`
}

// Kind implements river.JobArgs.
func (BackfillRun) Kind() string { return "backfill.run" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (BackfillRun) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBackfill, MaxAttempts: 10}
}

// SyncConfig re-reads an integration's lightfast.yml through the provider API (console).
type SyncConfig struct {
	IntegrationID string `json:"integrationId"`
	Reason        string `json:"reason"`
}

// Kind implements river.JobArgs.
func (SyncConfig) Kind() string { return "sync.config" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (SyncConfig) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSync, MaxAttempts: 5}
}

// InstallationRevoke revokes a torn-down connection's grant at its provider, then deletes its token
// (gateway). The Console's Disconnect and a refused or expired pending connection enqueue it in the
// transaction of their teardown (db/teardown.RevokeLater).
type InstallationRevoke struct {
	InstallationID string `json:"installationId"`
}

// Kind implements river.JobArgs.
func (InstallationRevoke) Kind() string { return "installation.revoke" }

// InsertOpts implements river.JobArgsWithInsertOpts. Provider outages are retried with River's backoff
// (about an hour over the attempts); the last attempt deletes the token whatever the provider said.
func (InstallationRevoke) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 8}
}

// InstallationExpirePending removes pending connections nobody confirmed in time (gateway, periodic).
type InstallationExpirePending struct{}

// Kind implements river.JobArgs.
func (InstallationExpirePending) Kind() string { return "installation.expire_pending" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (InstallationExpirePending) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGateway, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}
