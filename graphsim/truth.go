package graphsim

import (
	"time"
)

// The truth, computed from the same daily facts as the HTTP answers but without HTTP, for tests
// that compute expected results independently of the pipeline. Dates are calendar dates (the
// time of day and location are ignored); days after Now's date have no delivery. Revised
// figures (Faults.Revision) are included as they are at the time of the call.

// AdDayFacts are one ad's figures for one day.
type AdDayFacts struct {
	Date                            time.Time
	CampaignID, AdID                string
	SpendCents, Impressions, Clicks int64
	Reach                           int64
	Actions                         map[string]int64 // action types with a non-zero count
	Placements                      []Split          // one per Placements entry the ad runs on
	Demographics                    []Split          // one per Demographics entry
}

// Split is one breakdown bucket of an ad-day: Platform/Position for placements, Age/Gender for
// demographics. The splits of an ad-day sum exactly to its totals (reach too, although reach
// over longer periods is not additive).
type Split struct {
	Platform, Position string
	Age, Gender        string
	SpendCents         int64
	Impressions        int64
	Clicks             int64
	Reach              int64
	Actions            map[string]int64
}

// KPIDay is one generated row of daily_kpi_data (platform meta).
type KPIDay struct {
	Date                                     time.Time
	TotalClicks, TotalImpressions            int64
	TotalSpendCents                          int64
	TotalConversions                         int64
	ClickToCall, EmailContacts               int64
	BookingStep1, BookingStep2, BookingStep3 int64
	Reservations                             int64
	ReservationValueCents                    int64
}

func (s *Simulator) lookup(accountID string) *account { return s.accounts[trimAct(accountID)] }

// Campaigns lists an account's campaigns with their ads, sorted as generated; nil for an
// unknown account.
func (s *Simulator) Campaigns(accountID string) []Campaign {
	a := s.lookup(accountID)
	if a == nil {
		return nil
	}
	out := make([]Campaign, len(a.campaigns))
	for i, c := range a.campaigns {
		out[i] = c.Campaign
		out[i].Ads = append([]Ad(nil), c.Ads...)
	}
	return out
}

func (s *Simulator) findAd(a *account, adID string) (*campaign, *ad) {
	for _, c := range a.campaigns {
		for _, ad := range c.ads {
			if ad.ID == adID {
				return c, ad
			}
		}
	}
	return nil, nil
}

func actionMap(act [numActions]int64) map[string]int64 {
	m := map[string]int64{}
	for i, n := range act {
		if n != 0 {
			m[ActionTypes[i]] = n
		}
	}
	return m
}

// AdDay returns one ad's facts for a day; the zero value (apart from Date and ids) when the ad
// did not deliver or is unknown.
func (s *Simulator) AdDay(accountID, adID string, day time.Time) AdDayFacts {
	out := AdDayFacts{Date: dayTime(dayOf(day)), AdID: adID}
	a := s.lookup(accountID)
	if a == nil {
		return out
	}
	c, ad := s.findAd(a, adID)
	if ad == nil {
		return out
	}
	out.CampaignID = c.ID
	d := dayOf(day)
	f := s.world.dayFacts(a, c, ad, d, s.today(a), s.revision(a.ID))
	out.SpendCents, out.Impressions, out.Clicks, out.Reach = f.spend, f.imp, f.clicks, f.reach
	out.Actions = actionMap(f.act)
	ps := s.world.placementSplits(a, c, ad, d, f)
	for _, p := range ad.places {
		x := ps[p]
		out.Placements = append(out.Placements, Split{Platform: Placements[p].Platform, Position: Placements[p].Position,
			SpendCents: x.spend, Impressions: x.imp, Clicks: x.clicks, Reach: x.reach, Actions: actionMap(x.act)})
	}
	for i, x := range s.world.demographicSplits(a, c, ad, d, f) {
		out.Demographics = append(out.Demographics, Split{Age: Demographics[i].Age, Gender: Demographics[i].Gender,
			SpendCents: x.spend, Impressions: x.imp, Clicks: x.clicks, Reach: x.reach, Actions: actionMap(x.act)})
	}
	return out
}

// campaignReach computes a campaign's reach over [since, until] (day numbers).
func (s *Simulator) campaignReachDays(a *account, c *campaign, since, until int64) int64 {
	today, rev := s.today(a), s.revision(a.ID)
	var sum, mx int64
	for d := since; d <= min(until, today); d++ {
		for _, ad := range c.ads {
			f := s.world.dayFacts(a, c, ad, d, today, rev)
			sum += f.reach
			mx = max(mx, f.reach)
		}
	}
	if sum == 0 {
		return 0
	}
	return campaignReach(sum, mx)
}

// CampaignReach is a campaign's unique reach over [since, until] (both inclusive), as a
// level=campaign row for that bucket reports it: 85 % of the sum of its ads' daily reaches, but
// at least the largest of them.
func (s *Simulator) CampaignReach(accountID, campaignID string, since, until time.Time) int64 {
	a := s.lookup(accountID)
	if a == nil {
		return 0
	}
	for _, c := range a.campaigns {
		if c.ID == campaignID {
			return s.campaignReachDays(a, c, dayOf(since), dayOf(until))
		}
	}
	return 0
}

// AccountReach is an account's unique reach over [since, until], as a level=account row for
// that bucket reports it: the largest campaign reach plus 60 % of the other campaigns' reaches.
func (s *Simulator) AccountReach(accountID string, since, until time.Time) int64 {
	a := s.lookup(accountID)
	if a == nil {
		return 0
	}
	var crs []int64
	for _, c := range a.campaigns {
		if r := s.campaignReachDays(a, c, dayOf(since), dayOf(until)); r > 0 {
			crs = append(crs, r)
		}
	}
	return accountReach(crs)
}

// KPIDays returns the account's daily_kpi_data rows for [from, to] (inclusive, days up to Now's
// date), in date order. Some days are missing (about 1 in 12), and one ISO week in every 40 is
// missing entirely, so that an unknown day can be told from a zero day. Clicks, impressions and
// spend are the account's Meta totals of the day; the rest is a deterministic funnel.
func (s *Simulator) KPIDays(accountID string, from, to time.Time) []KPIDay {
	a := s.lookup(accountID)
	if a == nil {
		return nil
	}
	today, rev := s.today(a), s.revision(a.ID)
	var out []KPIDay
	for d := dayOf(from); d <= min(dayOf(to), today); d++ {
		if floorMod(isoWeek(d)+a.kpiOff, 40) == 0 {
			continue
		}
		r := draws(hash(uint64(s.world.seed), tagKPI, uint64(a.idx), uint64(d)))
		if r.next()%100 < 8 {
			continue
		}
		k := KPIDay{Date: dayTime(d)}
		for _, c := range a.campaigns {
			for _, ad := range c.ads {
				f := s.world.dayFacts(a, c, ad, d, today, rev)
				k.TotalClicks += f.clicks
				k.TotalImpressions += f.imp
				k.TotalSpendCents += f.spend
				k.TotalConversions += f.act[2] + f.act[3]
			}
		}
		k.ClickToCall = r.in(0, 6)
		k.EmailContacts = r.in(0, 4)
		k.BookingStep1 = k.TotalClicks * r.in(5, 15) / 100
		k.BookingStep2 = k.BookingStep1 * r.in(30, 60) / 100
		k.BookingStep3 = k.BookingStep2 * r.in(30, 60) / 100
		k.Reservations = k.BookingStep3 * r.in(30, 70) / 100
		k.ReservationValueCents = k.Reservations * r.in(8000, 40000)
		out = append(out, k)
	}
	return out
}
