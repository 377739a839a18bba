package records_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/metapipe/metapipe/internal/records"
)

func sp(s string) *string { return &s }
func ip(v int64) *int64   { return &v }

func day(s string) int32 {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return records.DayNumber(t)
}

func fullSummary() records.Summary {
	return records.Summary{
		ClientID: "6f1a2b3c-0000-4000-8000-00000000000a", SummaryDate: day("2024-01-01"),
		TotalSpend: "151.00", TotalImpressions: 30000, TotalClicks: 600, Reach: 20000,
		Frequency: sp("1.3867"), AverageCTR: sp("2.0000"), AverageCPC: sp("0.2517"), AverageCPM: sp("5.0333"),
		ActiveCampaigns: 3, CampaignData: `[{"campaign_id":"1"}]`, MetaTables: `{"placementPerformance":[]}`,
		TotalConversions: ip(14), ClickToCall: ip(7), EmailContacts: ip(0),
		BookingStep1: ip(21), BookingStep2: ip(14), BookingStep3: ip(7), Reservations: ip(7),
		ReservationValue: sp("140.70"), KPIDays: 7, ROAS: sp("0.9318"), CostPerReservation: sp("21.5714"),
		Currency: "CHF", AsOf: day("2024-01-07"),
	}
}

// The hash is part of the stored data: this value must not change unless the encoding
// (hashVersion) does, and it must not change when the column table is reordered for the
// COPY: the encoding follows the hashed columns' order.
// Computed independently of this code from the encoding documented on Summary.Hash.
const fullSummaryHash = "7f5f67187f528a26e750521282f24246bd142ae432871334e1ce62e6f3c1bbd4"

func TestHashStable(t *testing.T) {
	s := fullSummary()
	h := s.Hash()
	if h != s.Hash() {
		t.Fatal("hash differs between calls")
	}
	if h != fullSummaryHash {
		t.Errorf("hash = %s, want %s (the encoding changed: bump hashVersion on purpose)", h, fullSummaryHash)
	}
	s.ContentHash = "anything"
	if s.Hash() != h {
		t.Error("ContentHash itself is hashed")
	}
}

// Every field but ContentHash changes the hash, and NULL, "" and "0" are all distinct.
func TestHashCoversEveryField(t *testing.T) {
	base := fullSummary()
	baseHash := base.Hash()
	seen := map[string]string{baseHash: "base"}
	typ := reflect.TypeFor[records.Summary]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "ContentHash" || f.Name == "AsOf" {
			continue // not content: see TestHashIgnoresAsOf
		}
		var variants []func(reflect.Value)
		switch f.Type.Kind() {
		case reflect.String:
			variants = append(variants, func(v reflect.Value) { v.SetString(v.String() + "x") },
				func(v reflect.Value) { v.SetString("") }, func(v reflect.Value) { v.SetString("0") })
		case reflect.Int32, reflect.Int64:
			variants = append(variants, func(v reflect.Value) { v.SetInt(v.Int() + 1) }, func(v reflect.Value) { v.SetInt(0) })
		case reflect.Pointer:
			variants = append(variants, func(v reflect.Value) { v.SetZero() })
			if f.Type.Elem().Kind() == reflect.String {
				for _, s := range []string{"", "0", "9.9999"} {
					variants = append(variants, func(v reflect.Value) { v.Set(reflect.ValueOf(sp(s))) })
				}
			} else {
				for _, n := range []int64{0, 12345} {
					variants = append(variants, func(v reflect.Value) { v.Set(reflect.ValueOf(ip(n))) })
				}
			}
		default:
			t.Fatalf("field %s: unhandled kind %s", f.Name, f.Type.Kind())
		}
		for k, mutate := range variants {
			s := fullSummary()
			before := reflect.ValueOf(s).Field(i).Interface()
			mutate(reflect.ValueOf(&s).Elem().Field(i))
			if reflect.DeepEqual(before, reflect.ValueOf(s).Field(i).Interface()) {
				continue // the variant is the base value
			}
			h := s.Hash()
			if prev, ok := seen[h]; ok {
				t.Errorf("field %s variant %d: hash collides with %s", f.Name, k, prev)
			}
			seen[h] = f.Name
		}
	}
	// Moving bytes from one field to the next must not collide (length prefixes).
	a, b := fullSummary(), fullSummary()
	a.CampaignData, a.MetaTables = "ab", "c"
	b.CampaignData, b.MetaTables = "a", "bc"
	if a.Hash() == b.Hash() {
		t.Error("field boundary is ambiguous")
	}
}

