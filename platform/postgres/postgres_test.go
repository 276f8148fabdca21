package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/pgtest"
	"github.com/platformportal/portal/platform/postgres"
)

var migs = fstest.MapFS{
	"00001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE mtest.a (id int);\n-- +goose Down\nDROP TABLE mtest.a;\n")},
	"00002_b.sql": {Data: []byte("-- +goose Up\nINSERT INTO mtest.a VALUES (1);\n-- +goose Down\nDELETE FROM mtest.a;\n")},
}

// TestMigrateConcurrently starts four "replicas" migrating one database at
// once: all succeed and each migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := postgres.Connect(ctx, url, 2)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- postgres.Migrate(ctx, pool, "mtest", migs, logging.Discard())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Migrate = %v", err)
		}
	}
	pool, err := postgres.Connect(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows, version int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM mtest.a), (SELECT max(version_id) FROM mtest.goose_db_version)`).Scan(&rows, &version); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || version != 2 {
		t.Errorf("rows = %d, version = %d; want 1 and 2", rows, version)
	}
}

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := pgtest.NewDatabase(t) // for the server's address
	name := fmt.Sprintf("ensure_%d", len(t.Name())*7919)
	url := strings.Replace(base, base[strings.LastIndex(base, "/")+1:strings.Index(base, "?")], name, 1)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, strings.Replace(url, "/"+name+"?", "/postgres?", 1))
		if err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
			conn.Close(ctx)
		}
	})
	for range 2 { // the second time it exists already
		if err := postgres.EnsureDatabase(ctx, url); err != nil {
			t.Fatalf("EnsureDatabase = %v", err)
		}
	}
	pool, err := postgres.Connect(ctx, url, 1)
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
}

func TestConnectErrorsDoNotLeakPasswords(t *testing.T) {
	t.Parallel()
	_, err := postgres.Connect(context.Background(), "postgres://u:s3cret@127.0.0.1:5432/x?sslmode=bogus", 1)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Connect error = %v; want an error without the password", err)
	}
}
