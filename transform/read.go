package transform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// readBatch is how many rows are decoded at a time.
const readBatch = 512

// readParquet streams the rows of a Parquet file of T to fn, with each row's 0-based index.
// Errors opening or decoding the file come back wrapped in an *InputError naming client and file.
func readParquet[T any](clientID, path string, fn func(row int, r *T) error) (err error) {
	file := filepath.Base(path)
	fail := func(err error) error {
		return &InputError{ClientID: clientID, File: file, Row: -1, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("%w: %v", ErrMissingInput, err))
		}
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return fail(fmt.Errorf("open parquet: %w", err))
	}
	// parquet-go panics on a schema it cannot convert to T; report it as this file's error.
	defer func() {
		if p := recover(); p != nil {
			err = fail(fmt.Errorf("read parquet: %v", p))
		}
	}()
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	buf := make([]T, readBatch)
	row := 0
	for {
		n, rerr := r.Read(buf)
		for i := range n {
			if err := fn(row, &buf[i]); err != nil {
				return err
			}
			row++
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fail(fmt.Errorf("read parquet row %d: %w", row, rerr))
		}
		if n == 0 {
			return fail(fmt.Errorf("read parquet row %d: no progress", row))
		}
	}
}
