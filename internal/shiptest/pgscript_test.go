package shiptest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scripts/pg.sh keeps the demo's database on its port across a stop and a start (make pg-stop,
// make run), so an exported DATABASE_URL keeps working. Before, every start took a new port.
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
	if res := run(t, root, script, "stop", dir); res.code != 0 {
		t.Fatalf("pg.sh stop: exit %d %s", res.code, res.stderr)
	}
	second := run(t, root, script, "start", dir)
	if second.code != 0 || strings.TrimSpace(second.stdout) != strings.TrimSpace(first.stdout) {
		t.Errorf("after a stop and a start the cluster is at %q (exit %d), want %q as before", second.stdout, second.code, first.stdout)
	}
}
