package main

// The database as users have it: every pgx statement mode, poolers, managed roles, TLS.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/pgtest"
)

// runThenEnqueue runs the pipeline by `metapipe run` (the table must equal the truth), then
// starts a worker and runs it again, --full, by `enqueue --wait`, which must end done; as says
// how the database is reached, for the messages.
func (w *world) runThenEnqueue(t *testing.T, as string) {
	t.Helper()
	if res := w.run(t, nil, relArgs()...); res.code != 0 {
		t.Fatalf("run%s: exit %d\n%s", as, res.code, tail(res.stderr, 3000))
	}
	w.checkTruth(t)
	worker := w.start(t, "worker", nil, "worker", "--sync-budget", "0", "--concurrency", "1", "--inline-wait", "2s", "--poll-first", "150ms", "--poll-max", "400ms")
	worker.event(t, "working jobs", 30*time.Second)
	res := w.run(t, nil, "enqueue", "--wait", "--full", "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13")
	if res.code != 0 || !strings.Contains(res.stdout, `"state":"done"`) {
		t.Fatalf("enqueue --wait%s: exit %d, want 0 and done:\n%s%s", as, res.code, tail(res.stdout, 2000), tail(res.stderr, 2000))
	}
}

// Every command works in each of pgx's statement modes, which a user may set with
// default_query_exec_mode in DATABASE_URL: migrate, run, and a worker's job queued by enqueue
// --wait, whose plan and report runs go to jsonb columns. Before JSON went as text, exec and
// simple_protocol sent it as bytea and every job failed with "invalid input syntax for type json".
func TestEveryExecMode(t *testing.T) {
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 8, JobDuration: 300 * time.Millisecond})
			w.DBURL += "&default_query_exec_mode=" + mode
			if res := w.run(t, nil, "migrate"); res.code != 0 {
				t.Fatalf("migrate: exit %d %s", res.code, res.stderr)
			}
			w.runThenEnqueue(t, "")
			plans := w.count(t, `SELECT count(*) FROM service_run_clients WHERE jsonb_typeof(plan) = 'object'`)
			if plans != 1 {
				t.Errorf("%d plans stored as JSON objects, want 1", plans)
			}
			if n := w.count(t, `SELECT count(*) FROM service_report_runs WHERE jsonb_typeof(entry) = 'object'`); n != 5 {
				t.Errorf("%d report runs stored as JSON objects, want 5", n)
			}
			w.checkTruth(t)
		})
	}
}

// A managed role, as Supabase's, Neon's or RDS's: it owns its database but is no superuser,
// and its statement_timeout and idle_in_transaction_session_timeout are 5 s. The demo of 1,000
// ad accounts (a year each) migrates, seeds, runs and loads through it: the KPI read is 100
// clients per statement, and the load's one transaction sets its own timeouts (SET LOCAL).
// Before, the one KPI statement over every client and the load's COPY were cancelled.
func TestManagedRoleWithFiveSecondTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("a run of 1,000 client-years")
	}
	role := pgtest.NewRole(t, map[string]string{"statement_timeout": "5s", "idle_in_transaction_session_timeout": "5s"})
	db := pgtest.NewDatabase(t)
	role.Own(t, db)
	url := role.URL(t, db)
	c := exec.Command(binary, "--stage-dir", t.TempDir(), "--log-format", "json", "demo", "--accounts", "1000", "--weeks", "54",
		"--as-of", lastSunday.Format(time.DateOnly), "--job-duration", "200ms", "--latency", "1ms", "--jitter", "0",
		"--concurrency", "16", "--sync-weeks", "54")
	c.Env = append(os.Environ(), "DATABASE_URL="+url)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("demo of 1,000 accounts as a role with 5 s timeouts: %v\n%s", err, tail(errb.String(), 4000))
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var timeout string
	var clients, rows int
	if err := pool.QueryRow(context.Background(), `SELECT current_setting('statement_timeout'),
		(SELECT count(DISTINCT client_id) FROM campaign_summaries), (SELECT count(*) FROM campaign_summaries)`).Scan(&timeout, &clients, &rows); err != nil {
		t.Fatal(err)
	}
	if timeout != "5s" {
		t.Errorf("the role's statement_timeout is %q, want 5s", timeout)
	}
	if clients != 1000 || rows < 1000*50 {
		t.Errorf("%d clients and %d weekly rows loaded, want 1000 clients and at least 50,000 rows", clients, rows)
	}
}

