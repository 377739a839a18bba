package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/metapipe/metapipe/internal/records"
)

// RefetchDir is the directory, under a client's staged files, that keeps the report runs of
// Refetch: apart from the first read's, so that a saved run of the same range is not read again.
const RefetchDir = "refetch"

// Refetch reads one report kind of a client again over rng — a week whose campaign, placement
// or demographic sums disagreed with the account's totals — and replaces the rows staged for
// it (those whose date_start is within rng) with what Meta answers now; the other weeks' rows
// are kept. It reads rng as Extract reads a range that short (a synchronous request when
// SyncConfig allows, else a report run of its own, kept in Dir/refetch), with a throttle of
// its own and without InlineWait. It returns the rows Meta gave for rng and the requests'
// statistics. Errors: the staged file of kind missing or unreadable ("stage rows"), or the
// read's error (a [*ClientError] naming the client and kind); on an error the staged file is
// as it was.
func (x *Extractor) Refetch(ctx context.Context, req Request, kind records.Kind, rng Range) (int, StatsSnapshot, error) {
	path := req.Dir.Report(kind)
	staged, err := records.ReadParquet[records.InsightRow](path)
	if err != nil {
		return 0, StatsSnapshot{}, &ClientError{Client: req.ClientName, Kind: kind, Err: fmt.Errorf("stage rows: %w", err)}
	}
	if req.Token.IsZero() {
		return 0, StatsSnapshot{}, &ClientError{Client: req.ClientName, Kind: kind, Err: errors.New("no access token")}
	}
	dir := records.ClientDir(filepath.Join(string(req.Dir), RefetchDir))
	if err := os.MkdirAll(string(dir), records.DirMode); err != nil {
		return 0, StatsSnapshot{}, &ClientError{Client: req.ClientName, Kind: kind, Err: err}
	}
	sess := x.Client.Session(req.Account, req.Token, NewThrottle(x.Throttle))
	sess.poll = x.Poll
	pageSize := x.PageSize
	if pageSize <= 0 {
		pageSize = 500
	}
	runs, err := openReportRunLog(ctx, &FileReportRuns{Dir: dir}, kind)
	if err != nil {
		return 0, sess.Stats.Snapshot(), &ClientError{Client: req.ClientName, Kind: kind, Err: err}
	}
	r := &reportRunner{s: sess, spec: Specs[kind], client: req.ClientName, poll: x.Poll, pageSize: pageSize,
		sync: x.Sync.WithDefaults(), runs: runs, slots: make(chan struct{}, 1), readers: x.readerSlots(),
		chunkSlots: make(chan struct{}, 1)}
	rows, _, _, err := r.fetchKind(ctx, rng)
	if err != nil {
		return 0, sess.Stats.Snapshot(), &ClientError{Client: req.ClientName, Kind: kind, Err: fmt.Errorf("read %s again: %w", rng, err)}
	}
	since, until := records.DayNumber(rng.Since), records.DayNumber(rng.Until)
	kept := slices.DeleteFunc(staged, func(row records.InsightRow) bool { return row.DateStart >= since && row.DateStart <= until })
	kept = append(kept, rows...)
	slices.SortStableFunc(kept, func(a, b records.InsightRow) int { return int(a.DateStart) - int(b.DateStart) })
	if err := records.WriteParquet(path, kept, records.RowGroupRows); err != nil {
		return 0, sess.Stats.Snapshot(), &ClientError{Client: req.ClientName, Kind: kind, Err: fmt.Errorf("stage rows: %w", err)}
	}
	return len(rows), sess.Stats.Snapshot(), nil
}
