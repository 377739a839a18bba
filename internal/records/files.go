package records

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Staged files and folders are readable by their owner only: they hold client data.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// Row-group bounds of the staged Parquet files: a reader holds at most one row group.
const (
	// RowGroupRows bounds raw Insights rows (a few hundred bytes each).
	RowGroupRows = 10_000
	// KPIRowGroupRows bounds kpi.parquet's rows (about 100 bytes each). The transform reads one
	// client's days at a time, in the plan's order (by name), not the file's (by client id): a
	// small row group is what such a read decodes, about three client-years of days.
	KPIRowGroupRows = 1_000
	// SummaryRowGroupRows bounds summaries, whose JSON columns carry 5-50 KB per row, so a row
	// group stays in the tens of megabytes.
	SummaryRowGroupRows = 1_000
)

// tempMarker is in the name of every file being written; such a file is never read.
const tempMarker = ".tmp-"

// AtomicFile is a file being written under a temporary name (".<name>.tmp-<random>") in the
// folder of its final path, owner-only. Commit syncs it, renames it into place and syncs the
// folder; Abort removes it. Until Commit returns nil, nothing exists at the final path.
type AtomicFile struct {
	*os.File
	path string
	done bool
}

// CreateAtomic starts writing path, creating its folder (DirMode) if needed.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &AtomicFile{File: f, path: path}, nil
}

// Commit makes the file whole at its final path: sync, close, rename, then sync the folder so
// that the rename survives a crash.
func (a *AtomicFile) Commit() error {
	if err := a.Sync(); err != nil {
		a.Abort()
		return err
	}
	if err := a.Close(); err != nil {
		a.Abort()
		return err
	}
	if err := os.Rename(a.Name(), a.path); err != nil {
		a.Abort()
		return err
	}
	a.done = true
	if d, err := os.Open(filepath.Dir(a.path)); err == nil {
		_ = d.Sync() // not every platform can sync a folder
		d.Close()
	}
	return nil
}

// Abort removes the temporary file; after a successful Commit it does nothing.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.Close()
	_ = os.Remove(a.Name())
}

// WriteAtomic creates path through an [AtomicFile], filled by fill; on any error nothing is
// left behind.
func WriteAtomic(path string, fill func(w io.Writer) error) error {
	f, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	return WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// ReadFileIfExists returns the file's bytes, or nil without an error when it does not exist.
func ReadFileIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// RemoveTempFiles deletes the temporary files a killed process left below dir. Call it only
// while no other process writes there (a run holds its clients' locks).
func RemoveTempFiles(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), tempMarker) {
			_ = os.Remove(p)
		}
		return nil
	})
}

// ParquetWriter streams rows of T into a Parquet file written atomically: zstd-compressed, in
// row groups of at most the given number of rows.
type ParquetWriter[T any] struct {
	f *AtomicFile
	w *parquet.GenericWriter[T]
}

// CreateParquet starts a Parquet file of T at path with row groups of at most rowGroupRows.
func CreateParquet[T any](path string, rowGroupRows int) (*ParquetWriter[T], error) {
	f, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(stagedCodec),
		parquet.MaxRowsPerRowGroup(int64(rowGroupRows)), parquet.CreatedBy("metapipe", "", ""))
	return &ParquetWriter[T]{f: f, w: w}, nil
}

// Write appends rows.
func (p *ParquetWriter[T]) Write(rows []T) error {
	if _, err := p.w.Write(rows); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(p.f.path), err)
	}
	return nil
}

// Commit finishes the file and renames it into place.
func (p *ParquetWriter[T]) Commit() error {
	if err := p.w.Close(); err != nil {
		p.f.Abort()
		return fmt.Errorf("close %s: %w", filepath.Base(p.f.path), err)
	}
	return p.f.Commit()
}

// Abort drops the file; after a successful Commit it does nothing.
func (p *ParquetWriter[T]) Abort() { p.f.Abort() }

// WriteParquet writes rows to path atomically, in row groups of at most rowGroupRows.
func WriteParquet[T any](path string, rows []T, rowGroupRows int) error {
	w, err := CreateParquet[T](path, rowGroupRows)
	if err != nil {
		return err
	}
	for i := 0; i < len(rows); i += rowGroupRows {
		if err := w.Write(rows[i:min(i+rowGroupRows, len(rows))]); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Commit()
}

// ParquetReader reads rows of T from a staged file, a batch at a time.
type ParquetReader[T any] struct {
	f    *os.File
	file *parquet.File
	r    *parquet.GenericReader[T]
}

// OpenParquet opens a Parquet file of T. A file whose schema cannot be read as T is an error
// (parquet-go panics on it; the panic is turned into the error).
func OpenParquet[T any](path string) (_ *ParquetReader[T], err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: not a file of this schema: %v", filepath.Base(path), p)
		}
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	return &ParquetReader[T]{f: f, file: pf, r: parquet.NewGenericReader[T](pf)}, nil
}

// NumRows is the number of rows in the file.
func (p *ParquetReader[T]) NumRows() int64 { return p.file.NumRows() }

// Read fills buf with the next rows; it returns io.EOF (possibly with n > 0) at the end.
func (p *ParquetReader[T]) Read(buf []T) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read parquet: %v", r)
		}
	}()
	return p.r.Read(buf)
}

// SeekToRow moves to the 0-based row.
func (p *ParquetReader[T]) SeekToRow(row int64) error { return p.r.SeekToRow(row) }

// Close releases the file.
func (p *ParquetReader[T]) Close() error {
	p.r.Close()
	return p.f.Close()
}

// ScanParquet streams every row of a Parquet file of T to fn with its 0-based index, stopping
// at the first error fn returns (returned as is). Errors opening or decoding the file are
// returned wrapped with the row they occurred at.
func ScanParquet[T any](path string, fn func(row int, r *T) error) error {
	pr, err := OpenParquet[T](path)
	if err != nil {
		return err
	}
	defer pr.Close()
	buf := make([]T, 512)
	row := 0
	for {
		n, rerr := pr.Read(buf)
		for i := range n {
			if err := fn(row, &buf[i]); err != nil {
				return err
			}
			row++
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read row %d: %w", row, rerr)
		}
		if n == 0 {
			return fmt.Errorf("read row %d: no progress", row)
		}
	}
}

// ReadParquet reads every row of a Parquet file of T.
func ReadParquet[T any](path string) ([]T, error) {
	var out []T
	err := ScanParquet(path, func(_ int, r *T) error { out = append(out, *r); return nil })
	return out, err
}
