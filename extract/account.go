package extract

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/metapipe/metapipe/internal/records"
)

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// AdAccount asks the Graph API for the session's ad account: its name, time zone and currency,
// in one request, GET act_<id>?fields=account_id,name,timezone_name,currency, with the call's
// retries and the account's throttle. The answer is checked: a time zone that does not load or
// a currency that is not three capital letters is an ErrBadResponse naming the field.
func (s *Session) AdAccount(ctx context.Context) (records.AdAccount, error) {
	params := url.Values{"fields": {"account_id,name,timezone_name,currency"}}
	var a records.AdAccount
	if err := s.call(ctx, CallAccount, http.MethodGet, "act_"+s.Account, params, &a); err != nil {
		return records.AdAccount{}, fmt.Errorf("read ad account act_%s: %w", s.Account, err)
	}
	a.ID = s.Account
	if _, err := a.Location(); err != nil || a.TimeZone == "" {
		return records.AdAccount{}, fmt.Errorf("read ad account act_%s: %w: field timezone_name %q is not a time zone", s.Account, ErrBadResponse, a.TimeZone)
	}
	if !currencyCode.MatchString(a.Currency) {
		return records.AdAccount{}, fmt.Errorf("read ad account act_%s: %w: field currency %q is not an ISO 4217 code", s.Account, ErrBadResponse, a.Currency)
	}
	return a, nil
}
