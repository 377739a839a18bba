package transform

// The transform as it was before the columnar path (commit f3cf5df, transform/*.go): every staged
// file read row by row through parquet-go's reconstruction into records.InsightRow structs, and
// figures in github.com/shopspring/decimal. Kept, with its identifiers prefixed "old", only as
// the baseline of BenchmarkTransform (before and after side by side in one run) and as the
// oracle of TestColumnarMatchesRowPath. Not used by the product.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/metapipe/metapipe/internal/records"
)

// ---- from transform/read.go ----

// oldReadParquet streams the rows of a staged Parquet file of T to fn, with each row's 0-based
// index. Errors opening or decoding the file come back as an *InputError naming the client and
// the file; errors from fn are returned as they are.
func oldReadParquet[T any](clientID, path string, fn func(row int, r *T) error) error {
	var fnErr error
	err := records.ScanParquet(path, func(row int, r *T) error {
		fnErr = fn(row, r)
		return fnErr
	})
	if err == nil || (fnErr != nil && err == fnErr) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w: %w", ErrMissingInput, err)
	}
	return &InputError{ClientID: clientID, File: filepath.Base(path), Row: -1, Err: err}
}

// ---- from transform/client.go ----

// oldFigures are the delivery oldFigures every report kind carries.
type oldFigures struct {
	spend       decimal.Decimal
	impressions int64
	clicks      int64
}

type oldAccountRow struct {
	oldFigures
	stop      int32
	reach     int64
	frequency *decimal.Decimal
}

type oldCampaignRow struct {
	oldFigures
	id, name string
	reach    int64
	actions  []oldAction // sorted by type
}

type oldAction struct {
	typ   string
	value decimal.Decimal
}

type oldPlacementRow struct {
	oldFigures
	platform, position string
}

type oldDemographicRow struct {
	oldFigures
	age, gender string
}

type oldAdRow struct {
	oldFigures
	id, name, campaignID            string
	quality, engagement, conversion string
}

// oldWeek gathers one client's rows of one ISO oldWeek.
type oldWeek struct {
	monday       int32
	account      *oldAccountRow
	campaigns    []oldCampaignRow
	placements   []oldPlacementRow
	demographics []oldDemographicRow
	ads          []oldAdRow
}

// oldClientData is everything read for one client, by oldWeek Monday.
type oldClientData struct {
	weeks map[int32]*oldWeek
}

func (c *oldClientData) oldWeek(monday int32) *oldWeek {
	w := c.weeks[monday]
	if w == nil {
		w = &oldWeek{monday: monday}
		c.weeks[monday] = w
	}
	return w
}

// oldRowParser validates one raw row, producing *InputError values that name the client, file,
// row and field.
type oldRowParser struct {
	client, file string
	row          int
}

func (p oldRowParser) fail(field, value string, err error) error {
	return &InputError{ClientID: p.client, File: p.file, Row: p.row, Field: field, Value: value, Err: err}
}

func (p oldRowParser) decimal(field, s string) (decimal.Decimal, error) {
	if strings.TrimSpace(s) != s || s == "" {
		return decimal.Decimal{}, p.fail(field, s, ErrNotDecimal)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, p.fail(field, s, ErrNotDecimal)
	}
	return d, nil
}

func (p oldRowParser) count(field string, v int64) error {
	if v < 0 {
		return p.fail(field, strconv.FormatInt(v, 10), ErrNegative)
	}
	return nil
}

func (p oldRowParser) nonEmpty(field, v string) error {
	if v == "" {
		return p.fail(field, v, ErrEmpty)
	}
	return nil
}

// common checks the oldWeek and the delivery oldFigures shared by every kind.
func (p oldRowParser) common(r *records.InsightRow) (oldFigures, error) {
	if oldWeekday(r.DateStart) != 0 {
		return oldFigures{}, p.fail("date_start", oldDayText(r.DateStart), ErrNotMonday)
	}
	if r.DateStop < r.DateStart || r.DateStop > r.DateStart+6 {
		return oldFigures{}, p.fail("date_stop", oldDayText(r.DateStop), ErrDateRange)
	}
	spend, err := p.decimal("spend", r.Spend)
	if err != nil {
		return oldFigures{}, err
	}
	if err := p.count("impressions", r.Impressions); err != nil {
		return oldFigures{}, err
	}
	if err := p.count("clicks", r.Clicks); err != nil {
		return oldFigures{}, err
	}
	return oldFigures{spend: spend, impressions: r.Impressions, clicks: r.Clicks}, nil
}

