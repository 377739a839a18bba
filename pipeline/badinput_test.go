package pipeline_test

// Bad input at the whole-pipeline level: a proxy in front of the simulator rewrites the result
// pages of one client's report. Each case is either handled (the table equals the truth) or
// refused with an error naming the client, the report and the field, the other client loaded,
// and nothing half-written left in the run directory. The row parser's own cases are in
// extract/parse_test.go (TestParseRowErrors, TestParseDuplicates) and the client's in
// extract/client_test.go (TestBadResponses); these prove the same at the pipeline's edge.

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// badPage rewrites result pages of one report kind of one ad account.
type badPage struct {
	account string
	kind    records.Kind
	// rows changes the rows of a page (n counts the kind's result pages served, from 0); nil
	// leaves them.
	rows func(n int, data []map[string]json.RawMessage) []map[string]json.RawMessage
	// raw answers instead of the simulator when it returns true.
	raw func(n int, w http.ResponseWriter) bool

	mu      sync.Mutex
	runKind map[string]records.Kind // report run id -> kind, for the account's runs
	pages   int
}

func kindOf(form map[string][]string) records.Kind {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	switch b := get("breakdowns"); {
	case strings.Contains(b, "publisher_platform"):
		return records.KindPlacements
	case strings.Contains(b, "age"):
		return records.KindDemographics
	}
	switch get("level") {
	case "campaign":
		return records.KindCampaigns
	case "ad":
		return records.KindAdRelevance
	}
	return records.KindAccount
}

