package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/pipeline"
)

// accountAnswer rewrites the simulator's answers to GET act_<id> (the ad account's fields).
type accountAnswer struct {
	edit func(account string, status int, body []byte) (int, []byte) // nil: as the simulator
	asks atomic.Int64
}

func (a *accountAnswer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(segs) != 2 || !strings.HasPrefix(segs[1], "act_") || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		a.asks.Add(1)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		status, body := rec.Code, rec.Body.Bytes()
		if a.edit != nil {
			status, body = a.edit(strings.TrimPrefix(segs[1], "act_"), status, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// What Meta says of an ad account is checked: a time zone that does not exist or a currency
// that is not an ISO code fails that client alone, with an error naming the field.
func TestAdAccountAnswersAreChecked(t *testing.T) {
	aa := &accountAnswer{}
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, aa.wrap)
	accts := e.Sim.Accounts()
	aa.edit = func(account string, status int, body []byte) (int, []byte) {
		switch account {
		case accts[0].ID:
			// The simulator escapes "/" in JSON strings, as Meta does.
			tz := strings.ReplaceAll(accts[0].TimeZone, "/", `\/`)
			return status, bytes.Replace(body, []byte(tz), []byte(`Mars\/Olympus_Mons`), 1)
		case accts[1].ID:
			return status, bytes.Replace(body, []byte(`"`+accts[1].Currency+`"`), []byte(`"dollars"`), 1)
		}
		return status, body
	}
	r := e.runner(t, 3)
	o := weeksOpts(lastSunday, 6)
	rep, err := r.Run(context.Background(), o, "")
	if !errors.Is(err, pipeline.ErrSomeFailed) {
		t.Fatalf("err = %v, want ErrSomeFailed", err)
	}
	for i, field := range []string{`field timezone_name "Mars/Olympus_Mons"`, `field currency "dollars"`} {
		msg := rep.Ledger.Clients[e.Clients[i]].Extract.Error
		if !strings.Contains(msg, field) || !strings.Contains(msg, "act_"+accts[i].ID) || !strings.Contains(msg, accts[i].Name) {
			t.Errorf("client %d: error %q, want it to name the client, the ad account and %s", i, msg, field)
		}
		if n := e2etest.Rows(t, e.Pool, e.Clients[i]); n != 0 {
			t.Errorf("client %d: %d rows loaded", i, n)
		}
	}
	e2etest.CheckClient(t, e.Pool, e.Sim, accts[2], e.Clients[2], lastSunday, o.Weeks)
}

// When Meta does not answer for an ad account, the run goes on with the cached time zone and
// currency; the first run, with nothing cached, cannot run that client.
func TestAdAccountCacheServesWhenMetaDoesNot(t *testing.T) {
	aa := &accountAnswer{}
	e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, aa.wrap)
	down := e.Sim.Accounts()[0].ID
	aa.edit = func(account string, status int, body []byte) (int, []byte) {
		if account == down {
			return http.StatusInternalServerError, []byte(`{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2,"is_transient":true}}`)
		}
		return status, body
	}
	r := e.runner(t, 2)
	o := weeksOpts(lastSunday, 6)
	rep, err := r.Run(context.Background(), o, "")
	if !errors.Is(err, pipeline.ErrSomeFailed) || !strings.Contains(rep.Ledger.Clients[e.Clients[0]].Extract.Error, "read ad account") {
		t.Fatalf("first run: %v; client 0: %q", err, rep.Ledger.Clients[e.Clients[0]].Extract.Error)
	}
	aa.edit = nil // Meta answers for a run: the account is cached
	o.AsOf = lastSunday.AddDate(0, 0, -1)
	if _, err := r.Run(context.Background(), o, ""); err != nil {
		t.Fatal(err)
	}
	aa.edit = func(account string, status int, body []byte) (int, []byte) {
		return http.StatusInternalServerError, []byte(`{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2,"is_transient":true}}`)
	}
	o.AsOf = lastSunday
	rep, err = r.Run(context.Background(), o, "")
	if err != nil {
		t.Fatalf("with the cache: %v", err)
	}
	for i, a := range e.Sim.Accounts() {
		if cp := rep.Plan.Clients[indexOf(rep.Plan.Clients, e.Clients[i])]; cp.TimeZone != a.TimeZone || cp.Currency != a.Currency {
			t.Errorf("client %d planned in %s, %s; want the cached %s, %s", i, cp.TimeZone, cp.Currency, a.TimeZone, a.Currency)
		}
		e2etest.CheckClient(t, e.Pool, e.Sim, a, e.Clients[i], lastSunday, o.Weeks)
	}
}
