package main

// Helpers of the tests that run the service as several processes: the simulator, serve and
// workers, each the built binary, as they would run on a machine.

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
)

// proc is one running metapipe process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err *e2etest.Buffer
	done     chan struct{} // closed when it has exited
	exit     error         // its exit, once done is closed
}

// start starts the binary with the world's environment (database, simulator, Meta token) plus
// env, in JSON log mode; the process is killed when the test ends if it still runs.
func (w *world) start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: w.cmd(env, args...), out: &e2etest.Buffer{}, err: &e2etest.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exit = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			n := 3000
			if os.Getenv("METAPIPE_TEST_LOGS") == "all" {
				n = 1 << 30
			}
			t.Logf("%s stderr (last %d bytes):\n%s", p.name, n, tail(p.err.String(), n))
		}
	})
	return p
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// event waits for the first JSON line on the process's stdout or stderr whose msg is msg.
func (p *proc) event(t *testing.T, msg string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, s := range []string{p.out.String(), p.err.String()} {
			sc := bufio.NewScanner(strings.NewReader(s))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
					return m
				}
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before %q:\n%s%s", p.name, p.exit, msg, p.out.String(), tail(p.err.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q after %s:\n%s", p.name, msg, within, tail(p.err.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and waits at most within for the exit; it returns the exit code and how long
// the process took to exit.
func (p *proc) stop(t *testing.T, sig syscall.Signal, within time.Duration) (int, time.Duration) {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s still runs %s after %v", p.name, within, sig)
	}
	took := time.Since(sent)
	var ee *exec.ExitError
	switch {
	case p.exit == nil:
		return 0, took
	case errors.As(p.exit, &ee):
		return ee.ExitCode(), took
	}
	t.Fatalf("%s: %v", p.name, p.exit)
	return 0, took
}

// newSimWorld is a world whose simulator is `metapipe sim`, a process of its own; w.sim is an
// in-process twin with the same seed, whose data (and so the truth) is the same, but whose
// counters stay zero: simCounters reads the process's.
func newSimWorld(t *testing.T, cfg graphsim.Config) *world {
	t.Helper()
	w := fromWorld(e2etest.New(t, e2etest.Sim(cfg), e2etest.NoServer(), binaryMigrate(t), e2etest.Seeded(lastSunday.AddDate(0, 0, -7*60), lastSunday)))
	sim := w.start(t, "sim", nil, "sim", "--seed", itoa(cfg.Seed), "--accounts", itoa(int64(cfg.Accounts)),
		"--job-duration", cfg.JobDuration.String())
	w.URL = sim.event(t, "sim_listening", 30*time.Second)["url"].(string)
	return w
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// simCounters reads what the simulator process served.
func (w *world) simCounters(t *testing.T) graphsim.Counters {
	t.Helper()
	res, err := http.Get(w.URL + "/_sim/counters")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c graphsim.Counters
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// httpCall sends a request to serve with the API token (auth "" for none) and returns the
// status and body.
func httpCall(t *testing.T, method, url, auth, body string) (int, []byte) {
	t.Helper()
	if auth != "" {
		auth = "Bearer " + auth
	}
	a := e2etest.Call(t, http.DefaultClient, method, url, auth, body)
	return a.Status, a.Body
}

// apiRun is GET /v1/runs/{id}, decoded.
type apiRun struct {
	RunID      string     `json:"run_id"`
	State      string     `json:"state"`
	FinishedAt *time.Time `json:"finished_at"`
	Clients    []struct {
		ClientID    string `json:"client_id"`
		Name        string `json:"name"`
		State       string `json:"state"`
		Attempt     int    `json:"attempt"`
		ReportsDone int    `json:"reports_done"`
		Rows        struct {
			Inserted, Updated, Unchanged, Kept int64
		} `json:"rows"`
		Error string `json:"error"`
	} `json:"clients"`
}

func getRun(t *testing.T, base, token, id string) apiRun {
	t.Helper()
	code, body := httpCall(t, "GET", base+"/v1/runs/"+id, token, "")
	var r apiRun
	if err := json.Unmarshal(body, &r); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/runs/%s: %d %s", id, code, body)
	}
	return r
}

// apiToken is the API token the tests give serve.
const apiToken = "mp-CANARY-api-token-5e0b7c21"

// serveEnv is the environment of serve in these tests.
var serveEnv = []string{"METAPIPE_API_TOKEN=" + apiToken}

// The processes get METAPIPE_API_TOKEN from the tests only, whatever the caller's shell holds.
func init() { _ = os.Unsetenv("METAPIPE_API_TOKEN") }
