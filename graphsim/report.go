package graphsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

type level int

const (
	levelAccount level = iota
	levelCampaign
	levelAdset
	levelAd
)

var levelNames = map[string]level{"account": levelAccount, "campaign": levelCampaign, "adset": levelAdset, "ad": levelAd}

func (l level) String() string {
	for name, v := range levelNames {
		if v == l {
			return name
		}
	}
	return ""
}

type breakdown int

func (b breakdown) String() string {
	switch b {
	case bdPlacement:
		return "publisher_platform,platform_position"
	case bdDemographic:
		return "age,gender"
	}
	return ""
}

const (
	bdNone breakdown = iota
	bdPlacement
	bdDemographic
)

// Increments other than 1..90.
const (
	incrAllDays = 0
	incrMonthly = -1
)

// reportSpec is a validated Insights request.
type reportSpec struct {
	level        level
	fields       []string
	bd           breakdown
	since, until int64 // day numbers, inclusive
	incr         int
	limit        int             // 0 = not given
	statuses     map[string]bool // effective_status values `filtering` asks for (nil: none)
}

var validFields = map[string]bool{
	"account_id": true, "account_name": true, "account_currency": true,
	"campaign_id": true, "campaign_name": true, "adset_id": true, "adset_name": true,
	"ad_id": true, "ad_name": true,
	"spend": true, "impressions": true, "clicks": true, "reach": true, "frequency": true,
	"ctr": true, "cpc": true, "cpm": true, "actions": true,
	"quality_ranking": true, "engagement_rate_ranking": true, "conversion_rate_ranking": true,
	"date_start": true, "date_stop": true,
}

// apiError is an answer in Meta's error envelope.
type apiError struct {
	status    int
	code      int
	subcode   int
	typ       string // the envelope's type; "" is OAuthException
	msg       string
	transient bool
	userTitle string
	userMsg   string
	throttled bool // a throttle answer: usage headers at 100 %
	regain    int  // estimated_time_to_regain_access, minutes
}

func (e *apiError) Error() string { return e.msg }

func badParam(format string, args ...any) *apiError {
	return &apiError{status: 400, code: 100, msg: "(#100) " + fmt.Sprintf(format, args...)}
}

// parseSpec validates the Insights parameters of a submit or synchronous read; today is the
// account's calendar date (days), which date_preset and the 37-month limit count from.
func parseSpec(p url.Values, today int64) (*reportSpec, *apiError) {
	sp := &reportSpec{}
	lv := p.Get("level")
	if lv == "" {
		lv = "account"
	}
	l, ok := levelNames[lv]
	if !ok {
		return nil, badParam("level must be one of the following values: ad, adset, campaign, account")
	}
	sp.level = l
	var err *apiError
	if sp.fields, err = parseFields(p); err != nil {
		return nil, err
	}
	if sp.bd, err = parseBreakdowns(p); err != nil {
		return nil, err
	}
	if sp.since, sp.until, err = parseTimeRange(p, today); err != nil {
		return nil, err
	}
	if sp.incr, err = parseIncrement(p); err != nil {
		return nil, err
	}
	if ls := p.Get("limit"); ls != "" {
		n, err := strconv.Atoi(ls)
		if err != nil || n < 0 {
			return nil, badParam("limit must be a non-negative integer")
		}
		sp.limit = n
	}
	if sp.statuses, err = parseStatusFilter(p); err != nil {
		return nil, err
	}
	return sp, nil
}

// listParam reads a parameter Meta takes as a comma-separated list or a JSON array: its items,
// trimmed, empty ones left out; given is false when the list was empty or absent.
func listParam(p url.Values, name string) (items []string, given bool, _ *apiError) {
	v := p.Get(name)
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		var list []string
		if err := json.Unmarshal([]byte(v), &list); err != nil {
			return nil, false, badParam("Param %s must be a comma separated list or a JSON array", name)
		}
		v = strings.Join(list, ",")
	}
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			items = append(items, x)
		}
	}
	return items, v != "", nil
}

