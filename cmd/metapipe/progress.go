package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
)

// barReporter draws one live line per client in a terminal (mpb does the redrawing): what each
// of its five report kinds is doing, with Meta's state and percent, the client's elapsed time
// and its Graph API requests so far. Each line is laid out by renderClient for the terminal's
// width. The reporter is also the writer of the log lines while the lines are drawn, so that
// log lines go above them instead of through them.
type barReporter struct {
	p   *mpb.Progress
	out io.Writer

	mu      sync.Mutex
	closed  bool
	bars    map[string]*mpb.Bar
	clients map[string]*clientView
	nameW   int // the name column: the longest name so far, at most maxNameWidth
}

// newBarReporter draws on w (a terminal).
func newBarReporter(w io.Writer) *barReporter {
	return &barReporter{p: mpb.New(mpb.WithOutput(w)), out: w, bars: map[string]*mpb.Bar{}, clients: map[string]*clientView{}}
}

// Write prints a log line above the client lines while they are drawn, and plainly afterwards.
func (r *barReporter) Write(b []byte) (int, error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if !closed {
		if n, err := r.p.Write(b); err == nil {
			return n, nil
		}
	}
	return r.out.Write(b)
}

func (r *barReporter) ClientStarted(id, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients[id] = &clientView{name: name, started: time.Now(), kinds: map[records.Kind]extract.Progress{}}
	r.nameW = min(max(r.nameW, runewidth.StringWidth(name)), maxNameWidth)
	b, err := r.p.Add(1, mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
		_, err := io.WriteString(w, r.line(id, time.Now(), st.AvailableWidth))
		return err
	}), mpb.BarFillerTrim())
	if err == nil {
		r.bars[id] = b
	}
}

// line renders one client's line; called by mpb at every refresh.
func (r *barReporter) line(id string, now time.Time, width int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.clients[id]
	if v == nil {
		return ""
	}
	return renderClient(*v, r.nameW, now, width)
}

func (r *barReporter) KindProgress(id string, p extract.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.clients[id]; v != nil {
		v.kinds[p.Kind] = p
		v.requests = max(v.requests, p.Requests)
	}
}

func (r *barReporter) ClientDone(id string, err error) {
	r.mu.Lock()
	b, v := r.bars[id], r.clients[id]
	if v != nil {
		v.ended, v.failed = time.Now(), err != nil
	}
	r.mu.Unlock()
	if b == nil {
		return
	}
	if err != nil {
		b.Abort(false) // keeps its last line
		return
	}
	b.SetCurrent(1)
}

func (r *barReporter) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	for _, b := range r.bars {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	r.mu.Unlock()
	r.p.Wait()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// maxNameWidth is the widest the name column gets; longer names are cut with "…".
const maxNameWidth = 24

// clientView is what the terminal shows of one client.
type clientView struct {
	name     string
	started  time.Time
	ended    time.Time // zero while the extraction runs
	failed   bool
	requests int64                             // Graph API requests so far
	kinds    map[records.Kind]extract.Progress // the last word of each report kind
}

// renderClient lays out one client's line in at most width columns (display width, so wide
// characters in a name count double): the name in a column of nameW, the elapsed time, the
// requests so far, then per report kind its state and Meta's percent. It takes the most
// detailed of three layouts that fits, e.g. at 160 and at 80 columns:
//
//	Demo Casa Lumbre  0:42  17 req  account done  campaigns running 45%  placements reading page 3  demographics started 10%  ad_relevance submitted
//	Demo Casa Lumbre  0:42  17 req  acct ok  camp 45%  plac p3  demo 10%  ads wait
//
// and cuts the last with "…" when even that does not fit.
func renderClient(v clientView, nameW int, now time.Time, width int) string {
	if width <= 0 {
		return ""
	}
	end := now
	if !v.ended.IsZero() {
		end = v.ended
	}
	name := runewidth.FillRight(runewidth.Truncate(v.name, nameW, "…"), nameW)
	elapsed := clock(end.Sub(v.started))
	var candidates []string
	if !v.ended.IsZero() {
		word := "done"
		if v.failed {
			word = "failed"
		}
		candidates = []string{
			fmt.Sprintf("%s  %s  %d requests  %s", name, elapsed, v.requests, word),
			fmt.Sprintf("%s  %s  %d req  %s", name, elapsed, v.requests, word),
		}
	} else {
		long, short := make([]string, 0, len(records.Kinds)), make([]string, 0, len(records.Kinds))
		for _, k := range records.Kinds {
			p, seen := v.kinds[k]
			if !seen {
				p = extract.Progress{Kind: k, State: "queued"}
			}
			long = append(long, string(k)+" "+longState(p))
			short = append(short, shortLabel(k)+" "+shortState(p))
		}
		candidates = []string{
			fmt.Sprintf("%s  %s  %d req  %s", name, elapsed, v.requests, strings.Join(long, "  ")),
			fmt.Sprintf("%s  %s  %d req  %s", name, elapsed, v.requests, strings.Join(short, "  ")),
		}
	}
	for _, c := range candidates {
		if runewidth.StringWidth(c) <= width {
			return c
		}
	}
	return runewidth.Truncate(candidates[len(candidates)-1], width, "…")
}

// clock formats an elapsed time as m:ss, or h:mm:ss past an hour.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// longState is a kind's state in words: Meta's status without "Job" and its percent, or what
// metapipe is doing.
func longState(p extract.Progress) string {
	switch p.State {
	case extract.StateReading:
		if p.Pages == 0 {
			return "reading"
		}
		return fmt.Sprintf("reading page %d", p.Pages+1)
	case extract.StateDone, extract.StateSubmitting, extract.StateSubmitted, "queued":
		return p.State
	case extract.StateThrottled:
		return "throttled since " + p.ThrottledSince.Local().Format(time.TimeOnly)
	case "Job Completed":
		return "completed"
	}
	st := strings.ToLower(strings.TrimPrefix(p.State, "Job "))
	if st == "not started" || st == "failed" || st == "skipped" {
		return st
	}
	return fmt.Sprintf("%s %d%%", st, p.Percent)
}

// shortState is a kind's state in at most 5 columns.
func shortState(p extract.Progress) string {
	switch p.State {
	case extract.StateDone, "Job Completed":
		return "ok"
	case extract.StateReading:
		return fmt.Sprintf("p%d", p.Pages+1)
	case extract.StateSubmitting:
		return "sub"
	case extract.StateSubmitted:
		return "wait"
	case extract.StateThrottled:
		return "thr"
	case "queued":
		return "-"
	case "Job Failed", "Job Skipped":
		return "fail"
	}
	return fmt.Sprintf("%d%%", p.Percent)
}

// shortLabel is the kind's label for a narrow line (records.KindSpec.Short).
func shortLabel(k records.Kind) string {
	spec, _ := records.SpecOf(k)
	return spec.Short
}
