package transform

import "github.com/metapipe/metapipe/internal/records"

// kindRows is how the transform reads one report kind and what its rows feed; what they become
// in a summary is buildWeek's and the JSON builders' (build.go, json.go). Every kind of
// [records.KindSpecs] has an entry: TestKindTableIsComplete.
type kindRows struct {
	// reader returns an empty reader for a file of n rows.
	reader func(n int) kindReader
	// count is the number of the kind's rows in a week (for the warning on weeks without an
	// account row).
	count func(w *week) int
	// sum, when set, is the sum of the week's figures of the kind, checked against the
	// account row's (campaigns_vs_account_spend, …).
	sum func(w *week) figures
}

// kindReader keeps the rows of one report file and hands them to their weeks.
type kindReader interface {
	// add checks and keeps row i of b (its week, figures and key already checked).
	add(p rowParser, b *kindBatch, i int, monday int32, fig figures) error
	// toWeeks hands each week its rows, in file order.
	toWeeks(c *clientData)
}

var kindTable = map[records.Kind]kindRows{
	records.KindAccount: {
		reader: rowsOf(newAccountRow, func(w *week, rows []accountRow) { w.account = &rows[0] }), // one a week: its key is the week
		count:  func(w *week) int { return 0 },                                                   // the account row is what the others are checked against
	},
	records.KindCampaigns: {
		reader: rowsOf(newCampaignRow, func(w *week, rows []campaignRow) { w.campaigns = rows }),
		count:  func(w *week) int { return len(w.campaigns) },
		sum:    func(w *week) figures { return sumOf(w.campaigns, func(r campaignRow) figures { return r.figures }) },
	},
	records.KindPlacements: {
		reader: rowsOf(newBreakdownRow, func(w *week, rows []breakdownRow) { w.placements = rows }),
		count:  func(w *week) int { return len(w.placements) },
		sum:    func(w *week) figures { return sumOf(w.placements, func(r breakdownRow) figures { return r.figures }) },
	},
	records.KindDemographics: {
		reader: rowsOf(newBreakdownRow, func(w *week, rows []breakdownRow) { w.demographics = rows }),
		count:  func(w *week) int { return len(w.demographics) },
		sum: func(w *week) figures {
			return sumOf(w.demographics, func(r breakdownRow) figures { return r.figures })
		},
	},
	records.KindAdRelevance: {
		reader: rowsOf(newAdRow, func(w *week, rows []adRow) { w.ads = rows }),
		count:  func(w *week) int { return len(w.ads) },
	},
}

// rowsOf is a reader building rows of type T with build and handing them to their weeks with set.
func rowsOf[T any](build func(p rowParser, b *kindBatch, i int, fig figures) (T, error), set func(*week, []T)) func(n int) kindReader {
	return func(n int) kindReader { return &rowsReader[T]{weekRows: newWeekRows[T](n), build: build, set: set} }
}

type rowsReader[T any] struct {
	weekRows[T]
	build func(p rowParser, b *kindBatch, i int, fig figures) (T, error)
	set   func(*week, []T)
}

func (r *rowsReader[T]) add(p rowParser, b *kindBatch, i int, monday int32, fig figures) error {
	row, err := r.build(p, b, i, fig)
	if err != nil {
		return err
	}
	r.weekRows.add(monday, row)
	return nil
}

func (r *rowsReader[T]) toWeeks(c *clientData) { r.weekRows.toWeeks(c, r.set) }

// newBreakdownRow builds a row of a kind whose only text columns are its breakdowns.
func newBreakdownRow(_ rowParser, b *kindBatch, i int, fig figures) (breakdownRow, error) {
	r := breakdownRow{figures: fig}
	for k, col := range b.str {
		r.values[k] = col.Value(i)
	}
	return r, nil
}

func newAdRow(_ rowParser, b *kindBatch, i int, fig figures) (adRow, error) {
	return adRow{figures: fig, id: b.str[0].Value(i), name: b.str[1].Value(i), campaignID: b.str[2].Value(i),
		quality: b.str[3].Value(i), engagement: b.str[4].Value(i), conversion: b.str[5].Value(i)}, nil
}
