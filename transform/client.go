package transform

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/quagmt/udecimal"

	"github.com/metapipe/metapipe/internal/records"
)

// figures are the delivery figures every report kind carries.
type figures struct {
	spend       udecimal.Decimal
	impressions int64
	clicks      int64
}

type accountRow struct {
	figures
	stop      int32
	reach     int64
	frequency *udecimal.Decimal
}

type campaignRow struct {
	figures
	id, name string
	reach    int64
	actions  []action // sorted by type
}

type action struct {
	typ   string
	value udecimal.Decimal
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

// clientData is everything read for one client, by week Monday. Its strings alias the Arrow
// batches it retains; release drops them once the client's summaries are built.
type clientData struct {
	weeks   map[int32]*week
	batches []arrow.RecordBatch
}

func (c *clientData) week(monday int32) *week {
	w := c.weeks[monday]
	if w == nil {
		w = &week{monday: monday}
		c.weeks[monday] = w
	}
	return w
}

func (c *clientData) release() {
	for _, b := range c.batches {
		b.Release()
	}
	c.batches = nil
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

func (p rowParser) decimal(field, s string) (udecimal.Decimal, error) {
	d, err := parseDecimal(s)
	if err != nil {
		return udecimal.Decimal{}, p.fail(field, s, err)
	}
	return d, nil
}

func (p rowParser) count(field string, v int64) error {
	if v < 0 {
		return p.fail(field, strconv.FormatInt(v, 10), ErrNegative)
	}
	return nil
}

// common checks the week and the delivery figures shared by every kind.
func (p rowParser) common(start, stop int32, spendText string, impressions, clicks int64) (figures, error) {
	if weekday(start) != 0 {
		return figures{}, p.fail("date_start", dayText(start), ErrNotMonday)
	}
	if stop < start || stop > start+6 {
		return figures{}, p.fail("date_stop", dayText(stop), ErrDateRange)
	}
	spend, err := p.decimal("spend", spendText)
	if err != nil {
		return figures{}, err
	}
	if err := p.count("impressions", impressions); err != nil {
		return figures{}, err
	}
	if err := p.count("clicks", clicks); err != nil {
		return figures{}, err
	}
	return figures{spend: spend, impressions: impressions, clicks: clicks}, nil
}

func fileName(path string) string { return filepath.Base(path) }

func errSchema(file, column string, t arrow.DataType) error {
	return fmt.Errorf("%s: not a file of this schema: column %s is %s", file, column, t)
}

func dayText(day int32) string { return records.DayTime(day).Format("2006-01-02") }

// The columns each kind reads (leaf paths); the others stay on disk.
var (
	commonColumns = []string{"date_start", "date_stop", "spend", "impressions", "clicks"}
	kindColumns   = map[records.Kind][]string{
		records.KindAccount:      {"reach", "frequency"},
		records.KindCampaigns:    {"campaign_id", "campaign_name", "reach", "actions.list.element.action_type", "actions.list.element.value"},
		records.KindPlacements:   {"publisher_platform", "platform_position"},
		records.KindDemographics: {"age", "gender"},
		records.KindAdRelevance: {"ad_id", "ad_name", "campaign_id", "quality_ranking", "engagement_rate_ranking",
			"conversion_rate_ranking"},
	}
)

// dupKey is a row's identity within its kind: the week and up to two ids or breakdown values.
type dupKey struct {
	monday int32
	a, b   string
}

// readClient reads the five report files of one client, column-wise. On error nothing is
// retained.
func readClient(clientID string, dir records.ClientDir) (_ *clientData, err error) {
	c := &clientData{weeks: make(map[int32]*week)}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	for _, kind := range records.Kinds {
		if err := c.readKind(clientID, dir.Report(kind), kind); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *clientData) readKind(clientID, path string, kind records.Kind) error {
	cf, err := openColumnFile(path)
	if err != nil {
		return &InputError{ClientID: clientID, File: fileName(path), Row: -1, Err: err}
	}
	defer cf.Close()
	n := int(cf.NumRows())
	seen := make(map[dupKey]struct{}, n)
	dup := func(key dupKey) bool {
		if _, ok := seen[key]; ok {
			return true
		}
		seen[key] = struct{}{}
		return false
	}
	// Rows go into one slice per kind, then to their weeks as sub-slices of it.
	var (
		campaigns    = newWeekRows[campaignRow](kind == records.KindCampaigns, n)
		placements   = newWeekRows[placementRow](kind == records.KindPlacements, n)
		demographics = newWeekRows[demographicRow](kind == records.KindDemographics, n)
		ads          = newWeekRows[adRow](kind == records.KindAdRelevance, n)
	)
	var fnErr error
	err = cf.batches(append(slices.Clip(commonColumns), kindColumns[kind]...), func(rec arrow.RecordBatch, first int) error {
		b, err := newKindBatch(cf.name, rec, kind)
		if err != nil {
			return err
		}
		rec.Retain() // the rows' strings alias it
		c.batches = append(c.batches, rec)
		p := rowParser{client: clientID, file: cf.name}
		for i := range int(rec.NumRows()) {
			p.row = first + i
			start := int32(b.start[i])
			fig, err := p.common(start, int32(b.stop[i]), b.spend.Value(i), b.impressions[i], b.clicks[i])
			if err != nil {
				fnErr = err
				return err
			}
			switch kind {
			case records.KindAccount:
				err = c.addAccount(p, b, i, fig)
			case records.KindCampaigns:
				id := b.str[0].Value(i)
				switch {
				case id == "":
					err = p.fail("campaign_id", id, ErrEmpty)
				case dup(dupKey{monday: start, a: id}):
					err = p.fail("campaign_id", id, ErrDuplicate)
				default:
					var cr campaignRow
					if cr, err = newCampaignRow(p, b, i, fig); err == nil {
						campaigns.add(start, cr)
					}
				}
			case records.KindPlacements:
				platform, position := b.str[0].Value(i), b.str[1].Value(i)
				if dup(dupKey{start, platform, position}) {
					err = p.fail("publisher_platform", platform+"/"+position, ErrDuplicate)
				} else {
					placements.add(start, placementRow{figures: fig, platform: platform, position: position})
				}
			case records.KindDemographics:
				age, gender := b.str[0].Value(i), b.str[1].Value(i)
				if dup(dupKey{start, age, gender}) {
					err = p.fail("age", age+"/"+gender, ErrDuplicate)
				} else {
					demographics.add(start, demographicRow{figures: fig, age: age, gender: gender})
				}
			case records.KindAdRelevance:
				id := b.str[0].Value(i)
				switch {
				case id == "":
					err = p.fail("ad_id", id, ErrEmpty)
				case dup(dupKey{monday: start, a: id}):
					err = p.fail("ad_id", id, ErrDuplicate)
				default:
					ads.add(start, adRow{figures: fig, id: id, name: b.str[1].Value(i), campaignID: b.str[2].Value(i),
						quality: b.str[3].Value(i), engagement: b.str[4].Value(i), conversion: b.str[5].Value(i)})
				}
			}
			if err != nil {
				fnErr = err
				return err
			}
		}
		return nil
	})
	if err != nil {
		if fnErr != nil && err == fnErr {
			return err
		}
		return &InputError{ClientID: clientID, File: cf.name, Row: -1, Err: err}
	}
	campaigns.toWeeks(c, func(w *week, rows []campaignRow) { w.campaigns = rows })
	placements.toWeeks(c, func(w *week, rows []placementRow) { w.placements = rows })
	demographics.toWeeks(c, func(w *week, rows []demographicRow) { w.demographics = rows })
	ads.toWeeks(c, func(w *week, rows []adRow) { w.ads = rows })
	return nil
}

// weekRows collects one kind's rows with their weeks' Mondays.
type weekRows[T any] struct {
	mondays []int32
	rows    []T
}

func newWeekRows[T any](used bool, n int) *weekRows[T] {
	if !used {
		return &weekRows[T]{}
	}
	return &weekRows[T]{mondays: make([]int32, 0, n), rows: make([]T, 0, n)}
}

func (r *weekRows[T]) add(monday int32, row T) {
	r.mondays = append(r.mondays, monday)
	r.rows = append(r.rows, row)
}

// toWeeks hands each week its rows, in file order, as a sub-slice of one allocation.
func (r *weekRows[T]) toWeeks(c *clientData, set func(*week, []T)) {
	if !slices.IsSorted(r.mondays) { // the extract writes them in date order; any order works
		idx := make([]int, len(r.rows))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return int(r.mondays[a]) - int(r.mondays[b]) })
		mondays, rows := make([]int32, len(idx)), make([]T, len(idx))
		for i, j := range idx {
			mondays[i], rows[i] = r.mondays[j], r.rows[j]
		}
		r.mondays, r.rows = mondays, rows
	}
	for i := 0; i < len(r.rows); {
		j := i + 1
		for j < len(r.rows) && r.mondays[j] == r.mondays[i] {
			j++
		}
		set(c.week(r.mondays[i]), r.rows[i:j:j])
		i = j
	}
}

// kindBatch is one record batch of a report file as typed columns.
type kindBatch struct {
	start, stop          []arrow.Date32
	spend                *array.String
	impressions, clicks  []int64
	reach                []int64
	frequency            *array.String
	str                  []*array.String // the kind's id, name, breakdown and ranking columns, in kindColumns order
	actions              *array.List
	actionType, actValue *array.String
}

func newKindBatch(file string, rec arrow.RecordBatch, kind records.Kind) (*kindBatch, error) {
	var b kindBatch
	var err error
	date := func(name string) []arrow.Date32 {
		a, e := column[*array.Date32](file, rec, name)
		if e != nil {
			err = e
			return nil
		}
		return a.Date32Values()
	}
	ints := func(name string) []int64 {
		a, e := column[*array.Int64](file, rec, name)
		if e != nil {
			err = e
			return nil
		}
		return a.Int64Values()
	}
	str := func(name string) *array.String {
		a, e := column[*array.String](file, rec, name)
		if e != nil {
			err = e
		}
		return a
	}
	b.start, b.stop = date("date_start"), date("date_stop")
	b.spend = str("spend")
	b.impressions, b.clicks = ints("impressions"), ints("clicks")
	switch kind {
	case records.KindAccount:
		b.reach, b.frequency = ints("reach"), str("frequency")
	case records.KindCampaigns:
		b.reach = ints("reach")
		b.str = []*array.String{str("campaign_id"), str("campaign_name")}
		if b.actions, err = column[*array.List](file, rec, "actions"); err == nil {
			b.actionType, b.actValue, err = actionColumns(file, b.actions)
		}
	default:
		for _, name := range kindColumns[kind] {
			b.str = append(b.str, str(name))
		}
	}
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// actionColumns returns the action_type and value columns of actions: list<struct<...>>.
func actionColumns(file string, l *array.List) (typ, value *array.String, err error) {
	st, ok := l.ListValues().(*array.Struct)
	if !ok {
		return nil, nil, errSchema(file, "actions", l.DataType())
	}
	stType := st.DataType().(*arrow.StructType)
	for _, f := range []struct {
		name string
		dst  **array.String
	}{{"action_type", &typ}, {"value", &value}} {
		i, ok := stType.FieldIdx(f.name)
		if !ok {
			return nil, nil, errSchema(file, "actions", l.DataType())
		}
		if *f.dst, ok = st.Field(i).(*array.String); !ok {
			return nil, nil, errSchema(file, "actions", l.DataType())
		}
	}
	return typ, value, nil
}

func (c *clientData) addAccount(p rowParser, b *kindBatch, i int, fig figures) error {
	start, reach := int32(b.start[i]), b.reach[i]
	if err := p.count("reach", reach); err != nil {
		return err
	}
	a := &accountRow{figures: fig, stop: int32(b.stop[i]), reach: reach}
	if s := b.frequency.Value(i); s != "" {
		f, err := p.decimal("frequency", s)
		if err != nil {
			return err
		}
		a.frequency = &f
	}
	w := c.week(start)
	if w.account != nil {
		return p.fail("date_start", dayText(start), ErrDuplicate)
	}
	w.account = a
	return nil
}

// newCampaignRow checks and builds a campaign row (its id already checked).
func newCampaignRow(p rowParser, b *kindBatch, i int, fig figures) (campaignRow, error) {
	reach := b.reach[i]
	if err := p.count("reach", reach); err != nil {
		return campaignRow{}, err
	}
	cr := campaignRow{figures: fig, id: b.str[0].Value(i), name: b.str[1].Value(i), reach: reach}
	if b.actions.IsValid(i) {
		from, to := b.actions.ValueOffsets(i)
		if to > from {
			cr.actions = make([]action, 0, to-from)
		}
		for k := from; k < to; k++ {
			typ, val := b.actionType.Value(int(k)), b.actValue.Value(int(k))
			field := "actions[" + strconv.Itoa(int(k-from)) + "]"
			if typ == "" {
				return campaignRow{}, p.fail(field+".action_type", typ, ErrEmpty)
			}
			v, err := parseDecimal(val)
			if err != nil {
				return campaignRow{}, p.fail(field+".value", val, err)
			}
			cr.actions = append(cr.actions, action{typ: typ, value: v})
		}
	}
	slices.SortFunc(cr.actions, func(a, b action) int { return strings.Compare(a.typ, b.typ) })
	for j := 1; j < len(cr.actions); j++ {
		if cr.actions[j].typ == cr.actions[j-1].typ {
			return campaignRow{}, p.fail("actions.action_type", cr.actions[j].typ, ErrDuplicate)
		}
	}
	return cr, nil
}
