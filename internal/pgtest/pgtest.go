// Package pgtest gives each test, benchmark or example a database of its own on a real
// PostgreSQL server.
//
// The server comes from TEST_DATABASE_URL (make test starts a throwaway cluster and sets it). A
// test that cannot reach it fails when CI=true and is skipped otherwise; an example, which
// cannot be skipped, fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the administrative URL of the test server.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultURL
}

// errUnreachable wraps a failure to reach the server.
type errUnreachable struct{ err error }

func (e errUnreachable) Error() string { return "test database unreachable: " + e.err.Error() }

// create makes an empty database and returns its name and URL.
func create(ctx context.Context) (name, url string, err error) {
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return "", "", errUnreachable{err}
	}
	defer admin.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "metapipe_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create database: %w", err)
	}
	cfg, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		return "", "", fmt.Errorf("parse TEST_DATABASE_URL: %w", err)
	}
	return name, fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), nil
}

// drop removes a database made by create, closing its connections.
func drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}

// NewDatabase creates an empty database for this test, drops it when the test ends, and
// returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, url, err := create(ctx)
	if _, unreachable := err.(errUnreachable); unreachable {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v (under CI)", err)
		}
		t.Skipf("pgtest: %v (set TEST_DATABASE_URL or use make test)", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(name); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return url
}

// NewPool creates a database for this test and returns a pool on it, closed when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ExampleDatabase creates an empty database for a runnable example and returns its URL and the
// func that drops it. Examples cannot be skipped: without a server it panics, saying so.
func ExampleDatabase() (url string, dropIt func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, url, err := create(ctx)
	if err != nil {
		panic("pgtest: " + err.Error() + " (examples need PostgreSQL: run them with make test)")
	}
	return url, func() { _ = drop(name) }
}

// RefuseConnections makes the database of dbURL refuse new connections and ends its open ones,
// as a server restarting or failing over does, until the returned function is called (or the
// test ends). It runs through the server's administrative URL, since a database may not refuse
// connections from its own session.
func RefuseConnections(t testing.TB, dbURL string) (restore func()) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	allow := func(on bool) error {
		_, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s WITH ALLOW_CONNECTIONS %t`, pgx.Identifier{cfg.Database}.Sanitize(), on))
		return err
	}
	if err := allow(false); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, cfg.Database); err != nil {
		t.Fatal(err)
	}
	var once bool
	restore = func() {
		if once {
			return
		}
		once = true
		if err := allow(true); err != nil {
			t.Error(err)
		}
		admin.Close(ctx)
	}
	t.Cleanup(restore)
	return restore
}
