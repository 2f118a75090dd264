package worker

import "context"

// SetBeforeComplete installs a hook that runs inside the worker's transaction after its writes and before
// the job is completed, so tests can crash exactly there.
func SetBeforeComplete(w *WebhookWorker, f func(ctx context.Context) error) { w.beforeComplete = f }
