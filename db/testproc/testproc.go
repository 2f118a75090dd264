// Package testproc builds and runs the real service binaries from tests: build once per test binary,
// start with an environment, wait for /readyz, signal, and collect the exit status and output.
package testproc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Build compiles the main package at pkgDir (a directory, e.g. "../cmd/gateway") once per test binary
// and returns the executable's path.
func Build(t testing.TB, pkgDir string) string {
	t.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[abs]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "testproc-")
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	bin := filepath.Join(dir, filepath.Base(abs))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testproc: build %s: %v\n%s", pkgDir, err, out)
	}
	built[abs] = bin
	return bin
}

// BuildPackage compiles the main package importPath (resolved from the test's own module, so a
// package of another module it requires, e.g. the db module's reference programs) once per test
// binary and returns the executable's path.
func BuildPackage(t testing.TB, importPath string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[importPath]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "testproc-")
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	bin := filepath.Join(dir, path.Base(importPath))
	if out, err := exec.Command("go", "build", "-o", bin, importPath).CombinedOutput(); err != nil {
		t.Fatalf("testproc: build %s: %v\n%s", importPath, err, out)
	}
	built[importPath] = bin
	return bin
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Process is a running binary.
type Process struct {
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error
}

// Start runs bin with args and exactly env (plus PATH and HOME), killing it at cleanup if still running.
func Start(t testing.TB, bin string, env map[string]string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Process{cmd: cmd, output: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if err := cmd.Start(); err != nil {
		t.Fatalf("testproc: start %s: %v", bin, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.Output())
		}
	})
	return p
}

// WaitReady polls url until it answers 200, the process exits, or timeout passes.
func (p *Process) WaitReady(t testing.TB, url string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	for time.Since(start) < timeout {
		select {
		case <-p.done:
			t.Fatalf("testproc: process exited before ready (%v):\n%s", p.err, p.Output())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("testproc: %s not ready after %s:\n%s", url, timeout, p.Output())
	return 0
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Pid is the process id (for CPU accounting in load tests).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.cmd.Process.Signal(syscall.SIGKILL) }

// Wait waits for the process to exit and returns its exit code (-1 when killed by a signal).
func (p *Process) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return 0, fmt.Errorf("testproc: still running: %w", ctx.Err())
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Output returns everything the process printed so far.
func (p *Process) Output() string { return p.output.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CPUTicks returns the user + system CPU time of process pid so far, in clock ticks (10 ms on Linux),
// read from /proc; 0 when it cannot be read. For CPU per request in load tests: unlike latency, it
// barely moves with the machine's other work.
func CPUTicks(pid int) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	if len(fields) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	s, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + s
}

// MachineTicks returns the busy and total clock ticks of all CPUs so far (/proc/stat; idle and iowait
// count as not busy), for how busy the whole machine was during a load test.
func MachineTicks() (busy, total int64) {
	raw, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return 0, 0
	}
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}
