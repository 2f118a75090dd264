package types

// Delivery statuses (gw_webhook_deliveries.status, SPEC §4.4).
const (
	// DeliveryReceived: recorded with its job; nothing has acted on it yet.
	DeliveryReceived = "received"
	// DeliveryDelivered: its job ran and wrote what it had to (observations, lifecycle changes).
	DeliveryDelivered = "delivered"
	// DeliveryIgnored: authentic, but nothing took it (last_error says why).
	DeliveryIgnored = "ignored"
	// DeliveryUnrouted: no installation of ours matches it; recorded without a job.
	DeliveryUnrouted = "unrouted"
	// DeliveryDLQ: dead-lettered (its last attempt failed, or its job is gone); replayable.
	DeliveryDLQ = "dlq"
)
