package extract

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Class says how an error from the Graph API is handled.
type Class int

const (
	ClassFatal     Class = iota // bad request, unknown field: fatal for the report
	ClassTransient              // retry with backoff
	ClassThrottled              // wait until the quota recovers, then retry
	ClassTooLarge               // split the range and retry the halves
	ClassNotReady               // results read before the job finished (2601): poll again
	ClassAuth                   // token or permission refused: fatal for the client
	ClassRunLag                 // a report run's own endpoint denies the run for a while: retry the same request

	numClasses = ClassRunLag + 1
)

func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassThrottled:
		return "throttled"
	case ClassTooLarge:
		return "too large"
	case ClassNotReady:
		return "not ready"
	case ClassAuth:
		return "auth"
	case ClassRunLag:
		return "run lag"
	default:
		return "fatal"
	}
}

// GraphError is Meta's error envelope, translated at the boundary.
type GraphError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string
	Transient  bool
	TraceID    string
}

func (e *GraphError) Error() string {
	msg := fmt.Sprintf("graph api error %d", e.Code)
	if e.Subcode != 0 {
		msg += fmt.Sprintf("/%d", e.Subcode)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	return msg
}

// Class classifies the error by Meta's codes (docs/META_API.md, "Errors").
func (e *GraphError) Class() Class {
	switch {
	case e.Code == 2601 && e.Subcode == 1815107:
		return ClassNotReady
	case e.Code == 100 && (e.Subcode == 1487534 || e.Subcode == 1504018),
		e.Code == 2 && e.Subcode == 1504038,
		e.Code == 1 && strings.Contains(strings.ToLower(e.Message), "reduce the amount of data"):
		return ClassTooLarge
	case e.Code == 2 && (e.Subcode == 1504041 || e.Subcode == 1504042):
		return ClassFatal
	case e.Code == 4 || e.Code == 17 || e.Code == 32 || e.Code == 613 || (e.Code >= 80000 && e.Code <= 80014):
		return ClassThrottled
	case e.Code == 190 || e.Code == 102 || e.Code == 10 || (e.Code >= 200 && e.Code <= 299):
		return ClassAuth
	case e.Code == 100 || e.Code == 3018 || e.Code == 2635:
		return ClassFatal
	case e.Code == 1 || e.Code == 2 || e.Transient || e.HTTPStatus >= 500:
		return ClassTransient
	default:
		return ClassFatal
	}
}

// deniesRun reports whether the error is one that Meta answers on a report run's own endpoints
// while it does not find a run it has created (docs/META_API.md, "Errors", rules R1 and R2): an
// error naming the run object (100/33 "Unsupported get request. Object with ID '<id>' does not
// exist, …", seen right after the submit and between pages), or the paging error saying fields
// "weren't there while creating the report run" (code 100, seen between pages). On any other
// endpoint the same codes mean a permanent error.
func (e *GraphError) deniesRun(runID string) bool {
	switch {
	case e.Code == 100 && e.Subcode == 33:
		return runID != "" && strings.Contains(e.Message, "'"+runID+"'")
	case e.Code == 100:
		return strings.Contains(strings.ToLower(e.Message), "there while creating the report run")
	}
	return false
}

// classOnRun classifies an answer of a report run's own endpoints (its poll GET /{id} and its
// result pages GET /{id}/insights): an error that denies the run is [ClassRunLag], anything else
// as [ClassOf]. The submit is classified by ClassOf alone.
func classOnRun(err error, runID string) Class {
	var ge *GraphError
	if errors.As(err, &ge) && ge.deniesRun(runID) {
		return ClassRunLag
	}
	return ClassOf(err)
}

// ErrAPIVersion marks Meta's answer (#2635) "You are calling a deprecated version of the Ads
// API": a configuration error of the whole run, not of one client ([*APIVersionError]).
var ErrAPIVersion = errors.New("deprecated API version")

// APIVersionError is Meta refusing the API version the client calls (META_API_VERSION). It
// names the version called and the one Meta asks for (from its message; "" when it names none).
type APIVersionError struct {
	Version string // the version called, e.g. v22.0
	Latest  string // the version Meta asks for, e.g. v27.0
	Graph   *GraphError
}

func (e *APIVersionError) Error() string {
	want := e.Latest
	if want == "" {
		want = "a newer version"
	}
	return fmt.Sprintf("META_API_VERSION %s is a deprecated version of the Ads API: Meta asks for %s; set META_API_VERSION=%s, or unset it for metapipe's default %s (%v)",
		e.Version, want, cmpOr(e.Latest, "<newer version>"), DefaultAPIVersion, e.Graph)
}

func (e *APIVersionError) Unwrap() []error { return []error{ErrAPIVersion, e.Graph} }

// latestVersion finds the version Meta asks for in a 2635 message ("… Please update to the
// latest version: v27.0.").
var latestVersion = regexp.MustCompile(`v\d+\.\d+`)

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ErrRunUnknown is returned when a report run's own endpoints kept denying the run
// ([ClassRunLag]) for longer than [RetryConfig].RunLag (2 minutes): the run counts as lost, is
// marked expired and resubmitted once.
var ErrRunUnknown = errors.New("report run unknown to Meta")

// ErrReportRunFailed is returned when a report run ends "Job Failed" or "Job Skipped".
var ErrReportRunFailed = errors.New("report run failed")

// ErrReportRunStalled is returned when a report run makes no progress (neither async_status nor
// async_percent_completion changes) for [PollConfig].StallTimeout.
var ErrReportRunStalled = errors.New("report run stalled")

// ErrReportRunStuck is returned when a report run is not completed [PollConfig].MaxRunTime after
// the wait for it began, progress or not.
var ErrReportRunStuck = errors.New("report run stuck")

// ErrAttemptTimeout marks one attempt that outlived its own timeout ([RetryConfig].Timeout, 60 s
// by default) while the caller's context was still live: transient, retried like a network
// error. The caller's own deadline or cancellation is never retried.
var ErrAttemptTimeout = errors.New("attempt timed out")

// ErrBadResponse marks a response that is not the JSON Meta promises (an HTML page from a
// proxy, a truncated body): retried like a transient error.
var ErrBadResponse = errors.New("malformed response")

// ReportRunError describes a report run that failed, stalled or got stuck.
type ReportRunError struct {
	ReportRunID string
	Status      string        // Meta's async_status at the last poll
	Percent     int           // Meta's async_percent_completion at the last poll
	Graph       *GraphError   // set when the run carries error_code (v25+)
	Err         error         // ErrReportRunFailed, ErrReportRunStalled or ErrReportRunStuck
	Stalled     time.Duration // how long the run had made no progress (ErrReportRunStalled)
	Waited      time.Duration // since the submit or the resume (ErrReportRunStalled, ErrReportRunStuck)
}

func (e *ReportRunError) Error() string {
	var s string
	switch {
	case errors.Is(e.Err, ErrReportRunStalled):
		s = fmt.Sprintf("report run %s stalled: no progress for %s (%q at %d%%, waited %s)",
			e.ReportRunID, roundDuration(e.Stalled), e.Status, e.Percent, roundDuration(e.Waited))
	case errors.Is(e.Err, ErrReportRunStuck):
		s = fmt.Sprintf("report run %s stuck: not completed after %s (%q at %d%%)",
			e.ReportRunID, roundDuration(e.Waited), e.Status, e.Percent)
	default:
		s = fmt.Sprintf("report run %s: %v (status %q)", e.ReportRunID, e.Err, e.Status)
	}
	if e.Graph != nil {
		s += ": " + e.Graph.Error()
	}
	return s
}

func (e *ReportRunError) Unwrap() []error {
	if e.Graph != nil {
		return []error{e.Err, e.Graph}
	}
	return []error{e.Err}
}

// stuck reports whether the run stalled or outlived its time, rather than failed: such a range
// is resubmitted once but never split.
func (e *ReportRunError) stuck() bool {
	return errors.Is(e.Err, ErrReportRunStalled) || errors.Is(e.Err, ErrReportRunStuck)
}

// verb says what happened to the run, for the message of the range that gave up after it.
func (e *ReportRunError) verb() string {
	switch {
	case errors.Is(e.Err, ErrReportRunStalled):
		return "stalled"
	case errors.Is(e.Err, ErrReportRunStuck):
		return "got stuck"
	}
	return "failed"
}

// WaitError says that a report run is not done, or the ad account is held by throttling, and
// that the client should be looked at again at Until. It is returned instead of waiting when the
// wait is longer than [Extractor.InlineWait] (or ThrottleConfig.MaxInline): the runs are saved,
// so whoever extracts the client next (the same worker after a snooze, or another one) polls
// them then. It is not a failure.
type WaitError struct {
	ReportRunID string
	Until       time.Time
}

func (e *WaitError) Error() string {
	if e.ReportRunID == "" {
		return "the ad account is held (throttled): call again at " + e.Until.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("report run %s not done: look again at %s", e.ReportRunID, e.Until.UTC().Format(time.RFC3339))
}

// asWait returns err's *WaitError, if it is one.
func asWait(err error) (*WaitError, bool) {
	var we *WaitError
	ok := errors.As(err, &we)
	return we, ok
}

// RowError names the client, the report kind, the row and the field of a malformed value.
type RowError struct {
	Client string
	Kind   records.Kind
	Row    int // 0-based over the report's rows
	Field  string
	Value  string
	Reason string
}

func (e *RowError) Error() string {
	v := e.Value
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	return fmt.Sprintf("client %s: report %s: row %d: field %s: %s (value %q)", e.Client, e.Kind, e.Row, e.Field, e.Reason, v)
}

// ClientError wraps whatever stopped one client's extraction, with the client and report.
type ClientError struct {
	Client string
	Kind   records.Kind // "" when not specific to one report
	Err    error
}

func (e *ClientError) Error() string {
	var re *RowError
	if errors.As(e.Err, &re) && re.Client == e.Client {
		return re.Error() // it names the client, the report, the row and the field already
	}
	if e.Kind == "" {
		return fmt.Sprintf("client %s: %v", e.Client, e.Err)
	}
	return fmt.Sprintf("client %s: report %s: %v", e.Client, e.Kind, e.Err)
}

func (e *ClientError) Unwrap() error { return e.Err }

// ClassOf classifies any error from the client: Graph errors by code; malformed responses,
// network errors and an attempt that outlived its own timeout as transient; the caller's
// cancellation or deadline as fatal (never retried).
func ClassOf(err error) Class {
	if err == nil || errors.Is(err, context.Canceled) {
		return ClassFatal
	}
	if errors.Is(err, ErrAttemptTimeout) {
		return ClassTransient
	}
	var ge *GraphError
	if errors.As(err, &ge) {
		return ge.Class()
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return ClassFatal // a retry cannot fix a certificate
	}
	var ne *netError
	if errors.As(err, &ne) || errors.Is(err, ErrBadResponse) {
		// Before the deadline: a transport error may wrap a deadline of its own (a dial or
		// header timeout), which is not the caller's.
		return ClassTransient
	}
	return ClassFatal // the caller's deadline included: never retried
}

// netError marks a transport failure (connection refused or reset, truncated body).
type netError struct{ err error }

func (e *netError) Error() string { return "network: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }
