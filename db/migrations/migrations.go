// Package migrations owns the schema: the embedded golang-migrate files of this directory, then River's
// own tables through rivermigrate, applied under one advisory lock so concurrent runs wait for each other.
// Services never migrate; they call Check at start and refuse to run against an older schema.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS exposes the migration files (the test helper hashes them to name its template database).
func FS() fs.FS { return files }

// lockKey is the advisory lock every migration run holds ("lfmigrat" as bytes).
const lockKey int64 = 0x6c666d6967726174

// Status is the schema's state: the app migration version and River's.
type Status struct {
	Version      uint
	Dirty        bool
	RiverVersion int
}

// Latest is the status a fully migrated database has.
func Latest() Status {
	return Status{Version: latestAppVersion(), RiverVersion: latestRiverVersion()}
}

func latestAppVersion() uint {
	var latest uint
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		head, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(head, 10, 32); err == nil && uint(v) > latest {
			latest = uint(v)
		}
	}
	return latest
}

func latestRiverVersion() int {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return 0
	}
	all := m.AllVersions()
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Version
}

// Up applies every pending migration, app then River. "No change" is success.
func Up(ctx context.Context, databaseURL string) error {
	return withMigrator(ctx, databaseURL, func(m *migrate.Migrate, river *rivermigrate.Migrator[pgxTx]) error {
		if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("migrate up: %w", err)
		}
		if _, err := river.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("migrate river up: %w", err)
		}
		return afterRiver(ctx, databaseURL)
	})
}

// afterRiver applies after_river.sql: idempotent tuning of River's tables, which exist only once River's
// migrations have run (after the numbered ones).
func afterRiver(ctx context.Context, databaseURL string) error {
	script, err := fs.ReadFile(files, "after_river.sql")
	if err != nil {
		return fmt.Errorf("migrate: after river: %w", err)
	}
	// A pool, like withMigrator's, so pool_* parameters in the URL are understood.
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return errors.New("migrate: DATABASE_URL is not a valid Postgres URL")
	}
	defer pool.Close()
	// Exec without arguments runs the script's statements in one simple-protocol round trip.
	if _, err := pool.Exec(ctx, string(script)); err != nil {
		return fmt.Errorf("migrate: after river: %w", err)
	}
	return nil
}

// Down rolls back n app migrations; when that reaches version zero, River's tables are removed too.
// n <= 0 rolls back everything.
func Down(ctx context.Context, databaseURL string, n int) error {
	return withMigrator(ctx, databaseURL, func(m *migrate.Migrate, river *rivermigrate.Migrator[pgxTx]) error {
		var err error
		if n <= 0 {
			err = m.Down()
		} else {
			err = m.Steps(-n)
		}
		if err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("migrate down: %w", err)
		}
		if _, _, err := m.Version(); errors.Is(err, migrate.ErrNilVersion) {
			if _, err := river.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
				return fmt.Errorf("migrate river down: %w", err)
			}
		}
		return nil
	})
}

// Current reads the schema's state.
func Current(ctx context.Context, databaseURL string) (Status, error) {
	var st Status
	err := withMigrator(ctx, databaseURL, func(m *migrate.Migrate, river *rivermigrate.Migrator[pgxTx]) error {
		v, dirty, err := m.Version()
		if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
			return fmt.Errorf("read version: %w", err)
		}
		st.Version, st.Dirty = v, dirty
		st.RiverVersion, err = riverVersion(ctx, river)
		return err
	})
	return st, err
}

// ErrSchemaOutdated means the database is behind this binary: run the migrate command first.
var ErrSchemaOutdated = errors.New("database schema is older than this build; run `migrate up` first")

// Check is the start-up guard of both services: it fails with ErrSchemaOutdated when the database is
// behind, or dirty from a failed run. It takes no lock and changes nothing.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	want := latest()
	// One round trip for both versions: this runs at start and on every /readyz.
	var version int64
	var dirty bool
	var riverVersion int
	err := pool.QueryRow(ctx, `SELECT m.version, m.dirty,
		(SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main')
		FROM schema_migrations m LIMIT 1`).Scan(&version, &dirty, &riverVersion)
	if err != nil {
		return fmt.Errorf("%w (%w)", ErrSchemaOutdated, err)
	}
	if dirty {
		return fmt.Errorf("%w (app schema version %d is dirty: a migration failed half-way)", ErrSchemaOutdated, version)
	}
	if uint(version) < want.Version {
		return fmt.Errorf("%w (app schema version %d, want %d)", ErrSchemaOutdated, version, want.Version)
	}
	if riverVersion < want.RiverVersion {
		return fmt.Errorf("%w (river schema version %d, want %d)", ErrSchemaOutdated, riverVersion, want.RiverVersion)
	}
	return nil
}

// latest is Latest, worked out once: River's migrator reads and sorts its embedded migrations on every
// call (0.14 ms), and Check runs on every /readyz.
var latest = sync.OnceValue(Latest)

type pgxTx = pgx.Tx

func riverVersion(ctx context.Context, river *rivermigrate.Migrator[pgxTx]) (int, error) {
	existing, err := river.ExistingVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("read river version: %w", err)
	}
	if len(existing) == 0 {
		return 0, nil
	}
	return existing[len(existing)-1].Version, nil
}

// withMigrator opens both migrators on databaseURL and runs fn while holding the migration lock.
func withMigrator(ctx context.Context, databaseURL string, fn func(*migrate.Migrate, *rivermigrate.Migrator[pgxTx]) error) error {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return errors.New("migrate: DATABASE_URL is not a valid Postgres URL")
	}
	defer pool.Close()

	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()

	lockConn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer lockConn.Close()
	if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		_, _ = lockConn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey)
	}()

	m, err := newMigrate(sqlDB)
	if err != nil {
		return err
	}
	// The driver holds a connection of its own; the pool cannot close until it is given back.
	defer m.Close()
	river, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrate: river migrator: %w", err)
	}
	return fn(m, river)
}

func newMigrate(sqlDB *sql.DB) (*migrate.Migrate, error) {
	src, err := iofs.New(files, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: source: %w", err)
	}
	driver, err := migratepgx.WithInstance(sqlDB, &migratepgx.Config{})
	if err != nil {
		return nil, fmt.Errorf("migrate: driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return m, nil
}