// A records.Summary survives a Parquet round trip through the output writer: NULL stays NULL, "" stays
// "", dates stay dates.
func TestSummaryParquetRoundTrip(t *testing.T) {
	full := fullSummary()
	full.ContentHash = full.Hash()
	empty := records.Summary{ClientID: "c", SummaryDate: day("1969-12-29"), Frequency: sp(""), TotalConversions: ip(0), CampaignData: "[]", MetaTables: "{}"}
	rows := []records.Summary{full, empty, {ClientID: "d", SummaryDate: day("2100-03-01")}}

	path := filepath.Join(t.TempDir(), "s.parquet")
	if err := records.WriteParquet(path, rows, records.SummaryRowGroupRows); err != nil {
		t.Fatal(err)
	}
	got, err := records.ReadParquet[records.Summary](path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, rows)
	}
	if got[1].Frequency == nil || *got[1].Frequency != "" || got[1].AverageCTR != nil {
		t.Error("nil and empty are confused")
	}

	// The file is zstd-compressed and its date column carries the DATE logical type.
	pf := openParquet(t, path)
	col, _ := pf.Schema().Lookup("summary_date")
	if lt := col.Node.Type().LogicalType(); lt == nil || lt.String() != "DATE" {
		t.Errorf("summary_date logical type = %v, want DATE", lt)
	}
	for _, cc := range pf.Metadata().RowGroups[0].Columns {
		if c := cc.MetaData.Codec.String(); c != "ZSTD" {
			t.Errorf("column %v codec %s, want ZSTD", cc.MetaData.PathInSchema, c)
		}
	}
}

func TestOutputRowGroupsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.parquet")
	out, err := records.CreateParquet[records.Summary](path, records.SummaryRowGroupRows)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]records.Summary, 2*records.SummaryRowGroupRows+5)
	for i := range rows {
		rows[i] = records.Summary{ClientID: "c", SummaryDate: int32(i), CampaignData: "[]", MetaTables: "{}"}
	}
	for i := 0; i < len(rows); i += 100 {
		if err := out.Write(rows[i:min(i+100, len(rows))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Commit(); err != nil {
		t.Fatal(err)
	}
	pf := openParquet(t, path)
	for i, rg := range pf.RowGroups() {
		if rg.NumRows() > records.SummaryRowGroupRows {
			t.Errorf("row group %d has %d rows", i, rg.NumRows())
		}
	}
	if n := pf.NumRows(); n != int64(len(rows)) {
		t.Errorf("rows = %d", n)
	}
}

func openParquet(t *testing.T, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// Long text (the JSON columns) is streamed into the hash rather than copied: the hash still
// equals SHA-256 over the documented encoding built in one buffer.
func TestHashLongText(t *testing.T) {
	s := fullSummary()
	s.CampaignData = "[" + strings.Repeat(`{"campaign_id":"2385","campaign_name":"Été — 夏"},`, 300) + "{}]"
	s.MetaTables = strings.Repeat("x", 255) // just under the streaming threshold
	s.Frequency = sp(strings.Repeat("9", 256))
	b := []byte("metapipe.summary.v2\x00")
	for i := range records.SummaryColumns {
		c := &records.SummaryColumns[i]
		if !c.Hashed {
			continue
		}
		text := func(v string) {
			b = append(b, 'S')
			b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
			b = append(b, v...)
		}
		switch v := c.Value(&s).(type) {
		case string:
			text(v)
		case *string:
			if v == nil {
				b = append(b, 'N')
			} else {
				text(*v)
			}
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 'I'), uint64(v))
		case *int64:
			if v == nil {
				b = append(b, 'N')
			} else {
				b = binary.BigEndian.AppendUint64(append(b, 'I'), uint64(*v))
			}
		}
	}
	sum := sha256.Sum256(b)
	if want := hex.EncodeToString(sum[:]); s.Hash() != want {
		t.Errorf("hash = %s, want %s", s.Hash(), want)
	}
}
