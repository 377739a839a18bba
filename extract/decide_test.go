package extract

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The decisions, case by case: one row per class of answer and history (docs/META_API.md,
// "Budgets"). The budgets are the defaults.
func TestDecide(t *testing.T) {
	p := policyOf(RetryConfig{}, ThrottleConfig{}, PollConfig{})
	ge := func(status, code, sub int, msg string) error {
		return &GraphError{HTTPStatus: status, Code: code, Subcode: sub, Message: msg}
	}
	reduce := ge(500, 1, 0, "Please reduce the amount of data you're asking for, then retry your request")
	unknown := ge(500, 1, 99, "An unknown error occurred")
	tooBig := ge(400, 100, 1487534, "Please reduce the amount of data you're asking for, then retry your request")
	throttled := ge(400, 80000, 2446079, "(#80000) There have been too many calls from this ad-account.")
	notReady := ge(400, 2601, 1815107, "(#2601) Error accessing adreport job.")
	lag := ge(400, 100, 33, "Unsupported get request. Object with ID '42' does not exist")
	transient := ge(400, 2, 0, "Service temporarily unavailable")
	syncUnknown := ge(400, 2, 1504044, "Unknown Error Occurred")
	version := ge(400, 2635, 0, "(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: v27.0.")
	auth := ge(400, 190, 463, "Error validating access token")
	page := ask{kind: CallResults, runID: "42", limit: 500}
	seen := func(c Class, n int, since time.Duration) history {
		var h history
		h.n[c], h.since[c] = n, since
		return h
	}
	cases := []struct {
		name   string
		a      ask
		ans    answer
		h      history
		verb   verb
		wait   time.Duration
		limit  int
		errHas string
	}{
		{"success", page, answer{}, history{}, verbDone, 0, 0, ""},
		// Results too large for a page (singer-io/tap-facebook#65; Airbyte halves on these).
		{"reduce on a page of 500: 250", page, answer{err: reduce}, history{}, verbSmaller, 0, 250, ""},
		{"1/99 on a page of 500: 250", page, answer{err: unknown}, history{}, verbSmaller, 0, 250, ""},
		{"100/1487534 on a page of 25: 12", ask{kind: CallResults, runID: "42", limit: 25}, answer{err: tooBig}, history{}, verbSmaller, 0, 12, ""},
		{"reduce on a page of 15: the floor", ask{kind: CallResults, limit: 15}, answer{err: reduce}, history{}, verbSmaller, 0, p.floor, ""},
		{"reduce at the floor: give up (split)", ask{kind: CallResults, limit: p.floor}, answer{err: reduce}, history{}, verbGiveUp, 0, 0, "reduce the amount"},
		{"1/99 at the floor: transient", ask{kind: CallResults, limit: p.floor}, answer{err: unknown}, history{}, verbRetry, p.base, 0, ""},
		{"reduce on a synchronous read's later page: smaller", ask{kind: CallSync, limit: 500}, answer{err: reduce}, history{}, verbSmaller, 0, 250, ""},
		{"reduce on a synchronous read's first page: give up (report run)", ask{kind: CallSync, limit: 500, syncFirst: true}, answer{err: reduce}, history{}, verbGiveUp, 0, 0, "reduce"},
		{"too large at the submit: give up (split)", ask{kind: CallSubmit}, answer{err: tooBig}, history{}, verbGiveUp, 0, 0, "1487534"},
		{"reduce on the ad account's read: retried", ask{kind: CallAccount}, answer{err: reduce}, history{}, verbRetry, p.base, 0, ""},
		{"reduce on the ad account's read, 6th: give up", ask{kind: CallAccount}, answer{err: reduce}, seen(ClassTransient, 5, time.Minute), verbGiveUp, 0, 0, "gave up after 6 attempts"},
		// Throttling: the hold grows from the cooldown; Meta's regain time wins; an hour at most.
		{"throttled, first, no regain: the cooldown", page, answer{err: throttled}, history{}, verbHold, p.holdBase, 0, ""},
		{"throttled, 4th in a row: 8 × the cooldown", page, answer{err: throttled}, seen(ClassThrottled, 3, time.Minute), verbHold, 8 * p.holdBase, 0, ""},
		{"throttled, 20th: the longest hold", page, answer{err: throttled}, seen(ClassThrottled, 19, 30*time.Minute), verbHold, p.holdCap, 0, ""},
		{"throttled with a regain time: that", page, answer{err: throttled, regain: 3 * time.Minute}, seen(ClassThrottled, 3, time.Minute), verbHold, 3 * time.Minute, 0, ""},
		{"throttled with a regain beyond the longest hold: capped", page, answer{err: throttled, regain: time.Hour}, history{}, verbHold, p.holdCap, 0, ""},
		{"throttled for an hour: give up", page, answer{err: throttled}, seen(ClassThrottled, 12, time.Hour), verbGiveUp, 0, 0, "still throttled after 1h0m0s (13 throttled answers)"},
		// Meta's lag on a report run's own endpoints.
		{"run lag, first: backoff", page, answer{err: lag}, history{}, verbRetry, p.base, 0, ""},
		{"run lag, 3rd: doubled twice", page, answer{err: lag}, seen(ClassRunLag, 2, 2*time.Second), verbRetry, 4 * p.base, 0, ""},
		{"run lag for 2 minutes: unknown", page, answer{err: lag}, seen(ClassRunLag, 9, 2*time.Minute), verbGiveUp, 0, 0, "report run unknown to Meta: denied for 2m0s"},
		{"100/33 naming another object on a page: fatal", page, answer{err: ge(400, 100, 33, "Object with ID '7' does not exist")}, history{}, verbGiveUp, 0, 0, "'7'"},
		// "Not ready" after "Job Completed" (php-graph-sdk #915, #1094): by time, not count.
		{"not ready, first: the poll's first wait", page, answer{err: notReady}, history{}, verbRetry, p.notReadyGap, 0, ""},
		{"not ready, 11th (the old limit): still waited", page, answer{err: notReady}, seen(ClassNotReady, 10, time.Minute), verbRetry, p.cap, 0, ""},
		{"not ready for 10 minutes: give up", page, answer{err: notReady}, seen(ClassNotReady, 30, 10*time.Minute), verbGiveUp, 0, 0, "not ready for 10m0s"},
		// Transient answers: counted.
		{"transient, first", page, answer{err: transient}, history{}, verbRetry, p.base, 0, ""},
		{"transient, 5th", page, answer{err: transient}, seen(ClassTransient, 4, 10*time.Second), verbRetry, 16 * p.base, 0, ""},
		{"transient, 6th: give up", page, answer{err: transient}, seen(ClassTransient, 5, 15*time.Second), verbGiveUp, 0, 0, "gave up after 6 attempts"},
		{"2/1504044 on a synchronous read: transient", ask{kind: CallSync, limit: 500, timeoutFinal: true, syncFirst: true}, answer{err: syncUnknown}, history{}, verbRetry, p.base, 0, ""},
		{"timeout on a synchronous read: give up (report run)", ask{kind: CallSync, timeoutFinal: true}, answer{err: fmt.Errorf("%w after 30s", ErrAttemptTimeout)}, history{}, verbGiveUp, 0, 0, "timed out"},
		{"timeout on a poll: retried", ask{kind: CallPoll, runID: "42"}, answer{err: fmt.Errorf("%w after 1m", ErrAttemptTimeout)}, history{}, verbRetry, p.base, 0, ""},
		// Permanent answers.
		{"deprecated version: give up", ask{kind: CallSubmit}, answer{err: version}, history{}, verbGiveUp, 0, 0, "2635"},
		{"expired token: give up", ask{kind: CallSubmit}, answer{err: auth}, history{}, verbGiveUp, 0, 0, "190/463"},
		{"cancelled: give up", page, answer{err: context.Canceled}, history{}, verbGiveUp, 0, 0, "canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.a, tc.ans, tc.h, p)
			if d.verb != tc.verb || d.wait != tc.wait || d.limit != tc.limit {
				t.Fatalf("decide = %v wait %v limit %d, want %v wait %v limit %d (err %v)", d.verb, d.wait, d.limit, tc.verb, tc.wait, tc.limit, d.err)
			}
			if tc.verb == verbGiveUp && (d.err == nil || !strings.Contains(d.err.Error(), tc.errHas)) {
				t.Errorf("err = %v, want it to say %q", d.err, tc.errHas)
			}
			if tc.verb == verbGiveUp && tc.ans.err != nil && !errors.Is(d.err, tc.ans.err) {
				t.Errorf("err = %v does not wrap Meta's answer", d.err)
			}
		})
	}
}

