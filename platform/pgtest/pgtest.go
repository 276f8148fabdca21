// Package pgtest gives each test its own PostgreSQL database, cloned from a
// template that is migrated once per set of migrations (the approach of
// exposure-notifications-server). Tests talk to the real server; set
// PGTEST_URL to point at another one than 127.0.0.1:5432.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/postgres"
)

// Migration is one schema's migrations.
type Migration struct {
	Schema string
	FS     fs.FS
}

var templates sync.Map // template name -> *sync.Once-guarded result

type tmplResult struct {
	once sync.Once
	err  error
}

// BaseURL is the server tests use.
func BaseURL() string {
	if u := os.Getenv("PGTEST_URL"); u != "" {
		return u
	}
	return "postgres://127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates a fresh database with migs applied and returns its URL;
// the database is dropped when the test ends.
func NewDatabase(tb testing.TB, migs ...Migration) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	tmpl := templateName(tb, migs)
	v, _ := templates.LoadOrStore(tmpl, &tmplResult{})
	r := v.(*tmplResult)
	r.once.Do(func() { r.err = makeTemplate(ctx, tmpl, migs) })
	if r.err != nil {
		tb.Fatalf("pgtest: template %s: %v", tmpl, r.err)
	}

	name := fmt.Sprintf("test_%d_%s", time.Now().UnixNano()%1e9, randHex(4))
	admin := connect(ctx, tb, "postgres")
	defer admin.Close(context.Background())
	// A template cannot be cloned while another session is connected to it;
	// other test binaries may be cloning the same one, so retry briefly.
	var err error
	for i := 0; i < 50; i++ {
		_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("pgtest: clone %s: %v", tmpl, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin := connect(ctx, tb, "postgres")
		defer admin.Close(context.Background())
		if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return urlFor(name)
}

// NewPool is NewDatabase plus a pool closed at the end of the test.
func NewPool(tb testing.TB, migs ...Migration) *pgxpool.Pool {
	tb.Helper()
	url := NewDatabase(tb, migs...)
	pool, err := postgres.Connect(context.Background(), url, 10)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// makeTemplate creates and migrates the template database unless a previous
// run (or another test binary, under an advisory lock) already did.
func makeTemplate(ctx context.Context, tmpl string, migs []Migration) error {
	admin, err := pgx.Connect(ctx, urlFor("postgres"))
	if err != nil {
		return fmt.Errorf("connect to %s: %w (is PostgreSQL running? see README)", BaseURL(), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock(727274)") //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	// A half-made template from a crashed run is not marked as one: drop it.
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", tmpl)); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+tmpl); err != nil {
		return err
	}
	pool, err := postgres.Connect(ctx, urlFor(tmpl), 2)
	if err != nil {
		return err
	}
	for _, m := range migs {
		if err := postgres.Migrate(ctx, pool, m.Schema, m.FS, logging.Discard()); err != nil {
			pool.Close()
			return err
		}
	}
	pool.Close()
	_, err = admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH is_template = true ALLOW_CONNECTIONS = false", tmpl))
	return err
}

// templateName is derived from the migrations' content, so a changed migration
// gets a new template and a stale one is never reused.
func templateName(tb testing.TB, migs []Migration) string {
	h := sha256.New()
	for _, m := range migs {
		h.Write([]byte(m.Schema))
		err := fs.WalkDir(m.FS, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(m.FS, path)
			h.Write([]byte(path))
			h.Write(b)
			return err
		})
		if err != nil {
			tb.Fatalf("pgtest: read migrations: %v", err)
		}
	}
	return "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

func connect(ctx context.Context, tb testing.TB, db string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(ctx, urlFor(db))
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v (is PostgreSQL running? see README)", BaseURL(), err)
	}
	return conn
}

func urlFor(db string) string {
	cfg, err := pgx.ParseConfig(BaseURL())
	if err != nil {
		panic(fmt.Sprintf("pgtest: PGTEST_URL: %v", err))
	}
	u := fmt.Sprintf("postgres://%s:%d/%s?sslmode=disable", cfg.Host, cfg.Port, db)
	if cfg.User != "" {
		u = fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, db)
	}
	return u
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}
