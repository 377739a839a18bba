package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultExecMode is how metapipe sends its statements unless the URL says otherwise
// (default_query_exec_mode): pgx's QueryExecModeExec, the extended protocol with the unnamed
// statement, parameters sent apart from the SQL (never interpolated), one round trip per
// statement. It keeps no prepared statement on the server, so it works the same directly and
// through a pooler in transaction mode (Supabase's port 6543, Neon's -pooler hosts, PgBouncer
// before 1.21 or without max_prepared_statements), where pgx's default cache of named
// statements fails with "prepared statement … already exists" once a second client gets the
// server connection. Its cost, the server parsing each statement again, is small beside
// metapipe's COPY and merges. Every statement metapipe sends works in each of pgx's modes
// (TestEveryExecMode): JSON goes to jsonb as text, never as bytes.
const DefaultExecMode = pgx.QueryExecModeExec

// PoolConfig parses a PostgreSQL URL or key=value DSN (libpq's settings and environment
// variables, PGPASSWORD, PGSSLROOTCERT …, included) into a pool configuration with metapipe's
// statement mode, [DefaultExecMode], unless the string sets default_query_exec_mode itself.
// An error is a [*ConfigError]: it says what is wrong, never quoting the string (which may hold
// the password).
func PoolConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, configError(err)
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = DefaultExecMode
	}
	return cfg, nil
}

// ConfigError is a database URL that cannot be used: a setting pgx does not accept, or a file
// it names (sslrootcert, sslcert, sslkey) that cannot be read.
type ConfigError struct {
	Reason string // what is wrong, without the URL
	Err    error  // pgx's error (its text quotes the URL, password redacted at best)
}

func (e *ConfigError) Error() string { return "DATABASE_URL: " + e.Reason }
func (e *ConfigError) Unwrap() error { return e.Err }

// configError turns pgx's parse error into what is wrong, without the connection string.
func configError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		what := "a file it names"
		switch fileParam(err, pe.Path) {
		case "sslrootcert":
			what = "the sslrootcert file (the CA certificate; or PGSSLROOTCERT)"
		case "sslcert", "sslkey":
			what = "the sslcert/sslkey file (the client certificate; or PGSSLCERT, PGSSLKEY)"
		}
		reason := fmt.Sprintf("cannot read %s %s: %v", what, pe.Path, pe.Err)
		if errors.Is(err, fs.ErrNotExist) {
			reason = fmt.Sprintf("%s %s not found: fix the path, or download the file your provider gives", what, pe.Path)
		}
		return &ConfigError{Reason: reason, Err: err}
	}
	// pgx's text: "cannot parse `<redacted dsn>`: <what> (<cause>)". Keep what follows the
	// quoted string only.
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	} else {
		msg = "not a valid PostgreSQL URL or key=value string"
	}
	return &ConfigError{Reason: msg + " (see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS)", Err: err}
}

// fileParam is the connection parameter (sslrootcert, sslcert, sslkey) whose value is path,
// in the connection string pgx could not use (*pgconn.ParseConfigError's) or in the variable
// libpq reads it from (PGSSLROOTCERT, PGSSLCERT, PGSSLKEY); "" when none is.
func fileParam(err error, path string) string {
	var pce *pgconn.ParseConfigError
	var given map[string]string
	if errors.As(err, &pce) {
		given = connParams(pce.ConnString)
	}
	for _, p := range []string{"sslrootcert", "sslcert", "sslkey"} {
		if v, ok := given[p]; ok && v == path || !ok && os.Getenv("PG"+strings.ToUpper(p)) == path {
			return p
		}
	}
	return ""
}

// connParams reads the parameters of a connection string, a URL (postgres://…?k=v) or
// key=value pairs, best effort: only to say which one names a file.
func connParams(s string) map[string]string {
	out := map[string]string{}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		for k, v := range u.Query() {
			out[k] = v[len(v)-1]
		}
		return out
	}
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = strings.Trim(v, "'")
		}
	}
	return out
}

// ConnectError is a failure to open a session: what went wrong, said so that the setting to
// change is clear, never with the password.
type ConnectError struct {
	Host     string
	Port     uint16
	User     string
	Database string
	Kind     string // "authentication", "certificate", "tls", "database", "unreachable"
	Reason   string
	Err      error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("database %s:%d (user %s, database %s): %s", e.Host, e.Port, e.User, e.Database, e.Reason)
}
func (e *ConnectError) Unwrap() error { return e.Err }

// DescribeConnectError classifies err, a failure to connect with cfg, into a *ConnectError:
// authentication failed (the password, the role, pg_hba.conf), the server's certificate not
// trusted and why (no CA given, an unknown CA, another host name), TLS refused, no such
// database, or unreachable. Other errors are returned as they are.
func DescribeConnectError(cfg *pgconn.Config, err error) error {
	if err == nil {
		return nil
	}
	ce := &ConnectError{Host: cfg.Host, Port: cfg.Port, User: cfg.User, Database: cfg.Database, Err: err}
	var pgErr *pgconn.PgError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.InvalidPassword || pgErr.Code == pgerrcode.InvalidAuthorizationSpecification ||
		strings.Contains(pgErr.Message, "authentication failed")): // PgBouncer's: SQLSTATE 08P01
		ce.Kind = "authentication"
		ce.Reason = fmt.Sprintf("authentication failed for user %q (%s): check the user and password in DATABASE_URL "+
			"(or PGPASSWORD, ~/.pgpass); on Supabase's pooler the user is postgres.<project ref>", cfg.User, pgErr.Message)
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InvalidCatalogName:
		ce.Kind = "database"
		ce.Reason = fmt.Sprintf("no database %q on this server: fix the database name in DATABASE_URL", cfg.Database)
	case errors.As(err, &hostErr):
		ce.Kind = "certificate"
		ce.Reason = fmt.Sprintf("the server's certificate is not trusted: it is not for host %q (%v); use the host name "+
			"the certificate names, or sslmode=verify-ca", cfg.Host, hostErr)
	case errors.As(err, &unknownCA):
		ce.Kind = "certificate"
		ce.Reason = "the server's certificate is not trusted: it is signed by a CA this machine does not trust; set " +
			"sslrootcert=<the provider's CA file> in DATABASE_URL (or PGSSLROOTCERT), or sslmode=require to encrypt without verifying"
	case errors.As(err, &invalid):
		ce.Kind = "certificate"
		ce.Reason = fmt.Sprintf("the server's certificate is not trusted: %v", invalid)
	case errors.As(err, &verify):
		ce.Kind = "certificate"
		ce.Reason = fmt.Sprintf("the server's certificate is not trusted: %v; set sslrootcert=<the provider's CA file>", verify.Err)
	case strings.Contains(err.Error(), "server refused TLS connection"):
		// The one text read: pgconn answers a server's "no TLS" with errors.New, no type or
		// sentinel to test (pgconn.go, startTLS).
		ce.Kind = "tls"
		ce.Reason = "the server does not accept TLS: use sslmode=prefer or disable for this server, or enable ssl on it"
	case errors.As(err, &pgErr):
		ce.Kind = "refused"
		ce.Reason = fmt.Sprintf("the server refused the session: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		ce.Kind = "unreachable"
		ce.Reason = fmt.Sprintf("unreachable: %v", errors.Unwrap(err))
	default:
		ce.Kind = "unreachable"
		ce.Reason = fmt.Sprintf("cannot connect: %v", err)
	}
	return ce
}
