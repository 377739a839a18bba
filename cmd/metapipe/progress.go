package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/metapipe/metapipe/internal/records"
)

// barReporter draws one live bar per client in a terminal, filled by the report runs'
// async_percent_completion (five kinds, 100 each). It is also the writer of the log lines
// while the bars are drawn, so that lines go above the bars instead of through them.
type barReporter struct {
	p      *mpb.Progress
	out    io.Writer
	closed bool
	mu     sync.Mutex
	bars   map[string]*mpb.Bar
	pct    map[string]map[string]int
	state  map[string]string
}

// newBarReporter draws progress bars on w (a terminal).
func newBarReporter(w io.Writer) *barReporter {
	return &barReporter{
		p:    mpb.New(mpb.WithOutput(w), mpb.WithWidth(32)),
		out:  w,
		bars: map[string]*mpb.Bar{}, pct: map[string]map[string]int{}, state: map[string]string{},
	}
}

// Write prints a log line above the bars while they are drawn, and plainly afterwards.
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
	total := int64(100 * len(records.Kinds))
	r.pct[id] = map[string]int{}
	r.state[id] = "submitting"
	r.bars[id] = r.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(truncate(name, 24), decor.WC{C: decor.DindentRight | decor.DextraSpace, W: 25})),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Any(func(decor.Statistics) string {
			r.mu.Lock()
			defer r.mu.Unlock()
			return " " + r.state[id]
		})),
	)
}

func (r *barReporter) KindProgress(id, kind, status string, pct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bars[id]
	if b == nil {
		return
	}
	if status == "Job Completed" {
		pct = 100
	}
	r.pct[id][kind] = pct
	sum, done := 0, 0
	for _, v := range r.pct[id] {
		sum += v
		if v == 100 {
			done++
		}
	}
	r.state[id] = fmt.Sprintf("%d/%d reports done", done, len(records.Kinds))
	b.SetCurrent(int64(min(sum, 100*len(records.Kinds)-1)))
}

func (r *barReporter) ClientDone(id string, err error) {
	r.mu.Lock()
	b := r.bars[id]
	if err != nil {
		r.state[id] = "failed"
	} else {
		r.state[id] = "done"
	}
	r.mu.Unlock()
	if b == nil {
		return
	}
	if err != nil {
		b.Abort(false)
		return
	}
	b.SetCurrent(int64(100 * len(records.Kinds)))
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
