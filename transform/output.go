package transform

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// RowGroupRows bounds the rows buffered per Parquet row group of summaries.parquet (rows carry
// JSON of 5-50 KB, so a row group stays in the tens of megabytes).
const RowGroupRows = 1000

// output is summaries.parquet being written under a temporary name in the same directory.
type output struct {
	path, tmp string
	f         *os.File
	w         *parquet.GenericWriter[Summary]
	done      bool
}

func createOutput(path string) (*output, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil { // staged client data: owner only
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	w := parquet.NewGenericWriter[Summary](f,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.CreatedBy("metapipe", "transform", ""),
	)
	return &output{path: path, tmp: f.Name(), f: f, w: w}, nil
}

func (o *output) write(rows []Summary) error {
	if _, err := o.w.Write(rows); err != nil {
		return err
	}
	return nil
}

// commit finishes the file, syncs it and renames it into place.
func (o *output) commit() error {
	if err := o.w.Close(); err != nil {
		return fmt.Errorf("close summaries: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("sync summaries: %w", err)
	}
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("close summaries: %w", err)
	}
	if err := os.Chmod(o.tmp, 0o600); err != nil {
		return fmt.Errorf("chmod summaries: %w", err)
	}
	if err := os.Rename(o.tmp, o.path); err != nil {
		return fmt.Errorf("rename summaries: %w", err)
	}
	o.done = true
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows it
		d.Close()
	}
	return nil
}

// abort removes the temporary file unless commit succeeded.
func (o *output) abort() {
	if o.done {
		return
	}
	o.f.Close()
	_ = os.Remove(o.tmp) // best effort: a leftover temporary file is harmless
}

// ReadSummaries streams the rows of a summaries.parquet file to fn, in file order, stopping at
// the first error fn returns.
func ReadSummaries(path string, fn func(Summary) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	r := parquet.NewGenericReader[Summary](pf)
	defer r.Close()
	buf := make([]Summary, 128)
	for {
		n, rerr := r.Read(buf)
		for i := range n {
			if err := fn(buf[i]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read %s: %w", path, rerr)
		}
	}
}
