package pipeline

import "errors"

// The errors the command maps to exit codes (DESIGN.md): usage 2, cannot start 3, partial 1.
var (
	// ErrUsage is a usage or configuration error: bad flags, unknown client, missing token.
	ErrUsage = errors.New("usage")
	// ErrCannotStart means nothing was done: database unreachable, clients locked by another run.
	ErrCannotStart = errors.New("cannot start")
	// ErrSomeFailed means some clients failed; the others were loaded.
	ErrSomeFailed = errors.New("some clients failed")
)
