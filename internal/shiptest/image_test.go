// Package shiptest tests what ships besides the code: the container image (make image) in real
// Podman, and the scripts a newcomer runs first (scripts/pg.sh).
package shiptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/pgtest"
)

// repoRoot is the checkout this package is in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// podman returns podman's path; without it the test is skipped, or fails under CI=true (where
// .ci/run installs it).
func podman(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("podman")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("podman is not installed (CI=true: .ci/run installs podman and runc)")
		}
		t.Skip("podman not installed: the container image test (make image; migrate, run, serve in the container) is skipped")
	}
	return p
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir, name string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c := exec.Command(name, args...)
	c.Dir, c.Stdout, c.Stderr = dir, &out, &errb
	err := c.Run()
	res := result{out.String(), errb.String(), 0}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return res
}

// jsonLines reads one JSON object per line.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// The image that make image builds runs every command as they are deployed: migrate, a run
// against the simulator and serve's /healthz, against PostgreSQL on the host (the container on
// the host's network), as user 65532, with no TZ and no zoneinfo in the image: an
// Australia/Sydney ad account's today is Sydney's.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the container image")
	}
	pm := podman(t)
	root := repoRoot(t)
	const image = "localhost/metapipe-shiptest:latest"
	// make image tags :latest and :$(VERSION); the version here is git describe's, as released.
	res := run(t, root, "make", "--no-print-directory", "image", "IMAGE=localhost/metapipe-shiptest", "CONTAINER="+pm)
	if res.code != 0 {
		t.Fatalf("make image: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	version := strings.TrimSpace(run(t, root, pm, "image", "inspect", "--format", `{{index .Config.Labels "org.opencontainers.image.version"}}`, image).stdout)
	t.Cleanup(func() { run(t, root, pm, "rmi", "--force", image, "localhost/metapipe-shiptest:"+version) })
	size := strings.TrimSpace(run(t, root, pm, "image", "inspect", "--format", "{{.Size}}", image).stdout)
	user := strings.TrimSpace(run(t, root, pm, "image", "inspect", "--format", "{{.Config.User}}", image).stdout)
	ver := run(t, root, pm, "run", "--rm", image, "--version")
	if ver.code != 0 || !strings.HasPrefix(ver.stdout, "metapipe ") || !strings.Contains(ver.stdout, "commit ") {
		t.Fatalf("--version in the image: exit %d %q %q", ver.code, ver.stdout, ver.stderr)
	}
	if user != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532 (not root)", user)
	}
	t.Logf("REPORT image %s: %s bytes, user %s; --version inside: %s", image, size, user, strings.TrimSpace(ver.stdout))

	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	sim := graphsim.New(graphsim.Config{Accounts: 3, Seed: 5, JobDuration: 200 * time.Millisecond})
	srv := httptest.NewServer(sim) // on 127.0.0.1: the container shares the host's network
	t.Cleanup(srv.Close)
	// In the container, as deployed: the database and Meta from the environment, no TZ.
	container := func(env []string, args ...string) result {
		t.Helper()
		a := []string{"run", "--rm", "--network=host", "--env", "DATABASE_URL=" + dbURL}
		for _, e := range env {
			a = append(a, "--env", e)
		}
		return run(t, root, pm, append(append(a, image, "--log-format", "json"), args...)...)
	}
	meta := []string{"META_GRAPH_URL=" + srv.URL, "META_ACCESS_TOKEN=" + graphsim.DemoToken}

	res = container(nil, "migrate")
	if ev := jsonLines(t, res.stdout); res.code != 0 || len(ev) != 1 || ev[0]["msg"] != "migrated" {
		t.Fatalf("migrate in the image: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	asOf := e2etest.LastSunday
	ids, err := graphsim.SeedDemo(ctx, pool, sim, asOf.AddDate(0, 0, -7*10), asOf.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}

	res = container(meta, "run", "--as-of", asOf.Format(time.DateOnly), "--weeks", "6")
	ev := jsonLines(t, res.stdout)
	if res.code != 0 || len(ev) == 0 || ev[len(ev)-1]["msg"] != "run_finished" || ev[len(ev)-1]["status"] != "done" {
		t.Fatalf("run in the image: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	n := e2etest.CheckTable(t, pool, sim, ids, asOf, 6)
	t.Logf("REPORT run in the image: exit 0, %d rows in campaign_summaries, equal to the simulator's", n)

	// No TZ, no zoneinfo in the image (FROM scratch): the plan's as-of date of the Sydney
	// account is today in Sydney (the binary embeds time/tzdata).
	sydney, err := time.LoadLocation("Australia/Sydney")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().In(sydney).Format(time.DateOnly)
	res = container(meta, "plan", "--weeks", "2")
	after := time.Now().In(sydney).Format(time.DateOnly)
	type planEvent struct {
		Msg  string `json:"msg"`
		Plan struct {
			Clients []struct {
				Name     string `json:"name"`
				TimeZone string `json:"time_zone"`
				Until    string `json:"until"`
			} `json:"clients"`
		} `json:"plan"`
	}
	var planned []planEvent
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var e planEvent
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "plan" {
			planned = append(planned, e)
		}
	}
	if res.code != 0 || len(planned) != 1 {
		t.Fatalf("plan in the image: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	found := false
	for _, c := range planned[0].Plan.Clients {
		if c.TimeZone != "Australia/Sydney" {
			continue
		}
		found = true
		if c.Until != before && c.Until != after {
			t.Errorf("%s (Australia/Sydney) as of %s in the TZ-less container, want Sydney's today %s", c.Name, c.Until, before)
		}
		t.Logf("REPORT TZ-less container: %s (Australia/Sydney) is as of %s, Sydney's today (UTC: %s)", c.Name, c.Until,
			time.Now().UTC().Format(time.DateOnly))
	}
	if !found {
		t.Fatalf("no Australia/Sydney client in the plan:\n%s", res.stdout)
	}

	// serve, detached, answers /healthz on the host's network.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	name := fmt.Sprintf("metapipe-shiptest-%d", time.Now().UnixNano())
	if res := run(t, root, pm, "run", "-d", "--name", name, "--network=host", "--env", "DATABASE_URL="+dbURL, image, "serve", "--addr", addr); res.code != 0 {
		t.Fatalf("serve in the image: exit %d %s", res.code, res.stderr)
	}
	t.Cleanup(func() { run(t, root, pm, "rm", "-f", "-t", "2", name) })
	var body string
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b := new(bytes.Buffer)
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			body = b.String()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			logs := run(t, root, pm, "logs", name)
			t.Fatalf("serve in the image: no 200 from /healthz within a minute (%v %q)\n%s%s", err, body, logs.stdout, logs.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("REPORT serve in the image: GET /healthz 200 %s", strings.Join(strings.Fields(body), " "))

	// worker, detached, starts working jobs.
	wname := name + "-worker"
	if res := run(t, root, pm, "run", "-d", "--name", wname, "--network=host", "--env", "DATABASE_URL="+dbURL,
		"--env", meta[0], "--env", meta[1], image, "--log-format", "json", "worker", "--concurrency", "2"); res.code != 0 {
		t.Fatalf("worker in the image: exit %d %s", res.code, res.stderr)
	}
	t.Cleanup(func() { run(t, root, pm, "rm", "-f", "-t", "2", wname) })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		logs := run(t, root, pm, "logs", wname)
		if strings.Contains(logs.stderr+logs.stdout, `"msg":"working jobs"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker in the image: not working jobs within a minute:\n%s%s", logs.stdout, logs.stderr)
		}
	}
	t.Logf("REPORT worker in the image: working jobs")
}
