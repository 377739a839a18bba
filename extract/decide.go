package extract

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file holds metapipe's decisions about Meta's answers, apart from the loops that carry
// them out (as River keeps its retry policy apart from its executor): [decide] for one request
// and [decideRange] for one range of a report. Both are pure functions of what was asked, what
// Meta answered and what has happened so far; decide_test.go tests them case by case. The
// budgets they apply are [RetryConfig]'s, [ThrottleConfig]'s and [PollConfig]'s, gathered in a
// [policy]; docs/META_API.md, "Budgets", tabulates them with their sources and the worst case
// of one request and of one client.

// ask is what one request asks for, as far as the decision needs it.
type ask struct {
	kind  CallKind
	runID string // the report run, on its own endpoints (its poll, its result pages); "" elsewhere
	// limit is the page size asked for on a result page (CallResults, CallSync), 0 elsewhere.
	limit int
	// timeoutFinal: an attempt that outlives its own timeout is given up at once (a
	// synchronous read, which then falls back to a report run).
	timeoutFinal bool
	// syncFirst: the first page of a synchronous read, where Meta's "too large" is about the
	// query (its range), not the page: given up at once, so that a report run reads the range
	// (Meta's Insights error codes: "Try a smaller date range, fetch less data, or use async
	// jobs"), not asked for again smaller.
	syncFirst bool
}

// answer is what Meta answered to one attempt.
type answer struct {
	err    error         // nil for a success
	regain time.Duration // estimated_time_to_regain_access in the answer's usage headers (0: none)
}

// history is what happened to one request up to the answer being decided: per class, how many
// answers of that class came before it, and how long it is since the first answer of that
// class (this one included: 0 for the first).
type history struct {
	n     [numClasses]int
	since [numClasses]time.Duration
	first [numClasses]time.Duration // when the first answer of each class came, after the request's first attempt
}

// at notes an answer of class c, elapsed after the request's first attempt, before it is
// decided; counted sets it down after.
func (h *history) at(c Class, elapsed time.Duration) {
	if h.n[c] == 0 {
		h.first[c] = elapsed
	}
	h.since[c] = elapsed - h.first[c]
}

func (h *history) counted(c Class) { h.n[c]++ }

// verb is what to do after an answer.
type verb int

const (
	verbDone    verb = iota // a success: return it
	verbRetry               // ask the same again after wait
	verbHold                // throttled: hold every call of the ad account for wait, then ask the same again
	verbSmaller             // ask the same page again, from the same cursor, with limit rows
	verbGiveUp              // return err to the caller (which splits, falls back, resubmits or fails)
)

func (v verb) String() string {
	return [...]string{"done", "retry", "hold", "smaller page", "give up"}[v]
}

// decision is what [decide] says to do.
type decision struct {
	verb  verb
	wait  time.Duration // verbRetry, verbHold: before the next attempt (the loop adds jitter)
	limit int           // verbSmaller: the new page size
	err   error         // verbGiveUp: the error to return
}

// policy gathers the budgets the decisions apply, each from its one config field.
type policy struct {
	base, cap   time.Duration // transient and run-lag backoff (RetryConfig.Base, Cap)
	attempts    int           // transient answers tolerated for one request, the last included (RetryConfig.MaxAttempts)
	runLag      time.Duration // RetryConfig.RunLag
	throttled   time.Duration // RetryConfig.Throttled: how long one request may stay throttled
	holdBase    time.Duration // ThrottleConfig.Cooldown: the first hold after a throttled answer without a regain time
	holdCap     time.Duration // ThrottleConfig.MaxWait: the longest single hold
	notReady    time.Duration // RetryConfig.NotReady: how long results may answer "not ready" after "Job Completed"
	notReadyGap time.Duration // PollConfig.NotReadyWait: the first wait after a "not ready"
	floor       int           // RetryConfig.PageFloor: the smallest page size asked for
}

// policyOf gathers the budgets of the configs (with their defaults).
func policyOf(r RetryConfig, t ThrottleConfig, p PollConfig) policy {
	r, t, p = r.WithDefaults(), t.WithDefaults(), p.WithDefaults()
	return policy{base: r.Base, cap: r.Cap, attempts: r.MaxAttempts, runLag: r.RunLag, throttled: r.Throttled,
		holdBase: t.Cooldown, holdCap: t.MaxWait, notReady: r.NotReady, notReadyGap: p.NotReadyWait, floor: r.PageFloor}
}

// doubling is base × 2^(n−1), at most cap (n ≥ 1).
func doubling(base, cap time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	return min(d, cap)
}

// isUnknownError is Meta's code 1 subcode 99 "An unknown error occurred" (HTTP 500), which
// Meta answers on a result page it will not serve at that size (Airbyte halves the page size
// on it: airbytehq/airbyte source_facebook_marketing/streams/common.py).
func isUnknownError(err error) bool {
	var ge *GraphError
	return errors.As(err, &ge) && ge.Code == 1 && ge.Subcode == 99
}

