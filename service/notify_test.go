package service_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/backoff"
	"github.com/metapipe/metapipe/service"
)

const webhookSecret = "whsec-CANARY-5f1e0c2a9b"

// posted is one POST the receiver got.
type posted struct {
	path     string
	header   http.Header
	body     []byte
	answered int
}

// receiver is a local webhook receiver that answers 503 to its first `fail` POSTs, then 204.
type receiver struct {
	mu      sync.Mutex
	fail    int
	posts   []posted
	refused int // POSTs to /refuse, answered 400
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.URL.Path == "/refuse" {
		r.refused++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	status := http.StatusNoContent
	if r.fail > 0 {
		r.fail--
		status = http.StatusServiceUnavailable
	}
	r.posts = append(r.posts, posted{req.URL.Path, req.Header.Clone(), b, status})
	w.WriteHeader(status)
}

func (r *receiver) all() []posted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts)
}

// The notifications end to end, with two workers and a local receiver (a generic JSON webhook
// and a Slack one) that fails the first two POSTs: a run that ends partial (a client whose own
// token Meta refuses, one on the default token Meta refuses, a throttled one), then a run of
// the first refused client alone that ends failed, its second failure in a row. Every event is
// recorded once and arrives once at each webhook (the two failed POSTs retried), signed with
// HMAC-SHA256 of the body, with the documented body; no body holds a token, the secret or the
// database URL. A third webhook that answers 400 is posted each event once, not retried, and
// counted by metapipe_notify_deliveries_undelivered.
func TestNotificationsArriveOnceSigned(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 4})
	ctx := context.Background()
	rcv := &receiver{fail: 2}
	hook := httptest.NewServer(rcv)
	t.Cleanup(hook.Close)
	for i, tok := range []string{graphsim.DemoToken, graphsim.DemoToken, graphsim.ExpiredToken, ""} {
		if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = nullif($1, '') WHERE id = $2`, tok, e.Clients[i]); err != nil {
			t.Fatal(err)
		}
	}
	e.Sim.SetFaults(e.Sim.Accounts()[0].ID, graphsim.Faults{ThrottleEvery: 3, RegainMinutes: 2})
	hooks := []service.Webhook{{URL: hook.URL + "/generic", Format: service.FormatJSON}, {URL: hook.URL + "/slack", Format: service.FormatSlack},
		{URL: hook.URL + "/refuse", Format: service.FormatJSON}}
	workers := make([]*service.Service, 2)
	for i := range workers {
		cfg := e.config(fmt.Sprintf("worker-%d", i+1), 2)
		cfg.Pipeline.Token = extract.NewToken(graphsim.ExpiredToken) // the default token, refused
		cfg.Notify = service.NotifyConfig{
			Webhooks:       hooks,
			Secret:         webhookSecret,
			FailuresInARow: 2,
			ThrottleBound:  10 * time.Millisecond, // Meta's 2 minutes, at 20 ms a minute: 40 ms
			Retry:          backoff.Policy{Base: 20 * time.Millisecond, Cap: 100 * time.Millisecond, MaxAttempts: 5},
		}
		workers[i] = start(t, openWith(t, cfg))
	}
	run1, err := workers[0].Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 8, Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, workers[0], run1, 2*time.Minute); r.State != "partial" {
		t.Fatalf("run 1: %s, want partial: %+v", r.State, r)
	}
	run2, err := workers[1].Enqueue(ctx, service.RunRequest{Clients: []string{e.Clients[2]}, AsOf: lastSunday, Weeks: 8, Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, workers[1], run2, 2*time.Minute); r.State != "failed" {
		t.Fatalf("run 2: %s, want failed: %+v", r.State, r)
	}

	// What must arrive: kind, run, client.
	want := []string{
		"run_finished " + run1 + " ", "token_refused " + run1 + " " + e.Clients[2], "token_refused " + run1 + " " + e.Clients[3],
		"client_throttled " + run1 + " " + e.Clients[0],
		"run_finished " + run2 + " ", "token_refused " + run2 + " " + e.Clients[2], "client_failing " + run2 + " " + e.Clients[2],
	}
	slices.Sort(want)
	var events int
	deadline := time.Now().Add(time.Minute)
	for {
		var pending int
		if err := e.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM notify_events),
			(SELECT count(*) FROM notify_events ev WHERE (SELECT count(*) FROM notify_deliveries d WHERE d.event_id = ev.id AND d.delivered_at IS NOT NULL) < 2)`).
			Scan(&events, &pending); err != nil {
			t.Fatal(err)
		}
		if events >= len(want) && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events recorded, %d not delivered to both webhooks after a minute; posts: %d", events, pending, len(rcv.all()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if events != len(want) {
		t.Errorf("%d events recorded, want %d", events, len(want))
	}

	posts := rcv.all()
	failed := 0
	delivered := map[string]int{} // path and event id → POSTs answered 204
	var got []string
	for _, p := range posts {
		if p.answered != http.StatusNoContent {
			failed++
			continue
		}
		id := p.header.Get("X-Metapipe-Event-Id")
		delivered[p.path+" "+id]++
		m := hmac.New(sha256.New, []byte(webhookSecret))
		m.Write(p.body)
		if sig := p.header.Get("X-Metapipe-Signature"); sig != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("%s event %s: signature %q does not match the body's HMAC-SHA256", p.path, id, sig)
		}
		for _, secret := range []string{graphsim.DemoToken, graphsim.ExpiredToken, webhookSecret, e.DBURL, "postgres://"} {
			if strings.Contains(string(p.body), secret) {
				t.Errorf("%s event %s: the body holds %q:\n%s", p.path, id, secret, p.body)
			}
		}
		if p.path == "/slack" {
			var s map[string]string
			if err := json.Unmarshal(p.body, &s); err != nil || len(s) != 1 || !strings.Contains(s["text"], "metapipe") {
				t.Errorf("slack body %s: want {\"text\": …}", p.body)
			}
			continue
		}
		var ev service.Event
		if err := json.Unmarshal(p.body, &ev); err != nil {
			t.Fatalf("generic body: %v\n%s", err, p.body)
		}
		if fmt.Sprint(ev.ID) != id || ev.Event != p.header.Get("X-Metapipe-Event") || ev.Summary == "" || ev.At.IsZero() {
			t.Errorf("body %s: id, event, summary or at do not match the headers %v", p.body, p.header)
		}
		client := ""
		if ev.Client != nil {
			client = ev.Client.ID
		}
		got = append(got, ev.Event+" "+ev.RunID+" "+client)
		switch {
		case ev.Event == service.EventRunFinished && ev.RunID == run1:
			if ev.RunState != "partial" || ev.ClientsTotal != 4 || ev.ClientsLoaded != 2 || len(ev.Clients) != 2 {
				t.Errorf("run 1's event: %s", p.body)
			}
		case ev.Event == service.EventRunFinished:
			if ev.RunState != "failed" || ev.ClientsTotal != 1 || ev.ClientsLoaded != 0 || len(ev.Clients) != 1 || ev.Clients[0].ID != e.Clients[2] {
				t.Errorf("run 2's event: %s", p.body)
			}
		case ev.Event == service.EventTokenRefused:
			wantToken := map[string]string{e.Clients[2]: "client", e.Clients[3]: "default"}[client]
			if ev.Token != wantToken || !strings.Contains(ev.Error, "190") {
				t.Errorf("token refused for %s: token %q, want %q; error %q", client, ev.Token, wantToken, ev.Error)
			}
		case ev.Event == service.EventClientFailing:
			if ev.FailuresInARow != 2 || ev.Client.Name == "" || !strings.Contains(ev.Error, "190") {
				t.Errorf("client failing: %s", p.body)
			}
		case ev.Event == service.EventClientThrottled:
			if ev.ThrottledSeconds < 0.01 || ev.AdAccountID != e.Sim.Accounts()[0].ID {
				t.Errorf("client throttled: %s", p.body)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the generic webhook got\n %q\nwant\n %q", got, want)
	}
	if failed != 2 {
		t.Errorf("%d POSTs failed, want the receiver's first 2", failed)
	}
	for k, n := range delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times, want once", k, n)
		}
	}
	if len(delivered) != 2*len(want) {
		t.Errorf("%d deliveries, want %d (each event to both webhooks)", len(delivered), 2*len(want))
	}
	// A webhook that refuses (400) is posted each event once, not retried, and counted.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var done int
		_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM notify_deliveries WHERE last_error LIKE 'refused:%'`).Scan(&done)
		if done == len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rcv.mu.Lock()
	refused := rcv.refused
	rcv.mu.Unlock()
	if refused != len(want) {
		t.Errorf("the refusing webhook got %d POSTs, want %d (one per event, none retried)", refused, len(want))
	}
	fams, err := workers[0].Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	undelivered := map[string]float64{}
	for _, f := range fams {
		if f.GetName() == "metapipe_notify_deliveries_undelivered" {
			for _, m := range f.Metric {
				undelivered[m.Label[0].GetValue()] = m.Gauge.GetValue()
			}
		}
	}
	if undelivered[hooks[0].ID()] != 0 || undelivered[hooks[1].ID()] != 0 || undelivered[hooks[2].ID()] != float64(len(want)) {
		t.Errorf("metapipe_notify_deliveries_undelivered = %v, want 0, 0 and %d (the refusing webhook)", undelivered, len(want))
	}
}
