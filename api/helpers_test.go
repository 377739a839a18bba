package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/api"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/servicetest"
	"github.com/metapipe/metapipe/service"
)

// apiToken is the API token of every test server: recognisable, so that a test can look for
// it where it must not be.
const apiToken = "mp-CANARY-api-token-0c9e41d7"

var lastSunday = e2etest.LastSunday

// env is a simulator, a migrated database with the demo clients (one per simulated ad
// account), and the log of every service process the test opens.
type env struct {
	*e2etest.World          // Clients: ids, in the simulator's account order
	names          []string // "Demo <account name>"
	logs           *e2etest.Buffer
}

func newEnv(t *testing.T, cfg graphsim.Config) *env {
	t.Helper()
	w := servicetest.New(t, e2etest.Sim(cfg))
	return &env{World: w, names: w.Names(), logs: &e2etest.Buffer{}}
}

// open opens a service process; concurrency 0 makes one that queues and reads runs but works
// no job (serve without --worker), so that what it queues stays queued.
func (e *env) open(t *testing.T, id string, concurrency int) *service.Service {
	t.Helper()
	cfg := servicetest.Config(e.World, id, concurrency)
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := service.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if concurrency > 0 {
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	return s
}

// serve serves the API of a service on a loopback server with the test's token and returns
// its URL.
func (e *env) serve(t *testing.T, s *service.Service) string {
	t.Helper()
	srv, err := api.New(s, api.Options{Token: apiToken, Refresh: time.Second,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

// answer is an HTTP answer: its status, headers and body.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not a JSON object (status %d): %v\n%s", a.status, err, a.body)
	}
	return m
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call sends a request with the given Authorization header value ("" for none).
func call(t *testing.T, c *http.Client, method, url, auth, body string) answer {
	t.Helper()
	a := e2etest.Call(t, c, method, url, auth, body)
	return answer{a.Status, a.Header, a.Body}
}

const bearer = "Bearer " + apiToken

// post queues a run through the API with the token.
func post(t *testing.T, base, body string) answer {
	t.Helper()
	return call(t, noRedirect, http.MethodPost, base+"/v1/runs", bearer, body)
}

// get reads an API route with the token.
func get(t *testing.T, base, path string) answer {
	t.Helper()
	return call(t, noRedirect, http.MethodGet, base+path, bearer, "")
}

// crossSitePost sends a POST with the token as another site's page would (Sec-Fetch-Site:
// cross-site) and returns the answer's status.
func crossSitePost(t *testing.T, url, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// runView reads GET /v1/runs/{id}.
func runView(t *testing.T, base, id string) service.RunView {
	t.Helper()
	a := get(t, base, "/v1/runs/"+id)
	if a.status != http.StatusOK {
		t.Fatalf("GET /v1/runs/%s: %d %s", id, a.status, a.body)
	}
	var r service.RunView
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitRun polls GET /v1/runs/{id} until the run is over, as a caller of the API would.
func waitRun(t *testing.T, base, id string, within time.Duration) service.RunView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := runView(t, base, id)
		if r.FinishedAt != nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not over after %s: %+v", id, within, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clientJSON is one client of GET /v1/runs/{id} as raw JSON.
func clientJSON(t *testing.T, base, id, clientID string) map[string]any {
	t.Helper()
	var raw struct {
		Clients []map[string]any `json:"clients"`
	}
	if err := json.Unmarshal(get(t, base, "/v1/runs/"+id).body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Clients {
		if c["client_id"] == clientID {
			return c
		}
	}
	t.Fatalf("run %s has no client %s", id, clientID)
	return nil
}

// runPage is the run's page, signed in with the token.
func runPage(t *testing.T, base, id string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := browser.PostForm(base+"/login", url.Values{"token": {apiToken}, "next": {"/runs/" + id}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the run's page: %d %s", res.StatusCode, body)
	}
	return string(body)
}

// clientRow is a client's row of the run's page.
func clientRow(page, clientID string) string {
	return regexp.MustCompile(`(?s)<tr data-client="` + clientID + `">.*?</tr>`).FindString(page)
}