// parseFields reads fields (spend,impressions when none), each once, each one Meta knows.
func parseFields(p url.Values) ([]string, *apiError) {
	list, given, err := listParam(p, "fields")
	if err != nil {
		return nil, err
	}
	if !given {
		list = []string{"spend", "impressions"}
	}
	var fields []string
	for _, f := range list {
		if slices.Contains(fields, f) {
			continue
		}
		if !validFields[f] {
			return nil, badParam("%s is not valid for fields param. please check https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values", f)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// parseBreakdowns reads breakdowns: none, or one of the combinations the simulator serves.
func parseBreakdowns(p url.Values) (breakdown, *apiError) {
	parts, _, err := listParam(p, "breakdowns")
	if err != nil {
		return 0, err
	}
	slices.Sort(parts)
	switch strings.Join(parts, ",") {
	case "":
		return 0, nil
	case "age,gender":
		return bdDemographic, nil
	case "platform_position,publisher_platform":
		return bdPlacement, nil
	}
	return 0, &apiError{status: 400, code: 2, subcode: 1504041,
		msg:       fmt.Sprintf("(#2) Current combination of data breakdown columns (%s) is invalid", strings.Join(parts, ", ")),
		userTitle: "Invalid breakdowns combination",
		userMsg:   "The breakdowns combination is not supported. Try a different combination."}
}

// parseTimeRange reads time_range (date_preset last_30d when absent) and checks it against
// today: in order, within 37 months.
func parseTimeRange(p url.Values, today int64) (since, until int64, _ *apiError) {
	if tr := p.Get("time_range"); tr != "" {
		var r struct{ Since, Until string }
		if err := json.Unmarshal([]byte(tr), &r); err != nil || r.Since == "" || r.Until == "" {
			return 0, 0, badParam(`time_range must be a JSON object {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}`)
		}
		s, err1 := time.Parse(time.DateOnly, r.Since)
		u, err2 := time.Parse(time.DateOnly, r.Until)
		if err1 != nil || err2 != nil {
			return 0, 0, badParam("time_range dates must be in the format YYYY-MM-DD")
		}
		since, until = dayOf(s), dayOf(u)
	} else {
		since, until = today-30, today-1 // date_preset last_30d
	}
	if since > until {
		return 0, 0, badParam("The start date of the time range cannot be after the end date")
	}
	y, m, d := dayTime(today).Date()
	if since < dayOf(time.Date(y, m-37, d, 0, 0, 0, 0, time.UTC)) {
		return 0, 0, &apiError{status: 400, code: 3018,
			msg: "(#3018) The start date of the time range cannot be beyond 37 months from the current date"}
	}
	return since, until, nil
}

// parseIncrement reads time_increment: all_days (the default), monthly, or 1 to 90 days.
func parseIncrement(p url.Values) (int, *apiError) {
	switch ti := p.Get("time_increment"); ti {
	case "", "all_days":
		return incrAllDays, nil
	case "monthly":
		return incrMonthly, nil
	default:
		n, err := strconv.Atoi(ti)
		if err != nil || n < 1 || n > 90 {
			return 0, badParam("time_increment must be an integer between 1 and 90, 'monthly' or 'all_days'")
		}
		return n, nil
	}
}

// parseStatusFilter reads the effective_status IN filters of filtering (nil: none); other
// filters are accepted and ignored.
func parseStatusFilter(p url.Values) (map[string]bool, *apiError) {
	fs := p.Get("filtering")
	if fs == "" {
		return nil, nil
	}
	var filters []struct {
		Field    string          `json:"field"`
		Operator string          `json:"operator"`
		Value    json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(fs), &filters); err != nil {
		return nil, badParam("Param filtering must be an array of filter objects")
	}
	var statuses map[string]bool
	for _, f := range filters {
		if !strings.HasSuffix(f.Field, ".effective_status") || f.Operator != "IN" {
			continue
		}
		var vs []string
		if err := json.Unmarshal(f.Value, &vs); err != nil {
			return nil, badParam("Filter value of %s must be an array of statuses", f.Field)
		}
		statuses = map[string]bool{}
		for _, v := range vs {
			statuses[v] = true
		}
	}
	return statuses, nil
}

// bucket is one result bucket: the dates its rows carry, and the last day its figures count
// (stop, unless the LastBucketStop fault moved it).
type bucket struct{ start, stop, last int64 }

// bucketsWith returns the report's buckets, with the LastBucketStop and BucketShift faults.
func (sp *reportSpec) bucketsWith(lastStop, shift int) []bucket {
	var out []bucket
	add := func(start, stop int64) { out = append(out, bucket{start: start, stop: stop, last: stop}) }
	switch {
	case sp.incr == incrAllDays:
		add(sp.since, sp.until)
	case sp.incr == incrMonthly:
		for d := sp.since; d <= sp.until; {
			t := dayTime(d)
			end := dayOf(time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)) - 1
			end = min(end, sp.until)
			add(d, end)
			d = end + 1
		}
	default:
		d := sp.since
		if shift > 0 && sp.incr > 1 {
			add(d, min(d+int64(shift)-1, sp.until))
			d += int64(shift)
		}
		for ; d <= sp.until; d += int64(sp.incr) {
			add(d, min(d+int64(sp.incr)-1, sp.until))
		}
		if n := len(out); lastStop != 0 && sp.incr > 1 && n > 0 {
			b := &out[n-1]
			b.stop = min(max(b.stop+int64(lastStop), b.start), b.start+int64(sp.incr)-1)
		}
	}
	return out
}

// weeks returns the number of weeks the range spans (a partial week counts).
func (sp *reportSpec) weeks() int { return int((sp.until - sp.since + 7) / 7) }

// group accumulates one output row.
type group struct {
	c, ad, combo int // campaign and ad index (-1 when not part of the level), breakdown combo
	sum          facts
	rsum, rmax   []int64 // per campaign: sum and max of the ad-day reaches
}

func (g *group) add(ci int, f facts) {
	g.sum.spend += f.spend
	g.sum.imp += f.imp
	g.sum.clicks += f.clicks
	for i := range f.act {
		g.sum.act[i] += f.act[i]
	}
	g.rsum[ci] += f.reach
	g.rmax[ci] = max(g.rmax[ci], f.reach)
}

func (g *group) reach() int64 {
	var crs []int64
	for ci := range g.rsum {
		if g.rsum[ci] > 0 {
			crs = append(crs, campaignReach(g.rsum[ci], g.rmax[ci]))
		}
	}
	return accountReach(crs)
}

// buildRows computes the rows of a report for one account, encoded as JSON objects.
func (s *Simulator) buildRows(a *account, sp *reportSpec) [][]byte {
	today, rev := s.today(a), s.revision(a.ID)
	s.mu.Lock()
	f := s.faults[a.ID].f
	readBefore := s.noteCampaignRead(a, sp, today)
	s.mu.Unlock()
	var rows [][]byte
	for _, b := range sp.bucketsWith(f.LastBucketStop, f.BucketShift) {
		bg := bucketGroups{a: a, groups: map[[3]int]*group{}}
		for d := b.start; d <= min(b.last, today); d++ {
			for ci, c := range a.campaigns {
				if st := goneStatus(ci, f.GoneCampaigns); st != "" && sp.level >= levelCampaign && !sp.statuses[st] {
					continue // not live: below the account level only when asked for
				}
				if (f.ShortCampaigns || f.ShortCampaignsFirstRead && !readBefore[d]) && ci == 0 && sp.level == levelCampaign {
					continue
				}
				for ki, ad := range c.ads {
					bg.addAd(s.world, sp, ci, ki, d, s.world.dayFacts(a, c, ad, d, today, rev))
				}
			}
		}
		for _, g := range bg.sorted() {
			rows = append(rows, encodeRow(a, sp, b, g))
		}
	}
	return rows
}

// noteCampaignRead returns, under the ShortCampaignsFirstRead fault, the days an earlier
// campaign-level report covered (nil otherwise), and adds this report's days. s.mu is held.
func (s *Simulator) noteCampaignRead(a *account, sp *reportSpec, today int64) map[int64]bool {
	fs := s.faults[a.ID]
	if fs == nil || !fs.f.ShortCampaignsFirstRead || sp.level != levelCampaign {
		return nil
	}
	readBefore := maps.Clone(fs.campaignDays)
	if fs.campaignDays == nil {
		fs.campaignDays = map[int64]bool{}
	}
	for _, b := range sp.bucketsWith(fs.f.LastBucketStop, fs.f.BucketShift) {
		for d := b.start; d <= min(b.last, today); d++ {
			fs.campaignDays[d] = true
		}
	}
	return readBefore
}

// bucketGroups gathers one bucket's output rows, by campaign, ad and breakdown combination.
type bucketGroups struct {
	a      *account
	groups map[[3]int]*group
}

func (bg *bucketGroups) get(ci, ki, combo int) *group {
	k := [3]int{ci, ki, combo}
	g := bg.groups[k]
	if g == nil {
		n := len(bg.a.campaigns)
		g = &group{c: ci, ad: ki, combo: combo, rsum: make([]int64, n), rmax: make([]int64, n)}
		bg.groups[k] = g
	}
	return g
}

// addAd adds one ad-day's facts (ad ki of campaign ci, day d) to the groups the report's level
// and breakdowns put it in.
func (bg *bucketGroups) addAd(w *world, sp *reportSpec, ci, ki int, d int64, f facts) {
	if f.imp == 0 {
		return
	}
	gc, gk := -1, -1
	if sp.level >= levelCampaign {
		gc = ci
	}
	if sp.level == levelAd {
		gk = ki
	}
	c := bg.a.campaigns[ci]
	var splits []facts
	switch sp.bd {
	case bdNone:
		bg.get(gc, gk, 0).add(ci, f)
		return
	case bdPlacement:
		splits = w.placementSplits(bg.a, c, c.ads[ki], d, f)
	case bdDemographic:
		splits = w.demographicSplits(bg.a, c, c.ads[ki], d, f)
	}
	for x, sf := range splits {
		if sf.imp > 0 {
			bg.get(gc, gk, x).add(ci, sf)
		}
	}
}

// sorted returns the groups by campaign or ad id, then breakdown combination.
func (bg *bucketGroups) sorted() []*group {
	gs := make([]*group, 0, len(bg.groups))
	for _, g := range bg.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(x, y *group) int {
		if c := strings.Compare(groupID(bg.a, x), groupID(bg.a, y)); c != 0 {
			return c
		}
		return x.combo - y.combo
	})
	return gs
}

// goneStatus is the effective_status of the account's campaign ci under the GoneCampaigns
// fault: "DELETED", "ARCHIVED", or "" for a live one.
func goneStatus(ci, gone int) string {
	switch {
	case ci >= gone:
		return ""
	case ci%2 == 0:
		return "DELETED"
	}
	return "ARCHIVED"
}

func groupID(a *account, g *group) string {
	switch {
	case g.ad >= 0:
		return a.campaigns[g.c].ads[g.ad].ID
	case g.c >= 0:
		return a.campaigns[g.c].ID
	}
	return ""
}

// encodeRow writes one output row: the fields asked for, in their order, then the dates and
// the breakdown values.
func encodeRow(a *account, sp *reportSpec, b bucket, g *group) []byte {
	r := rowOf{a: a, g: g, reach: g.reach()}
	if g.c >= 0 {
		r.c = a.campaigns[g.c]
	}
	if g.ad >= 0 {
		r.ad = r.c.ads[g.ad]
	}
	var o jsonObj
	for _, f := range sp.fields {
		r.field(&o, f)
	}
	o.str("date_start", dayString(b.start))
	o.str("date_stop", dayString(b.stop))
	switch sp.bd {
	case bdPlacement:
		p := Placements[g.combo]
		o.str("publisher_platform", p.Platform)
		o.str("platform_position", p.Position)
	case bdDemographic:
		d := Demographics[g.combo]
		o.str("age", d.Age)
		o.str("gender", d.Gender)
	}
	return o.bytes()
}

// rowOf is one output row's group with its account, campaign and ad (nil above their level).
type rowOf struct {
	a     *account
	c     *campaign
	ad    *ad
	g     *group
	reach int64
}

// The text fields of a campaign and of an ad, by field name: absent above their level.
var (
	campaignText = map[string]func(*campaign) string{
		"campaign_id": func(c *campaign) string { return c.ID }, "campaign_name": func(c *campaign) string { return c.Name },
		"adset_id": func(c *campaign) string { return c.AdsetID }, "adset_name": func(c *campaign) string { return c.AdsetName },
	}
	adText = map[string]func(*ad) string{
		"ad_id": func(a *ad) string { return a.ID }, "ad_name": func(a *ad) string { return a.Name },
		"quality_ranking":         func(a *ad) string { return a.QualityRanking },
		"engagement_rate_ranking": func(a *ad) string { return a.EngagementRateRanking },
		"conversion_rate_ranking": func(a *ad) string { return a.ConversionRateRanking },
	}
)

// field writes the field f of the row, or nothing when Meta would leave it out.
func (r *rowOf) field(o *jsonObj, f string) {
	sum := &r.g.sum
	if get, ok := campaignText[f]; ok {
		if r.c != nil {
			o.str(f, get(r.c))
		}
		return
	}
	if get, ok := adText[f]; ok {
		if r.ad != nil {
			o.str(f, get(r.ad))
		}
		return
	}
	switch f {
	case "account_id":
		o.str(f, r.a.ID)
	case "account_name":
		o.str(f, r.a.Name)
	case "account_currency":
		o.str(f, r.a.Currency)
	case "spend":
		o.str(f, cents(sum.spend))
	case "impressions":
		o.str(f, strconv.FormatInt(sum.imp, 10))
	case "clicks":
		o.str(f, strconv.FormatInt(sum.clicks, 10))
	case "reach":
		o.str(f, strconv.FormatInt(r.reach, 10))
	case "frequency":
		if r.reach > 0 {
			o.str(f, fixed6(sum.imp, r.reach))
		}
	case "ctr":
		if sum.imp > 0 {
			o.str(f, fixed6(sum.clicks*100, sum.imp))
		}
	case "cpc":
		if sum.clicks > 0 {
			o.str(f, fixed6(sum.spend, sum.clicks*100))
		}
	case "cpm":
		if sum.imp > 0 {
			o.str(f, fixed6(sum.spend*10, sum.imp))
		}
	case "actions":
		if list := actionsJSON(sum); list != nil {
			o.raw(f, list)
		}
	}
}

// actionsJSON is the actions list of a sum ([{"action_type":…,"value":…},…]), nil when every
// action is 0 (Meta leaves the field out).
func actionsJSON(sum *facts) []byte {
	var list []byte
	for i, n := range sum.act {
		if n == 0 {
			continue
		}
		if len(list) > 0 {
			list = append(list, ',')
		}
		var ao jsonObj
		ao.str("action_type", ActionTypes[i])
		ao.str("value", strconv.FormatInt(n, 10))
		list = append(list, ao.bytes()...)
	}
	if len(list) == 0 {
		return nil
	}
	return append(append([]byte{'['}, list...), ']')
}

// cents formats money as Meta sends it: decimal text without trailing zeros ("5339.5" in
// Meta's Insights example, "0" for nothing spent in a recorded row: airbytehq/airbyte#5766),
// "14.35" when both decimals count.
func cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	switch {
	case c%100 == 0:
		return fmt.Sprintf("%s%d", sign, c/100)
	case c%10 == 0:
		return fmt.Sprintf("%s%d.%d", sign, c/100, c%100/10)
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// fixed6 formats num/den rounded half up to 6 decimals (num, den ≥ 0, den > 0).
func fixed6(num, den int64) string {
	hi, lo := bits.Mul64(uint64(num), 2_000_000)
	lo, carry := bits.Add64(lo, uint64(den), 0)
	hi += carry
	q, _ := bits.Div64(hi, lo, 2*uint64(den))
	return fmt.Sprintf("%d.%06d", q/1_000_000, q%1_000_000)
}

// jsonObj writes a JSON object with keys in insertion order, escaping strings the way the
// Graph API does (non-ASCII as \uXXXX, "/" as "\/").
type jsonObj struct{ b []byte }

func (o *jsonObj) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObj) str(k, v string) { o.key(k); o.b = appendString(o.b, v) }
func (o *jsonObj) num(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}
func (o *jsonObj) raw(k string, v []byte) { o.key(k); o.b = append(o.b, v...) }
func (o *jsonObj) bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	u4 := func(r rune) {
		b = append(b, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r < 0x20 || r == 0x7f:
			u4(r)
		case r < 0x80:
			b = append(b, byte(r))
		case r < 0x10000:
			u4(r)
		default:
			r -= 0x10000
			u4(0xd800 + (r>>10)&0x3ff)
			u4(0xdc00 + r&0x3ff)
		}
	}
	return append(b, '"')
}
