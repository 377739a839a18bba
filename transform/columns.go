package transform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/metapipe/metapipe/internal/records"
)

// columnFile is a staged Parquet file read column-wise with Apache Arrow (arrow-go's pqarrow):
// only the columns asked for are decoded, into typed Arrow arrays (Date32, Int64, String,
// List<Struct>) that the transform loops over by index, instead of reconstructing every row as
// a Go struct. Reads go a record batch at a time, at most [records.RowGroupRows] rows, so a
// reader holds about one row group.
//
// Arrow's memory is the Go allocator's (memory.DefaultAllocator): nothing is pooled or reused,
// and a string taken from a batch (array.String.Value aliases the batch's buffer) stays valid
// for as long as the batch is retained.
type columnFile struct {
	name string // base name, for errors
	f    *os.File
	pf   *file.Reader
	fr   *pqarrow.FileReader
}

// openColumnFile opens a staged file. A missing file is ErrMissingInput; any other failure is
// returned as is, for the caller to name the client.
func openColumnFile(path string) (cf *columnFile, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrMissingInput, err)
		}
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("open %s: %v", filepath.Base(path), p)
		}
		if err != nil {
			f.Close()
		}
	}()
	pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(memory.DefaultAllocator)))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: records.RowGroupRows, PreAllocBinaryData: true}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	return &columnFile{name: filepath.Base(path), f: f, pf: pf, fr: fr}, nil
}

func (c *columnFile) Close() error { return c.pf.Close() } // closes f too

// NumRows is the number of rows in the file.
func (c *columnFile) NumRows() int64 { return c.pf.NumRows() }

// leaves returns the leaf column indexes of the named columns ("spend",
// "actions.list.element.value").
func (c *columnFile) leaves(names []string) ([]int, error) {
	sc := c.pf.MetaData().Schema
	idx := make([]int, len(names))
	for i, n := range names {
		if idx[i] = sc.ColumnIndexByName(n); idx[i] < 0 {
			return nil, fmt.Errorf("%s: not a file of this schema: no column %s", c.name, n)
		}
	}
	return idx, nil
}

// batches reads the named leaf columns a record batch at a time and hands each batch to fn with
// the index of its first row. The batch is released after fn returns; fn retains it to keep it.
// A panic in the Parquet or Arrow code (a corrupt file) becomes an error.
func (c *columnFile) batches(names []string, fn func(rec arrow.RecordBatch, first int) error) (err error) {
	if c.pf.NumRows() == 0 {
		return nil
	}
	idx, err := c.leaves(names)
	if err != nil {
		return err
	}
	first := 0
	var fnErr error
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s near row %d: %v", c.name, first, p)
		}
	}()
	rr, err := c.fr.GetRecordReader(context.Background(), idx, nil)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.name, err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		if fnErr = fn(rec, first); fnErr != nil {
			return fnErr
		}
		first += int(rec.NumRows())
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("read %s near row %d: %w", c.name, first, err)
	}
	if int64(first) != c.pf.NumRows() {
		return fmt.Errorf("read %s: %d of %d rows", c.name, first, c.pf.NumRows())
	}
	return nil
}

// column returns the named top-level column of a batch as the array type T, or an error naming
// the file, the column and the type found.
func column[T arrow.Array](file string, rec arrow.RecordBatch, name string) (T, error) {
	var zero T
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return zero, fmt.Errorf("%s: not a file of this schema: no column %s", file, name)
	}
	a, ok := rec.Column(idx[0]).(T)
	if !ok {
		return zero, fmt.Errorf("%s: not a file of this schema: column %s is %s", file, name, rec.Column(idx[0]).DataType())
	}
	return a, nil
}
