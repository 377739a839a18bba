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

// breakdownRow is a row of a kind broken down by breakdowns (placements, demographics): values
// are the breakdowns' values, in the descriptor's order ("" past its breakdowns).
type breakdownRow struct {
	figures
	values [records.MaxKeyColumns]string
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
	placements   []breakdownRow
	demographics []breakdownRow
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

// commonColumns are the columns every kind reads; each kind adds its descriptor's
// ([records.KindSpec.Columns]), actions as its two leaves. The others stay on disk.
var commonColumns = []string{"date_start", "date_stop", "spend", "impressions", "clicks"}

// leafColumns are the Parquet leaf paths of a kind's columns.
func leafColumns(spec records.KindSpec) []string {
	cols := slices.Clip(commonColumns)
	for _, c := range spec.Columns() {
		if c == "actions" {
			cols = append(cols, "actions.list.element.action_type", "actions.list.element.value")
		} else {
			cols = append(cols, c)
		}
	}
	return cols
}

// dupKey is a row's identity within its kind: the week and its descriptor's key columns.
type dupKey struct {
	monday int32
	key    [records.MaxKeyColumns]string
}

// readClient reads the report files of one client, column-wise. On error nothing is retained.
func readClient(clientID string, dir records.ClientDir) (_ *clientData, err error) {
	c := &clientData{weeks: make(map[int32]*week)}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	for _, spec := range records.KindSpecs {
		if err := c.readKind(clientID, dir.Report(spec.Kind), spec); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readKind reads one report file into the client's weeks.
func (c *clientData) readKind(clientID, path string, spec records.KindSpec) error {
	cf, err := openColumnFile(path)
	if err != nil {
		return &InputError{ClientID: clientID, File: fileName(path), Row: -1, Err: err}
	}
	defer cf.Close()
	n := int(cf.NumRows())
	kr := kindTable[spec.Kind].reader(n)
	keys := kindKeys{spec: spec, seen: make(map[dupKey]struct{}, n)}
	var fnErr error
	err = cf.batches(leafColumns(spec), func(rec arrow.RecordBatch, first int) error {
		b, err := newKindBatch(cf.name, rec, spec)
		if err != nil {
			return err
		}
		rec.Retain() // the rows' strings alias it
		c.batches = append(c.batches, rec)
		fnErr = readRows(rowParser{client: clientID, file: cf.name}, b, first, &keys, kr)
		return fnErr
	})
	if err != nil {
		if fnErr != nil && err == fnErr {
			return err
		}
		return &InputError{ClientID: clientID, File: cf.name, Row: -1, Err: err}
	}
	kr.toWeeks(c)
	return nil
}

// readRows checks the rows of one batch, their weeks, figures and keys, and hands them to kr.
func readRows(p rowParser, b *kindBatch, first int, keys *kindKeys, kr kindReader) error {
	for i := range b.n {
		p.row = first + i
		start := int32(b.start[i])
		fig, err := p.common(start, int32(b.stop[i]), b.spend.Value(i), b.impressions[i], b.clicks[i])
		if err != nil {
			return err
		}
		if err := keys.check(p, b, i, start); err != nil {
			return err
		}
		if err := kr.add(p, b, i, start, fig); err != nil {
			return err
		}
	}
	return nil
}

// kindKeys refuses a row whose key was already seen in the file, and an empty id where the key
// is one id.
type kindKeys struct {
	spec records.KindSpec
	seen map[dupKey]struct{}
}

func (k *kindKeys) check(p rowParser, b *kindBatch, i int, start int32) error {
	key := dupKey{monday: start}
	for j, col := range b.key {
		key.key[j] = col.Value(i)
	}
	switch {
	case len(b.key) == 0:
		if _, dup := k.seen[key]; dup {
			return p.fail("date_start", dayText(start), ErrDuplicate)
		}
	case len(b.key) == 1 && key.key[0] == "":
		return p.fail(k.spec.Key[0], "", ErrEmpty)
	default:
		if _, dup := k.seen[key]; dup {
			return p.fail(k.spec.Key[0], strings.Join(key.key[:len(b.key)], "/"), ErrDuplicate)
		}
	}
	k.seen[key] = struct{}{}
	return nil
}

// weekRows collects one kind's rows with their weeks' Mondays.
type weekRows[T any] struct {
	mondays []int32
	rows    []T
}

func newWeekRows[T any](n int) weekRows[T] {
	return weekRows[T]{mondays: make([]int32, 0, n), rows: make([]T, 0, n)}
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
	n                    int
	start, stop          []arrow.Date32
	spend                *array.String
	impressions, clicks  []int64
	reach                []int64
	frequency            *array.String
	str                  []*array.String // the kind's other text columns, in descriptor order
	key                  []*array.String // the key columns
	actions              *array.List
	actionType, actValue *array.String
}

func newKindBatch(file string, rec arrow.RecordBatch, spec records.KindSpec) (*kindBatch, error) {
	b := kindBatch{n: int(rec.NumRows())}
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
	for _, name := range spec.Columns() {
		switch name {
		case "reach":
			b.reach = ints(name)
		case "frequency":
			b.frequency = str(name)
		case "actions":
			if b.actions, err = column[*array.List](file, rec, name); err == nil {
				b.actionType, b.actValue, err = actionColumns(file, b.actions)
			}
		default:
			col := str(name)
			b.str = append(b.str, col)
			if slices.Contains(spec.Key, name) {
				b.key = append(b.key, col)
			}
		}
		if err != nil {
			return nil, err
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

// newAccountRow checks and builds an account row.
func newAccountRow(p rowParser, b *kindBatch, i int, fig figures) (accountRow, error) {
	reach := b.reach[i]
	if err := p.count("reach", reach); err != nil {
		return accountRow{}, err
	}
	a := accountRow{figures: fig, stop: int32(b.stop[i]), reach: reach}
	if s := b.frequency.Value(i); s != "" {
		f, err := p.decimal("frequency", s)
		if err != nil {
			return accountRow{}, err
		}
		a.frequency = &f
	}
	return a, nil
}

// newCampaignRow checks and builds a campaign row (its key already checked).
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
