package shiptest

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// scripts/pg.sh keeps the demo's database on its port across a stop and a start (make pg-stop,
// make run), so an exported DATABASE_URL keeps working. Before, every start took a new port.
// A connection is open at the stop (a serve or a psql left running): the server closes it, and
// its side stays in TIME_WAIT on the port for a minute, which pg.sh took for a port in use.
func TestPgScriptKeepsItsPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	root := repoRoot(t)
	script := filepath.Join(root, "scripts", "pg.sh")
	if res := run(t, root, script, "url", t.TempDir()); res.code != 0 && strings.Contains(res.stderr, "no PostgreSQL server binaries") {
		if os.Getenv("CI") == "true" {
			t.Fatal(res.stderr)
		}
		t.Skip("PostgreSQL's server binaries are not installed")
	}
	dir := filepath.Join(t.TempDir(), "pg")
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run(t, root, script, "remove", dir) })
	first := run(t, root, script, "start", dir)
	if first.code != 0 {
		t.Fatalf("pg.sh start: exit %d %s", first.code, first.stderr)
	}
	conn, err := pgx.Connect(context.Background(), strings.TrimSpace(first.stdout))
	if err != nil {
		t.Fatalf("connect to %s: %v", first.stdout, err)
	}
	if res := run(t, root, script, "stop", dir); res.code != 0 { // the server closes conn first
		t.Fatalf("pg.sh stop: exit %d %s", res.code, res.stderr)
	}
	// Read the server's goodbye to its end, then close without a word (a Terminate, or unread
	// bytes, would make the kernel reset the connection instead of closing it).
	raw := conn.PgConn().Conn()
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, raw)
	_ = raw.Close()
	second := run(t, root, script, "start", dir)
	if second.code != 0 || strings.TrimSpace(second.stdout) != strings.TrimSpace(first.stdout) {
		t.Errorf("after a stop and a start the cluster is at %q (exit %d), want %q as before", second.stdout, second.code, first.stdout)
	}
}

// metapipe --version says the release tag of the commit it was built from (make build: git
// describe --tags), the commit and the Go version.
func TestVersionFromGitTag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := repoRoot(t)
	if res := run(t, root, "git", "rev-parse", "HEAD"); res.code != 0 {
		t.Skip("not a git checkout: no tag to build from")
	}
	clone := filepath.Join(t.TempDir(), "metapipe")
	for _, args := range [][]string{{"clone", "--quiet", root, clone}, {"-C", clone, "tag", "v0.0.1-shiptest"}} {
		if res := run(t, root, "git", args...); res.code != 0 {
			t.Fatalf("git %v: %s", args, res.stderr)
		}
	}
	if res := run(t, clone, "make", "--no-print-directory", "build"); res.code != 0 {
		t.Fatalf("make build: exit %d %s", res.code, res.stderr)
	}
	commit := strings.TrimSpace(run(t, clone, "git", "rev-parse", "--short", "HEAD").stdout)
	res := run(t, clone, filepath.Join(clone, "bin", "metapipe"), "--version")
	if want := "metapipe v0.0.1-shiptest (commit " + commit + ", go"; res.code != 0 || !strings.HasPrefix(res.stdout, want) {
		t.Errorf("--version: %q, want it to start with %q", res.stdout, want)
	}
	t.Logf("REPORT --version of a build of tag v0.0.1-shiptest: %s", strings.TrimSpace(res.stdout))
}
