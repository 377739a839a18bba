package extract

import (
	"slices"
	"sync"
	"time"
)

// pollSchedule times the polls of one report run by what Meta says of it: it extrapolates the
// run's end from async_percent_completion and the time elapsed, and polls just after that
// end, so that a run is seen done soon after it is done, whatever its length, in a few polls.
//
//   - The first poll comes PollConfig.First after the submit (at once on a resume), or, when
//     the ad account's earlier report runs were seen done (PollConfig.Times), a quarter of
//     their median time from submit to "Job Completed" if that is later: a first poll that
//     still reads 0 % ("Job Not Started") costs a poll, and leaves one reading of a percent to
//     time the poll at the end by, which cannot tell a run whose percent was hidden from one
//     that queued. A quarter lands after Meta's first tenth at 0 % and before the end of runs
//     up to 40 % shorter than the median, and "Job Completed" (which Meta reports a while after
//     100 %) is still a good while off.
//   - While Meta reports 0 % (a run still queued), the next poll comes at twice the time
//     elapsed: polls at First, 2×First, 4×First, …
//   - After the first percent p at elapsed e: progress that is linear since the last poll that
//     read 0 % (at z, or the submit) ends at z + (e − z) × 100 / p. One reading cannot tell a
//     run that progressed from its submit from one that queued first, so the next poll comes
//     halfway to that end, and no later than 2 × e: it gives a rate.
//   - From the second percent on, the rate since the first percent gives the end of a run that
//     progresses linearly once begun, queued or not; the rate is taken half a percent slower,
//     since both readings are rounded down, so that the poll lands at or just after the end.
//   - 100 % but not completed, first seen so: half the time elapsed (Meta's runs stay "Job
//     Running" at 100 % a while: a tail of up to half the time to 100 % costs one poll).
//   - No progress since the previous poll (the same percent, or still 100 % but not
//     completed): twice the previous wait, or, when that wait was aimed at an end that did not
//     come, the floor, to double from.
//
// Every wait is at least a twentieth of the time elapsed (and of First), so that a run near its
// end is not polled in a burst, and at most PollConfig.Max, which also bounds how late a stall
// is seen. Over runs of 2 s to 200 s whose percent rises linearly from the submit, a run is seen
// done within 12.3 % of its length, and one of the usual length (20 s ± 25 %) in 2 to 4 polls, also
// when it stays "Job Running" at 100 % for its last third
// (pollschedule_test.go, which also measures runs that queue first and coarse percents).
type pollSchedule struct {
	cfg     PollConfig // with its defaults
	resumed bool
	typical time.Duration // the account's earlier runs' median time to "Job Completed" (0: none)

	last    time.Duration // the previous wait
	aimed   bool          // the previous wait was aimed at an estimated end
	lastPct float64       // the percent at the previous poll (-1 before the first)
	// The first reading with a percent above 0: the base of the rate estimate.
	baseAt  time.Duration
	basePct float64
	zeroAt  time.Duration // the last poll that read 0 %: the run progressed only after it
}

func newPollSchedule(cfg PollConfig, resumed bool) *pollSchedule {
	return &pollSchedule{cfg: cfg, resumed: resumed, lastPct: -1, basePct: -1}
}

// forAccount is newPollSchedule for a run of the ad account, timed by its earlier runs
// (cfg.Times; none when nil).
func forAccount(cfg PollConfig, resumed bool, account string) *pollSchedule {
	p := newPollSchedule(cfg, resumed)
	p.typical = cfg.Times.Typical(account)
	return p
}

// first is the wait before the first poll: First after a submit, or a quarter of the
// account's typical run when that is later (at most Max); none on a resume (the run may have
// ended while metapipe was not running).
func (p *pollSchedule) first() time.Duration {
	if p.resumed {
		p.last = 0
		return 0
	}
	d := p.cfg.First
	if q := p.typical / 4; q > d {
		d = min(q, p.cfg.Max)
	}
	p.last = d
	return d
}

