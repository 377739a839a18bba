package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role is a login role of the test server, without superuser, dropped when the test ends.
type Role struct {
	Name     string
	Password string
}

// NewRole creates a login role (NOSUPERUSER NOCREATEDB NOCREATEROLE) with a random name and
// password and the given role-level settings (ALTER ROLE … SET name = value: statement_timeout,
// idle_in_transaction_session_timeout, …), as a managed provider's roles have them.
func NewRole(t testing.TB, settings map[string]string) Role {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Skipf("pgtest: %v", err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	r := Role{Name: "metapipe_role_" + hex.EncodeToString(b[:]), Password: "pw-" + hex.EncodeToString(b[:])}
	id := pgx.Identifier{r.Name}.Sanitize()
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '%s'", id, r.Password)); err != nil {
		t.Fatalf("pgtest: create role: %v", err)
	}
	for k, v := range settings {
		if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER ROLE %s SET %s = '%s'", id, pgx.Identifier{k}.Sanitize(), strings.ReplaceAll(v, "'", "''"))); err != nil {
			t.Fatalf("pgtest: alter role: %v", err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), ServerURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP OWNED BY "+id)
		if _, err := c.Exec(context.Background(), "DROP ROLE IF EXISTS "+id); err != nil {
			t.Logf("pgtest: drop role %s: %v", r.Name, err)
		}
	})
	return r
}

// URL is dbURL (a database of NewDatabase) with the role as its user.
func (r Role) URL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(r.Name, r.Password)
	return u.String()
}

// Own makes the role the owner of dbURL's database (and of its public schema), as a managed
// provider's database owner is.
func (r Role) Own(t testing.TB, dbURL string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", pgx.Identifier{cfg.Database}.Sanitize(), pgx.Identifier{r.Name}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, fmt.Sprintf("ALTER SCHEMA public OWNER TO %s", pgx.Identifier{r.Name}.Sanitize())); err != nil {
		t.Fatal(err)
	}
}
