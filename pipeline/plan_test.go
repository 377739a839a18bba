package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

func d(s string) time.Time { return date(s).Time() }

// datedPlan fills the dates a test's plan leaves out, as a planned run always has them: a
// plan.json whose date is "" does not read (TestReadPlanBadDate).
func datedPlan(p *Plan) *Plan {
	if p.AsOf.IsZero() {
		p.AsOf = date("2026-11-29")
	}
	p.HorizonStart = date("2025-11-17")
	for i := range p.Clients {
		c := &p.Clients[i]
		c.Since, c.Until, c.CoveredFrom = date("2026-11-02"), p.AsOf, date("2025-11-17")
	}
	return p
}

// date parses a YYYY-MM-DD date of a test table.
func date(s string) records.Date {
	t, err := records.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPlanClient(t *testing.T) {
	c := records.Client{ID: "c1", Name: "Acme", AdAccountID: "act_123"}
	o := Options{AsOf: d("2026-11-25"), Weeks: 54, Lookback: 28} // a Wednesday
	final := func(s string) *time.Time { x := d(s); return &x }
	cases := []struct {
		name                  string
		st                    *store.SyncState
		full                  bool
		since                 string
		weeks                 int
		coveredFrom, finalThr string
	}{
		// Horizon: the week of 2026-11-23 and the 53 before it, from 2025-11-17. The last
		// final Sunday: more than 28 days before the as-of date -> on or before 2026-10-27,
		// i.e. 2026-10-25.
		{"never covered", nil, false, "2025-11-17", 54, "2025-11-17", "2026-10-25"},
		{"daily run", &store.SyncState{CoveredFrom: d("2025-11-10"), FinalThrough: final("2026-10-18")}, false, "2026-10-19", 6, "2025-11-10", "2026-10-25"},
		{"covered less far back than the horizon", &store.SyncState{CoveredFrom: d("2026-06-01"), FinalThrough: final("2026-10-18")}, false, "2025-11-17", 54, "2025-11-17", "2026-10-25"},
		{"nothing final yet", &store.SyncState{CoveredFrom: d("2025-11-17")}, false, "2025-11-17", 54, "2025-11-17", "2026-10-25"},
		{"a gap heals itself", &store.SyncState{CoveredFrom: d("2025-01-06"), FinalThrough: final("2026-05-03")}, false, "2026-05-04", 30, "2025-01-06", "2026-10-25"},
		{"final older than the horizon", &store.SyncState{CoveredFrom: d("2024-01-01"), FinalThrough: final("2025-01-05")}, false, "2025-11-17", 54, "2024-01-01", "2026-10-25"},
		{"--full", &store.SyncState{CoveredFrom: d("2025-11-10"), FinalThrough: final("2026-10-18")}, true, "2025-11-17", 54, "2025-11-10", "2026-10-25"},
		// A final_through after the as-of date is a bad state: the current week only, and
		// --full recomputes it from what it fetches.
		{"final in the future", &store.SyncState{CoveredFrom: d("2025-11-17"), FinalThrough: final("2027-05-02")}, false, "2026-11-23", 1, "2025-11-17", "2027-05-02"},
		{"final in the future, --full", &store.SyncState{CoveredFrom: d("2025-11-17"), FinalThrough: final("2027-05-02")}, true, "2025-11-17", 54, "2025-11-17", "2026-10-25"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := o
			o.Full = tc.full
			p := planClient(c, tc.st, o, o.AsOf, time.Time{})
			if p.Since.String() != tc.since || p.Weeks != tc.weeks || p.Until.String() != "2026-11-25" {
				t.Errorf("range %s..%s (%d weeks), want %s (%d weeks)", p.Since, p.Until, p.Weeks, tc.since, tc.weeks)
			}
			if p.CoveredFrom.String() != tc.coveredFrom || p.FinalThrough.String() != tc.finalThr {
				t.Errorf("sync state covered_from %s final_through %s, want %s %s", p.CoveredFrom, p.FinalThrough, tc.coveredFrom, tc.finalThr)
			}
			if p.Since.Time().Weekday() != time.Monday {
				t.Errorf("since %s is not a Monday", p.Since)
			}
			if p.Account != "123" {
				t.Errorf("account %q", p.Account)
			}
		})
	}
}

func TestLastFinalSunday(t *testing.T) {
	for _, tc := range []struct{ asOf, want string }{
		{"2026-11-29", "2026-10-25"}, // Sunday: 2026-10-31 is the limit (a Saturday)
		{"2026-11-30", "2026-11-01"}, // Monday: limit 2026-11-01 is a Sunday itself
		{"2026-11-23", "2026-10-25"},
	} {
		if got := lastFinalSunday(d(tc.asOf), 28).Format(time.DateOnly); got != tc.want {
			t.Errorf("as of %s: %s, want %s", tc.asOf, got, tc.want)
		}
	}
}

