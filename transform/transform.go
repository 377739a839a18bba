package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// ClientInput names one client to transform and its extract directory,
// <run>/extract/<clientID>, which holds one <kind>.parquet per report kind.
type ClientInput struct {
	ClientID string
	Dir      records.ClientDir
	AsOf     time.Time // the as-of date of the client's figures, stored in every row's as_of
	Currency string    // the ad account's ISO 4217 code, stored in every row's currency
}

// Input is one transform: the clients in output order, the KPI file
// (`<run>/extract/kpi.parquet`) and the output file (`<run>/transform/summaries.parquet`).
type Input struct {
	Clients []ClientInput
	KPIPath string
	OutPath string
}

// Warning is a check that did not hold, for the ledger. Check is e.g.
// "campaigns_vs_account_spend" or "placements_without_account".
type Warning struct {
	ClientID string
	Week     time.Time // the week's Monday, UTC midnight
	Check    string
	Detail   string
}

func (w Warning) String() string {
	return fmt.Sprintf("client %s week %s: %s: %s", w.ClientID, w.Week.Format("2006-01-02"), w.Check, w.Detail)
}

// ClientResult is the outcome for one client. Err is non-nil when the client was skipped (its
// rows are not in the output); it is usually an *InputError.
type ClientResult struct {
	Rows     int
	Warnings int
	Err      error
}

// Result sums up a transform. Clients counts the clients whose rows were written; PerClient has
// an entry for every input client, failed ones included.
type Result struct {
	Clients   int
	Rows      int
	Warnings  []Warning
	PerClient map[string]ClientResult
}

// Failed lists the clients that were skipped, in input order.
func (r Result) Failed(in Input) []string {
	var ids []string
	for _, c := range in.Clients {
		if r.PerClient[c.ClientID].Err != nil {
			ids = append(ids, c.ClientID)
		}
	}
	return ids
}

// ErrUsage is returned for an Input that cannot be run (no output path, a client listed twice).
var ErrUsage = errors.New("invalid transform input")

// Run transforms the clients of in, one after another, into in.OutPath (see the package
// documentation for the figures). A client whose files are missing or malformed is skipped and
// its error recorded in Result.PerClient; Run returns an error only when nothing can be trusted:
// an unusable Input, a missing or malformed KPI file, an output that cannot be written, or ctx
// cancelled. On error no output file is left; the returned Result then describes the clients
// handled so far.
func Run(ctx context.Context, in Input) (Result, error) {
	res := Result{PerClient: make(map[string]ClientResult, len(in.Clients))}
	want, err := in.clientSet()
	if err != nil {
		return res, err
	}
	kpi, err := openKPI(in.KPIPath, want)
	if err != nil {
		return res, fmt.Errorf("read kpi: %w", err)
	}
	defer kpi.Close()

	out, err := records.CreateParquet[records.Summary](in.OutPath, records.SummaryRowGroupRows)
	if err != nil {
		return res, fmt.Errorf("create output: %w", err)
	}
	defer out.Abort()

	b := startBuilds(ctx, in.Clients, kpi)
	for j := range b.jobs {
		r := <-j.done
		if r.err != nil {
			res.PerClient[j.c.ClientID] = ClientResult{Err: r.err}
			continue
		}
		if err := out.Write(r.rows); err != nil {
			b.finish()
			return res, fmt.Errorf("write summaries of client %s: %w", j.c.ClientID, err)
		}
		res.Clients++
		res.Rows += len(r.rows)
		res.Warnings = append(res.Warnings, r.warns...)
		res.PerClient[j.c.ClientID] = ClientResult{Rows: len(r.rows), Warnings: len(r.warns)}
	}
	b.finish()
	if b.kpiErr != nil { // written before jobs was closed
		return res, b.kpiErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := out.Commit(); err != nil {
		return res, fmt.Errorf("commit output: %w", err)
	}
	return res, nil
}

// clientSet checks the input and returns its client ids.
func (in Input) clientSet() (map[string]bool, error) {
	if in.OutPath == "" {
		return nil, fmt.Errorf("%w: no output path", ErrUsage)
	}
	want := make(map[string]bool, len(in.Clients))
	for _, c := range in.Clients {
		if c.ClientID == "" {
			return nil, fmt.Errorf("%w: empty client id", ErrUsage)
		}
		if want[c.ClientID] {
			return nil, fmt.Errorf("%w: client %s listed twice", ErrUsage, c.ClientID)
		}
		want[c.ClientID] = true
	}
	return want, nil
}

// builds builds clients a few at a time, one per processor, and hands them over in input order
// (jobs) while the next ones are built: at most width clients are being built at once, and at
// most 2×width+2 are queued, being built or being written, so memory holds a bounded number of
// clients' data however many clients the run has.
type builds struct {
	jobs     chan *buildJob
	stop     context.CancelFunc
	wg       sync.WaitGroup
	building chan struct{}
	kpiErr   error // set before jobs is closed
}

type buildJob struct {
	c    ClientInput
	done chan built
}

type built struct {
	rows  []records.Summary
	warns []Warning
	err   error
}

func startBuilds(ctx context.Context, clients []ClientInput, kpi *kpiFile) *builds {
	width := max(1, runtime.GOMAXPROCS(0))
	wctx, stop := context.WithCancel(ctx)
	b := &builds{jobs: make(chan *buildJob, width), stop: stop, building: make(chan struct{}, width)}
	go b.dispatch(wctx, clients, kpi)
	return b
}

// dispatch starts a build per client in turn and queues it on jobs.
func (b *builds) dispatch(ctx context.Context, clients []ClientInput, kpi *kpiFile) {
	defer close(b.jobs)
	for _, c := range clients {
		if ctx.Err() != nil {
			return
		}
		days, err := kpi.days(c.ClientID) // one reader: read in turn, here
		if err != nil {
			b.kpiErr = fmt.Errorf("read kpi: %w", err)
			return
		}
		j := &buildJob{c: c, done: make(chan built, 1)}
		select {
		case b.building <- struct{}{}:
		case <-ctx.Done():
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			var r built
			r.rows, r.warns, r.err = transformClient(c, days)
			<-b.building
			j.done <- r
		}()
		select {
		case b.jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}

// finish stops the builds and waits for them.
func (b *builds) finish() {
	b.stop()
	for range b.jobs { // let the dispatcher see the cancellation and close jobs
	}
	b.wg.Wait()
}

// transformClient reads one client's files and builds its rows, hashes included.
func transformClient(c ClientInput, kpi []kpiDay) ([]records.Summary, []Warning, error) {
	data, err := readClient(c.ClientID, c.Dir)
	if err != nil {
		return nil, nil, err
	}
	asOf := records.DayNumber(c.AsOf)
	kpiEnd := asOf
	if c.AsOf.IsZero() {
		kpiEnd = math.MaxInt32 // no as-of: the account rows' date_stop alone
	}
	rows, warns := buildClient(c.ClientID, data, kpi, kpiEnd)
	data.release() // the summaries hold copies of every string they use
	for i := range rows {
		rows[i].Currency, rows[i].AsOf = c.Currency, asOf
		rows[i].ContentHash = rows[i].Hash()
	}
	return rows, warns, nil
}