// Every budget ends a loop that follows the decisions: asked again and again with the same
// answer, decide gives up within its budget (time passing as the waits say).
func TestDecideEnds(t *testing.T) {
	p := policyOf(RetryConfig{}, ThrottleConfig{}, PollConfig{})
	answers := map[string]error{
		"throttled": &GraphError{Code: 17, Subcode: 2446079},
		"run lag":   &GraphError{Code: 100, Subcode: 33, Message: "Object with ID '42' does not exist"},
		"not ready": &GraphError{Code: 2601, Subcode: 1815107},
		"transient": &GraphError{HTTPStatus: 500, Code: 2},
		"reduce":    &GraphError{HTTPStatus: 500, Code: 1, Message: "Please reduce the amount of data"},
		"1/99":      &GraphError{HTTPStatus: 500, Code: 1, Subcode: 99},
	}
	worst := map[string]time.Duration{}
	for name, err := range answers {
		a := ask{kind: CallResults, runID: "42", limit: 500}
		var h history
		var elapsed time.Duration
		for i := 0; ; i++ {
			if i > 1000 {
				t.Fatalf("%s: no end after 1000 answers", name)
			}
			c := classify(a, err)
			h.at(c, elapsed)
			d := decide(a, answer{err: err}, h, p)
			if d.verb != verbSmaller {
				h.counted(c)
			}
			if d.verb == verbGiveUp {
				break
			}
			if d.verb == verbSmaller {
				a.limit = d.limit
			}
			elapsed += d.wait
		}
		worst[name] = elapsed
	}
	for name, limit := range map[string]time.Duration{
		"throttled": p.throttled + p.holdCap, "run lag": p.runLag + p.cap, "not ready": p.notReady + p.cap,
		"transient": 16 * time.Second, "reduce": 0, "1/99": 16 * time.Second,
	} {
		if worst[name] > limit {
			t.Errorf("%s: waited %v before giving up, budget %v", name, worst[name], limit)
		}
	}
	t.Logf("waits before giving up, by answer: %v", worst)
}

