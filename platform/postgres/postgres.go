// Package postgres opens pgx pools, creates a missing database, applies a
// service's embedded migrations with goose, and runs transactions.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// Connect opens a pool and checks the server answers.
func Connect(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", redact(err))
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s on %s: %w", cfg.ConnConfig.Database, cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// EnsureDatabase creates the database named in url when it does not exist, by
// connecting to the server's "postgres" database. It is for the all-in-one
// binary and tests; production databases are made by their operators.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", redact(err))
	}
	name := cfg.Database
	if name == "" {
		return errors.New("DATABASE_URL names no database")
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to server %s to create database %s: %w", cfg.Host, name, err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if isCode(err, "42P04", "23505") { // duplicate_database: another process won the race
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Migrate applies the migrations in migrations (numbered goose SQL files) to
// schema, creating the schema first. The version table lives in the schema, so
// services never share one, and a Postgres advisory lock serialises replicas
// that start at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, migrations fs.FS, logger *slog.Logger) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("migrate: bad schema name %q", schema)
	}
	// IF NOT EXISTS still races between replicas starting at once; the loser
	// sees a unique violation on the catalog, which means the schema is there.
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil && !isCode(err, "23505", "42P06") {
		return fmt.Errorf("migrate %s: create schema: %w", schema, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	store, err := database.NewStore(goose.DialectPostgres, schema+".goose_db_version")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	// Each schema has its own lock id, so services migrate in parallel but two
	// replicas of one service take turns.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID(schema)),
		lock.WithLockTimeout(1, 300)) // try each second, for five minutes
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	p, err := goose.NewProvider("", db, migrations, goose.WithStore(store), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	for _, r := range results {
		logger.InfoContext(ctx, "migration applied", "schema", schema, "version", r.Source.Version,
			"file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	return nil
}

// lockID derives a stable advisory lock id from a schema name (FNV-1a).
func lockID(schema string) int64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(schema); i++ {
		h ^= uint64(schema[i])
		h *= 1099511628211
	}
	return int64(h >> 1)
}

// InTx runs fn in a transaction, committing when it returns nil and rolling back
// otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// redact drops the input from pgx parse errors, which can echo a password.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("malformed connection string")
	}
	return err
}

func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}
