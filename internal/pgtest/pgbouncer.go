package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBouncer starts a real PgBouncer (Debian's pgbouncer package; as the postgres user when the
// test runs as root, since PgBouncer refuses root) in front of the server of dbURL, in pool
// mode "transaction" or "session", and returns dbURL rewritten to go through it. It is
// stopped when the test ends. Without the pgbouncer binary the test fails under CI=true and is
// skipped otherwise.
func PgBouncer(t testing.TB, dbURL, mode string) string {
	t.Helper()
	return PgBouncerWith(t, dbURL, BouncerOptions{Mode: mode})
}

// BouncerOptions are a PgBouncer's pool mode and what it asks of its clients.
type BouncerOptions struct {
	Mode     string // "transaction" or "session"
	Password string // "": trust; else the user must give it (scram-sha-256)
	// TLSCert and TLSKey, PEM files: the PgBouncer requires TLS of its clients with this
	// certificate.
	TLSCert, TLSKey string
}

// PgBouncerWith is PgBouncer with options.
func PgBouncerWith(t testing.TB, dbURL string, o BouncerOptions) string {
	t.Helper()
	bin := Binary(t, "apt-get install pgbouncer", "pgbouncer", "/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer")
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "metapipe-pgbouncer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port := freePort(t)
	writeBouncerConfig(t, dir, cfg.Host, cfg.Port, port, cfg.User, o)
	exited := startBouncer(t, dir, bin)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if o.Password != "" {
		u.User = url.UserPassword(cfg.User, o.Password)
	}
	pooled := u.String()
	probe := pooled + sep(pooled) + "default_query_exec_mode=simple_protocol"
	if o.TLSCert != "" {
		probe = strings.Replace(probe, "sslmode=disable", "sslmode=require", 1)
	}
	waitBouncer(t, probe, dir, exited)
	return pooled
}

// Binary finds the first of names on PATH (or at its path, for a name with a slash): under CI
// (CI=true) its absence fails the test, elsewhere it skips it, saying what installs it.
func Binary(t testing.TB, install string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no %s (%s)", names[0], install)
	}
	t.Skipf("no %s: %s", names[0], install)
	return ""
}

// writeBouncerConfig writes dir/pgbouncer.ini (listening on 127.0.0.1:port, every database to
// host:dbPort) and dir/userlist.txt, copying the TLS files of o into dir.
func writeBouncerConfig(t testing.TB, dir, host string, dbPort uint16, port int, user string, o BouncerOptions) {
	t.Helper()
	authType := "trust"
	if o.Password != "" {
		authType = "scram-sha-256"
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = %s
auth_file = %s
pool_mode = %s
max_client_conn = 1000
default_pool_size = 40
ignore_startup_parameters = extra_float_digits,options
server_reset_query = DISCARD ALL
logfile = %s
pidfile = %s
`, host, dbPort, port, authType, filepath.Join(dir, "userlist.txt"), o.Mode, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	if o.TLSCert != "" {
		for _, f := range []string{o.TLSCert, o.TLSKey} {
			b, err := os.ReadFile(f)
			must(err)
			must(os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644))
		}
		ini += fmt.Sprintf("client_tls_sslmode = require\nclient_tls_cert_file = %s\nclient_tls_key_file = %s\n",
			filepath.Join(dir, filepath.Base(o.TLSCert)), filepath.Join(dir, filepath.Base(o.TLSKey)))
	}
	must(os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644))
	must(os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(fmt.Sprintf("%q %q\n", user, o.Password)), 0o644))
}

// startBouncer starts pgbouncer on dir's config (as the postgres user when we are root: it
// refuses root) in a process group of its own, stopped when the test ends; the channel is
// closed when it exits.
func startBouncer(t testing.TB, dir, bin string) <-chan struct{} {
	t.Helper()
	args := []string{bin, filepath.Join(dir, "pgbouncer.ini")}
	if os.Getuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: pgbouncer refuses root and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := errors.Join(os.Chmod(dir, 0o755), os.Chown(dir, uid, gid)); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgtest: start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // its process group: runuser and pgbouncer
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return exited
}

// waitBouncer waits up to 15 s for the PgBouncer to let probe connect; one that exits or is
// not ready by then fails the test with its log.
func waitBouncer(t testing.TB, probe, dir string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, probe)
		cancel()
		if err == nil {
			_ = c.Close(context.Background())
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgtest: pgbouncer exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgtest: pgbouncer not ready after 15s: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
