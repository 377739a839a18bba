package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// The columnar path (Run) and the row path it replaced (oldRun, rowpath_test.go) give the same
// summaries, hashes included, the same warnings and the same per-client errors, on random clients
// whose figures exercise the decimal rules: money with 0-3 decimals, exponents and bare points
// that only shopspring's grammar reads, rounding ties, zero divisors, orphan weeks, KPI NULLs,
// non-ASCII names and a malformed value now and then.
func TestColumnarMatchesRowPath(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 4))
	money := func() string {
		switch r.IntN(12) {
		case 0:
			return "0"
		case 1:
			return fmt.Sprintf("%de1", r.IntN(50)) // exponent
		case 2:
			return fmt.Sprintf(".%d5", r.IntN(10)) // bare point
		case 3:
			return fmt.Sprintf("%d.%03d", r.IntN(100), r.IntN(1000)) // a third decimal: rounding
		case 4:
			return fmt.Sprintf("%d.005", r.IntN(3)) // a tie
		case 5:
			if r.IntN(40) == 0 {
				return "1,5" // malformed: the client fails the same way on both paths
			}
		}
		return fmt.Sprintf("%d.%02d", r.IntN(5000), r.IntN(100))
	}
	count := func() int64 {
		if r.IntN(8) == 0 {
			return 0
		}
		return r.Int64N(100000)
	}
	names := []string{"Summer", "Été — 夏", `Sale <50% & "more">`, "tab\there", "plain"}
	dir := t.TempDir()
	first := day("2024-01-01")
	var in Input
	var kpi []records.KPIRow
	for c := range 12 {
		id := fmt.Sprintf("client-%02d", c)
		files := clientFiles{}
		add := func(k records.Kind, row records.InsightRow) { files[k] = append(files[k], row) }
		for w := range 10 {
			mon := first + int32(7*w)
			stop := mon + 6
			if w == 9 {
				stop = mon + int32(r.IntN(7)) // a partial current week
			}
			if r.IntN(6) != 0 { // some weeks have no account row: orphan warnings
				freq := []string{"", "1.38665", "1.5", "2.0000001", "1e0"}[r.IntN(5)]
				add(records.KindAccount, account(mon, stop, money(), count(), count(), count(), freq))
			}
			for i := range r.IntN(5) {
				add(records.KindCampaigns, campaign(mon, fmt.Sprintf("%d", 100+i), names[r.IntN(len(names))], money(), count(), count(), count(),
					records.Action{ActionType: "lead", Value: money()}, records.Action{ActionType: "link_click", Value: fmt.Sprint(count())}))
			}
			for i := range r.IntN(4) {
				add(records.KindPlacements, placement(mon, stop, []string{"facebook", "instagram"}[i%2], fmt.Sprintf("pos%d", i), money(), count(), count()))
			}
			for i := range r.IntN(4) {
				add(records.KindDemographics, demographic(mon, stop, fmt.Sprintf("%d-%d", 18+i*10, 27+i*10), "female", money(), count(), count()))
			}
			for i := range r.IntN(4) {
				add(records.KindAdRelevance, records.InsightRow{DateStart: mon, DateStop: stop, AdID: fmt.Sprintf("9%d", i),
					AdName: names[r.IntN(len(names))], CampaignID: "100", QualityRanking: "AVERAGE", Spend: money(), Impressions: count()})
			}
		}
		ci := writeClient(t, dir, id, files)
		ci.AsOf, ci.Currency = records.DayTime(first+70), []string{"EUR", "PLN", "USD"}[r.IntN(3)]
		in.Clients = append(in.Clients, ci)
		for d := range int32(70) {
			if r.IntN(5) == 0 {
				continue
			}
			row := records.KPIRow{ClientID: id, Date: first + d}
			if r.IntN(3) != 0 {
				row.Reservations, row.TotalConversions = ip(r.Int64N(5)), ip(r.Int64N(9))
			}
			if r.IntN(3) != 0 {
				row.ReservationValue = sp(fmt.Sprintf("%d.%02d", r.IntN(500), r.IntN(100)))
			}
			kpi = append(kpi, row)
		}
	}
	in.KPIPath = filepath.Join(dir, "extract", "kpi.parquet")
	writeRows(t, in.KPIPath, kpi)

	run := func(name string, f func(context.Context, Input) (Result, error)) (Result, []records.Summary) {
		in := in
		in.OutPath = filepath.Join(dir, name, "summaries.parquet")
		res, err := f(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res, readAll(t, in.OutPath)
	}
	oldRes, oldRows := run("rows", oldRun)
	newRes, newRows := run("columns", Run)
	if len(oldRows) < 50 || len(oldRes.Warnings) == 0 || len(oldRes.Failed(in)) == 0 {
		t.Fatalf("the fixture exercises too little: %d rows, %d warnings, %d failed", len(oldRows), len(oldRes.Warnings), len(oldRes.Failed(in)))
	}
	if len(newRows) != len(oldRows) {
		t.Fatalf("%d rows, the row path %d", len(newRows), len(oldRows))
	}
	for i := range oldRows {
		if !reflect.DeepEqual(newRows[i], oldRows[i]) {
			t.Errorf("row %d:\n got %s\nwant %s", i, dump(newRows[i]), dump(oldRows[i]))
		}
	}
	if !reflect.DeepEqual(newRes.Warnings, oldRes.Warnings) {
		t.Errorf("warnings:\n got %v\nwant %v", newRes.Warnings, oldRes.Warnings)
	}
	for _, c := range in.Clients {
		o, n := oldRes.PerClient[c.ClientID], newRes.PerClient[c.ClientID]
		if fmt.Sprint(o.Err) != fmt.Sprint(n.Err) || o.Rows != n.Rows || o.Warnings != n.Warnings {
			t.Errorf("client %s: got %+v, the row path %+v", c.ClientID, n, o)
		}
	}
}