func (b *badPage) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(segs) == 3 && segs[1] == "act_"+b.account && r.Method == http.MethodPost {
			_ = r.ParseForm()
			kind := kindOf(r.Form)
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var sub struct {
				ID json.Number `json:"report_run_id"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &sub) == nil && sub.ID != "" {
				b.mu.Lock()
				b.runKind[sub.ID.String()] = kind
				b.mu.Unlock()
			}
			copyRecorded(w, rec, rec.Body.Bytes())
			return
		}
		b.mu.Lock()
		kind, ours := records.Kind(""), false
		if len(segs) == 3 && segs[2] == "insights" {
			kind, ours = b.runKind[segs[1]]
		}
		n := b.pages
		if ours && kind == b.kind {
			b.pages++
		}
		b.mu.Unlock()
		if !ours || kind != b.kind {
			next.ServeHTTP(w, r)
			return
		}
		if b.raw != nil && b.raw(n, w) {
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if b.rows != nil && rec.Code == http.StatusOK {
			var page map[string]json.RawMessage
			var data []map[string]json.RawMessage
			if json.Unmarshal(body, &page) == nil && json.Unmarshal(page["data"], &data) == nil {
				page["data"], _ = json.Marshal(b.rows(n, data))
				body, _ = json.Marshal(page)
			}
		}
		copyRecorded(w, rec, body)
	})
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func setField(rows []map[string]json.RawMessage, field, rawJSON string) []map[string]json.RawMessage {
	for _, r := range rows {
		if rawJSON == "" {
			delete(r, field)
		} else {
			r[field] = json.RawMessage(rawJSON)
		}
	}
	return rows
}

// shiftDays moves every row's bucket by d days.
func shiftDays(rows []map[string]json.RawMessage, d int) []map[string]json.RawMessage {
	for _, r := range rows {
		for _, f := range []string{"date_start", "date_stop"} {
			var s string
			_ = json.Unmarshal(r[f], &s)
			t, _ := time.Parse(time.DateOnly, s)
			r[f], _ = json.Marshal(t.AddDate(0, 0, d).Format(time.DateOnly))
		}
	}
	return rows
}

func TestBadInput(t *testing.T) {
	once := func(status int, ct, body string) func(n int, w http.ResponseWriter) bool {
		return func(n int, w http.ResponseWriter) bool {
			if n > 0 {
				return false
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	always := func(status int, ct, body string) func(n int, w http.ResponseWriter) bool {
		return func(n int, w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	firstRow := func(field, rawJSON string) func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
		return func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			if n == 0 && len(rows) > 0 {
				setField(rows[:1], field, rawJSON)
			}
			return rows
		}
	}
	const proxyHTML = `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>`
	cases := []struct {
		name     string
		kind     records.Kind
		raw      func(n int, w http.ResponseWriter) bool
		rows     func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage
		pageSize int
		// fails: the client fails and the error says each of these; "" = handled.
		says []string
	}{
		{name: "malformed JSON once: retried", kind: records.KindAccount, raw: once(200, "application/json", `{"data":[{"spend":"1"`)},
		{name: "malformed JSON always", kind: records.KindAccount, raw: always(200, "application/json", `{"data":[{"spend":"1"`),
			says: []string{"report account", "malformed response"}},
		{name: "HTML error page from a proxy once: retried", kind: records.KindCampaigns, raw: once(502, "text/html", proxyHTML)},
		{name: "HTML error page from a proxy always", kind: records.KindCampaigns, raw: always(502, "text/html", proxyHTML),
			says: []string{"report campaigns", "HTTP 502", "text/html"}},
		{name: "truncated body once: retried", kind: records.KindPlacements, raw: func(n int, w http.ResponseWriter) bool {
			if n > 0 {
				return false
			}
			w.Header().Set("Content-Length", "4000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"data":[{"spend":"1.00","impressions":"3",`))
			return true
		}},
		{name: "a number where a string is expected: accepted", kind: records.KindCampaigns, rows: func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			for _, r := range rows {
				for _, f := range []string{"spend", "impressions", "campaign_id"} {
					var s string
					if json.Unmarshal(r[f], &s) == nil {
						r[f] = json.RawMessage(s) // "12.34" -> 12.34
					}
				}
			}
			return rows
		}},
		{name: "text where a number is expected", kind: records.KindCampaigns, rows: firstRow("impressions", `"12k"`),
			says: []string{"report campaigns", "field impressions", "not an integer"}},
		{name: "an object where a number is expected", kind: records.KindDemographics, rows: firstRow("spend", `{"amount":"1.00"}`),
			says: []string{"report demographics", "field spend"}},
		{name: "unknown ranking value: kept", kind: records.KindAdRelevance, rows: func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			return setField(rows, "quality_ranking", `"ABOVE_AVERAGE_99"`)
		}},
		{name: "missing date_start", kind: records.KindAccount, rows: firstRow("date_start", ""),
			says: []string{"report account", "field date_start", "missing"}},
		{name: "rows outside the requested range", kind: records.KindPlacements, rows: func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			return shiftDays(rows, -7*60)
		}, says: []string{"report placements", "field date_start", "outside the requested range"}},
		{name: "date_start not a Monday", kind: records.KindCampaigns, rows: func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			return shiftDays(rows, 2)
		}, says: []string{"report campaigns", "field date_start", "Monday"}},
		{name: "the same row on two pages: kept once", kind: records.KindDemographics, pageSize: 25, rows: func() func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			var last map[string]json.RawMessage
			return func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
				if n == 1 && last != nil {
					rows = append([]map[string]json.RawMessage{last}, rows...)
				}
				if len(rows) > 0 {
					last = rows[len(rows)-1]
				}
				return rows
			}
		}()},
		{name: "the same row on two pages with other figures", kind: records.KindDemographics, pageSize: 25, rows: func() func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
			var last map[string]json.RawMessage
			return func(n int, rows []map[string]json.RawMessage) []map[string]json.RawMessage {
				if n == 1 && last != nil {
					dup := map[string]json.RawMessage{}
					for k, v := range last {
						dup[k] = v
					}
					dup["impressions"] = json.RawMessage(`"999999"`)
					rows = append([]map[string]json.RawMessage{dup}, rows...)
				}
				if len(rows) > 0 {
					last = rows[len(rows)-1]
				}
				return rows
			}
		}(), says: []string{"report demographics", "field date_start", "twice with different figures"}},
		{name: "negative spend", kind: records.KindAccount, rows: firstRow("spend", `"-12.50"`),
			says: []string{"report account", "field spend", "negative"}},
		{name: "absurd impressions", kind: records.KindAdRelevance, rows: firstRow("impressions", `"98765432109876543"`),
			says: []string{"report ad_relevance", "field impressions", "absurdly large"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bp := &badPage{kind: tc.kind, rows: tc.rows, raw: tc.raw, runKind: map[string]records.Kind{}}
			e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, bp.wrap)
			accts := e.Sim.Accounts()
			bp.account = accts[0].ID
			cfg := e.config(2)
			cfg.PageSize = tc.pageSize
			o := weeksOpts(lastSunday, 8)
			rep, err := e.runWith(t, cfg, o)
			if bp.pages == 0 {
				t.Fatal("the proxy rewrote nothing")
			}
			e2etest.CheckClient(t, e.Pool, e.Sim, accts[1], e.Clients[1], lastSunday, 8)
			if tc.says == nil {
				if err != nil {
					t.Fatalf("not handled: %v", err)
				}
				e2etest.CheckClient(t, e.Pool, e.Sim, accts[0], e.Clients[0], lastSunday, 8)
				if tc.kind == records.KindAdRelevance {
					var n int
					_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries WHERE client_id = $1
AND meta_tables::text LIKE '%ABOVE_AVERAGE_99%'`, e.Clients[0]).Scan(&n)
					if n == 0 {
						t.Error("the unknown ranking value did not reach meta_tables")
					}
				}
				return
			}
			if !errors.Is(err, pipeline.ErrSomeFailed) || !strings.Contains(err.Error(), accts[0].Name) {
				t.Fatalf("err = %v, want ErrSomeFailed naming %s", err, accts[0].Name)
			}
			msg := rep.Ledger.Clients[e.Clients[0]].Extract.Error
			for _, s := range append([]string{"client Demo " + accts[0].Name}, tc.says...) {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not say %q", msg, s)
				}
			}
			t.Logf("refused: %s", msg)
			if n := e2etest.Rows(t, e.Pool, e.Clients[0]); n != 0 {
				t.Errorf("%d rows loaded for the refused client", n)
			}
			if _, err := os.Stat(rep.Dir.Client(e.Clients[0]).Report(tc.kind)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused report was staged: %v", err)
			}
			checkNoTempFiles(t, rep.Dir)
		})
	}
}

// checkNoTempFiles fails if a temporary (half-written) file is left in the run directory.
func checkNoTempFiles(t *testing.T, dir records.RunDir) {
	t.Helper()
	_ = filepath.WalkDir(string(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("half-written file left behind: %s", p)
		}
		return nil
	})
}

// A client with a malformed ad account id or without any token fails alone, with an error
// naming it and the field; the other client is loaded.
func TestBadClientConfig(t *testing.T) {
	cases := []struct {
		name, set string
		args      []any
		token     extract.Token
		says      string
	}{
		{"malformed ad account id", `UPDATE clients SET meta_ad_account_id = $1 WHERE id = $2`, []any{"act_12x4"}, extract.NewToken(graphsim.DemoToken),
			`meta_ad_account_id "act_12x4"`},
		{"no client token and no META_ACCESS_TOKEN", `UPDATE clients SET meta_access_token = NULL WHERE id = $1`, nil, extract.Token{},
			"no access token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, nil)
			if _, err := e.Pool.Exec(context.Background(), tc.set, append(tc.args, e.Clients[0])...); err != nil {
				t.Fatal(err)
			}
			cfg := e.config(2)
			cfg.Token = tc.token
			o := weeksOpts(lastSunday, 6)
			rep, err := e.runWith(t, cfg, o)
			a := e.Sim.Accounts()
			if !errors.Is(err, pipeline.ErrSomeFailed) {
				t.Fatalf("err = %v, want ErrSomeFailed", err)
			}
			msg := rep.Ledger.Clients[e.Clients[0]].Extract.Error
			if !strings.Contains(msg, a[0].Name) || !strings.Contains(msg, tc.says) {
				t.Errorf("error %q: want the client and %q", msg, tc.says)
			}
			if n := e.Sim.Counters().ByAccount[a[0].ID].Requests[graphsim.KindSubmit]; n != 0 {
				t.Errorf("%d report runs submitted for the misconfigured client", n)
			}
			e2etest.CheckClient(t, e.Pool, e.Sim, a[1], e.Clients[1], lastSunday, 6)
		})
	}
}
