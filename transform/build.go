package transform

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/quagmt/udecimal"
)

// buildClient turns one client's rows and KPI days into its summaries, sorted by week, and the
// warnings of its checks. buildClient builds the client's weekly rows; the KPI window of a week ends at its Sunday, or
// at asOf (a day number) in the week of the as-of date.
func buildClient(clientID string, c *clientData, kpi []kpiDay, asOf int32) ([]records.Summary, []Warning) {
	var rows []records.Summary
	var warns []Warning
	var j jsonBuf
	for _, monday := range slices.Sorted(maps.Keys(c.weeks)) {
		w := c.weeks[monday]
		if w.account == nil {
			warns = append(warns, orphanWarnings(clientID, w)...)
			continue
		}
		s, ws := buildWeek(&j, clientID, w, kpi, asOf)
		rows = append(rows, s)
		warns = append(warns, ws...)
	}
	return rows, warns
}

func buildWeek(j *jsonBuf, clientID string, w *week, kpi []kpiDay, asOf int32) (records.Summary, []Warning) {
	a := w.account
	s := records.Summary{ClientID: clientID, SummaryDate: w.monday, Reach: a.reach}

	tot := a.figures
	if len(w.campaigns) > 0 {
		tot = figures{}
		for i := range w.campaigns {
			tot = tot.add(w.campaigns[i].figures)
		}
	}
	spend := money(tot.spend)
	s.TotalSpend = spend.StringFixed(moneyScale)
	s.TotalImpressions = tot.impressions
	s.TotalClicks = tot.clicks
	if a.frequency != nil {
		f := fixed(*a.frequency, ratioScale)
		s.Frequency = &f
	}
	s.AverageCTR = ctrOf(tot.clicks, tot.impressions)
	s.AverageCPC = cpcOf(spend, tot.clicks)
	s.AverageCPM = cpmOf(spend, tot.impressions)

	var delivered []campaignRow
	delivered, s.CampaignData, s.MetaTables = weekJSON(j, w)
	s.ActiveCampaigns = int32(len(delivered))

	addKPI(&s, kpi, w.monday, asOf, spend)

	var warns []Warning
	for _, spec := range records.KindSpecs {
		if k := kindTable[spec.Kind]; k.sum != nil {
			warns = append(warns, compare(clientID, w.monday, string(spec.Kind), k.count(w), k.sum(w), a.figures)...)
		}
	}
	return s, warns
}

// weekJSON sorts the week's rows and writes campaign_data (the campaigns with delivery, by spend
// descending then id, returned as delivered) and meta_tables.
func weekJSON(j *jsonBuf, w *week) (delivered []campaignRow, campaigns, metaTables string) {
	// Campaigns with delivery, by spend descending then id.
	delivered = make([]campaignRow, 0, len(w.campaigns))
	for _, c := range w.campaigns {
		if c.impressions > 0 {
			delivered = append(delivered, c)
		}
	}
	slices.SortFunc(delivered, func(x, y campaignRow) int {
		if c := y.spend.Cmp(x.spend); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	campaigns = campaignJSON(j, delivered)

	slices.SortFunc(w.placements, func(x, y breakdownRow) int {
		if c := y.spend.Cmp(x.spend); c != 0 {
			return c
		}
		return slices.Compare(x.values[:], y.values[:])
	})
	slices.SortFunc(w.demographics, func(x, y breakdownRow) int { return slices.Compare(x.values[:], y.values[:]) })
	slices.SortFunc(w.ads, func(x, y adRow) int {
		if c := y.spend.Cmp(x.spend); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	return delivered, campaigns, metaTablesJSON(j, w.placements, w.demographics, w.ads)

}

// addKPI sets the KPI columns of s and the figures derived from them and spend.
func addKPI(s *records.Summary, kpi []kpiDay, monday, asOf int32, spend udecimal.Decimal) {
	// KPI over the week up to the as-of date: Monday to Sunday, or to the as-of date in its
	// week, whatever date_stop Meta gives the last bucket (whether Meta cuts the last 7-day
	// bucket at `until` is not documented: docs/META_API.md, "Buckets").
	k := sumKPI(kpi, monday, min(monday+6, asOf))
	s.KPIDays = k.days
	s.TotalConversions, s.ClickToCall, s.EmailContacts = k.counts[0], k.counts[1], k.counts[2]
	s.BookingStep1, s.BookingStep2, s.BookingStep3 = k.counts[3], k.counts[4], k.counts[5]
	s.Reservations = k.counts[6]
	if k.value != nil {
		v := money(*k.value)
		vs := v.StringFixed(moneyScale)
		s.ReservationValue = &vs
		s.ROAS = ratio(v, spend)
	}
	if s.Reservations != nil {
		s.CostPerReservation = ratio(spend, fromInt(*s.Reservations))
	}

}

func (f figures) add(g figures) figures {
	return figures{spend: f.spend.Add(g.spend), impressions: f.impressions + g.impressions, clicks: f.clicks + g.clicks}
}

func sumOf[T any](rows []T, fig func(T) figures) figures {
	var sum figures
	for _, r := range rows {
		sum = sum.add(fig(r))
	}
	return sum
}

// spendTolerancePerRow is how far a sum of n rows' spend may drift from the account's
// (Meta rounds every row to the cent).
var spendTolerancePerRow = udecimal.MustFromInt64(1, 2)

// compare checks a kind's sums against the account row: spend within 0.01 per row summed,
// impressions and clicks exactly.
func compare(clientID string, monday int32, kind string, n int, sum, acct figures) []Warning {
	var warns []Warning
	warn := func(figure, got, want string) {
		warns = append(warns, Warning{
			ClientID: clientID, Week: records.DayTime(monday),
			Check:  kind + "_vs_account_" + figure,
			Detail: fmt.Sprintf("%s %s summed over %d rows, account %s", kind, got, n, want),
		})
	}
	tol := spendTolerancePerRow.Mul(fromInt(int64(n)))
	if sum.spend.Sub(acct.spend).Abs().GreaterThan(tol) {
		warn("spend", sum.spend.String(), acct.spend.String())
	}
	if sum.impressions != acct.impressions {
		warn("impressions", fmt.Sprint(sum.impressions), fmt.Sprint(acct.impressions))
	}
	if sum.clicks != acct.clicks {
		warn("clicks", fmt.Sprint(sum.clicks), fmt.Sprint(acct.clicks))
	}
	return warns
}

// orphanWarnings reports rows of a week the account report has no row for.
func orphanWarnings(clientID string, w *week) []Warning {
	var warns []Warning
	add := func(kind records.Kind, n int) {
		if n > 0 {
			warns = append(warns, Warning{
				ClientID: clientID, Week: records.DayTime(w.monday),
				Check:  string(kind) + "_without_account",
				Detail: fmt.Sprintf("%d %s rows in a week without an account row; ignored", n, kind),
			})
		}
	}
	for _, spec := range records.KindSpecs {
		add(spec.Kind, kindTable[spec.Kind].count(w))
	}
	return warns
}