// classify is the class of an answer to a: [classOnRun] on a report run's own endpoints,
// [ClassOf] elsewhere; a success is ClassFatal (unused).
func classify(a ask, err error) Class {
	if a.runID != "" {
		return classOnRun(err, a.runID)
	}
	return ClassOf(err)
}

// decide says what to do with Meta's answer ans to the request a, given the history h of the
// request before it (h.n counts the earlier answers of each class), under the budgets p. Every
// class is bounded, so a loop that follows the decisions ends: transient answers by a count,
// throttling, run lag and "not ready" by time, smaller pages by the floor.
//
//   - success: done.
//   - too large (100/1487534, 100/1504018, 2/1504038, code 1 "reduce the amount of data") or
//     1/99 on a result page above the floor: the same page, from the same cursor, at half the
//     size (at least the floor). Sources: singer-io/tap-facebook#65, Airbyte's
//     reduce_request_record_limit.
//   - too large on the ad account's read: transient (Airbyte saw it pass on the next attempt).
//   - too large elsewhere, or at the floor: give up (the caller splits the range, or falls back
//     from a synchronous read to a report run).
//   - throttled: hold the account for Meta's regain time, or, without one, for the cooldown
//     doubling with each throttled answer in a row, up to the longest hold; give up once the
//     request has been throttled for p.throttled (Meta's quotas count over a rolling hour).
//   - run lag (rules R1, R2): the same request after a backoff, for up to p.runLag; then give
//     up with [ErrRunUnknown].
//   - not ready (2601/1815107): the same request after a doubling wait, for up to p.notReady
//     (facebookarchive/php-graph-sdk#915, #1094: it can last long after "Job Completed").
//   - transient: the same request after a backoff, p.attempts answers in all; an attempt that
//     timed out on a timeoutFinal request is given up at once.
//   - auth, fatal: give up.
func decide(a ask, ans answer, h history, p policy) decision {
	err := ans.err
	if err == nil {
		return decision{verb: verbDone}
	}
	c := classify(a, err)
	smaller := func() decision {
		return decision{verb: verbSmaller, limit: max(a.limit/2, p.floor)}
	}
	switch {
	case c == ClassTooLarge && a.kind == CallAccount:
		c = ClassTransient // a one-row read: Meta's answer passes on the next attempt
	case (c == ClassTooLarge || isUnknownError(err)) && a.limit > p.floor && !a.syncFirst:
		return smaller()
	}
	switch c {
	case ClassThrottled:
		if h.n[ClassThrottled] > 0 && h.since[ClassThrottled] >= p.throttled {
			return decision{verb: verbGiveUp, err: fmt.Errorf("still throttled after %s (%d throttled answers): %w",
				roundDuration(h.since[ClassThrottled]), h.n[ClassThrottled]+1, err)}
		}
		wait := ans.regain
		if wait <= 0 {
			wait = doubling(p.holdBase, p.holdCap, h.n[ClassThrottled]+1)
		}
		return decision{verb: verbHold, wait: min(wait, p.holdCap)}
	case ClassRunLag:
		if h.n[ClassRunLag] > 0 && h.since[ClassRunLag] >= p.runLag {
			return decision{verb: verbGiveUp, err: fmt.Errorf("%w: denied for %s: %w", ErrRunUnknown, roundDuration(h.since[ClassRunLag]), err)}
		}
		return decision{verb: verbRetry, wait: doubling(p.base, p.cap, h.n[ClassRunLag]+1)}
	case ClassNotReady:
		if h.n[ClassNotReady] > 0 && h.since[ClassNotReady] >= p.notReady {
			return decision{verb: verbGiveUp, err: fmt.Errorf("results not ready for %s after the report run completed: %w", roundDuration(h.since[ClassNotReady]), err)}
		}
		return decision{verb: verbRetry, wait: doubling(p.notReadyGap, max(p.cap, p.notReadyGap), h.n[ClassNotReady]+1)}
	case ClassTransient:
		n := h.n[ClassTransient] + 1
		if a.timeoutFinal && errors.Is(err, ErrAttemptTimeout) {
			return decision{verb: verbGiveUp, err: err}
		}
		if n >= p.attempts {
			return decision{verb: verbGiveUp, err: fmt.Errorf("gave up after %d attempts: %w", n, err)}
		}
		return decision{verb: verbRetry, wait: doubling(p.base, p.cap, n)}
	}
	return decision{verb: verbGiveUp, err: err}
}

// rangeStep says what to do with a range of a report after one attempt at it.
type rangeStep int

const (
	stepDone     rangeStep = iota // the rows are read: mark the run completed and return them
	stepWait                      // the run is saved and not done (a *WaitError): return it
	stepResubmit                  // mark the run (mark) and submit a new one
	stepHold                      // mark the run, hold the ad account for hold, then submit a new one
	stepSplit                     // mark the range split and fetch its halves
	stepFail                      // return err: the report, and with it the client, fails
)

