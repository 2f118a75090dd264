package types

// Values of SyncConfig.ConfigStatus: whether a GitHub repository has a Lightfast config file
// (lightfast.yml / .lightfast.yml) on its default branch. Empty means it has not been looked for yet.
const (
	ConfigStatusConfigured     = "configured"
	ConfigStatusAwaitingConfig = "awaiting_config"
)

// Values of workspace_integrations.last_sync_status: the outcome of the integration's latest sync.
const (
	SyncStatusPending = "pending"
	SyncStatusSuccess = "success"
	SyncStatusFailed  = "failed"
)