// RunTimes keeps how long each ad account's recent report runs took from their submit to the
// poll that saw "Job Completed" (the last 9), so that the next run of the account is first
// polled when it has a percent to read ([pollSchedule]). One RunTimes serves every run of a
// process (the service's workers keep it across jobs); the zero value and nil are empty. Safe
// for concurrent use.
type RunTimes struct {
	mu   sync.Mutex
	byID map[string][]time.Duration
}

// runTimesKept is how many recent runs of an account RunTimes keeps.
const runTimesKept = 9

// Add records a run of the account seen done d after its submit; nil ignores it.
func (t *RunTimes) Add(account string, d time.Duration) {
	if t == nil || d <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID = map[string][]time.Duration{}
	}
	ds := append(t.byID[account], d)
	if len(ds) > runTimesKept {
		ds = ds[len(ds)-runTimesKept:]
	}
	t.byID[account] = ds
}

// Typical is the median of the account's recent runs' times, or 0 when none was seen.
func (t *RunTimes) Typical(account string) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	ds := slices.Clone(t.byID[account])
	t.mu.Unlock()
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// seed gives the schedule a reading made before a resume: the run was at pct at elapsed from
// its submit. The rate is then counted from that reading.
func (p *pollSchedule) seed(elapsed time.Duration, pct float64) {
	p.baseAt, p.basePct, p.lastPct = elapsed, pct, pct
}

// next is the wait before the next poll, given the poll just made: the time elapsed since the
// submit (or the resume) and Meta's async_percent_completion.
func (p *pollSchedule) next(elapsed time.Duration, pct float64) time.Duration {
	floor := max(p.cfg.First, elapsed) / 20
	progressed := pct > p.lastPct
	p.lastPct = pct
	var d time.Duration
	switch {
	case pct <= 0:
		// Nothing to extrapolate from: double the time elapsed.
		p.zeroAt = elapsed
		d = max(elapsed, p.cfg.First)
	case pct >= 100 && progressed:
		// Done by its percent but not by its status, first seen so: Meta's runs stay "Job
		// Running" at 100 % a while before "Job Completed" (docs/META_API.md, section 2), a
		// while that grows with the run. Half the time elapsed catches a tail of up to half
		// the run's time to 100 % in one poll; a longer one doubles from there.
		d = elapsed / 2
	case pct >= 100 || !progressed:
		// Still at 100 %, or no progress since the last poll: wait twice as long as the last
		// time, starting from the floor if the last wait was aimed at an end that has not come.
		d = 2 * p.last
		if p.aimed {
			d = floor
		}
	default:
		end := time.Duration(-1)
		switch {
		case p.basePct > 0 && elapsed > p.baseAt:
			// The rate since the first reading with a percent: the end for a run that
			// progresses linearly once it has begun, queued or not. Both readings are
			// rounded down, so the rate is taken half a percent slower, not to poll early.
			rate := (pct - p.basePct - 0.5) / float64(elapsed-p.baseAt) // percent per nanosecond
			// And 1 % later, so that a poll aimed at the end does not land on 99 %.
			end = elapsed + time.Duration((100-pct)/rate)
			end += end / 100
		case !p.resumed:
			// One reading: linear progress since the last poll that read 0 % (or since the
			// submit). One reading cannot tell a run that progressed from its submit from
			// one that queued first, so the next poll comes halfway to that end (and at
			// most the time elapsed later), and gives a rate.
			end = p.zeroAt + time.Duration(float64(elapsed-p.zeroAt)*100/pct)
			end = min(elapsed+(end-elapsed)/2, 2*max(elapsed, p.cfg.First))
		default:
			// A resumed run's first reading: nothing to extrapolate from yet.
			d = p.cfg.First
		}
		if p.basePct <= 0 {
			p.baseAt, p.basePct = elapsed, pct
		}
		if end >= 0 {
			d = end - elapsed
		}
	}
	d = min(max(d, floor), p.cfg.Max)
	p.last = d
	p.aimed = pct > 0 && pct < 100 && progressed
	return d
}
