package pipeline_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
)

// requestOrder records, in order, when a report request (synchronous read or submit) arrives
// and when an ad account read is answered; every ad account read takes delay first.
type requestOrder struct {
	delay  time.Duration
	mu     sync.Mutex
	events []string
}

func (o *requestOrder) add(e string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, e)
}

func (o *requestOrder) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = nil
}

func (o *requestOrder) first(e string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, x := range o.events {
		if x == e {
			return i
		}
	}
	return -1
}

func (o *requestOrder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch {
		case len(segs) == 2 && strings.HasPrefix(segs[1], "act_") && r.Method == http.MethodGet:
			time.Sleep(o.delay)
			next.ServeHTTP(w, r)
			o.add("account answered")
		case len(segs) == 3 && segs[2] == "insights" && strings.HasPrefix(segs[1], "act_"):
			o.add("report asked")
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// A daily run whose ad accounts are cached and recent asks for its reports without reading the
// accounts first: it reads them beside the reports, and the table still equals the truth.
// Before issue 19 the plan read every ad account before the first report was asked for.
func TestDailyRunReadsTheCachedAccountBesideTheReports(t *testing.T) {
	order := &requestOrder{delay: 300 * time.Millisecond}
	e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, order.wrap)
	r := syncRunner(t, e)
	if _, err := r.Run(context.Background(), opts(lastSunday.AddDate(0, 0, -7)), ""); err != nil {
		t.Fatal(err)
	}
	// The first run knew no account: it read them before its reports.
	if a, rep := order.first("account answered"), order.first("report asked"); a < 0 || rep < a {
		t.Fatalf("first run: events %v, want the accounts read before the reports", order.events)
	}
	order.reset()
	e.Sim.ResetCounters()
	rep, err := r.Run(context.Background(), opts(lastSunday), "")
	if err != nil {
		t.Fatal(err)
	}
	if a, rq := order.first("account answered"), order.first("report asked"); a < 0 || rq < 0 || rq > a {
		t.Errorf("daily run: events %v, want a report asked before any ad account answered, and the accounts read", order.events)
	}
	if n := e.Sim.Counters().Requests[graphsim.KindAccount]; n != 2 {
		t.Errorf("daily run: %d ad account reads, want 2 (beside the reports)", n)
	}
	if cp := rep.Plan.Clients[0]; cp.TimeZone == "" || cp.Currency == "" {
		t.Errorf("plan without the cached time zone and currency: %+v", cp)
	}
	checkTable(t, e, lastSunday)
}
