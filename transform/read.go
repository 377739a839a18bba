package transform

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/metapipe/metapipe/internal/records"
)

// readParquet streams the rows of a staged Parquet file of T to fn, with each row's 0-based
// index. Errors opening or decoding the file come back as an *InputError naming the client and
// the file; errors from fn are returned as they are.
func readParquet[T any](clientID, path string, fn func(row int, r *T) error) error {
	var fnErr error
	err := records.ScanParquet(path, func(row int, r *T) error {
		fnErr = fn(row, r)
		return fnErr
	})
	if err == nil || (fnErr != nil && err == fnErr) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w: %w", ErrMissingInput, err)
	}
	return &InputError{ClientID: clientID, File: filepath.Base(path), Row: -1, Err: err}
}