func (s rangeStep) String() string {
	return [...]string{"done", "wait", "resubmit", "hold and resubmit", "split", "fail"}[s]
}

// rangeHistory is what happened to a range's report runs before the attempt being decided.
type rangeHistory struct {
	resubmitted *ReportRunError // the failed or stuck run resubmitted once, if any
	lost        int             // runs Meta kept denying (ErrRunUnknown), resubmitted
	// throttledRuns counts the runs that failed with a throttling error and were resubmitted
	// after a hold; throttledFor is the time since the first of them.
	throttledRuns int
	throttledFor  time.Duration
}

// rangeDecision is what [decideRange] says to do.
type rangeDecision struct {
	step rangeStep
	mark string        // stepResubmit, stepHold: the run's status in the report-run log
	hold time.Duration // stepHold
	err  error         // stepWait, stepFail
}

// isThrottledRun reports whether a failed report run's error is throttling: Meta's codes 4,
// 17, 32, 613 or 80000-80014 in its error_code (Ads Insights error codes: 4 with subcodes
// 1504022 and 1504039 for report runs refused by the account's or app's limits).
func isThrottledRun(je *ReportRunError) bool {
	return je.Graph != nil && je.Graph.Class() == ClassThrottled
}

// decideRange says what to do with the range rng after one attempt at it (a submit or resume,
// the wait, the read): id is the report run tried ("" when none was started), resumed whether
// it was a saved one, err the attempt's error. It returns the history for the next attempt.
//
//   - no error: done. A *WaitError: wait.
//   - too large before any run (the submit), or while reading a run's pages at the smallest
//     page size: split a range of more than one week; fail a single week.
//   - the run kept being denied (ErrRunUnknown): mark it expired, resubmit once; again, fail.
//   - a resumed run answering a fatal Graph error: Meta no longer knows it: mark it expired,
//     resubmit.
//   - a failed run whose error is throttling: mark it failed, hold the account (the cooldown
//     doubling with each such run, up to the longest hold) and resubmit, for up to
//     p.throttled; then fail.
//   - a failed run whose error is too large: split (more than one week) or fail.
//   - a failed or stuck run: resubmit once; again, split a failed range of more than one week,
//     fail the others, naming the run resubmitted.
//   - anything else: fail.
func decideRange(rng Range, id string, resumed bool, err error, h rangeHistory, p policy) (rangeDecision, rangeHistory) {
	if err == nil {
		return rangeDecision{step: stepDone}, h
	}
	if _, ok := asWait(err); ok {
		return rangeDecision{step: stepWait, err: err}, h
	}
	fail := func(err error) (rangeDecision, rangeHistory) {
		return rangeDecision{step: stepFail, err: fmt.Errorf("range %s: %w", rng, err)}, h
	}
	var ge *GraphError
	var je *ReportRunError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrAPIVersion):
		return rangeDecision{step: stepFail, err: err}, h
	case ClassOf(err) == ClassTooLarge && (id == "" || !errors.As(err, &je)):
		if rng.Weeks() > 1 {
			return rangeDecision{step: stepSplit}, h
		}
		if id == "" {
			return rangeDecision{step: stepFail, err: err}, h
		}
		return fail(fmt.Errorf("too large even at %d rows a page: %w", p.floor, err))
	case id == "":
		return rangeDecision{step: stepFail, err: err}, h
	case errors.Is(err, ErrRunUnknown):
		if h.lost == 0 {
			h.lost++
			return rangeDecision{step: stepResubmit, mark: runExpired}, h
		}
		return fail(fmt.Errorf("%w (its first report run was lost too and resubmitted)", err))
	case resumed && errors.As(err, &ge) && ge.Class() == ClassFatal && !errors.As(err, &je):
		return rangeDecision{step: stepResubmit, mark: runExpired}, h
	case errors.As(err, &je) && isThrottledRun(je):
		if h.throttledRuns > 0 && h.throttledFor >= p.throttled {
			return fail(fmt.Errorf("%w; %d report runs failed throttled over %s", err, h.throttledRuns+1, roundDuration(h.throttledFor)))
		}
		h.throttledRuns++
		return rangeDecision{step: stepHold, mark: runFailed, hold: doubling(p.holdBase, p.holdCap, h.throttledRuns)}, h
	case errors.As(err, &je):
		tooLarge := je.Graph != nil && je.Graph.Class() == ClassTooLarge
		status := runFailed
		if je.stuck() {
			status = runStuck
		}
		if !tooLarge && h.resubmitted == nil {
			h.resubmitted = je
			return rangeDecision{step: stepResubmit, mark: status}, h
		}
		if rng.Weeks() > 1 && !je.stuck() {
			return rangeDecision{step: stepSplit}, h
		}
		if h.resubmitted != nil {
			return fail(fmt.Errorf("%w; resubmitted once after report run %s %s", err, h.resubmitted.ReportRunID, h.resubmitted.verb()))
		}
		return fail(err)
	}
	return fail(err)
}
