package graphsim

import (
	"fmt"
	"strconv"
	"time"
)

// The generated world: accounts, campaigns (one ad set each), ads, and the daily facts of every
// ad. Everything is a pure function of (seed, indexes, day) through a splitmix64 hash, so any day
// can be computed on its own, in any order, with the same result on every machine.

// Hash domain tags, one per kind of draw.
const (
	tagAccount uint64 = iota + 1
	tagCampaign
	tagAd
	tagDay
	tagPause
	tagKPI
	tagTrace
	tagRun
)

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func hash(parts ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc909)
	for _, p := range parts {
		h = mix(h ^ p)
	}
	return h
}

// draws hands out successive pseudo-random numbers from one hash.
type draws uint64

func (d *draws) next() uint64 { *d = draws(mix(uint64(*d))); return uint64(*d) }

// in returns a number in [lo, hi].
func (d *draws) in(lo, hi int64) int64 { return lo + int64(d.next()%uint64(hi-lo+1)) }

// Ranking values (docs/META_API.md, "Read the results").
const (
	RankAboveAverage   = "ABOVE_AVERAGE"
	RankAverage        = "AVERAGE"
	RankBelowAverage35 = "BELOW_AVERAGE_35"
	RankBelowAverage20 = "BELOW_AVERAGE_20"
	RankBelowAverage10 = "BELOW_AVERAGE_10"
	RankUnknown        = "UNKNOWN"
)

var rankings = []string{RankAboveAverage, RankAverage, RankBelowAverage35, RankBelowAverage20, RankBelowAverage10}

// ActionTypes lists the action types the simulator reports, in the order rows list them.
var ActionTypes = []string{"link_click", "landing_page_view", "lead", "purchase"}

const numActions = 4

// Placement is one publisher_platform × platform_position pair.
type Placement struct{ Platform, Position string }

// Placements lists every placement the simulator can deliver on, in row order, with Meta's
// platform_position values (Ad Campaign Insights reference: Instagram's are feed,
// instagram_explore, instagram_reels, instagram_stories; Facebook's feed, facebook_reels,
// facebook_stories; Audience Network's an_classic).
var Placements = []Placement{
	{"facebook", "feed"}, {"facebook", "facebook_stories"}, {"facebook", "facebook_reels"},
	{"instagram", "feed"}, {"instagram", "instagram_stories"}, {"instagram", "instagram_reels"},
	{"audience_network", "an_classic"}, {"messenger", "messenger_inbox"},
}

// Demographic is one age × gender pair.
type Demographic struct{ Age, Gender string }

// Ages and Genders are the breakdown values, in row order.
var (
	Ages    = []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
	Genders = []string{"male", "female", "unknown"}
)

// Demographics lists every age × gender pair in row order; the last one, ("Unknown",
// "unknown"), is rare.
var Demographics = func() []Demographic {
	var ds []Demographic
	for _, a := range Ages {
		for _, g := range Genders {
			ds = append(ds, Demographic{a, g})
		}
	}
	return append(ds, Demographic{"Unknown", "unknown"})
}()

var accountNames = []string{
	"Hotel Alpenblick", "Casa Lumbre", "Nordlys Cabins", "Brasserie Étoile", "Ryokan Hoshi 星",
	"Villa Sóller", "Harbour & Pine Lodge", "Café Ümlaut", "Seaside Suites", "Bergdorf Spa",
}

var campaignNames = []string{
	"Été — Ofertas ñ", "夏のセール", "Zürich 🚀", "Brand Awareness Q1", "Retargeting – Cart",
	`Lead Gen "Spring"`, "Always-on Prospecting", "Black Friday 50% <off>", "Ramadan رمضان",
	"Weekend Getaway", "Wellness & Spa", "Early Bird 2026", "Ski Season ⛷", "Family Rooms",
}

var adNames = []string{
	"Video 15s", "Carousel rooms", "Static pool", "Story swipe-up", "Reel — sunset",
	"UGC review", "Offer card", "Dynamic catalog", "Chef’s table", "Kids club",
}

// Account is one generated ad account.
type Account struct {
	ID       string // digits, no act_ prefix
	Name     string
	Token    string // a token that may read only this account
	Currency string // ISO 4217 code, as Meta's `currency` field
	TimeZone string // IANA name, as Meta's `timezone_name` field: the account's calendar
}

// accountProfiles are the time zones and currencies accounts take in turn: account i gets
// accountProfiles[i%5], so any three accounts span Europe, America and Australia.
var accountProfiles = []struct{ zone, currency string }{
	{"Europe/Warsaw", "PLN"},
	{"America/Los_Angeles", "USD"},
	{"Australia/Sydney", "AUD"},
	{"Europe/Zurich", "CHF"},
	{"Europe/London", "GBP"},
}

// Campaign is one generated campaign with its single ad set and its ads.
type Campaign struct {
	ID, Name           string
	AdsetID, AdsetName string
	Ads                []Ad
}

// Ad is one generated ad with its fixed rankings.
type Ad struct {
	ID, Name              string
	CampaignID, AdsetID   string
	QualityRanking        string
	EngagementRateRanking string
	ConversionRateRanking string
}

type account struct {
	Account
	loc       *time.Location // TimeZone
	idx       int
	campaigns []*campaign
	darkOff   int64 // weeks w with (w+darkOff)%23 == 0 have no delivery at all
	kpiOff    int64 // weeks w with (w+kpiOff)%40 == 0 have no KPI rows at all
}

type campaign struct {
	Campaign
	idx int
	ads []*ad
}

type ad struct {
	Ad
	idx    int
	scale  int64 // typical daily impressions
	ctrBp  int64 // clicks per 10,000 impressions
	cpm    int64 // cents per 1,000 impressions
	reachP int64 // reach as percent of impressions (daily)
	places []int // indexes into Placements
	placeW []int64
	demoW  []int64 // one weight per Demographics entry
}

func generate(seed int64, n int) []*account {
	used := map[string]bool{}
	uniq := func(base, mod uint64, h uint64) string {
		for {
			id := strconv.FormatUint(base+h%mod, 10)
			if !used[id] {
				used[id] = true
				return id
			}
			h = mix(h)
		}
	}
	s := uint64(seed)
	accts := make([]*account, n)
	for i := range n {
		d := draws(hash(s, tagAccount, uint64(i)))
		a := &account{idx: i}
		a.ID = uniq(1010000000000000, 1e12, d.next())
		a.Name = accountNames[i%len(accountNames)]
		if i >= len(accountNames) {
			a.Name = fmt.Sprintf("%s %d", a.Name, i/len(accountNames)+1)
		}
		a.Token = "sim-token-" + a.ID
		prof := accountProfiles[i%len(accountProfiles)]
		a.Currency, a.TimeZone = prof.currency, prof.zone
		loc, err := time.LoadLocation(prof.zone)
		if err != nil {
			panic("graphsim: time zone " + prof.zone + ": " + err.Error())
		}
		a.loc = loc
		a.darkOff = d.in(0, 22)
		a.kpiOff = d.in(0, 39)
		nc := int(d.in(2, 8))
		nameOff := int(d.in(0, int64(len(campaignNames)-1)))
		for j := range nc {
			cd := draws(hash(s, tagCampaign, uint64(i), uint64(j)))
			c := &campaign{idx: j}
			c.ID = uniq(23850000000000000, 1e13, cd.next())
			c.Name = campaignNames[(nameOff+j)%len(campaignNames)]
			c.AdsetID = uniq(23850000000000000, 1e13, cd.next())
			c.AdsetName = c.Name + " – Ad set"
			na := int(cd.in(1, 5))
			for k := range na {
				ad := newAd(s, i, j, k, uniq)
				ad.CampaignID, ad.AdsetID = c.ID, c.AdsetID
				c.ads = append(c.ads, ad)
				c.Ads = append(c.Ads, ad.Ad)
			}
			a.campaigns = append(a.campaigns, c)
		}
		accts[i] = a
	}
	return accts
}

