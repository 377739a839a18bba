package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
)

// BenchmarkTransform transforms 200 synthetic client-years (53 weeks each, 8 campaigns,
// 8 placements, 16 demographic cells and 20 ads a week, 365 KPI days), staged the way extract
// stages them (records.WriteParquet: zstd, bounded row groups), in a shuffled order as the plan's
// order by name is, and reports rows/s of Run (sub-benchmark "columns": Arrow columns and
// udecimal figures). The row path it replaced was removed with issue 20; its figures stay in
// BENCHMARKS.md.
func BenchmarkTransform(b *testing.B) {
	const clients, weeks = 200, 53
	in := benchInput(b, clients, weeks)
	for _, path := range []struct {
		name string
		run  func(context.Context, Input) (Result, error)
	}{{"columns", Run}} {
		b.Run(path.name, func(b *testing.B) {
			rows := 0
			cpu := processCPU(b)
			for b.Loop() {
				res, err := path.run(context.Background(), in)
				if err != nil {
					b.Fatal(err)
				}
				if res.Rows != clients*weeks || len(res.Warnings) != 0 {
					b.Fatalf("rows = %d, warnings = %d", res.Rows, len(res.Warnings))
				}
				rows += res.Rows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			// Raw input rows read per second: each summary row stands for 1+8+8+16+20 report rows.
			b.ReportMetric(float64(rows*(1+8+8+16+20))/b.Elapsed().Seconds(), "raw_rows/s")
			reportCPU(b, processCPU(b)-cpu, rows*(1+8+8+16+20))
		})
	}
}

// benchInput stages the benchmark's client-years in a temporary run directory.
func benchInput(b *testing.B, clients, weeks int) Input {
	dir := b.TempDir()
	first := day("2024-01-01")
	var in Input
	var kpi []records.KPIRow
	for c := range clients {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", c)
		files := clientFiles{}
		for w := range weeks {
			mon := first + int32(7*w)
			add := func(k records.Kind, r records.InsightRow) { files[k] = append(files[k], r) }
			add(records.KindAccount, account(mon, mon+6, "800.00", 80000, 1600, 50000, "1.6"))
			for i := range 8 {
				add(records.KindCampaigns, campaign(mon, fmt.Sprintf("2385%08d", i), fmt.Sprintf("Campagne d'été n°%d", i),
					"100.00", 10000, 200, 7000,
					records.Action{ActionType: "link_click", Value: "180"},
					records.Action{ActionType: "lead", Value: "3"},
					records.Action{ActionType: "offsite_conversion.fb_pixel_purchase", Value: "1"}))
				add(records.KindPlacements, placement(mon, mon+6, []string{"facebook", "instagram"}[i%2], fmt.Sprintf("pos%d", i), "100.00", 10000, 200))
			}
			for i := range 16 {
				add(records.KindDemographics, demographic(mon, mon+6, fmt.Sprintf("%d-%d", 18+i/2*10, 27+i/2*10),
					[]string{"female", "male"}[i%2], "50.00", 5000, 100))
			}
			for i := range 20 {
				add(records.KindAdRelevance, records.InsightRow{DateStart: mon, DateStop: mon + 6,
					AdID: fmt.Sprintf("6001%08d", i), AdName: fmt.Sprintf("Ad %d", i), CampaignID: fmt.Sprintf("2385%08d", i%8),
					QualityRanking: "AVERAGE", EngagementRateRanking: "ABOVE_AVERAGE", ConversionRateRanking: "UNKNOWN",
					Spend: "40.00", Impressions: 4000, Clicks: 80})
			}
		}
		cdir := records.RunDir(dir).Client(id)
		for _, k := range records.Kinds {
			if err := records.WriteParquet(cdir.Report(k), files[k], records.RowGroupRows); err != nil {
				b.Fatal(err)
			}
		}
		in.Clients = append(in.Clients, ClientInput{ClientID: id, Dir: cdir})
		for d := range int32(365) {
			kpi = append(kpi, records.KPIRow{ClientID: id, Date: first + d, TotalConversions: ip(3), ClickToCall: ip(1),
				EmailContacts: ip(1), BookingStep1: ip(5), BookingStep2: ip(3), BookingStep3: ip(2), Reservations: ip(1),
				ReservationValue: sp("120.50")})
		}
	}
	in.KPIPath = filepath.Join(dir, "extract", "kpi.parquet")
	if err := records.WriteParquet(in.KPIPath, kpi, records.KPIRowGroupRows); err != nil {
		b.Fatal(err)
	}
	in.OutPath = filepath.Join(dir, "transform", "summaries.parquet")
	// The plan orders clients by name, unrelated to kpi.parquet's order (by client id): shuffle.
	r := rand.New(rand.NewPCG(uint64(clients), uint64(weeks)))
	r.Shuffle(len(in.Clients), func(i, j int) { in.Clients[i], in.Clients[j] = in.Clients[j], in.Clients[i] })
	return in
}

// BenchmarkTransformSimulated is BenchmarkTransform on the simulator's data: 200 ad accounts,
// 54 weeks, extracted from the simulator (graphsim, in process) by extract as a run does, the
// KPI days staged sorted by client as the extract's bulk read does, the clients in the plan's
// order (by name). Its JSON columns are larger and less regular than the synthetic ones.
func BenchmarkTransformSimulated(b *testing.B) {
	const accounts = 200
	sim := graphsim.New(graphsim.Config{Accounts: accounts, Seed: 13, JobDuration: 20 * time.Millisecond})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	until := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC) // a Sunday
	since := until.AddDate(0, 0, -54*7+1)
	run := records.RunDir(b.TempDir())
	x := &extract.Extractor{Client: extract.NewClient(srv.URL, "v25.0", ""),
		Poll: extract.PollConfig{First: 20 * time.Millisecond, Max: 100 * time.Millisecond}}
	accts := sim.Accounts()
	var g errgroup.Group
	g.SetLimit(32)
	for _, a := range accts {
		g.Go(func() error {
			return x.Extract(context.Background(), extract.Request{ClientID: a.ID, ClientName: a.Name, Account: a.ID,
				Token: extract.NewToken(a.Token), Range: extract.Range{Since: since, Until: until}, Dir: run.Client(a.ID)}, nil).Err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	slices.SortFunc(accts, func(x, y graphsim.Account) int { return strings.Compare(x.ID, y.ID) })
	var kpi []records.KPIRow
	for _, a := range accts {
		for _, k := range sim.KPIDays(a.ID, since, until) {
			r, v := k.Reservations, fmt.Sprintf("%d.%02d", k.ReservationValueCents/100, k.ReservationValueCents%100)
			conv, calls := k.TotalConversions, k.ClickToCall
			kpi = append(kpi, records.KPIRow{ClientID: a.ID, Date: records.DayNumber(k.Date), Reservations: &r,
				ReservationValue: &v, TotalConversions: &conv, ClickToCall: &calls})
		}
	}
	in := Input{KPIPath: run.KPI(), OutPath: run.Summaries()}
	if err := records.WriteParquet(in.KPIPath, kpi, records.KPIRowGroupRows); err != nil {
		b.Fatal(err)
	}
	slices.SortFunc(accts, func(x, y graphsim.Account) int { return strings.Compare(x.Name, y.Name) })
	for _, a := range accts {
		in.Clients = append(in.Clients, ClientInput{ClientID: a.ID, Dir: run.Client(a.ID)})
	}
	rawRows := 0
	for _, c := range in.Clients {
		for _, k := range records.Kinds {
			cf, err := openColumnFile(c.Dir.Report(k))
			if err != nil {
				b.Fatal(err)
			}
			rawRows += int(cf.NumRows())
			cf.Close()
		}
	}
	for _, path := range []struct {
		name string
		run  func(context.Context, Input) (Result, error)
	}{{"columns", Run}} {
		b.Run(path.name, func(b *testing.B) {
			rows, runs := 0, 0
			cpu := processCPU(b)
			for b.Loop() {
				res, err := path.run(context.Background(), in)
				if err != nil || res.Clients != accounts {
					b.Fatalf("%d clients: %v", res.Clients, err)
				}
				rows += res.Rows
				runs++
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rawRows*runs)/b.Elapsed().Seconds(), "raw_rows/s")
			reportCPU(b, processCPU(b)-cpu, rawRows*runs)
		})
	}
}

// processCPU is the CPU time (user + system) the benchmark's process has used so far
// (getrusage RUSAGE_SELF): every goroutine's, the garbage collector's included.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU seconds an op took and the raw rows per CPU second: figures that
// other programs on a shared machine move much less than the wall time's rows/s. With every
// core free, raw_rows/s would be about raw_rows/cpu_s times the cores the transform keeps busy
// (one builder per processor, as Run has).
func reportCPU(b *testing.B, cpu time.Duration, rawRows int) {
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu_s/op")
	b.ReportMetric(float64(rawRows)/cpu.Seconds(), "raw_rows/cpu_s")
}
