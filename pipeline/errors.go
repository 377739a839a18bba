package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/metapipe/metapipe/extract"
)

// The errors the command maps to exit codes (docs/DESIGN.md, "Exit codes"): usage 2, cannot
// start 3, some clients failed 1, interrupted 130. Test with errors.Is; the message after them
// says why.
var (
	// ErrUsage is a usage or configuration error: bad flags, unknown client, missing token,
	// an unreadable run directory.
	ErrUsage = errors.New("usage")
	// ErrCannotStart means nothing was done: database unreachable, schema missing, clients
	// locked by another run.
	ErrCannotStart = errors.New("cannot start")
	// ErrSomeFailed means some clients failed; the others were loaded.
	ErrSomeFailed = errors.New("some clients failed")
	// ErrInterrupted means the run was cut short (SIGINT, SIGTERM: its context ended);
	// nothing is half-loaded, and the next run with the same as-of and clients resumes it.
	ErrInterrupted = errors.New("interrupted")
)

// AsOfReason says why an as-of date is refused (an [AsOfError]).
type AsOfReason int

const (
	// AsOfFuture: the date is after today in every time zone; Today is the latest today
	// anywhere (UTC+14).
	AsOfFuture AsOfReason = iota + 1
	// AsOfAfterAccountToday: the date is after today in the time zone of one or more of the
	// run's ad accounts, listed in Accounts.
	AsOfAfterAccountToday
	// AsOfTooOld: the date is more than 37 months before the latest today anywhere, where
	// Meta keeps no Insights (error 3018); Oldest is the oldest day Meta keeps.
	AsOfTooOld
)

// AccountToday is one ad account's today at the time an as-of date was checked.
type AccountToday struct {
	Client    string    // the client's name
	AccountID string    // the ad account's digits, without act_
	Zone      string    // the account's IANA time zone, as Meta names it
	Today     time.Time // the account's calendar date (UTC midnight of it)
}

// AsOfError refuses an as-of date (--as-of, the API's as_of). It is a usage error:
// errors.Is(err, ErrUsage) holds, so the CLI exits 2 and the service does not retry. Callers
// that show it elsewhere (the API) build their text from its fields, not from Error.
type AsOfError struct {
	AsOf     time.Time      // the date refused (UTC midnight)
	Reason   AsOfReason     // why
	Today    time.Time      // AsOfFuture: the latest today anywhere (UTC+14)
	Oldest   time.Time      // AsOfTooOld: the oldest day Meta keeps Insights for
	Months   int            // AsOfTooOld: how many months back Meta keeps Insights (37)
	Accounts []AccountToday // AsOfAfterAccountToday: the accounts whose today is before AsOf
}

// Error says what is wrong in the CLI's words, "usage: --as-of YYYY-MM-DD is …".
func (e *AsOfError) Error() string {
	return fmt.Sprintf("%v: --as-of %s", ErrUsage, e.detail())
}

// detail is the message without the "usage: --as-of " prefix: "YYYY-MM-DD is in the future:
// …", "… is after today in the ad account's time zone: …", "… is more than 37 months ago: …".
func (e *AsOfError) detail() string {
	asOf := e.AsOf.Format(time.DateOnly)
	switch e.Reason {
	case AsOfFuture:
		return fmt.Sprintf("%s is in the future: today is %s at the latest (in UTC+14)", asOf, e.Today.Format(time.DateOnly))
	case AsOfTooOld:
		return fmt.Sprintf("%s is more than %d months ago: Meta keeps Insights from %s on (error 3018)", asOf, e.Months, e.Oldest.Format(time.DateOnly))
	default:
		todays := make([]string, len(e.Accounts))
		for i, a := range e.Accounts {
			todays[i] = fmt.Sprintf("%s in %s (client %s, act_%s)", a.Today.Format(time.DateOnly), a.Zone, a.Client, a.AccountID)
		}
		return fmt.Sprintf("%s is after today in the ad account's time zone: %s", asOf, strings.Join(todays, "; "))
	}
}

// Unwrap makes errors.Is(err, ErrUsage) hold.
func (e *AsOfError) Unwrap() error { return ErrUsage }

// UnknownClientError is a client named (--client, the API's clients) that is in no row of the
// clients table, by name or ad account id. errors.Is(err, ErrUsage) holds.
type UnknownClientError struct {
	Name string // the name as given
}

func (e *UnknownClientError) Error() string {
	return fmt.Sprintf("%v: unknown client %q", ErrUsage, e.Name)
}

// Unwrap makes errors.Is(err, ErrUsage) hold.
func (e *UnknownClientError) Unwrap() error { return ErrUsage }

// Permanent reports whether doing the same again cannot help, so that neither a run's planner
// nor the service's job retries it: a usage error (ErrUsage: an as-of refused, an unknown
// client, a refused API version), a client without a token (ErrNoToken), Meta refusing the
// token or a permission (extract.ClassAuth), a request Meta calls invalid (a fatal
// *extract.GraphError), malformed data (*extract.RowError, ErrTransform). ctx's end and
// transport errors are not permanent.
func Permanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if pe := (*PlanError)(nil); errors.As(err, &pe) {
		return pe.Permanent
	}
	var re *extract.RowError
	var be *BadAccountError
	if errors.Is(err, ErrUsage) || errors.Is(err, ErrNoToken) || errors.Is(err, ErrTransform) || errors.As(err, &re) || errors.As(err, &be) {
		return true
	}
	switch extract.ClassOf(err) {
	case extract.ClassAuth:
		return true
	case extract.ClassFatal:
		var ge *extract.GraphError
		return errors.As(err, &ge)
	}
	return false
}

// ErrNoToken is a client without an access token of its own when no default one is set.
var ErrNoToken = errors.New("no access token (set clients.meta_access_token or META_ACCESS_TOKEN)")

// PlanError is why a planned client cannot run (ClientPlan.Error: its ad account could not be
// read and is not cached), kept in plan.json and the service's plan as text and two facts:
// whether retrying will not help (Permanent) and whether Meta refused the token or a
// permission (RefusedToken). ClientPlan.Err gives it.
type PlanError struct {
	Text                    string
	Permanent, RefusedToken bool
}

func (e *PlanError) Error() string { return e.Text }

// Err is the client's plan error as a *PlanError; nil when the client can run.
func (cp ClientPlan) Err() error {
	if cp.Error == "" {
		return nil
	}
	return &PlanError{Text: cp.Error, Permanent: cp.Permanent, RefusedToken: cp.RefusedToken}
}
