package testproc

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The checks every service binary must pass, shared by the gateway's and the console's tests.

// RequireGracefulStop starts bin serve with env, waits for readyURL to answer 200, sends SIGTERM and
// requires exit status 0.
func RequireGracefulStop(t *testing.T, bin string, env map[string]string, readyURL string) {
	t.Helper()
	p := Start(t, bin, env, "serve")
	p.WaitReady(t, readyURL, 20*time.Second)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v", err)
	}
	if code := waitExit(t, p); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0:\n%s", code, p.Output())
	}
}

// RequireStartFailure starts bin serve with env and requires a non-zero exit whose output is one line
// containing want and none of forbidden (secret values that must not be echoed).
func RequireStartFailure(t *testing.T, bin string, env map[string]string, want string, forbidden ...string) {
	t.Helper()
	p := Start(t, bin, env, "serve")
	code := waitExit(t, p)
	out := strings.TrimSpace(p.Output())
	if code == 0 {
		t.Fatalf("exit status 0, want failure:\n%s", out)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("output does not name %q:\n%s", want, out)
	}
	if strings.Count(out, "\n") != 0 {
		t.Fatalf("want one line naming the problem, got:\n%s", out)
	}
	for _, f := range forbidden {
		if f != "" && strings.Contains(out, f) {
			t.Fatalf("output echoes a secret value:\n%s", out)
		}
	}
}

// BenchmarkExecToReady measures the time from exec to the first 200 from readyURL, then stops the
// process with SIGTERM. It reports ms/ready as its own metric.
func BenchmarkExecToReady(b *testing.B, bin string, env map[string]string, readyURL string) {
	b.Helper()
	var total time.Duration
	for range b.N {
		p := Start(b, bin, env, "serve")
		total += p.WaitReady(b, readyURL, 20*time.Second)
		_ = p.Signal(syscall.SIGTERM)
		waitExit(b, p)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/ready")
}

func waitExit(t testing.TB, p *Process) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("%v:\n%s", err, p.Output())
	}
	return code
}
