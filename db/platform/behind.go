package platform

import (
	"context"
	"sync"
)

// Behind is work a service starts once it can serve, so its readiness does not wait for it. River's
// start is the case: its ping, queue rows, LISTEN subscriptions and first leader election take a few
// Postgres round trips each (most of a service's exec → ready before, issue #16), yet jobs inserted
// meanwhile simply wait in their table until the producers fetch them.
type Behind struct {
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// StartBehind runs start in the background and returns a context derived from ctx that is cancelled,
// with start's error as its cause, if start fails: pass it to Serve, which then drains and returns, so
// the service stops as it did when the same failure came before listening (Err says why).
func StartBehind(ctx context.Context, start func() error) (context.Context, *Behind) {
	serveCtx, cancel := context.WithCancelCause(ctx)
	b := &Behind{done: make(chan struct{})}
	go func() {
		defer close(b.done)
		if err := start(); err != nil {
			b.mu.Lock()
			b.err = err
			b.mu.Unlock()
			cancel(err)
		}
	}()
	return serveCtx, b
}

// Err is start's error once it has failed, nil while it runs or after it succeeded.
func (b *Behind) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Wait waits for start to return (at most until ctx is done) and reports whether it succeeded: what it
// started may be stopped only then, as a stop that comes before the start would be lost.
func (b *Behind) Wait(ctx context.Context) bool {
	select {
	case <-b.done:
		return b.Err() == nil
	case <-ctx.Done():
		return false
	}
}
