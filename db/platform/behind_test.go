package platform_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lightfastai/connections/db/platform"
)

// readiness mounts /readyz over one check that fails while *down is set.
func readiness(t *testing.T, down *atomic.Bool) (*platform.Readiness, string) {
	t.Helper()
	e := platform.NewEcho(zap.NewNop(), nil)
	r := platform.MountHealth(e, prometheus.NewRegistry(), zap.NewNop(), platform.Check{Name: "postgres", Fn: func(context.Context) error {
		if down.Load() {
			return errors.New("down")
		}
		return nil
	}})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return r, srv.URL + "/readyz"
}

// start is AfterReady then Start.
func start(r *platform.Readiness, log *zap.Logger, name string, fn func() error) *platform.Behind {
	b := platform.AfterReady(r, log, name, fn)
	b.Start(context.Background())
	return b
}

func probe(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// Work started after readiness (River's start) waits for the first passed check, so it does not compete
// with it; a probe that fails does not start it.
func TestStartAfterReadyWaitsForAPassedProbe(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	r, url := readiness(t, &down)
	started := make(chan struct{})
	b := start(r, zap.NewNop(), "work", func() error { close(started); return nil })

	require.Equal(t, http.StatusServiceUnavailable, probe(t, url))
	select {
	case <-started:
		t.Fatal("started before the service was ready")
	default:
	}
	down.Store(false)
	require.Equal(t, http.StatusOK, probe(t, url))
	<-started // within SelfCheckAfter of the probe at the latest; the test's timeout catches a hang
	require.True(t, b.Wait(context.Background()), "it ran and succeeded: the caller must stop it")
}

// Without any probe the service checks itself, so the work starts anyway.
func TestStartAfterReadyChecksItselfWithoutProbes(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	r, _ := readiness(t, &down)
	started := make(chan struct{})
	start(r, zap.NewNop(), "work", func() error { close(started); return nil })
	select {
	case <-started:
	case <-time.After(10 * platform.SelfCheckAfter):
		t.Fatal("did not start without a probe")
	}
}

// A failed start (the database blinked just as it ran) is logged and tried again, the service serving
// meanwhile: it must not stop the service.
func TestStartAfterReadyRetriesAFailedStart(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	r, url := readiness(t, &down)
	core, logs := observer.New(zap.WarnLevel)
	var attempts atomic.Int32
	started := make(chan struct{})
	b := start(r, zap.New(core), "work", func() error {
		if attempts.Add(1) == 1 {
			return errors.New("connection reset by peer")
		}
		close(started)
		return nil
	})
	require.Equal(t, http.StatusOK, probe(t, url))
	<-started
	require.EqualValues(t, 2, attempts.Load())
	require.Len(t, logs.FilterMessage("work start failed; retrying").All(), 1)
	require.True(t, b.Wait(context.Background()))
}

// A service that fails while wiring itself, before Start, has nothing to wait for.
func TestAfterReadyNeverStarted(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	r, _ := readiness(t, &down)
	b := platform.AfterReady(r, zap.NewNop(), "work", func() error { t.Error("ran"); return nil })
	require.False(t, b.Wait(context.Background()))
}

// A service stopping before it was ever ready gives the start up: Wait does not block on it, and it
// never runs.
func TestStartAfterReadyGivenUpWhenStoppingFirst(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	r, _ := readiness(t, &down)
	var ran atomic.Bool
	b := start(r, zap.NewNop(), "work", func() error { ran.Store(true); return nil })
	require.False(t, b.Wait(context.Background()))
	require.False(t, ran.Load())
}