// Errors that point the right way, each naming the setting to change and never the password.
func TestDatabaseErrorsPointTheRightWay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	direct := pgtest.NewDatabase(t)
	migrate := func(t *testing.T, url string, args ...string) result {
		t.Helper()
		c := exec.Command(binary, append([]string{"--log-format", "json", "migrate"}, args...)...)
		c.Env = append(os.Environ(), "DATABASE_URL="+url)
		return runCmd(t, c)
	}
	expect := func(t *testing.T, res result, code int, want []string, not ...string) {
		t.Helper()
		if res.code != code {
			t.Errorf("exit %d, want %d:\n%s", res.code, code, res.stderr)
		}
		for _, w := range want {
			if !strings.Contains(res.stderr, w) {
				t.Errorf("stderr does not say %q:\n%s", w, res.stderr)
			}
		}
		for _, n := range not {
			if strings.Contains(res.stderr, n) {
				t.Errorf("stderr says %q:\n%s", n, res.stderr)
			}
		}
	}

	t.Run("sslrootcert not found", func(t *testing.T) {
		res := migrate(t, strings.Replace(direct, "sslmode=disable", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", 1))
		expect(t, res, 2, []string{"sslrootcert file", "/nonexistent/ca.pem not found"}, "not a valid")
	})
	t.Run("a bad setting", func(t *testing.T) {
		res := migrate(t, direct+"&connect_timeout=soon")
		expect(t, res, 2, []string{"connect_timeout"}, "not a valid")
	})
	t.Run("authentication failed", func(t *testing.T) {
		pooled := pgtest.PgBouncerWith(t, direct, pgtest.BouncerOptions{Mode: "transaction", Password: "right-pw-4f1c"})
		wrong := strings.Replace(pooled, "right-pw-4f1c", "pw-CANARY-wrong-77", 1)
		res := migrate(t, wrong)
		expect(t, res, 3, []string{"authentication failed for user", "password in DATABASE_URL"}, "unreachable", "pw-CANARY-wrong-77")
		if res := migrate(t, pooled); res.code != 0 {
			t.Errorf("the right password: exit %d\n%s", res.code, res.stderr)
		}
	})
	t.Run("certificate not trusted", func(t *testing.T) {
		dir := t.TempDir()
		ca, cert, key := selfSignedCert(t, dir, "localhost")
		pooled := pgtest.PgBouncerWith(t, direct, pgtest.BouncerOptions{Mode: "transaction", TLSCert: cert, TLSKey: key})
		verify := strings.Replace(pooled, "sslmode=disable", "sslmode=verify-full", 1)
		res := migrate(t, strings.Replace(verify, "127.0.0.1", "localhost", 1)) // no CA given
		expect(t, res, 3, []string{"certificate is not trusted", "sslrootcert="}, "unreachable")
		withCA := verify + "&sslrootcert=" + ca
		res = migrate(t, withCA) // the certificate is for localhost, the URL says 127.0.0.1
		expect(t, res, 3, []string{"certificate is not trusted", "it is not for host", "validate certificate for 127.0.0.1"}, "unreachable")
		if res := migrate(t, strings.Replace(withCA, "127.0.0.1", "localhost", 1)); res.code != 0 {
			t.Errorf("verify-full with the CA and the certificate's host name: exit %d\n%s", res.code, res.stderr)
		}
	})
	t.Run("migration lock held", func(t *testing.T) {
		if res := migrate(t, direct); res.code != 0 {
			t.Fatalf("migrate: exit %d %s", res.code, res.stderr)
		}
		pool, err := pgxpool.New(context.Background(), direct)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := pool.Exec(context.Background(), `INSERT INTO metapipe_locks (name, holder, token, expires_at)
			VALUES ('migrate', 'metapipe migrate, host elsewhere pid 42', 'x', now() + interval '1 hour')`); err != nil {
			t.Fatal(err)
		}
		res := migrate(t, direct, "--wait", "2s")
		expect(t, res, 3, []string{"waiting for the migration lock (migrate)", "the migration lock (migrate) is held by metapipe migrate, host elsewhere pid 42"})
	})
	t.Run("a role that may not create tables", func(t *testing.T) {
		role := pgtest.NewRole(t, nil)
		db := pgtest.NewDatabase(t) // not migrated, owned by the server's superuser
		c := exec.Command(binary, "--log-format", "json", "worker")
		c.Env = append(os.Environ(), "DATABASE_URL="+role.URL(t, db))
		out, _ := c.CombinedOutput()
		if c.ProcessState.ExitCode() != 3 || !strings.Contains(string(out), "run metapipe migrate") || strings.Contains(string(out), "permission denied") {
			t.Errorf("worker on a database not migrated: exit %d, want 3 saying run metapipe migrate:\n%s", c.ProcessState.ExitCode(), out)
		}
	})
}

// selfSignedCert writes a CA and a server certificate for host, signed by it, and the server's
// key; it returns their paths.
func selfSignedCert(t *testing.T, dir, host string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "metapipe test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "PRIVATE KEY", keyDER)
}

// A role granted the README's privileges on a schema migrated by its owner (no CREATE on it,
// no ownership) runs metapipe run and works a service job; the README's grants are the
// statements run here, word for word.
func TestGrantedRoleRunsAndWorks(t *testing.T) {
	role := pgtest.NewRole(t, map[string]string{"statement_timeout": "5s"}) // dropped after the database
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 3, JobDuration: 300 * time.Millisecond})
	var db, owner string
	if err := w.Pool.QueryRow(context.Background(), `SELECT current_database(), current_user`).Scan(&db, &owner); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var grants []string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "GRANT ") || strings.HasPrefix(line, "ALTER DEFAULT PRIVILEGES ") {
			stmt := strings.TrimSpace(strings.SplitN(line, ";", 2)[0])
			stmt = strings.NewReplacer("metapipe_app", `"`+role.Name+`"`, "mydb", `"`+db+`"`, "owner_role", `"`+owner+`"`).Replace(stmt)
			grants = append(grants, stmt)
		}
	}
	if len(grants) != 6 {
		t.Fatalf("found %d grants in the README, want 6: %q", len(grants), grants)
	}
	for _, g := range grants {
		if _, err := w.Pool.Exec(context.Background(), g); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
	}
	w.DBURL = role.URL(t, w.DBURL)
	w.runThenEnqueue(t, " as the granted role")
	if res := w.run(t, nil, "migrate", "--wait", "2s"); res.code != 0 {
		t.Errorf("migrate as the granted role of a migrated schema: exit %d, want 0 (nothing to apply)\n%s", res.code, res.stderr)
	}
}
