// Package db is the one place both services reach Postgres through: opening pools, transactions and the
// mapping of driver errors to named errors. Generated queries live in package dbq; typed JSON columns in
// package types; the encrypted-column codec in package secrets.
package db

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pooler says what sits between the services and Postgres.
type Pooler string

const (
	// PoolerNone is a direct connection: server-side prepared statements and LISTEN/NOTIFY work.
	PoolerNone Pooler = "none"
	// PoolerTransaction is a transaction-mode pooler (PgBouncer, the PlanetScale Postgres endpoint): a
	// session may change server between transactions, so nothing may be prepared on the server.
	PoolerTransaction Pooler = "transaction"
)

// ParsePooler validates a DATABASE_POOLER value.
func ParsePooler(s string) (Pooler, error) {
	switch Pooler(s) {
	case "", PoolerNone:
		return PoolerNone, nil
	case PoolerTransaction:
		return PoolerTransaction, nil
	}
	return "", fmt.Errorf("must be %q or %q, got %q", PoolerNone, PoolerTransaction, s)
}

// PoolOptions tunes Open. Zero values take pgxpool's defaults.
type PoolOptions struct {
	Pooler Pooler
	// MaxConns is the service's default pool size. The operator's pool_max_conns in the database URL wins
	// over it, so N replicas behind a transaction pooler can be fitted to the pooler's limit.
	MaxConns int32
	MinConns int32
	// AppName is reported to Postgres as application_name, so pg_stat_activity shows who is connected
	// (and the load tests can tell the services' backends apart). An application_name in the URL wins.
	AppName string
	// Settings are session settings (runtime parameters) every connection starts with; the same setting
	// in the URL wins. They are not sent behind a transaction pooler, which rejects unknown startup
	// parameters and would not keep them per client anyway.
	Settings map[string]string
}

// Open creates a pgx pool for url and checks that Postgres answers.
func Open(ctx context.Context, url string, opts PoolOptions) (*pgxpool.Pool, error) {
	pool, err := New(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	if err := Ping(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// Ping checks that Postgres answers on pool, within five seconds.
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		return fmt.Errorf("open database: ping: %w", err)
	}
	return nil
}

// New creates a pgx pool for url without connecting (the first use connects): a service pings it
// (Ping) while it wires the rest, so the connection's round trips overlap that work.
func New(ctx context.Context, url string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can echo the URL, password included; keep only the fact.
		return nil, errors.New("open database: DATABASE_URL is not a valid Postgres URL")
	}
	if opts.Pooler == PoolerTransaction {
		// Simple protocol keeps every statement self-contained; nothing is cached per server session.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		cfg.ConnConfig.StatementCacheCapacity = 0
		cfg.ConnConfig.DescriptionCacheCapacity = 0
	}
	if opts.MaxConns > 0 && !setsPoolMaxConns(url) {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	setDefault := func(name, value string) {
		if _, set := cfg.ConnConfig.RuntimeParams[name]; !set && value != "" {
			cfg.ConnConfig.RuntimeParams[name] = value
		}
	}
	setDefault("application_name", opts.AppName)
	if opts.Pooler != PoolerTransaction {
		for name, value := range opts.Settings {
			setDefault(name, value)
		}
	}
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return pool, nil
}

// Beginner is what WithTx needs: a pool, a connection or an outer transaction (which nests as a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithTx runs fn in a transaction, committing when fn returns nil and rolling back otherwise.
func WithTx(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) error {
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", Interpret(err))
	}
	defer func() {
		// Rollback after Commit is a no-op; on a cancelled ctx the rollback still has to reach the server.
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", Interpret(err))
	}
	return nil
}

// setsPoolMaxConns reports whether a database URL (postgres://…?pool_max_conns=N) or keyword/value
// string (… pool_max_conns=N) sets the pool size itself.
func setsPoolMaxConns(dsn string) bool {
	if u, err := neturl.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Has("pool_max_conns")
	}
	for _, f := range strings.Fields(dsn) {
		if strings.HasPrefix(f, "pool_max_conns=") {
			return true
		}
	}
	return false
}