func TestSelectClientsAndShards(t *testing.T) {
	all := []records.Client{{ID: "a", Name: "A", Active: true}, {ID: "b", Name: "B", Active: false}, {ID: "c", Name: "C", Active: true}}
	got, err := SelectClients(all, nil, Shard{})
	if err != nil || len(got) != 2 {
		t.Fatalf("active: %v %v", got, err)
	}
	got, err = SelectClients(all, []string{"B", "a"}, Shard{})
	if err != nil || len(got) != 2 || got[0].ID != "b" {
		t.Fatalf("named: %v %v", got, err)
	}
	var ue *UnknownClientError
	if _, err := SelectClients(all, []string{"nope"}, Shard{}); !errors.As(err, &ue) || ue.Name != "nope" || !errors.Is(err, ErrUsage) {
		t.Errorf("unknown client: %v, want an *UnknownClientError naming nope (ErrUsage)", err)
	}
	var ids []string
	for i := 0; i < 300; i++ {
		ids = append(ids, string(rune('a'+i%26))+string(rune('0'+i)))
	}
	seen := map[string]int{}
	for i := 0; i < 3; i++ {
		for _, id := range ids {
			if (Shard{i, 3}).Has(id) {
				seen[id]++
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("client %s in %d shards", id, seen[id])
		}
	}
	if _, err := ParseShard("3/3"); err == nil {
		t.Error("3/3 accepted")
	}
}

// A --full of fewer weeks than the lookback fetches no final week: the stored final_through
// stays (brought back to the last final Sunday when later), and covered_from stays too, so the
// next daily run is a daily run, not a backfill of the horizon.
func TestPlanNarrowFull(t *testing.T) {
	final := func(s string) *time.Time { x := d(s); return &x }
	c := records.Client{ID: "c", Name: "C", AdAccountID: "act_123"}
	o := Options{AsOf: d("2026-11-25"), Weeks: 2, Lookback: 28, Full: true}
	for _, tc := range []struct {
		name      string
		st        *store.SyncState
		wantFinal string
	}{
		{"kept", &store.SyncState{CoveredFrom: d("2025-11-10"), FinalThrough: final("2026-10-18")}, "2026-10-18"},
		{"brought back", &store.SyncState{CoveredFrom: d("2025-11-10"), FinalThrough: final("2027-05-02")}, "2026-10-25"},
		{"none", &store.SyncState{CoveredFrom: d("2025-11-10")}, ""},
	} {
		p := planClient(c, tc.st, o, o.AsOf, time.Time{})
		if p.Since.String() != "2026-11-16" || p.CoveredFrom.String() != "2025-11-10" || p.FinalThrough.String() != tc.wantFinal {
			t.Errorf("%s: since %s covered_from %s final_through %q, want 2026-11-16 2025-11-10 %q",
				tc.name, p.Since, p.CoveredFrom, p.FinalThrough, tc.wantFinal)
		}
	}
}

// A run resumes a run directory only of the same run: the same as-of date given alike, horizon,
// lookback, --full and clients. An explicit --as-of and none are different runs even on the
// same date (none is each ad account's today, a day later in Sydney).
func TestFindResumableMatchesTheWholeRun(t *testing.T) {
	stage := t.TempDir()
	dir := records.RunDir(filepath.Join(stage, "20261129T120000Z-abcdef"))
	if err := os.MkdirAll(string(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	p := datedPlan(&Plan{RunID: "20261129T120000Z-abcdef", AsOf: date("2026-11-29"), AsOfGiven: true, Weeks: 54, Lookback: 28,
		Clients: []ClientPlan{{ID: "b"}, {ID: "a"}}})
	if err := writePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	same := resumeKey{asOf: date("2026-11-29"), asOfGiven: true, weeks: 54, lookback: 28, ids: []string{"a", "b"}}
	if got := findResumable(stage, same); got != dir {
		t.Fatalf("the same run: %q, want %q", got, dir)
	}
	for name, change := range map[string]func(*resumeKey){
		"another date":   func(k *resumeKey) { k.asOf = date("2026-11-28") },
		"no --as-of":     func(k *resumeKey) { k.asOfGiven = false },
		"other weeks":    func(k *resumeKey) { k.weeks = 6 },
		"other lookback": func(k *resumeKey) { k.lookback = 14 },
		"--full":         func(k *resumeKey) { k.full = true },
		"other clients":  func(k *resumeKey) { k.ids = []string{"a"} },
	} {
		k := same
		change(&k)
		if got := findResumable(stage, k); got != "" {
			t.Errorf("%s: resumes %q, want a new run", name, got)
		}
	}
}

// A backfill of an old date whose range ends before the covered weeks begin does not move
// covered_from over the gap between them; one that reaches them does.
func TestPlanBackfillLeavesAGapUncovered(t *testing.T) {
	c := records.Client{ID: "c", Name: "C", AdAccountID: "act_123"}
	final := d("2026-10-25")
	st := &store.SyncState{CoveredFrom: d("2025-11-17"), FinalThrough: &final}
	for _, tc := range []struct {
		asOf, covered string
	}{
		{"2025-06-01", "2025-11-17"}, // 2025-05-12..06-01: a gap until 2025-11-17
		{"2025-11-16", "2025-10-20"}, // ends the day before: no gap
		{"2025-11-20", "2025-10-27"}, // overlaps
	} {
		o := Options{AsOf: d(tc.asOf), Weeks: 4, Lookback: 28}
		if p := planClient(c, st, o, o.AsOf, time.Time{}); p.CoveredFrom.String() != tc.covered || p.FinalThrough.String() != "2026-10-25" {
			t.Errorf("as of %s: covered_from %s final_through %s, want %s 2026-10-25", tc.asOf, p.CoveredFrom, p.FinalThrough, tc.covered)
		}
	}
}

// A backfill of an old date asks Meta only for the 37 months it keeps: the horizon starts at
// the first Monday on or after that, and the reason says why.
func TestPlanHorizonWithinMetaRetention(t *testing.T) {
	c := records.Client{ID: "c", Name: "C", AdAccountID: "act_123"}
	oldest := retentionStart(d("2026-11-29")) // 2023-10-29 (midnight UTC is 14:00 on the 29th in UTC+14), a Sunday
	o := Options{AsOf: d("2024-06-30"), Weeks: 54, Lookback: 28}
	p := planClient(c, nil, o, o.AsOf, oldest)
	if p.Since.String() != "2023-10-30" || !strings.Contains(p.Reason, "Meta keeps 37 months") || p.CoveredFrom.String() != "2023-10-30" {
		t.Errorf("since %s covered_from %s (%s), want 2023-10-30 and the reason", p.Since, p.CoveredFrom, p.Reason)
	}
	if p.Weeks != 35 {
		t.Errorf("%d weeks, want 35 (2023-10-30..2024-06-30)", p.Weeks)
	}
	// A horizon inside the 37 months is untouched.
	o.AsOf = d("2026-11-25")
	if p := planClient(c, nil, o, o.AsOf, oldest); p.Since.String() != "2025-11-17" || strings.Contains(p.Reason, "Meta keeps") {
		t.Errorf("since %s (%s), want 2025-11-17", p.Since, p.Reason)
	}
}

// stagedRun is a run directory of a test's stage folder: its plan created at created, and a
// done ledger last updated at updated (none when zero).
type stagedRun struct {
	id               string
	created, updated time.Time
}

// stageRuns makes a stage folder holding runs and returns it.
func stageRuns(t *testing.T, runs ...stagedRun) string {
	t.Helper()
	stage := t.TempDir()
	for _, r := range runs {
		dir := records.RunDir(filepath.Join(stage, r.id))
		if err := os.MkdirAll(string(dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writePlan(dir, datedPlan(&Plan{RunID: r.id, Created: r.created})); err != nil {
			t.Fatal(err)
		}
		if !r.updated.IsZero() {
			b, _ := json.Marshal(Ledger{RunID: r.id, AsOf: date("2026-11-29"), Status: StatusDone, Updated: r.updated})
			if err := os.WriteFile(filepath.Join(string(dir), "run.json"), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return stage
}

// The latest run is the one whose plan was created last, also within one second, where the
// ids' random suffixes do not sort by time.
func TestLatestRunIsTheLastCreated(t *testing.T) {
	at := time.Date(2026, 11, 29, 18, 15, 13, 0, time.UTC)
	stage := stageRuns(t,
		stagedRun{id: "20261129T181513Z-cc1426", created: at.Add(635 * time.Millisecond)},
		stagedRun{id: "20261129T181513Z-1af694", created: at.Add(959 * time.Millisecond)},
		stagedRun{id: "20261129T181512Z-ffffff", created: at.Add(-time.Second)},
	)
	if got := LatestRun(stage); filepath.Base(string(got)) != "20261129T181513Z-1af694" {
		t.Errorf("latest run %s, want 20261129T181513Z-1af694", got)
	}
}

// The newest run is the one worked last: a run resumed (its ledger written) after another was
// planned is newer than that one, which LatestRun would name.
func TestNewestRunIsTheLastWorked(t *testing.T) {
	at := time.Date(2026, 11, 29, 18, 15, 13, 0, time.UTC)
	stage := stageRuns(t,
		stagedRun{"20261129T181513Z-aaaaaa", at, at.Add(time.Hour)},                        // resumed an hour later
		stagedRun{"20261129T181600Z-bbbbbb", at.Add(time.Minute), at.Add(2 * time.Minute)}, // planned after, over before
		stagedRun{"20261129T181700Z-cccccc", at.Add(2 * time.Minute), time.Time{}},         // planned only
	)
	if got := filepath.Base(string(NewestRun(stage))); got != "20261129T181513Z-aaaaaa" {
		t.Errorf("newest run %s, want 20261129T181513Z-aaaaaa (worked last)", got)
	}
	if got := filepath.Base(string(LatestRun(stage))); got != "20261129T181700Z-cccccc" {
		t.Errorf("latest planned %s, want 20261129T181700Z-cccccc", got)
	}
}

// oldPlanJSON is a plan.json as written before the plan's dates were records.Date (they were
// strings then): it must read and be written again byte for byte.
const oldPlanJSON = `{
  "run_id": "20261129T120000Z-abcdef",
  "created": "2026-11-29T12:00:00Z",
  "as_of": "2026-11-29",
  "as_of_given": true,
  "weeks": 54,
  "lookback": 28,
  "full": false,
  "horizon_start": "2025-11-17",
  "clients": [
    {
      "id": "a",
      "name": "A",
      "ad_account_id": "1",
      "time_zone": "UTC",
      "currency": "EUR",
      "since": "2026-10-26",
      "until": "2026-11-29",
      "weeks": 5,
      "reason": "lookback",
      "read": "sync",
      "covered_from": "2025-11-17",
      "final_through": "2026-10-25",
      "state_seen": "x"
    },
    {
      "id": "b",
      "name": "B",
      "ad_account_id": "2",
      "time_zone": "Europe/Paris",
      "currency": "EUR",
      "since": "2025-11-17",
      "until": "2026-11-28",
      "weeks": 54,
      "reason": "new",
      "error": "refused",
      "error_permanent": true,
      "covered_from": "2025-11-17"
    }
  ]
}
`

func TestPlanDatesByteCompatible(t *testing.T) {
	dir := records.RunDir(t.TempDir())
	if err := os.WriteFile(dir.Plan(), []byte(oldPlanJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPlan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.AsOf.String() != "2026-11-29" || p.Clients[0].FinalThrough.String() != "2026-10-25" || !p.Clients[1].FinalThrough.IsZero() {
		t.Errorf("read as of %s, final through %s and %s", p.AsOf, p.Clients[0].FinalThrough, p.Clients[1].FinalThrough)
	}
	if from, to := p.KPIRange(); from.Format(time.DateOnly) != "2025-11-17" || to.Format(time.DateOnly) != "2026-11-29" {
		t.Errorf("KPI range %v..%v", from, to)
	}
	if err := writePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dir.Plan()); string(b) != oldPlanJSON {
		t.Errorf("written again:\n%s\nwant:\n%s", b, oldPlanJSON)
	}
}

// TestReadPlanBadDate: a hand-edited plan.json with a date that is not one is ErrUsage naming
// the file, the field and the value, not a panic (mustDate panicked on it).
func TestReadPlanBadDate(t *testing.T) {
	for field, bad := range map[string]string{
		"clients.since":         `"since": "2026-13-45"`,
		"clients.until":         `"until": ""`,
		"clients.final_through": `"final_through": "2026-10-32"`,
		"as_of":                 `"as_of": "29/11/2026"`,
		"horizon_start":         `"horizon_start": 20409`,
	} {
		old := bad[:strings.Index(bad, ":")]
		i := strings.Index(oldPlanJSON, old)
		j := i + strings.Index(oldPlanJSON[i:], ",")
		dir := records.RunDir(t.TempDir())
		if err := os.WriteFile(dir.Plan(), []byte(oldPlanJSON[:i]+bad+oldPlanJSON[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPlan(dir)
		value := strings.Trim(strings.TrimSpace(bad[strings.Index(bad, ":")+1:]), `"`)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), dir.Plan()) ||
			!strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), `"`+value+`"`) && value != "20409" {
			t.Errorf("%s = %s: %v; want ErrUsage naming %s, the field and the value", field, bad, err, dir.Plan())
		}
	}
}