// The range decisions, case by case.
func TestDecideRange(t *testing.T) {
	p := policyOf(RetryConfig{}, ThrottleConfig{}, PollConfig{})
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	weeks := Range{Since: day("2026-01-05"), Until: day("2026-03-29")} // 12 weeks
	week := Range{Since: day("2026-01-05"), Until: day("2026-01-11")}
	tooBig := &GraphError{Code: 100, Subcode: 1487534}
	failed := &ReportRunError{ReportRunID: "42", Status: "Job Failed", Err: ErrReportRunFailed, Graph: &GraphError{Code: 1, Subcode: 99}}
	failedBig := &ReportRunError{ReportRunID: "42", Status: "Job Failed", Err: ErrReportRunFailed, Graph: &GraphError{Code: 100, Subcode: 1487534}}
	failedThrottled := &ReportRunError{ReportRunID: "42", Status: "Job Failed", Err: ErrReportRunFailed, Graph: &GraphError{Code: 4, Subcode: 1504022}}
	stalled := &ReportRunError{ReportRunID: "42", Status: "Job Running", Err: ErrReportRunStalled}
	first := &ReportRunError{ReportRunID: "41", Status: "Job Failed", Err: ErrReportRunFailed}
	lost := fmt.Errorf("poll report run 42: %w: denied for 2m0s", ErrRunUnknown)
	pageBig := fmt.Errorf("read report run 42 page 3 (limit 10): %w", &GraphError{HTTPStatus: 500, Code: 1, Message: "Please reduce the amount of data"})
	gone := fmt.Errorf("poll report run 42: %w", &GraphError{Code: 100, Message: "Unsupported get request"})
	cases := []struct {
		name   string
		rng    Range
		id     string
		resume bool
		err    error
		h      rangeHistory
		step   rangeStep
		mark   string
		hold   time.Duration
		errHas string
	}{
		{"rows read", weeks, "42", false, nil, rangeHistory{}, stepDone, "", 0, ""},
		{"not done, saved", weeks, "42", false, &WaitError{ReportRunID: "42", Until: day("2026-01-01")}, rangeHistory{}, stepWait, "", 0, "not done"},
		{"too large at the submit: split", weeks, "", false, tooBig, rangeHistory{}, stepSplit, "", 0, ""},
		{"too large at the submit, one week: fail", week, "", false, tooBig, rangeHistory{}, stepFail, "", 0, "1487534"},
		{"a page too large at the floor: split", weeks, "42", false, pageBig, rangeHistory{}, stepSplit, "", 0, ""},
		{"a page too large at the floor, one week: fail", week, "42", false, pageBig, rangeHistory{}, stepFail, "", 0, "too large even at 10 rows a page"},
		{"submit refused otherwise: fail", weeks, "", false, &GraphError{Code: 190}, rangeHistory{}, stepFail, "", 0, "190"},
		{"lost: resubmit", weeks, "42", false, lost, rangeHistory{}, stepResubmit, runExpired, 0, ""},
		{"lost twice: fail", weeks, "42", false, lost, rangeHistory{lost: 1}, stepFail, "", 0, "lost too"},
		{"a resumed run Meta no longer knows: resubmit", weeks, "42", true, gone, rangeHistory{}, stepResubmit, runExpired, 0, ""},
		{"a new run answering fatal: fail", weeks, "42", false, gone, rangeHistory{}, stepFail, "", 0, "Unsupported"},
		{"failed throttled: hold the cooldown, resubmit", weeks, "42", false, failedThrottled, rangeHistory{}, stepHold, runFailed, p.holdBase, ""},
		{"failed throttled, 3rd: hold 4 × the cooldown", weeks, "42", false, failedThrottled, rangeHistory{throttledRuns: 2, throttledFor: time.Minute}, stepHold, runFailed, 4 * p.holdBase, ""},
		{"failed throttled for an hour: fail", weeks, "42", false, failedThrottled, rangeHistory{throttledRuns: 9, throttledFor: time.Hour}, stepFail, "", 0, "10 report runs failed throttled"},
		{"failed: resubmit once", weeks, "42", false, failed, rangeHistory{}, stepResubmit, runFailed, 0, ""},
		{"failed again: split", weeks, "42", false, failed, rangeHistory{resubmitted: first}, stepSplit, "", 0, ""},
		{"failed again, one week: fail naming the first", week, "42", false, failed, rangeHistory{resubmitted: first}, stepFail, "", 0, "resubmitted once after report run 41 failed"},
		{"failed too large: split at once", weeks, "42", false, failedBig, rangeHistory{}, stepSplit, "", 0, ""},
		{"failed too large, one week: fail", week, "42", false, failedBig, rangeHistory{}, stepFail, "", 0, "1487534"},
		{"stalled: resubmit once", weeks, "42", false, stalled, rangeHistory{}, stepResubmit, runStuck, 0, ""},
		{"stalled again: fail, never split", weeks, "42", false, stalled, rangeHistory{resubmitted: first}, stepFail, "", 0, "stalled"},
		{"cancelled", weeks, "42", false, context.Canceled, rangeHistory{}, stepFail, "", 0, "canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := decideRange(tc.rng, tc.id, tc.resume, tc.err, tc.h, p)
			if d.step != tc.step || d.mark != tc.mark || d.hold != tc.hold {
				t.Fatalf("decideRange = %v mark %q hold %v, want %v mark %q hold %v (err %v)", d.step, d.mark, d.hold, tc.step, tc.mark, tc.hold, d.err)
			}
			if tc.errHas != "" && (d.err == nil || !strings.Contains(d.err.Error(), tc.errHas)) {
				t.Errorf("err = %v, want it to say %q", d.err, tc.errHas)
			}
		})
	}
}
