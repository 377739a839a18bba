package transform

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/shopspring/decimal"
)

// figures are the delivery figures every report kind carries.
type figures struct {
	spend       decimal.Decimal
	impressions int64
	clicks      int64
}

type accountRow struct {
	figures
	stop      int32
	reach     int64
	frequency *decimal.Decimal
}

type campaignRow struct {
	figures
	id, name string
	reach    int64
	actions  []action // sorted by type
}

type action struct {
	typ   string
	value decimal.Decimal
}

type placementRow struct {
	figures
	platform, position string
}

type demographicRow struct {
	figures
	age, gender string
}

type adRow struct {
	figures
	id, name, campaignID            string
	quality, engagement, conversion string
}

// week gathers one client's rows of one ISO week.
type week struct {
	monday       int32
	account      *accountRow
	campaigns    []campaignRow
	placements   []placementRow
	demographics []demographicRow
	ads          []adRow
}

// clientData is everything read for one client, by week Monday.
type clientData struct {
	weeks map[int32]*week
}

func (c *clientData) week(monday int32) *week {
	w := c.weeks[monday]
	if w == nil {
		w = &week{monday: monday}
		c.weeks[monday] = w
	}
	return w
}

// rowParser validates one raw row, producing *InputError values that name the client, file,
// row and field.
type rowParser struct {
	client, file string
	row          int
}

func (p rowParser) fail(field, value string, err error) error {
	return &InputError{ClientID: p.client, File: p.file, Row: p.row, Field: field, Value: value, Err: err}
}

func (p rowParser) decimal(field, s string) (decimal.Decimal, error) {
	if strings.TrimSpace(s) != s || s == "" {
		return decimal.Decimal{}, p.fail(field, s, ErrNotDecimal)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, p.fail(field, s, ErrNotDecimal)
	}
	return d, nil
}

func (p rowParser) count(field string, v int64) error {
	if v < 0 {
		return p.fail(field, strconv.FormatInt(v, 10), ErrNegative)
	}
	return nil
}

func (p rowParser) nonEmpty(field, v string) error {
	if v == "" {
		return p.fail(field, v, ErrEmpty)
	}
	return nil
}

// common checks the week and the delivery figures shared by every kind.
func (p rowParser) common(r *records.InsightRow) (figures, error) {
	if weekday(r.DateStart) != 0 {
		return figures{}, p.fail("date_start", dayText(r.DateStart), ErrNotMonday)
	}
	if r.DateStop < r.DateStart || r.DateStop > r.DateStart+6 {
		return figures{}, p.fail("date_stop", dayText(r.DateStop), ErrDateRange)
	}
	spend, err := p.decimal("spend", r.Spend)
	if err != nil {
		return figures{}, err
	}
	if err := p.count("impressions", r.Impressions); err != nil {
		return figures{}, err
	}
	if err := p.count("clicks", r.Clicks); err != nil {
		return figures{}, err
	}
	return figures{spend: spend, impressions: r.Impressions, clicks: r.Clicks}, nil
}

func dayText(day int32) string { return records.DayTime(day).Format("2006-01-02") }

// readClient reads the five report files of one client.
func readClient(clientID string, dir records.ClientDir) (*clientData, error) {
	c := &clientData{weeks: make(map[int32]*week)}
	for _, kind := range records.Kinds {
		path := dir.Report(kind)
		seen := make(map[string]struct{}) // week + key, to refuse duplicates
		dup := func(p rowParser, monday int32, field, value string, key ...string) error {
			k := strconv.Itoa(int(monday)) + "\x00" + strings.Join(key, "\x00")
			if _, ok := seen[k]; ok {
				return p.fail(field, value, ErrDuplicate)
			}
			seen[k] = struct{}{}
			return nil
		}
		err := readParquet(clientID, path, func(row int, r *records.InsightRow) error {
			p := rowParser{client: clientID, file: filepath.Base(path), row: row}
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
				w := c.week(r.DateStart)
				w.placements = append(w.placements, placementRow{figures: fig,
					platform: r.PublisherPlatform, position: r.PlatformPosition})
			case records.KindDemographics:
				if err := dup(p, r.DateStart, "age", r.Age+"/"+r.Gender, r.Age, r.Gender); err != nil {
					return err
				}
				w := c.week(r.DateStart)
				w.demographics = append(w.demographics, demographicRow{figures: fig, age: r.Age, gender: r.Gender})
			case records.KindAdRelevance:
				if err := p.nonEmpty("ad_id", r.AdID); err != nil {
					return err
				}
				if err := dup(p, r.DateStart, "ad_id", r.AdID, r.AdID); err != nil {
					return err
				}
				w := c.week(r.DateStart)
				w.ads = append(w.ads, adRow{figures: fig, id: r.AdID, name: r.AdName, campaignID: r.CampaignID,
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

func (c *clientData) addAccount(p rowParser, r *records.InsightRow, fig figures) error {
	if err := p.count("reach", r.Reach); err != nil {
		return err
	}
	a := &accountRow{figures: fig, stop: r.DateStop, reach: r.Reach}
	if r.Frequency != "" {
		f, err := p.decimal("frequency", r.Frequency)
		if err != nil {
			return err
		}
		a.frequency = &f
	}
	w := c.week(r.DateStart)
	if w.account != nil {
		return p.fail("date_start", dayText(r.DateStart), ErrDuplicate)
	}
	w.account = a
	return nil
}

func (c *clientData) addCampaign(p rowParser, r *records.InsightRow, fig figures) error {
	if err := p.count("reach", r.Reach); err != nil {
		return err
	}
	cr := campaignRow{figures: fig, id: r.CampaignID, name: r.CampaignName, reach: r.Reach}
	for i, a := range r.Actions {
		field := "actions[" + strconv.Itoa(i) + "]"
		if err := p.nonEmpty(field+".action_type", a.ActionType); err != nil {
			return err
		}
		v, err := p.decimal(field+".value", a.Value)
		if err != nil {
			return err
		}
		cr.actions = append(cr.actions, action{typ: a.ActionType, value: v})
	}
	slices.SortFunc(cr.actions, func(a, b action) int { return strings.Compare(a.typ, b.typ) })
	for i := 1; i < len(cr.actions); i++ {
		if cr.actions[i].typ == cr.actions[i-1].typ {
			return p.fail("actions.action_type", cr.actions[i].typ, ErrDuplicate)
		}
	}
	w := c.week(r.DateStart)
	w.campaigns = append(w.campaigns, cr)
	return nil
}
