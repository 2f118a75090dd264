package platform

import (
	"context"
	"sync"
	"time"
)

// Self-checks of StartAfterReady when no probe has found the service ready: the first after
// SelfCheckAfter (probes normally come sooner), then every SelfCheckEvery until the checks pass.
const (
	SelfCheckAfter = 250 * time.Millisecond
	SelfCheckEvery = time.Second
)

// Behind is work a service starts once it is ready, so that readiness does not wait for it nor compete
// with it. River's start is the case (issue #16): its ping, queue rows, LISTEN connection, leader
// election and, as leader, a dozen maintenance queries took most of a service's exec → ready when
// they ran before listening, and half of it when they ran beside the first /readyz (they take the
// pool's one connection and the CPU the probe's queries need). Jobs inserted meanwhile wait in their
// table until the producers fetch them.
type Behind struct {
	giveUp  context.CancelFunc // ends the wait for readiness
	done    chan struct{}
	mu      sync.Mutex
	err     error
	started bool
}

// StartAfterReady runs start in the background once r has passed (a probe of /readyz found the service
// ready, or its own check did: after SelfCheckAfter without such a probe, then every SelfCheckEvery).
// It returns a context derived from ctx that is cancelled, with start's error as its cause, if start
// fails: pass it to Serve, which then drains and returns, so the service stops as it did when the same
// failure came before listening (Err says why). Once ctx is done, start is not run.
func StartAfterReady(ctx context.Context, r *Readiness, start func() error) (context.Context, *Behind) {
	serveCtx, cancel := context.WithCancelCause(ctx)
	waitCtx, giveUp := context.WithCancel(ctx)
	b := &Behind{giveUp: giveUp, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		if !awaitReady(waitCtx, r) {
			return
		}
		err := start()
		b.mu.Lock()
		b.started, b.err = err == nil, err
		b.mu.Unlock()
		if err != nil {
			cancel(err)
		}
	}()
	return serveCtx, b
}

func awaitReady(ctx context.Context, r *Readiness) bool {
	t := time.NewTimer(SelfCheckAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-r.Passed():
			return ctx.Err() == nil
		case <-t.C:
			if len(r.Check(ctx)) == 0 {
				return ctx.Err() == nil
			}
			t.Reset(SelfCheckEvery)
		}
	}
}

// Err is start's error once it has failed, nil while it waits or runs and after it succeeded.
func (b *Behind) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Wait gives start up if it has not begun (the service is stopping), else waits for it to return (at
// most until ctx is done), and reports whether it ran and succeeded: what it started may be stopped
// only then, as a stop that comes before the start would be lost.
func (b *Behind) Wait(ctx context.Context) bool {
	b.giveUp()
	select {
	case <-b.done:
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.started
	case <-ctx.Done():
		return false
	}
}

// InBackground runs fn in a goroutine and returns a function that waits for its error (the same on
// every call): for start-up round trips that can overlap the rest of a service's wiring.
func InBackground(fn func() error) func() error {
	c := make(chan error, 1)
	go func() { c <- fn() }()
	return sync.OnceValue(func() error { return <-c })
}
