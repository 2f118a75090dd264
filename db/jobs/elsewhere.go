package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
)

// Elsewhere is the worker a service registers for a job kind the other service works. Both services'
// River clients share one database and elect one leader, and only the leader rescues jobs stuck in
// "running" after a crash; River discards a stuck job whose kind has no worker registered in the leader's
// client. So without these, a gateway elected leader would discard the webhook.process jobs of a killed
// console (and a console leader the gateway's jobs), and those deliveries would never be processed.
//
// Work never runs: the kind's queue is not served by the service that registers it. Rescue only needs
// the kind to be known and its arguments to decode, then puts the job back for the right service.
type Elsewhere[T river.JobArgs] struct {
	river.WorkerDefaults[T]
}

// errElsewhere is what Work says if a misconfigured client ever fetches a job it does not own.
var errElsewhere = errors.New("this job kind is worked by the other service; its queue must not be served here")

// Work implements river.Worker.
func (Elsewhere[T]) Work(context.Context, *river.Job[T]) error { return errElsewhere }

// AddConsoleKinds registers Elsewhere workers for the console's kinds (webhook.process, backfill.run,
// sync.config) in the gateway's River client.
func AddConsoleKinds(w *river.Workers) error {
	return addAll(
		river.AddWorkerSafely[WebhookProcess](w, Elsewhere[WebhookProcess]{}),
		river.AddWorkerSafely[BackfillRun](w, Elsewhere[BackfillRun]{}),
		river.AddWorkerSafely[SyncConfig](w, Elsewhere[SyncConfig]{}),
	)
}

// AddGatewayKinds registers Elsewhere workers for the gateway's kinds (webhook.lifecycle,
// token.refresh_ahead, oauth_states.cleanup, delivery.retention, delivery.sweep, tokens.reencrypt,
// installation.revoke, installation.expire_pending) in the console's River client.
func AddGatewayKinds(w *river.Workers) error {
	return addAll(
		river.AddWorkerSafely[WebhookLifecycle](w, Elsewhere[WebhookLifecycle]{}),
		river.AddWorkerSafely[TokenRefreshAhead](w, Elsewhere[TokenRefreshAhead]{}),
		river.AddWorkerSafely[OAuthStateCleanup](w, Elsewhere[OAuthStateCleanup]{}),
		river.AddWorkerSafely[DeliveryRetention](w, Elsewhere[DeliveryRetention]{}),
		river.AddWorkerSafely[DeliverySweep](w, Elsewhere[DeliverySweep]{}),
		river.AddWorkerSafely[TokensReencrypt](w, Elsewhere[TokensReencrypt]{}),
		river.AddWorkerSafely[InstallationRevoke](w, Elsewhere[InstallationRevoke]{}),
		river.AddWorkerSafely[InstallationExpirePending](w, Elsewhere[InstallationExpirePending]{}),
	)
}

func addAll(errs ...error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("register the other service's job kinds: %w", err)
	}
	return nil
}
