package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
)

// A worker's --metrics-addr: beyond loopback without METAPIPE_API_TOKEN it is exit 2 before
// the database is touched; on loopback it serves /metrics without a token; elsewhere, with the
// token, scrapes must send it.
func TestWorkerMetricsAddr(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 3})
	res := w.run(t, []string{"DATABASE_URL=postgres://u:pw@127.0.0.1:1/x?connect_timeout=1"}, "worker", "--metrics-addr", "0.0.0.0:0")
	if res.code != 2 || !strings.Contains(res.stderr, "METAPIPE_API_TOKEN") || !strings.Contains(res.stderr, "--metrics-addr") {
		t.Errorf("worker --metrics-addr 0.0.0.0:0 without a token: exit %d, want 2 naming METAPIPE_API_TOKEN:\n%s", res.code, res.stderr)
	}
	for _, tc := range []struct {
		addr string
		env  []string
	}{{"127.0.0.1:0", nil}, {"0.0.0.0:0", serveEnv}} {
		p := w.start(t, "worker "+tc.addr, tc.env, "worker", "--metrics-addr", tc.addr)
		url := strings.Replace(p.event(t, "serving metrics", 30*time.Second)["url"].(string), "0.0.0.0", "127.0.0.1", 1)
		code, body := httpCall(t, "GET", url, "", "")
		if tc.env == nil && (code != http.StatusOK || !strings.Contains(string(body), `metapipe_clients{state="never_run"} 1`)) {
			t.Errorf("%s: /metrics %d, want 200 with the client never run:\n%.300s", tc.addr, code, body)
		}
		if tc.env != nil {
			if code != http.StatusUnauthorized {
				t.Errorf("%s: /metrics without the token %d, want 401", tc.addr, code)
			}
			if code, body := httpCall(t, "GET", url, apiToken, ""); code != http.StatusOK || !strings.Contains(string(body), "metapipe_river_jobs") {
				t.Errorf("%s: /metrics with the token %d:\n%.300s", tc.addr, code, body)
			}
		}
		if code, _ := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Errorf("worker %s: exit %d after SIGTERM", tc.addr, code)
		}
	}
}
