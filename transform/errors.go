package transform

import (
	"errors"
	"fmt"
)

// Reasons carried by an [*InputError]; test with errors.Is.
var (
	ErrNotDecimal   = errors.New("not a decimal")
	ErrPrecision    = errors.New("more than 19 decimal places")
	ErrNegative     = errors.New("negative")
	ErrEmpty        = errors.New("empty")
	ErrNotMonday    = errors.New("not a Monday")
	ErrDateRange    = errors.New("outside the week of date_start")
	ErrDuplicate    = errors.New("duplicate in the same week")
	ErrMissingInput = errors.New("missing input")
)

// InputError is malformed or missing input: it names the client (empty for a whole-run file),
// the file, the row (0-based row index in the file, -1 when the whole file is at fault), the
// field and its value. Err is one of the Err* reasons above or the underlying I/O or Parquet
// error.
type InputError struct {
	ClientID string
	File     string // base name: "campaigns.parquet", "kpi.parquet"
	Row      int
	Field    string
	Value    string
	Err      error
}

func (e *InputError) Error() string {
	msg := ""
	if e.ClientID != "" {
		msg = "client " + e.ClientID + ": "
	}
	msg += e.File
	if e.Row >= 0 {
		msg += fmt.Sprintf(" row %d", e.Row)
	}
	if e.Field != "" {
		msg += fmt.Sprintf(": %s %q", e.Field, e.Value)
	}
	return msg + ": " + e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }
