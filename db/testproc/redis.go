package testproc

import (
	"io"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server of a test's own on a free loopback port, so killing it touches nobody
// else's Redis. It needs the redis-server binary on PATH.
type RedisServer struct {
	t    testing.TB
	port string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis runs a private redis-server until the test ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	r := NewRedis(t)
	r.Start()
	return r
}

// NewRedis reserves a free loopback port for a private redis-server without starting it (Start does):
// a client pointed at URL finds nothing there until then.
func NewRedis(t testing.TB) *RedisServer {
	t.Helper()
	_, port, err := net.SplitHostPort(FreeAddr(t))
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	r := &RedisServer{t: t, port: port}
	t.Cleanup(r.Stop)
	return r
}

// URL is the server's redis:// URL (database 0).
func (r *RedisServer) URL() string { return "redis://127.0.0.1:" + r.port + "/0" }

// Start runs redis-server (no persistence: a restart comes back empty, as a crashed cache would) and
// waits until it answers PING.
func (r *RedisServer) Start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testproc: redis-server must be installed: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+r.port, 200*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := io.ReadFull(c, buf)
			c.Close()
			if n == 7 && string(buf) == "+PONG\r\n" {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testproc: redis-server did not start on %s", r.port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop SIGKILLs the server (a crash, not a shutdown) and waits for it to be gone.
func (r *RedisServer) Stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}