func newAd(s uint64, i, j, k int, uniq func(base, mod, h uint64) string) *ad {
	d := draws(hash(s, tagAd, uint64(i), uint64(j), uint64(k)))
	a := &ad{idx: k}
	a.ID = uniq(23850000000000000, 1e13, d.next())
	a.Name = adNames[int(d.next()%uint64(len(adNames)))] + fmt.Sprintf(" #%d", k+1)
	rank := func() string {
		if d.next()%100 < 20 {
			return RankUnknown
		}
		return rankings[d.next()%uint64(len(rankings))]
	}
	a.QualityRanking, a.EngagementRateRanking, a.ConversionRateRanking = rank(), rank(), rank()
	a.scale = d.in(300, 6000)
	a.ctrBp = d.in(40, 300)
	a.cpm = d.in(300, 1800)
	a.reachP = d.in(55, 90)
	for p := range Placements {
		if d.next()%100 < 55 {
			a.places = append(a.places, p)
			a.placeW = append(a.placeW, d.in(10, 100))
		}
	}
	if len(a.places) == 0 {
		a.places, a.placeW = []int{0}, []int64{1}
	}
	ageW := make([]int64, len(Ages))
	for x := range ageW {
		ageW[x] = d.in(5, 60)
	}
	genW := []int64{d.in(30, 60), d.in(30, 60), d.in(0, 6)}
	for x := range Ages {
		for y := range Genders {
			a.demoW = append(a.demoW, ageW[x]*genW[y])
		}
	}
	unknownAge := int64(0)
	if d.next()%3 == 0 {
		unknownAge = d.in(1, 20)
	}
	a.demoW = append(a.demoW, unknownAge)
	return a
}

// Day numbers: days since 1970-01-01 of a calendar date.

