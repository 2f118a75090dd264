package types

// Installation statuses (gw_installations.status, SPEC §4.1).
const (
	// InstallationActive: tokens are valid and webhooks are routed.
	InstallationActive = "active"
	// InstallationPending: the connect callback completed and the Console has not yet confirmed the
	// connection (SPEC §5.1); tokens are stored but nothing routes to it and nothing may use them.
	InstallationPending = "pending"
	// InstallationError: the connection needs attention (status_reason says why, e.g. reauth_required).
	InstallationError = "error"
	// InstallationRevoked: disconnected, by the organisation or at the provider.
	InstallationRevoked = "revoked"
)
