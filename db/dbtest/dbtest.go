// Package dbtest gives each test its own real Postgres database and Redis key space.
//
// Postgres: TEST_DATABASE_URL when set (CI and the dev machines), otherwise a testcontainers-go Postgres
// when a Docker engine answers, otherwise the test fails with one clear message. A template database,
// named by a hash of the migrations, is built once (guarded by an advisory lock, so parallel test
// binaries share it); each test clones it with CREATE DATABASE … TEMPLATE and drops the clone at cleanup.
//
// Redis: TEST_REDIS_URL, or a testcontainers-go Redis; each test gets a unique key prefix.
package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/migrations"
)

// templateLockKey serialises template builds across test processes ("lftmpl").
const templateLockKey int64 = 0x6c66746d706c

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error

	templateMu    sync.Mutex
	templateReady = map[string]bool{}
)

// ServerURL returns the URL of the Postgres server tests use (its maintenance database), starting a
// container when TEST_DATABASE_URL is unset. It fails the test when neither is available.
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			serverURL = u
			return
		}
		serverURL, serverErr = startPostgresContainer()
	})
	if serverErr != nil {
		t.Fatalf("dbtest: no Postgres for tests: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) or run a Docker engine for testcontainers: %v", serverErr)
	}
	return serverURL
}

// TemplateName is the template database for the current migrations (and River version).
func TemplateName() string {
	h := sha256.New()
	names, _ := fs.Glob(migrations.FS(), "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS(), n)
		fmt.Fprintf(h, "%s\x00%s\x00", n, b)
	}
	m, _ := rivermigrate.New(riverpgxv5.New(nil), nil)
	for _, v := range m.AllVersions() {
		fmt.Fprintf(h, "river:%d\x00%s\x00", v.Version, v.SQLUp)
	}
	return "tpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

// NewDatabaseURL creates a fresh, fully migrated database for this test and returns its URL. The
// database is dropped when the test ends.
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	base := ServerURL(t)
	tpl := ensureTemplate(t, base)

	name := "t_" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(ids.New()))
	admin := adminConn(t, base)
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tpl)); err != nil {
		t.Fatalf("dbtest: create database from template: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, base, name)
}

// NewPool returns a pool on a fresh database (see NewDatabaseURL), closed at cleanup.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return Pool(t, NewDatabaseURL(t))
}

// Pool opens a small pool on url, closed at cleanup.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("dbtest: parse url: %v", err)
	}
	// Keep well under the server's max_connections while many tests run in parallel.
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func ensureTemplate(t testing.TB, base string) string {
	t.Helper()
	tpl := TemplateName()
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateReady[tpl] {
		return tpl
	}
	ctx := context.Background()
	admin := adminConn(t, base)
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, templateLockKey); err != nil {
		t.Fatalf("dbtest: template lock: %v", err)
	}
	defer func() { _, _ = admin.Exec(ctx, `SELECT pg_advisory_unlock($1)`, templateLockKey) }()

	// A template is only marked is_template once fully migrated; an unmarked one is a crashed build.
	var isTemplate *bool
	err := admin.QueryRow(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, tpl).Scan(&isTemplate)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("dbtest: look up template: %v", err)
	}
	if isTemplate == nil || !*isTemplate {
		if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, tpl)); err != nil {
			t.Fatalf("dbtest: drop broken template: %v", err)
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, tpl)); err != nil {
			t.Fatalf("dbtest: create template: %v", err)
		}
		if err := migrations.Up(ctx, withDatabase(t, base, tpl)); err != nil {
			t.Fatalf("dbtest: migrate template: %v", err)
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s WITH is_template true ALLOW_CONNECTIONS false`, tpl)); err != nil {
			t.Fatalf("dbtest: mark template: %v", err)
		}
	}
	templateReady[tpl] = true
	return tpl
}

func adminConn(t testing.TB, base string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("dbtest: connect to %s: %v", redact(base), err)
	}
	return conn
}

// withDatabase returns base with its database name replaced.
func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: TEST_DATABASE_URL is not a URL")
	}
	u.Path = "/" + name
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
