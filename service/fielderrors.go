package service

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/metapipe/metapipe/pipeline"
)

// FieldErrorOf maps pipeline's typed request errors to the *FieldError a caller of the
// service (the API's {"error", "field"}) is answered with, or nil when err is none of them:
//
//   - *pipeline.AsOfError: field as_of, "YYYY-MM-DD is in the future: today is YYYY-MM-DD at
//     the latest (in UTC+14)", "YYYY-MM-DD is after today in the ad account's time zone: <today>
//     in <zone> (client <name>, act_<id>); …", or "YYYY-MM-DD is more than 37 months ago: Meta
//     keeps Insights from YYYY-MM-DD on (error 3018)";
//   - *pipeline.UnknownClientError: field clients, `unknown client "<name>"`.
//
// The texts are built here from the errors' fields, never from their Error, so that rewording
// a CLI message does not change the API's answers.
func FieldErrorOf(err error) *FieldError {
	var ae *pipeline.AsOfError
	var ue *pipeline.UnknownClientError
	switch {
	case errors.As(err, &ae):
		return &FieldError{"as_of", asOfReason(ae)}
	case errors.As(err, &ue):
		return &FieldError{"clients", fmt.Sprintf("unknown client %q", ue.Name)}
	}
	return nil
}

func asOfReason(e *pipeline.AsOfError) string {
	asOf := e.AsOf.Format(time.DateOnly)
	switch e.Reason {
	case pipeline.AsOfFuture:
		return fmt.Sprintf("%s is in the future: today is %s at the latest (in UTC+14)", asOf, e.Today.Format(time.DateOnly))
	case pipeline.AsOfTooOld:
		return fmt.Sprintf("%s is more than %d months ago: Meta keeps Insights from %s on (error 3018)", asOf, e.Months, e.Oldest.Format(time.DateOnly))
	case pipeline.AsOfAfterAccountToday:
		todays := make([]string, len(e.Accounts))
		for i, a := range e.Accounts {
			todays[i] = fmt.Sprintf("%s in %s (client %s, act_%s)", a.Today.Format(time.DateOnly), a.Zone, a.Client, a.AccountID)
		}
		return fmt.Sprintf("%s is after today in the ad account's time zone: %s", asOf, strings.Join(todays, "; "))
	}
	return asOf + " is refused"
}
