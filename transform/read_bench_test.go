package transform

import (
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/parquet-go/parquet-go"

	"github.com/metapipe/metapipe/internal/records"
)

// BenchmarkReadColumns reads, from every report file of BenchmarkTransform's 200 client-years,
// the five columns every kind has (date_start, date_stop, spend, impressions, clicks) and
// nothing else of the transform, three ways side by side:
//
//   - rows: parquet-go's GenericReader reconstructing each row as a records.InsightRow (every
//     column), as the transform read before;
//   - arrow: arrow-go's pqarrow record batches of the five columns, as the transform reads now;
//   - pages: parquet-go's own column pages of the five columns (Page.Data: typed values), which
//     the transform does not use: the lists (actions) and nulls (kpi.parquet) would be
//     reassembled by hand from repetition and definition levels, which Arrow does for us.
//
// It shows where the time of reading goes on files this small (53 to 1,060 rows): opening a file
// and setting up its column readers, not decoding values.
func BenchmarkReadColumns(b *testing.B) {
	in := benchInput(b, 200, 53)
	common := []string{"date_start", "date_stop", "spend", "impressions", "clicks"}
	var paths []string
	for _, c := range in.Clients {
		for _, k := range records.Kinds {
			paths = append(paths, c.Dir.Report(k))
		}
	}
	for _, reader := range []struct {
		name string
		read func(path string) (int64, error)
	}{
		{"rows", func(path string) (n int64, err error) {
			err = records.ScanParquet(path, func(_ int, r *records.InsightRow) error { n += r.Impressions; return nil })
			return n, err
		}},
		{"arrow", func(path string) (n int64, err error) {
			cf, err := openColumnFile(path)
			if err != nil {
				return 0, err
			}
			defer cf.Close()
			err = cf.batches(common, func(rec arrow.RecordBatch, _ int) error {
				imp, err := column[*array.Int64](cf.name, rec, "impressions")
				if err != nil {
					return err
				}
				for _, v := range imp.Int64Values() {
					n += v
				}
				return nil
			})
			return n, err
		}},
		{"pages", func(path string) (n int64, err error) {
			f, err := os.Open(path)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return 0, err
			}
			pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipBloomFilters(true))
			if err != nil {
				return 0, err
			}
			var leaves []int
			for _, name := range common {
				col, _ := pf.Schema().Lookup(name)
				leaves = append(leaves, col.ColumnIndex)
			}
			for _, rg := range pf.RowGroups() {
				for _, leaf := range leaves {
					pages := rg.ColumnChunks()[leaf].Pages()
					for {
						p, err := pages.ReadPage()
						if err != nil {
							break
						}
						if v := p.Data(); leaf == leaves[3] {
							for _, x := range v.Int64() {
								n += x
							}
						}
						parquet.Release(p)
					}
					pages.Close()
				}
			}
			return n, nil
		}},
	} {
		b.Run(reader.name, func(b *testing.B) {
			for b.Loop() {
				var sum int64
				for _, p := range paths {
					n, err := reader.read(p)
					if err != nil {
						b.Fatal(err)
					}
					sum += n
				}
				if want := int64(200 * 53 * (80000 + 8*10000 + 8*10000 + 16*5000 + 20*4000)); sum != want {
					b.Fatalf("impressions read: %d, want %d", sum, want)
				}
			}
			b.ReportMetric(float64(200*53*53*b.N)/b.Elapsed().Seconds(), "raw_rows/s")
			b.ReportMetric(float64(len(paths)*b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
