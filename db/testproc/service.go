package testproc

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
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

// ReferencePackage is the minimal program a service's start is measured against (issue #16): it opens a
// pgx pool, pings, opens a rueidis client and listens, and does nothing else.
const ReferencePackage = "github.com/lightfastai/connections/db/cmd/benchready"

// BenchmarkExecToReady measures the time from exec to the first 200 from readyURL, then stops the
// process with SIGTERM, and does the same with the reference program (ReferencePackage) started with
// refEnv's DATABASE_URL and REDIS_URL. It reports ms/ready (the service), ref-ms/ready (the reference)
// and x-ref (the service's total over the reference's).
//
// The two alternate, one start each per iteration, so the ratio compares starts made under the same
// conditions: this machine's other work (and CPU frequency, and Postgres's own background work) drifts
// over the seconds a run takes, and a block of service starts followed by a block of reference starts
// would fold that drift into the ratio. Which goes first alternates as well, so neither always starts
// right after the other's shutdown (a closing pool's backends are still exiting in Postgres then).
func BenchmarkExecToReady(b *testing.B, bin string, env map[string]string, readyURL string, refEnv map[string]string) {
	b.Helper()
	ref := BuildPackage(b, ReferencePackage)
	addr := FreeAddr(b)
	rEnv := map[string]string{"DATABASE_URL": refEnv["DATABASE_URL"], "REDIS_URL": refEnv["REDIS_URL"], "ADDR": addr}
	rURL := "http://" + addr + "/readyz"
	var total, refTotal time.Duration
	for i := range b.N {
		if i%2 == 0 {
			refTotal += execToReady(b, ref, rEnv, rURL)
			total += execToReady(b, bin, env, readyURL)
		} else {
			total += execToReady(b, bin, env, readyURL)
			refTotal += execToReady(b, ref, rEnv, rURL)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/ready")
	b.ReportMetric(float64(refTotal.Microseconds())/1000/float64(b.N), "ref-ms/ready")
	b.ReportMetric(float64(total)/float64(refTotal), "x-ref")
}

// execToReady starts bin serve, returns the time until readyURL answered 200, and stops it.
func execToReady(b *testing.B, bin string, env map[string]string, readyURL string) time.Duration {
	p := Start(b, bin, env, "serve")
	d := p.WaitReady(b, readyURL, 20*time.Second)
	_ = p.Signal(syscall.SIGTERM)
	waitExit(b, p)
	return d
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

// ProxiedDatabaseURL returns databaseURL with its host replaced by a proxy to it, and the proxy (Cut
// makes Postgres unreachable for whoever uses the URL).
func ProxiedDatabaseURL(t testing.TB, databaseURL string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	p := StartProxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// RequireReadyzNamesOnlyPostgres cuts the running service's Postgres (pg, a proxy in front of
// databaseURL's server) and requires /readyz to answer 503 with exactly
// {"status":"unavailable","failed":["postgres"]}: none of the driver error's text (user, database name,
// addresses), which goes to the log instead. Then Postgres returns and /readyz answers 200 again.
func RequireReadyzNamesOnlyPostgres(t *testing.T, p *Process, readyURL string, pg *Proxy, databaseURL string) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	pg.Cut()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func() (int, string) {
		resp, err := client.Get(readyURL)
		if err != nil {
			t.Fatalf("readyz: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var status int
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for status, body = get(); status == http.StatusOK && time.Now().Before(deadline); status, body = get() {
		time.Sleep(20 * time.Millisecond)
	}
	if status != http.StatusServiceUnavailable || strings.TrimSpace(body) != `{"status":"unavailable","failed":["postgres"]}` {
		t.Fatalf("readyz with Postgres cut off answered %d %s", status, body)
	}
	_, pgPort, _ := net.SplitHostPort(u.Host)
	_, proxyPort, _ := net.SplitHostPort(pg.Addr())
	for _, leak := range []string{"postgres://", strings.TrimPrefix(u.Path, "/"), "127.0.0.1", pgPort, proxyPort, "dial", "connect"} {
		if leak != "" && strings.Contains(body, leak) {
			t.Fatalf("readyz body leaks %q: %s", leak, body)
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), `"msg":"not ready"`) || !strings.Contains(p.Output(), `"postgres":"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the failed check's details are not in the log:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pg.Open()
	deadline = time.Now().Add(20 * time.Second)
	for status, body = get(); status != http.StatusOK; status, body = get() {
		if time.Now().After(deadline) {
			t.Fatalf("readyz after Postgres returned: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.TrimSpace(body) != `{"status":"ready"}` {
		t.Fatalf("readyz when ready: %s", body)
	}
}
