package extract

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// RowGroupRows bounds the rows of one Parquet row group, so readers never hold more.
const RowGroupRows = 10_000

// Staged files and folders are readable by their owner only: they hold client data.
const (
	FileMode = 0o600
	DirMode  = 0o700
)

// WriteFileAtomic writes data under a temporary name in the same folder and renames it, so a
// file that exists is whole.
func WriteFileAtomic(path string, data []byte) error {
	return WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// WriteAtomic creates path through a temporary file in the same folder, synced and renamed
// into place only when fill succeeded.
func WriteAtomic(path string, fill func(w io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), DirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(FileMode); err != nil {
		return err
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func readFileIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// WriteParquet writes rows to path atomically, zstd-compressed, in bounded row groups.
func WriteParquet[T any](path string, rows []T) error {
	return WriteAtomic(path, func(w io.Writer) error {
		pw := parquet.NewGenericWriter[T](w, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(RowGroupRows))
		for i := 0; i < len(rows); i += RowGroupRows {
			if _, err := pw.Write(rows[i:min(i+RowGroupRows, len(rows))]); err != nil {
				return fmt.Errorf("write %s: %w", filepath.Base(path), err)
			}
		}
		return pw.Close()
	})
}

// ReadParquet reads every row of a file written by WriteParquet.
func ReadParquet[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	out := make([]T, 0, pf.NumRows())
	buf := make([]T, 512)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
}
