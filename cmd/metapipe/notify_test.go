package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// `metapipe notify test`: without a webhook, or a generic one without a secret, exit 2 naming
// the variable and never the URL; with a receiver, one signed POST of the sample event to each
// webhook (generic and Slack) and exit 0; a webhook that refuses it (400) is exit 1 naming the
// webhook by its id, not its URL.
func TestNotifyTest(t *testing.T) {
	const secret = "whsec-CANARY-notify-test-77"
	var mu sync.Mutex
	var bodies = map[string][]byte{}
	var sigs = map[string]string{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies[r.URL.Path], sigs[r.URL.Path] = b, r.Header.Get("X-Metapipe-Signature")
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	slackURL := rcv.URL + "/services/T000/B000/SLACK-CANARY-secret"

	if res := bare(t, nil, "notify", "test"); res.code != 2 || !strings.Contains(res.stderr, "METAPIPE_WEBHOOK_URL") {
		t.Errorf("notify test without a webhook: exit %d, want 2:\n%s", res.code, res.stderr)
	}
	if res := bare(t, []string{"METAPIPE_WEBHOOK_URL=" + rcv.URL + "/hook"}, "notify", "test"); res.code != 2 ||
		!strings.Contains(res.stderr, "METAPIPE_WEBHOOK_SECRET") || strings.Contains(res.stderr, rcv.URL) {
		t.Errorf("a generic webhook without a secret: exit %d, want 2 naming the secret, not the URL:\n%s", res.code, res.stderr)
	}
	// A worker with such a configuration does not start either; nor with http:// beyond loopback.
	for _, env := range [][]string{{"METAPIPE_WEBHOOK_URL=https://hooks.example/CANARY"}, {"METAPIPE_SLACK_WEBHOOK_URL=http://hooks.example/CANARY"},
		{"METAPIPE_SLACK_WEBHOOK_URL=https://hooks.example/CANARY", "METAPIPE_NOTIFY_FAILURES=0"}} {
		if res := bare(t, env, "worker"); res.code != 2 || !strings.Contains(res.stderr, "METAPIPE_") || strings.Contains(res.stderr, "CANARY") {
			t.Errorf("worker with %v: exit %d, want 2 naming the variable, not the URL:\n%s", env, res.code, res.stderr)
		}
	}
	res := bare(t, []string{"METAPIPE_WEBHOOK_URL=" + rcv.URL + "/hook", "METAPIPE_WEBHOOK_SECRET=" + secret, "METAPIPE_SLACK_WEBHOOK_URL=" + slackURL},
		"notify", "test")
	if res.code != 0 || strings.Count(res.stdout, "delivered (HTTP 200)") != 2 {
		t.Fatalf("notify test: exit %d, want 0 with both webhooks delivered:\n%s%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, "SLACK-CANARY") || strings.Contains(res.stdout+res.stderr, secret) {
		t.Errorf("the output names a webhook's URL or the secret:\n%s%s", res.stdout, res.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	for path, b := range bodies {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		if sigs[path] != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("%s: signature %q does not match the body", path, sigs[path])
		}
	}
	var ev map[string]any
	if err := json.Unmarshal(bodies["/hook"], &ev); err != nil || ev["event"] != "test" || ev["summary"] == "" {
		t.Errorf("generic body %s: want the test event", bodies["/hook"])
	}
	var slack map[string]string
	if err := json.Unmarshal(bodies["/services/T000/B000/SLACK-CANARY-secret"], &slack); err != nil || !strings.Contains(slack["text"], "notify test") {
		t.Errorf("Slack body %s: want {\"text\": …}", bodies["/services/T000/B000/SLACK-CANARY-secret"])
	}

	res = bare(t, []string{"METAPIPE_SLACK_WEBHOOK_URL=" + rcv.URL + "/refuse"}, "notify", "test")
	if res.code != 1 || !strings.Contains(res.stdout, "not delivered") || !strings.Contains(res.stdout, "HTTP 400") || strings.Contains(res.stdout+res.stderr, "/refuse") {
		t.Errorf("a webhook answering 400: exit %d, want 1 naming its id, not its URL:\n%s%s", res.code, res.stdout, res.stderr)
	}
}
