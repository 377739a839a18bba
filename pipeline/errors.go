package pipeline

import "errors"

// The errors the command maps to exit codes (docs/DESIGN.md, "Exit codes"): usage 2, cannot
// start 3, some clients failed 1, interrupted 130. Test with errors.Is; the message after them
// says why.
var (
	// ErrUsage is a usage or configuration error: bad flags, unknown client, missing token,
	// an unreadable run directory.
	ErrUsage = errors.New("usage")
	// ErrCannotStart means nothing was done: database unreachable, schema missing, clients
	// locked by another run.
	ErrCannotStart = errors.New("cannot start")
	// ErrSomeFailed means some clients failed; the others were loaded.
	ErrSomeFailed = errors.New("some clients failed")
	// ErrInterrupted means the run was cut short (SIGINT, SIGTERM: its context ended);
	// nothing is half-loaded, and the next run with the same as-of and clients resumes it.
	ErrInterrupted = errors.New("interrupted")
)