func oldDayText(day int32) string { return records.DayTime(day).Format("2006-01-02") }

// oldReadClient reads the five report files of one client.
func oldReadClient(clientID string, dir records.ClientDir) (*oldClientData, error) {
	c := &oldClientData{weeks: make(map[int32]*oldWeek)}
	for _, kind := range records.Kinds {
		path := dir.Report(kind)
		seen := make(map[string]struct{}) // oldWeek + key, to refuse duplicates
		dup := func(p oldRowParser, monday int32, field, value string, key ...string) error {
			k := strconv.Itoa(int(monday)) + "\x00" + strings.Join(key, "\x00")
			if _, ok := seen[k]; ok {
				return p.fail(field, value, ErrDuplicate)
			}
			seen[k] = struct{}{}
			return nil
		}
		err := oldReadParquet(clientID, path, func(row int, r *records.InsightRow) error {
			p := oldRowParser{client: clientID, file: filepath.Base(path), row: row}
			fig, err := p.common(r)
			if err != nil {
				return err
			}
			switch kind {
			case records.KindAccount:
				return c.addAccount(p, r, fig)
			case records.KindCampaigns:
				if err := p.nonEmpty("campaign_id", r.CampaignID); err != nil {
					return err
				}
				if err := dup(p, r.DateStart, "campaign_id", r.CampaignID, r.CampaignID); err != nil {
					return err
				}
				return c.addCampaign(p, r, fig)
			case records.KindPlacements:
				if err := dup(p, r.DateStart, "publisher_platform", r.PublisherPlatform+"/"+r.PlatformPosition,
					r.PublisherPlatform, r.PlatformPosition); err != nil {
					return err
				}
				w := c.oldWeek(r.DateStart)
				w.placements = append(w.placements, oldPlacementRow{oldFigures: fig,
					platform: r.PublisherPlatform, position: r.PlatformPosition})
			case records.KindDemographics:
				if err := dup(p, r.DateStart, "age", r.Age+"/"+r.Gender, r.Age, r.Gender); err != nil {
					return err
				}
				w := c.oldWeek(r.DateStart)
				w.demographics = append(w.demographics, oldDemographicRow{oldFigures: fig, age: r.Age, gender: r.Gender})
			case records.KindAdRelevance:
				if err := p.nonEmpty("ad_id", r.AdID); err != nil {
					return err
				}
				if err := dup(p, r.DateStart, "ad_id", r.AdID, r.AdID); err != nil {
					return err
				}
				w := c.oldWeek(r.DateStart)
				w.ads = append(w.ads, oldAdRow{oldFigures: fig, id: r.AdID, name: r.AdName, campaignID: r.CampaignID,
					quality: r.QualityRanking, engagement: r.EngagementRateRanking, conversion: r.ConversionRateRanking})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *oldClientData) addAccount(p oldRowParser, r *records.InsightRow, fig oldFigures) error {
	if err := p.count("reach", r.Reach); err != nil {
		return err
	}
	a := &oldAccountRow{oldFigures: fig, stop: r.DateStop, reach: r.Reach}
	if r.Frequency != "" {
		f, err := p.decimal("frequency", r.Frequency)
		if err != nil {
			return err
		}
		a.frequency = &f
	}
	w := c.oldWeek(r.DateStart)
	if w.account != nil {
		return p.fail("date_start", oldDayText(r.DateStart), ErrDuplicate)
	}
	w.account = a
	return nil
}

func (c *oldClientData) addCampaign(p oldRowParser, r *records.InsightRow, fig oldFigures) error {
	if err := p.count("reach", r.Reach); err != nil {
		return err
	}
	cr := oldCampaignRow{oldFigures: fig, id: r.CampaignID, name: r.CampaignName, reach: r.Reach}
	for i, a := range r.Actions {
		field := "actions[" + strconv.Itoa(i) + "]"
		if err := p.nonEmpty(field+".action_type", a.ActionType); err != nil {
			return err
		}
		v, err := p.decimal(field+".value", a.Value)
		if err != nil {
			return err
		}
		cr.actions = append(cr.actions, oldAction{typ: a.ActionType, value: v})
	}
	slices.SortFunc(cr.actions, func(a, b oldAction) int { return strings.Compare(a.typ, b.typ) })
	for i := 1; i < len(cr.actions); i++ {
		if cr.actions[i].typ == cr.actions[i-1].typ {
			return p.fail("actions.action_type", cr.actions[i].typ, ErrDuplicate)
		}
	}
	w := c.oldWeek(r.DateStart)
	w.campaigns = append(w.campaigns, cr)
	return nil
}

// ---- from transform/build.go ----

// oldBuildClient turns one client's rows and KPI days into its summaries, sorted by oldWeek, and the
// warnings of its checks.
func oldBuildClient(clientID string, c *oldClientData, kpi []oldKpiDay, asOf int32) ([]records.Summary, []Warning) {
	var rows []records.Summary
	var warns []Warning
	for _, monday := range slices.Sorted(maps.Keys(c.weeks)) {
		w := c.weeks[monday]
		if w.account == nil {
			warns = append(warns, oldOrphanWarnings(clientID, w)...)
			continue
		}
		s, ws := oldBuildWeek(clientID, w, kpi, asOf)
		rows = append(rows, s)
		warns = append(warns, ws...)
	}
	return rows, warns
}

func oldBuildWeek(clientID string, w *oldWeek, kpi []oldKpiDay, asOf int32) (records.Summary, []Warning) {
	a := w.account
	s := records.Summary{ClientID: clientID, SummaryDate: w.monday, Reach: a.reach}

	tot := a.oldFigures
	if len(w.campaigns) > 0 {
		tot = oldFigures{spend: decimal.Zero}
		for i := range w.campaigns {
			tot = tot.add(w.campaigns[i].oldFigures)
		}
	}
	spend := oldMoney(tot.spend)
	s.TotalSpend = spend.StringFixed(oldMoneyScale)
	s.TotalImpressions = tot.impressions
	s.TotalClicks = tot.clicks
	if a.frequency != nil {
		f := a.frequency.StringFixed(oldRatioScale)
		s.Frequency = &f
	}
	s.AverageCTR = oldCtrOf(tot.clicks, tot.impressions)
	s.AverageCPC = oldCpcOf(spend, tot.clicks)
	s.AverageCPM = oldCpmOf(spend, tot.impressions)

	// Campaigns with delivery, by spend descending then id.
	delivered := make([]oldCampaignRow, 0, len(w.campaigns))
	for _, c := range w.campaigns {
		if c.impressions > 0 {
			delivered = append(delivered, c)
		}
	}
	slices.SortFunc(delivered, func(x, y oldCampaignRow) int {
		if c := y.spend.Cmp(x.spend); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	s.ActiveCampaigns = int32(len(delivered))
	s.CampaignData = oldCampaignJSON(delivered)

	slices.SortFunc(w.placements, func(x, y oldPlacementRow) int {
		if c := y.spend.Cmp(x.spend); c != 0 {
			return c
		}
		if c := strings.Compare(x.platform, y.platform); c != 0 {
			return c
		}
		return strings.Compare(x.position, y.position)
	})
	slices.SortFunc(w.demographics, func(x, y oldDemographicRow) int {
		if c := strings.Compare(x.age, y.age); c != 0 {
			return c
		}
		return strings.Compare(x.gender, y.gender)
	})
	slices.SortFunc(w.ads, func(x, y oldAdRow) int {
		if c := y.spend.Cmp(x.spend); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	s.MetaTables = oldMetaTablesJSON(w.placements, w.demographics, w.ads)

	// KPI over the week up to the as-of date.
	k := oldSumKPI(kpi, w.monday, min(w.monday+6, asOf))
	s.KPIDays = k.days
	s.TotalConversions, s.ClickToCall, s.EmailContacts = k.counts[0], k.counts[1], k.counts[2]
	s.BookingStep1, s.BookingStep2, s.BookingStep3 = k.counts[3], k.counts[4], k.counts[5]
	s.Reservations = k.counts[6]
	if k.value != nil {
		v := oldMoney(*k.value)
		vs := v.StringFixed(oldMoneyScale)
		s.ReservationValue = &vs
		s.ROAS = oldRatio(v, spend)
	}
	if s.Reservations != nil {
		s.CostPerReservation = oldRatio(spend, decimal.NewFromInt(*s.Reservations))
	}

	var warns []Warning
	check := func(kind string, n int, sum oldFigures) {
		warns = append(warns, oldCompare(clientID, w.monday, kind, n, sum, a.oldFigures)...)
	}
	check(string(records.KindCampaigns), len(w.campaigns), oldSumOf(w.campaigns, func(c oldCampaignRow) oldFigures { return c.oldFigures }))
	check(string(records.KindPlacements), len(w.placements), oldSumOf(w.placements, func(p oldPlacementRow) oldFigures { return p.oldFigures }))
	check(string(records.KindDemographics), len(w.demographics), oldSumOf(w.demographics, func(d oldDemographicRow) oldFigures { return d.oldFigures }))
	return s, warns
}

func (f oldFigures) add(g oldFigures) oldFigures {
	return oldFigures{spend: f.spend.Add(g.spend), impressions: f.impressions + g.impressions, clicks: f.clicks + g.clicks}
}

func oldSumOf[T any](rows []T, fig func(T) oldFigures) oldFigures {
	sum := oldFigures{spend: decimal.Zero}
	for _, r := range rows {
		sum = sum.add(fig(r))
	}
	return sum
}

// oldSpendTolerancePerRow is how far a sum of n rows' spend may drift from the account's
// (Meta rounds every row to the cent).
var oldSpendTolerancePerRow = decimal.New(1, -2)

// oldCompare checks a kind's sums against the account row: spend within 0.01 per row summed,
// impressions and clicks exactly.
func oldCompare(clientID string, monday int32, kind string, n int, sum, acct oldFigures) []Warning {
	var warns []Warning
	warn := func(figure, got, want string) {
		warns = append(warns, Warning{
			ClientID: clientID, Week: records.DayTime(monday),
			Check:  kind + "_vs_account_" + figure,
			Detail: fmt.Sprintf("%s %s summed over %d rows, account %s", kind, got, n, want),
		})
	}
	tol := oldSpendTolerancePerRow.Mul(decimal.NewFromInt(int64(n)))
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

// oldOrphanWarnings reports rows of a oldWeek the account report has no row for.
func oldOrphanWarnings(clientID string, w *oldWeek) []Warning {
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
	add(records.KindCampaigns, len(w.campaigns))
	add(records.KindPlacements, len(w.placements))
	add(records.KindDemographics, len(w.demographics))
	add(records.KindAdRelevance, len(w.ads))
	return warns
}

// ---- from transform/oldFigures.go ----

var (
	oldHundred  = decimal.NewFromInt(100)
	oldThousand = decimal.NewFromInt(1000)
)

// oldRatioScale is the scale of every derived figure (ctr, cpc, cpm, roas, cost_per_reservation).
const oldRatioScale = 4

// oldMoneyScale is the scale of oldMoney (spend, reservation_value).
const oldMoneyScale = 2

// oldRatio returns num/den rounded half away from zero to 4 decimals, exactly (DivRound compares
// the remainder, so no intermediate quotient is truncated), or nil when den is 0.
func oldRatio(num, den decimal.Decimal) *string {
	if den.IsZero() {
		return nil
	}
	s := num.DivRound(den, oldRatioScale).StringFixed(oldRatioScale)
	return &s
}

// oldCtrOf, oldCpcOf and oldCpmOf are the derived oldFigures of docs/DESIGN.md, "Figures".
func oldCtrOf(clicks, impressions int64) *string {
	return oldRatio(decimal.NewFromInt(clicks).Mul(oldHundred), decimal.NewFromInt(impressions))
}

func oldCpcOf(spend decimal.Decimal, clicks int64) *string {
	return oldRatio(spend, decimal.NewFromInt(clicks))
}

func oldCpmOf(spend decimal.Decimal, impressions int64) *string {
	return oldRatio(spend.Mul(oldThousand), decimal.NewFromInt(impressions))
}

// oldMoney rounds to 2 decimals half away from zero (decimal.Round is half away from zero).
func oldMoney(d decimal.Decimal) decimal.Decimal { return d.Round(oldMoneyScale) }

// oldWeekday returns 0 for Monday … 6 for Sunday, for days since 1970-01-01 (a Thursday).
func oldWeekday(day int32) int32 {
	return ((day+3)%7 + 7) % 7
}

// ---- from transform/json.go ----

// oldJsonBuf builds JSON by hand so the bytes are deterministic and numbers are written from exact
// decimals. No HTML escaping; non-ASCII stays UTF-8; invalid UTF-8 becomes U+FFFD.
type oldJsonBuf struct{ b []byte }

const oldHexDigits = "0123456789abcdef"

func (j *oldJsonBuf) raw(s string) { j.b = append(j.b, s...) }

func (j *oldJsonBuf) str(s string) {
	b := append(j.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', oldHexDigits[c>>4], oldHexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // valid JSON, but not valid JavaScript
			b = append(b, `\u202`...)
			b = append(b, oldHexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	j.b = append(b, '"')
}

// key writes `"k":`, preceded by a comma unless first.
func (j *oldJsonBuf) key(k string, first bool) {
	if !first {
		j.b = append(j.b, ',')
	}
	j.str(k)
	j.b = append(j.b, ':')
}

func (j *oldJsonBuf) int(v int64) { j.b = strconv.AppendInt(j.b, v, 10) }

func (j *oldJsonBuf) money(d decimal.Decimal) { j.raw(d.StringFixed(oldMoneyScale)) }

// optNum writes a number already in JSON number form, or null.
func (j *oldJsonBuf) optNum(s *string) {
	if s == nil {
		j.raw("null")
		return
	}
	j.raw(*s)
}

// metrics writes the spend, impressions, clicks, ctr, cpc, cpm members shared by campaigns,
// placements and demographics.
func (j *oldJsonBuf) metrics(f oldFigures) {
	j.key("spend", false)
	j.money(f.spend)
	j.key("impressions", false)
	j.int(f.impressions)
	j.key("clicks", false)
	j.int(f.clicks)
	j.key("ctr", false)
	j.optNum(oldCtrOf(f.clicks, f.impressions))
	j.key("cpc", false)
	j.optNum(oldCpcOf(f.spend, f.clicks))
	j.key("cpm", false)
	j.optNum(oldCpmOf(f.spend, f.impressions))
}

// oldCampaignJSON is campaign_data: the campaigns given (already filtered and sorted).
func oldCampaignJSON(cs []oldCampaignRow) string {
	j := oldJsonBuf{b: make([]byte, 0, 64+256*len(cs))}
	j.raw("[")
	for i := range cs {
		c := &cs[i]
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("campaign_id", true)
		j.str(c.id)
		j.key("campaign_name", false)
		j.str(c.name)
		j.key("spend", false)
		j.money(c.spend)
		j.key("impressions", false)
		j.int(c.impressions)
		j.key("clicks", false)
		j.int(c.clicks)
		j.key("reach", false)
		j.int(c.reach)
		j.key("ctr", false)
		j.optNum(oldCtrOf(c.clicks, c.impressions))
		j.key("cpc", false)
		j.optNum(oldCpcOf(c.spend, c.clicks))
		j.key("cpm", false)
		j.optNum(oldCpmOf(c.spend, c.impressions))
		j.key("actions", false)
		j.raw("{")
		for k, a := range c.actions {
			j.key(a.typ, k == 0)
			j.raw(a.value.String())
		}
		j.raw("}}")
	}
	j.raw("]")
	return string(j.b)
}

// oldMetaTablesJSON is meta_tables; the slices are already sorted.
func oldMetaTablesJSON(ps []oldPlacementRow, ds []oldDemographicRow, as []oldAdRow) string {
	j := oldJsonBuf{b: make([]byte, 0, 128+160*(len(ps)+len(ds)+len(as)))}
	j.raw(`{"placementPerformance":[`)
	for i := range ps {
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("publisher_platform", true)
		j.str(ps[i].platform)
		j.key("platform_position", false)
		j.str(ps[i].position)
		j.metrics(ps[i].oldFigures)
		j.raw("}")
	}
	j.raw(`],"demographicPerformance":[`)
	for i := range ds {
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("age", true)
		j.str(ds[i].age)
		j.key("gender", false)
		j.str(ds[i].gender)
		j.metrics(ds[i].oldFigures)
		j.raw("}")
	}
	j.raw(`],"adRelevanceResults":[`)
	for i := range as {
		a := &as[i]
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("ad_id", true)
		j.str(a.id)
		j.key("ad_name", false)
		j.str(a.name)
		j.key("campaign_id", false)
		j.str(a.campaignID)
		j.key("quality_ranking", false)
		j.str(a.quality)
		j.key("engagement_rate_ranking", false)
		j.str(a.engagement)
		j.key("conversion_rate_ranking", false)
		j.str(a.conversion)
		j.key("spend", false)
		j.money(a.spend)
		j.key("impressions", false)
		j.int(a.impressions)
		j.raw("}")
	}
	j.raw("]}")
	return string(j.b)
}

// ---- from transform/kpi.go ----

// oldKpiCounts is the number of integer KPI columns carried to the summary.
const oldKpiCounts = 7

// oldKpiDay is one parsed daily_kpi_data row: the integer KPI columns in Summary order
// (total_conversions, click_to_call, email_contacts, booking_step_1..3, reservations) and
// reservation_value; nil is NULL.
type oldKpiDay struct {
	date   int32
	counts [oldKpiCounts]*int64
	value  *decimal.Decimal
}

// oldKpiFile reads the days of one client at a time from kpi.parquet, so that memory holds one
// client's KPI rows, not the run's. Opening it scans the client_id column once and keeps, per
// wanted client, the runs of consecutive rows that are theirs (one run per client in the sorted
// file the extract writes; any order works, at the cost of more runs). days then seeks to those
// runs.
type oldKpiFile struct {
	path   string
	reader *records.ParquetReader[records.KPIRow]
	runs   map[string][]oldRowRun
}

type oldRowRun struct{ start, n int64 }

// oldKpiClientID is the one column the first scan decodes.
type oldKpiClientID struct {
	ClientID string `parquet:"client_id"`
}

func oldOpenKPI(path string, want map[string]bool) (*oldKpiFile, error) {
	k := &oldKpiFile{path: path, runs: make(map[string][]oldRowRun)}
	last := ""
	err := oldReadParquet("", path, func(row int, r *oldKpiClientID) error {
		if !want[r.ClientID] {
			last = ""
			return nil
		}
		runs := k.runs[r.ClientID]
		if last == r.ClientID {
			runs[len(runs)-1].n++
		} else {
			k.runs[r.ClientID] = append(runs, oldRowRun{start: int64(row), n: 1})
		}
		last = r.ClientID
		return nil
	})
	if err != nil {
		return nil, err
	}
	k.reader, err = records.OpenParquet[records.KPIRow](path)
	if err != nil {
		return nil, &InputError{File: filepath.Base(path), Row: -1, Err: err}
	}
	return k, nil
}

func (k *oldKpiFile) Close() error { return k.reader.Close() }

// days reads one client's KPI days. Any malformed row is an error for the whole run (the file
// is shared by every client).
func (k *oldKpiFile) days(clientID string) ([]oldKpiDay, error) {
	file := filepath.Base(k.path)
	var out []oldKpiDay
	buf := make([]records.KPIRow, 512)
	for _, run := range k.runs[clientID] {
		if err := k.reader.SeekToRow(run.start); err != nil {
			return nil, &InputError{ClientID: clientID, File: file, Row: int(run.start), Err: err}
		}
		for done := int64(0); done < run.n; {
			n, err := k.reader.Read(buf[:min(int64(len(buf)), run.n-done)])
			for i := range n {
				r := &buf[i]
				p := oldRowParser{client: clientID, file: file, row: int(run.start+done) + i}
				if r.ClientID != clientID {
					return nil, p.fail("client_id", r.ClientID, fmt.Errorf("the file changed while it was read"))
				}
				d := oldKpiDay{date: r.Date, counts: [oldKpiCounts]*int64{
					oldCopyInt(r.TotalConversions), oldCopyInt(r.ClickToCall), oldCopyInt(r.EmailContacts),
					oldCopyInt(r.BookingStep1), oldCopyInt(r.BookingStep2), oldCopyInt(r.BookingStep3), oldCopyInt(r.Reservations),
				}}
				if r.ReservationValue != nil {
					v, err := p.decimal("reservation_value", *r.ReservationValue)
					if err != nil {
						return nil, err
					}
					d.value = &v
				}
				out = append(out, d)
			}
			done += int64(n)
			if err != nil && (err != io.EOF || done < run.n) {
				return nil, &InputError{ClientID: clientID, File: file, Row: int(run.start + done), Err: err}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].date < out[j].date })
	for i := 1; i < len(out); i++ {
		if out[i].date == out[i-1].date {
			p := oldRowParser{client: clientID, file: file, row: -1}
			return nil, p.fail("date", oldDayText(out[i].date), ErrDuplicate)
		}
	}
	return out, nil
}

func oldCopyInt(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// oldKpiSums is the KPI part of a summary.
type oldKpiSums struct {
	days   int32
	counts [oldKpiCounts]*int64
	value  *decimal.Decimal
}

// oldSumKPI sums the days in [from, to]. A NULL on a present day is left out of its column's sum;
// a column NULL on every present day stays NULL; with no day present everything is NULL.
func oldSumKPI(days []oldKpiDay, from, to int32) oldKpiSums {
	var s oldKpiSums
	for i := range days {
		d := &days[i]
		if d.date < from || d.date > to {
			continue
		}
		s.days++
		for c, v := range d.counts {
			if v == nil {
				continue
			}
			if s.counts[c] == nil {
				s.counts[c] = new(int64)
			}
			*s.counts[c] += *v
		}
		if d.value != nil {
			if s.value == nil {
				z := decimal.Zero
				s.value = &z
			}
			*s.value = s.value.Add(*d.value)
		}
	}
	return s
}

// ---- from transform/transform.go ----
// oldRun transforms the clients of in, one after another, into in.OutPath (see the package
// documentation for the oldFigures). A client whose files are missing or malformed is skipped and
// its error recorded in Result.PerClient; oldRun returns an error only when nothing can be trusted:
// an unusable Input, a missing or malformed KPI file, an output that cannot be written, or ctx
// cancelled. On error no output file is left; the returned Result then describes the clients
// handled so far.
func oldRun(ctx context.Context, in Input) (Result, error) {
	res := Result{PerClient: make(map[string]ClientResult, len(in.Clients))}
	if in.OutPath == "" {
		return res, fmt.Errorf("%w: no output path", ErrUsage)
	}
	want := make(map[string]bool, len(in.Clients))
	for _, c := range in.Clients {
		if c.ClientID == "" {
			return res, fmt.Errorf("%w: empty client id", ErrUsage)
		}
		if want[c.ClientID] {
			return res, fmt.Errorf("%w: client %s listed twice", ErrUsage, c.ClientID)
		}
		want[c.ClientID] = true
	}
	kpi, err := oldOpenKPI(in.KPIPath, want)
	if err != nil {
		return res, fmt.Errorf("read kpi: %w", err)
	}
	defer kpi.Close()

	out, err := records.CreateParquet[records.Summary](in.OutPath, records.SummaryRowGroupRows)
	if err != nil {
		return res, fmt.Errorf("create output: %w", err)
	}
	defer out.Abort()

	// Clients are built a few at a time, one per processor, and written in input order: memory
	// holds at most that many clients' data.
	type built struct {
		rows  []records.Summary
		warns []Warning
		err   error
	}
	width := max(1, runtime.GOMAXPROCS(0))
	for start := 0; start < len(in.Clients); start += width {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		chunk := in.Clients[start:min(start+width, len(in.Clients))]
		results := make([]built, len(chunk))
		var wg sync.WaitGroup
		for i, c := range chunk {
			days, err := kpi.days(c.ClientID) // one reader: read in turn
			if err != nil {
				wg.Wait()
				return res, fmt.Errorf("read kpi: %w", err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &results[i]
				r.rows, r.warns, r.err = oldTransformClient(c, days)
			}()
		}
		wg.Wait()
		for i, c := range chunk {
			r := results[i]
			if r.err != nil {
				res.PerClient[c.ClientID] = ClientResult{Err: r.err}
				continue
			}
			if err := out.Write(r.rows); err != nil {
				return res, fmt.Errorf("write summaries of client %s: %w", c.ClientID, err)
			}
			res.Clients++
			res.Rows += len(r.rows)
			res.Warnings = append(res.Warnings, r.warns...)
			res.PerClient[c.ClientID] = ClientResult{Rows: len(r.rows), Warnings: len(r.warns)}
		}
	}
	if err := out.Commit(); err != nil {
		return res, fmt.Errorf("commit output: %w", err)
	}
	return res, nil
}

// oldTransformClient reads one client's files and builds its rows, hashes included.
func oldTransformClient(c ClientInput, kpi []oldKpiDay) ([]records.Summary, []Warning, error) {
	data, err := oldReadClient(c.ClientID, c.Dir)
	if err != nil {
		return nil, nil, err
	}
	asOf := records.DayNumber(c.AsOf)
	rows, warns := oldBuildClient(c.ClientID, data, kpi, asOf)
	for i := range rows {
		rows[i].Currency, rows[i].AsOf = c.Currency, asOf
		rows[i].ContentHash = rows[i].Hash()
	}
	return rows, warns, nil
}
