package store

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestConfigErrorNamesTheFile: a certificate file that cannot be read is named by its
// parameter, found from the connection string pgx refused (not from pgx's text), in both
// forms of connection string.
func TestConfigErrorNamesTheFile(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u@localhost/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "the sslrootcert file (the CA certificate; or PGSSLROOTCERT) /nonexistent/ca.pem not found"},
		{"host=localhost sslmode=require sslrootcert=/nonexistent/ca.pem", "the sslrootcert file (the CA certificate; or PGSSLROOTCERT) /nonexistent/ca.pem not found"},
		{"postgres://u@localhost/db?sslmode=require&sslcert=/nonexistent/client.crt&sslkey=/nonexistent/client.key", "the sslcert/sslkey file (the client certificate; or PGSSLCERT, PGSSLKEY) /nonexistent/client."},
	} {
		_, err := pgxpool.ParseConfig(tc.dsn)
		if err == nil {
			t.Fatalf("%s: parsed", tc.dsn)
		}
		if got := configError(err).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.dsn, got, tc.want)
		}
	}
}
