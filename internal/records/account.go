package records

import "time"

// AdAccount is what the Graph API says of an ad account (Meta's AdAccount reference: fields
// account_id, name, timezone_name, currency), read by extract and cached by load in the
// ad_accounts table.
type AdAccount struct {
	ID       string `json:"account_id"`    // digits, without act_
	Name     string `json:"name"`          // as Meta has it (not the client's name)
	TimeZone string `json:"timezone_name"` // IANA name: the account's calendar, in which Meta reports dates
	Currency string `json:"currency"`      // ISO 4217 code: every amount of the account is in it
}

// Location loads the account's time zone.
func (a AdAccount) Location() (*time.Location, error) { return time.LoadLocation(a.TimeZone) }

// Today is the account's calendar date at now, as UTC midnight; an account whose time zone does
// not load is counted in UTC−12, where the date is the earliest on Earth, so no day that has not
// begun anywhere is ever taken for today.
func (a AdAccount) Today(now time.Time) time.Time {
	loc, err := a.Location()
	if err != nil || a.TimeZone == "" {
		loc = EarliestZone
	}
	return Day(now.In(loc))
}

// EarliestZone is UTC−12 (Etc/GMT+12), where each calendar date begins last.
var EarliestZone = time.FixedZone("UTC-12", -12*3600)

// Day returns t's calendar date in t's own location, as UTC midnight.
func Day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