func dayOf(t time.Time) int64 {
	y, m, d := t.Date()
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

func dayTime(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

func dayString(d int64) string { return dayTime(d).Format(time.DateOnly) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// isoWeek numbers Monday-based weeks; 1970-01-05 (day 4) was a Monday.
func isoWeek(d int64) int64 { return floorDiv(d-4, 7) }

// facts are one ad's (or one split's) figures for one day.
type facts struct {
	spend, imp, clicks, reach int64
	act                       [numActions]int64
}

// dayFacts computes one ad's totals for a day. today is the last day with data; rev > 0 raises
// the figures of the 28 days up to today (attribution still moving).
func (w *world) dayFacts(a *account, c *campaign, ad *ad, d, today int64, rev int) facts {
	var f facts
	if d > today {
		return f
	}
	wk := isoWeek(d)
	if floorMod(wk+a.darkOff, 23) == 0 {
		return f // a week in which the whole account is dark
	}
	s := uint64(w.seed)
	if hash(s, tagPause, uint64(a.idx), uint64(c.idx), uint64(floorDiv(wk, 3)))%100 < 15 {
		return f // the campaign is paused for these three weeks
	}
	r := draws(hash(s, tagDay, uint64(a.idx), uint64(c.idx), uint64(ad.idx), uint64(d)))
	if r.next()%100 < 6 {
		return f // no delivery that day
	}
	weekday := floorMod(d-4, 7) // 0 = Monday
	f.imp = ad.scale * r.in(50, 150) / 100
	if weekday >= 5 {
		f.imp = f.imp * 120 / 100
	}
	f.imp = max(f.imp, 1)
	f.clicks = f.imp * ad.ctrBp * r.in(80, 120) / 1_000_000
	f.reach = max(f.imp*ad.reachP*r.in(95, 105)/10_000, 1)
	f.reach = min(f.reach, f.imp)
	f.spend = f.imp * ad.cpm * r.in(90, 110) / 100_000
	f.act[0] = f.clicks * r.in(70, 95) / 100
	f.act[1] = f.act[0] * r.in(50, 85) / 100
	f.act[2] = f.act[1] * r.in(0, 10) / 100
	f.act[3] = f.act[1] * r.in(0, 5) / 100
	if rev > 0 && d > today-28 {
		k := int64(100 + 5*rev)
		f.spend, f.imp, f.clicks, f.reach = f.spend*k/100, f.imp*k/100, f.clicks*k/100, f.reach*k/100
		for x := range f.act {
			f.act[x] = f.act[x] * k / 100
		}
	}
	return f
}

// splitInto distributes total over weights with the largest-remainder method, so the parts sum
// exactly to total; a zero weight always gets zero. Ties go to the lower index.
func splitInto(out []int64, total int64, weights []int64) {
	var sum int64
	for _, wt := range weights {
		sum += wt
	}
	for i := range out {
		out[i] = 0
	}
	if sum == 0 || total == 0 {
		return
	}
	var remBuf, idxBuf [32]int64
	rems, idx := remBuf[:0], idxBuf[:0]
	if len(weights) > len(remBuf) {
		rems, idx = make([]int64, 0, len(weights)), make([]int64, 0, len(weights))
	}
	given := int64(0)
	for i, wt := range weights {
		out[i] = total * wt / sum
		rems = append(rems, total*wt%sum)
		given += out[i]
		if rems[i] > 0 {
			idx = append(idx, int64(i))
		}
	}
	// The largest remainders get one more each (ties to the lower index): an insertion sort of
	// the few buckets with a remainder, then the first `left` of them.
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && rems[idx[j]] > rems[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	for _, i := range idx[:total-given] {
		out[i]++
	}
}

// splits breaks one ad-day into breakdown buckets that sum exactly to f: impressions by the
// ad's weights (varied a little per day), spend by impressions times a per-bucket cost factor,
// clicks and reach in proportion to impressions (so neither exceeds a bucket's impressions), and
// actions in proportion to clicks.
func splits(f facts, weights []int64, costF []int64, vary uint64) []facts {
	n := len(weights)
	out := make([]facts, n)
	if f.imp == 0 {
		return out
	}
	r := draws(vary)
	w := make([]int64, n)
	for i, wt := range weights {
		w[i] = wt * r.in(80, 120)
	}
	col := make([]int64, n)
	splitInto(col, f.imp, w)
	imps := make([]int64, n)
	copy(imps, col)
	for i := range out {
		out[i].imp = imps[i]
	}
	sw := make([]int64, n)
	for i := range sw {
		sw[i] = imps[i] * costF[i]
	}
	splitInto(col, f.spend, sw)
	for i := range out {
		out[i].spend = col[i]
	}
	splitInto(col, f.clicks, imps)
	clicks := make([]int64, n)
	copy(clicks, col)
	for i := range out {
		out[i].clicks = clicks[i]
	}
	splitInto(col, f.reach, imps)
	for i := range out {
		out[i].reach = col[i]
	}
	for x := range f.act {
		splitInto(col, f.act[x], clicks)
		for i := range out {
			out[i].act[x] = col[i]
		}
	}
	return out
}

// placementSplits returns the ad-day split over all of Placements (zero where the ad does not run).
func (w *world) placementSplits(a *account, c *campaign, ad *ad, d int64, f facts) []facts {
	cost := make([]int64, len(ad.places))
	for i, p := range ad.places {
		cost[i] = 70 + int64(p)*9 // placements differ in price
	}
	v := hash(uint64(w.seed), tagDay, uint64(a.idx), uint64(c.idx), uint64(ad.idx), uint64(d), 1)
	part := splits(f, ad.placeW, cost, v)
	out := make([]facts, len(Placements))
	for i, p := range ad.places {
		out[p] = part[i]
	}
	return out
}

// demographicSplits returns the ad-day split over Demographics.
func (w *world) demographicSplits(a *account, c *campaign, ad *ad, d int64, f facts) []facts {
	cost := make([]int64, len(Demographics))
	for i := range cost {
		cost[i] = 80 + int64(i%len(Genders))*10 + int64(i/len(Genders))*5
	}
	v := hash(uint64(w.seed), tagDay, uint64(a.idx), uint64(c.idx), uint64(ad.idx), uint64(d), 2)
	return splits(f, ad.demoW, cost, v)
}

// Reach is not additive. Within a campaign, the unique reach over several ad-days is 85 % of the
// sum but at least the largest single value; across campaigns, the account reaches the largest
// campaign's people plus 60 % of the others'.
func campaignReach(sum, mx int64) int64 { return max(sum*85/100, mx) }

func accountReach(campaignReaches []int64) int64 {
	var sum, mx int64
	for _, r := range campaignReaches {
		sum += r
		mx = max(mx, r)
	}
	return mx + (sum-mx)*60/100
}
