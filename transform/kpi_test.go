package transform

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// kpi.parquet in any order: each client gets exactly its days, sorted, and a client not asked
// for is never read; a duplicate day is refused.
func TestKPIFileRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kpi.parquet")
	writeRows(t, path, []records.KPIRow{
		{ClientID: "b", Date: 12, Reservations: ip(2)},
		{ClientID: "a", Date: 11, Reservations: ip(1), ReservationValue: sp("1.50")},
		{ClientID: "a", Date: 10, Reservations: ip(4)},
		{ClientID: "x", Date: 10, ReservationValue: sp("not read")},
		{ClientID: "b", Date: 10},
		{ClientID: "a", Date: 13, Reservations: ip(8)},
	})
	k, err := openKPI(path, map[string]bool{"a": true, "b": true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if got := len(k.runs["a"]); got != 2 {
		t.Errorf("client a in %d runs, want 2", got)
	}
	a, err := k.days("a")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || a[0].date != 10 || a[1].date != 11 || a[2].date != 13 || !a[0].has[6] || a[0].counts[6] != 4 || a[1].value.String() != "1.5" {
		t.Errorf("client a: %+v", a)
	}
	b, err := k.days("b")
	if err != nil || len(b) != 2 || b[0].date != 10 || b[1].date != 12 {
		t.Errorf("client b: %+v %v", b, err)
	}
	if s := sumKPI(a, 10, 12); s.days != 2 || *s.counts[6] != 5 {
		t.Errorf("sum a over 10..12: %+v", s)
	}

	dup := filepath.Join(t.TempDir(), "kpi.parquet")
	writeRows(t, dup, []records.KPIRow{{ClientID: "a", Date: 10}, {ClientID: "b", Date: 10}, {ClientID: "a", Date: 10}})
	k2, err := openKPI(dup, map[string]bool{"a": true})
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if _, err := k2.days("a"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate day: %v", err)
	}
}
