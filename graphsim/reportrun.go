package graphsim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Async statuses of an AdReportRun.
const (
	StatusNotStarted = "Job Not Started"
	StatusStarted    = "Job Started"
	StatusRunning    = "Job Running"
	StatusCompleted  = "Job Completed"
	StatusFailed     = "Job Failed"
)

// run is one submitted report run. Its progress is a function of the clock.
type run struct {
	seq       uint64 // the simulator's count of runs when it was submitted: 1, 2, …
	id        string
	acct      *account
	spec      *reportSpec
	submitted time.Time
	dur       time.Duration

	fail         bool
	failCode     int
	failSubcode  int
	failMessage  string
	stuck        bool
	stuckPct     int // percent a stuck run stays at (100 or lower)
	runningAt100 bool

	// Lag faults: how many polls and cursor pages are still to be denied, and whether the run
	// is lost for good (guarded by the simulator's mutex).
	lagPolls, lagPages, missingFieldPages int
	lost                                  bool
	notReadyReads                         int           // result requests still to answer 2601 once completed
	queued                                time.Duration // "Job Not Started" at 0 % this long before dur begins

	// What its client saw (guarded by the simulator's mutex): polls answered, and when a poll
	// first answered its final status.
	polls    int
	seenDone time.Time

	once sync.Once
	rows [][]byte
}

// finish returns when the run reaches its final status, or false if it never does.
func (r *run) finish() (time.Time, bool) {
	switch {
	case r.stuck:
		return time.Time{}, false
	case r.fail:
		return r.begun().Add(r.dur / 2), true
	case r.runningAt100:
		return r.begun().Add(r.dur + r.dur/2), true
	}
	return r.begun().Add(r.dur), true
}

// begun is when the run leaves Meta's queue: its submit, or QueuedFor later.
func (r *run) begun() time.Time { return r.submitted.Add(r.queued) }

func (r *run) finished(now time.Time) bool {
	t, ok := r.finish()
	return ok && !now.Before(t)
}

// state returns status and percent at now.
func (r *run) state(now time.Time) (string, int) {
	e := now.Sub(r.begun())
	if e < 0 {
		return StatusNotStarted, 0
	}
	pct := func(e time.Duration) int {
		if e <= 0 {
			return 0
		}
		return int(min(int64(e)*100/int64(r.dur), 99))
	}
	early := func() (string, int, bool) {
		switch {
		case e < r.dur/10:
			return StatusNotStarted, 0, true
		case e < r.dur/5:
			return StatusStarted, pct(e), true
		}
		return "", 0, false
	}
	switch {
	case r.fail:
		if e >= r.dur/2 {
			return StatusFailed, pct(r.dur / 2)
		}
	case r.stuck:
		if st, p, ok := early(); ok {
			return st, min(p, r.stuckPct)
		}
		p := pct(e)
		if r.stuckPct == 100 && e >= r.dur {
			p = 100
		}
		return StatusRunning, min(p, r.stuckPct)
	default:
		if done, _ := r.finish(); !now.Before(done) {
			return StatusCompleted, 100
		}
		if e >= r.dur {
			return StatusRunning, 100
		}
	}
	if st, p, ok := early(); ok {
		return st, p
	}
	return StatusRunning, pct(e)
}

func (r *run) json(now time.Time) []byte {
	st, p := r.state(now)
	var o jsonObj
	o.str("id", r.id)
	o.str("account_id", r.acct.ID)
	o.num("time_ref", r.submitted.Unix())
	if st == StatusCompleted || st == StatusFailed {
		t, _ := r.finish()
		o.num("time_completed", t.Unix())
	} else {
		o.num("time_completed", 0)
	}
	o.str("async_status", st)
	o.num("async_percent_completion", int64(p))
	o.str("date_start", dayString(r.spec.since))
	o.str("date_stop", dayString(r.spec.until))
	if st == StatusFailed {
		o.num("error_code", int64(r.failCode))
		o.num("error_subcode", int64(r.failSubcode))
		o.str("error_message", r.failMessage)
	}
	return o.bytes()
}

// newRun registers a report run for a validated spec; call with s.mu held.
func (s *Simulator) newRun(a *account, sp *reportSpec, now time.Time) *run {
	s.runSeq++
	id := strconv.FormatUint(6023920149050+s.runSeq*1009+hash(uint64(s.cfg.Seed), tagRun)%1000*1_000_000_000, 10)
	r := &run{seq: s.runSeq, id: id, acct: a, spec: sp, submitted: now, dur: s.cfg.JobDuration}
	fs := s.faults[a.ID]
	fs.runs++
	f := fs.f
	n := fs.runs
	if f.JobDuration > 0 {
		r.dur = f.JobDuration
	} else if j := s.cfg.JobJitter; j > 0 {
		// u is uniform in [-1, 1], from the seed and the run's number.
		u := float64(hash(uint64(s.cfg.Seed), tagRun, s.runSeq, 1)%2_000_001)/1_000_000 - 1
		r.dur = time.Duration(float64(r.dur) * (1 + j*u))
	}
	switch {
	case f.FailJobs < 0 || n <= f.FailJobs:
		r.fail = true
		r.failCode, r.failSubcode, r.failMessage = f.FailCode, f.FailSubcode, f.FailMessage
		if r.failCode == 0 {
			r.failCode, r.failSubcode = 1, 99
		}
		if r.failMessage == "" {
			r.failMessage = "An unknown error occurred"
		}
	case f.StuckJobs < 0 || n <= max(f.FailJobs, 0)+f.StuckJobs:
		r.stuck = true
		r.stuckPct = 100
		if n%2 == 0 {
			r.stuckPct = 20 + int(hash(uint64(s.cfg.Seed), tagRun, uint64(n))%70)
		}
	}
	r.runningAt100 = f.RunningAt100
	r.lagPolls, r.lagPages, r.missingFieldPages = f.LagPolls, f.LagPages, f.MissingFieldPages
	r.lost = f.LostRuns < 0 || n <= f.LostRuns
	r.notReadyReads, r.queued = f.NotReadyReads, f.QueuedFor
	s.runs[id] = r

	// Peaks of running report runs, per account and in total.
	var acctRunning, total int64
	for _, x := range s.runs {
		if !x.finished(now) {
			total++
			if x.acct == a {
				acctRunning++
			}
		}
	}
	ac := s.acctCounters(a.ID)
	ac.ReportRuns++
	ac.PeakRunning = max(ac.PeakRunning, acctRunning)
	s.counters.ByAccount[a.ID] = ac
	s.counters.PeakRunning = max(s.counters.PeakRunning, total)
	return r
}

// lag plays the lag faults of a report run's poll (page false) or of a request for one of its
// pages (page true; cursor: a page after the first): the answer Meta gives while it does not
// find the run, or nil.
func (s *Simulator) lag(req *request, page, cursor bool) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := req.run
	var e *apiError
	switch {
	case r.lost:
		e = unsupported(http.MethodGet, r.id)
	case !page && r.lagPolls > 0:
		r.lagPolls--
		e = unsupported(http.MethodGet, r.id)
	case page && cursor && r.lagPages > 0:
		r.lagPages--
		e = unsupported(http.MethodGet, r.id)
	case page && cursor && r.missingFieldPages > 0:
		r.missingFieldPages--
		e = &apiError{status: 400, code: 100, msg: "(#100) Cannot include " + strings.Join(r.spec.fields, ", ") +
			" in summary param because they weren't there while creating the report run. All available values are: "}
	default:
		return nil
	}
	s.counters.Lagged++
	ac := s.acctCounters(r.acct.ID)
	ac.Lagged++
	s.counters.ByAccount[r.acct.ID] = ac
	return e
}

// results computes (once) the rows of a completed run.
func (s *Simulator) results(r *run) [][]byte {
	r.once.Do(func() {
		if rows, ok := s.warmRows(r.acct, r.spec); ok {
			r.rows = rows
			return
		}
		r.rows = s.buildRows(r.acct, r.spec)
	})
	return r.rows
}
