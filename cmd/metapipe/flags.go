package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
)

// The allowed ranges of the numeric flags come from the libraries' bounds (pipeline.MaxWeeks,
// extract.MaxPageSize, …), their values from the libraries' Default constants. A value outside
// is a usage error (exit 2) that names the flag and the range; none of them has a "0 means the
// default" reading.
const maxAccounts = 1000 // simulated ad accounts

// between is a flag validator: the value must lie in [lo, hi]. urfave/cli names the flag:
// `invalid value "0" for flag -concurrency: allowed range 1 to 1000`.
func between[T int | int64 | time.Duration](lo, hi T) func(T) error {
	return func(v T) error {
		if v < lo || v > hi {
			return fmt.Errorf("allowed range %v to %v", lo, hi)
		}
		return nil
	}
}

// atLeast is a flag validator: the value must be lo or more.
func atLeast[T int64](lo T) func(T) error {
	return func(v T) error {
		if v < lo {
			return fmt.Errorf("allowed range %v or more", lo)
		}
		return nil
	}
}

// oneOf is a flag validator: the value must be one of the words.
func oneOf(words ...string) func(string) error {
	return func(v string) error {
		for _, w := range words {
			if v == w {
				return nil
			}
		}
		return fmt.Errorf("allowed values %q", words)
	}
}

func jsonMode(*cli.Command) bool { return globals.logFormat == "json" }

func logger(cmd *cli.Command) *slog.Logger { return loggerTo(cmd, os.Stderr) }

func loggerTo(cmd *cli.Command, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if globals.verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if jsonMode(cmd) {
		return slog.New(jsonHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// jsonHandler is the JSON log handler of --log-format json: durations are in seconds, as
// everywhere else in metapipe's output (a number, its key ending in _seconds: "for": 15s is
// "for_seconds": 15), not slog's nanoseconds.
func jsonHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	o := slog.HandlerOptions{}
	if opts != nil {
		o = *opts
	}
	o.ReplaceAttr = secondsForDurations
	return slog.NewJSONHandler(w, &o)
}

// secondsForDurations turns a duration attribute into seconds under a key ending in _seconds.
func secondsForDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "seconds") {
		key += "_seconds"
	}
	return slog.Float64(key, a.Value.Duration().Seconds())
}
