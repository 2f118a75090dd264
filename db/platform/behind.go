package platform

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Self-checks of a Behind (AfterReady) when no probe has found the service ready: the first after
// SelfCheckAfter (probes normally come sooner), then every SelfCheckEvery until the checks pass.
const (
	SelfCheckAfter = 250 * time.Millisecond
	SelfCheckEvery = time.Second
)

// Back-off between attempts of a start that failed.
const (
	behindRetryMin = time.Second
	behindRetryMax = 30 * time.Second
)

// Behind is work a service starts once it is ready, so that readiness does not wait for it nor compete
// with it. River's start is the case (issue #16): its ping, queue rows, LISTEN connection, leader
// election and, as leader, a dozen maintenance queries took most of a service's exec → ready when
// they ran before listening, and half of it when they ran beside the first /readyz (they take the
// pool's one connection and the CPU the probe's queries need). Jobs inserted meanwhile wait in their
// table until the producers fetch them.
type Behind struct {
	r     *Readiness
	log   *zap.Logger
	name  string
	start func() error

	mu      sync.Mutex
	giveUp  context.CancelFunc // ends the wait for readiness and the retries; nil until Start
	done    chan struct{}
	started bool
}

// AfterReady returns start, to be run by Start once the service is about to listen. Until then nothing
// runs, so a service that fails while it wires itself has nothing to give up.
func AfterReady(r *Readiness, log *zap.Logger, name string, start func() error) *Behind {
	return &Behind{r: r, log: log, name: name, start: start}
}

// Start runs start in the background once the readiness has passed (a probe of /readyz found the
// service ready, or its own check did: after SelfCheckAfter without such a probe, then every
// SelfCheckEvery). A start that fails is logged and tried again with a capped back-off: it runs while
// the service serves, so a database that blinks just then must not stop the service (before, the same
// start ran right after the database had answered, and a failure stopped the service). Once ctx is
// done, or Wait was called, start is not run again. Call Start once, right before listening.
func (b *Behind) Start(ctx context.Context) {
	waitCtx, giveUp := context.WithCancel(ctx)
	done := make(chan struct{})
	b.mu.Lock()
	b.giveUp, b.done = giveUp, done
	b.mu.Unlock()
	go func() {
		defer close(done)
		if !awaitReady(waitCtx, b.r) {
			return
		}
		wait := behindRetryMin
		for attempt := 1; ; attempt++ {
			err := b.start()
			if err == nil {
				b.mu.Lock()
				b.started = true
				b.mu.Unlock()
				if attempt > 1 {
					b.log.Info(b.name+" started", zap.Int("attempts", attempt))
				}
				return
			}
			b.log.Warn(b.name+" start failed; retrying", zap.Int("attempt", attempt), zap.Duration("retry_in", wait), zap.Error(err))
			t := time.NewTimer(wait)
			select {
			case <-waitCtx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, behindRetryMax)
		}
	}()
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
			// Not cancelled by a stop: a check cut short would be logged as the database failing.
			if len(r.Check(context.WithoutCancel(ctx))) == 0 {
				return ctx.Err() == nil
			}
			t.Reset(SelfCheckEvery)
		}
	}
}

// Wait gives start up if it has not begun or is between attempts (the service is stopping), else
// waits for the attempt under way to return (at most until ctx is done), and reports whether start
// succeeded: what it started may be stopped only then, as a stop that comes before the start would be
// lost.
func (b *Behind) Wait(ctx context.Context) bool {
	b.mu.Lock()
	giveUp, done := b.giveUp, b.done
	b.mu.Unlock()
	if giveUp == nil {
		return false // never started
	}
	giveUp()
	select {
	case <-done:
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
