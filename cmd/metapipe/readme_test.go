package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"
)

// The README's table of run's flags says what `metapipe run --help` says: each row's default is
// the flag's (the libraries' Default constants), and each numeric range "lo-hi" is what the
// flag's validator accepts, no more (lo and hi pass, just outside fails).
func TestREADMEFlagTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var run *cli.Command
	for _, c := range newApp().Commands {
		if c.Name == "run" {
			run = c
		}
	}
	flags := map[string]cli.Flag{}
	for _, f := range run.Flags {
		flags[f.Names()[0]] = f
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)[^`]*` \\|([^|]*)\\|([^|]*)\\|")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	checked := 0
	for _, m := range rows {
		name, def, allowed := m[1], strings.TrimSpace(m[2]), strings.TrimSpace(m[3])
		f, ok := flags[name]
		if !ok {
			continue // a row of another table
		}
		checked++
		if got := defaultOf(f); def != "" && !sameValue(got, def) {
			t.Errorf("--%s: the README's default is %q, the flag's %q", name, def, got)
		}
		lo, hi, ok := strings.Cut(strings.TrimPrefix(allowed, "auto, "), "-")
		hi, _, _ = strings.Cut(hi, " ") // "1-160 (Meta serves 37 months back)"
		if !ok || strings.Contains(lo, "`") {
			continue
		}
		for _, c := range rangeCases(f, lo, hi) {
			if err := c.check(); (err == nil) != c.ok {
				t.Errorf("--%s %s: validator error %v, README says %s", name, c.value, err, allowed)
			}
		}
	}
	if checked != 16 {
		t.Errorf("checked %d rows of the README against run's flags, want the 16 of its table", checked)
	}
}

// defaultOf is the flag's default as --help prints it ("" for none, "off" for a bool).
func defaultOf(f cli.Flag) string {
	switch f := f.(type) {
	case *cli.BoolFlag:
		if f.Value {
			return "on"
		}
		return "off"
	case *cli.IntFlag:
		return strconv.Itoa(f.Value)
	case *cli.DurationFlag:
		return f.Value.String()
	case *cli.StringFlag:
		return f.Value
	}
	return ""
}

// sameValue compares two defaults, durations by their length ("2m" is "2m0s").
func sameValue(flag, readme string) bool {
	if a, err := time.ParseDuration(flag); err == nil {
		b, err := time.ParseDuration(readme)
		return err == nil && a == b
	}
	if _, err := strconv.Atoi(flag); err == nil || flag == "auto" || flag == "off" {
		return flag == readme
	}
	return true // a text default ("every active client") the flag has no value for
}

type rangeCase struct {
	value string
	ok    bool
	check func() error
}

// edges are lo and hi (accepted) and below and above (refused), checked by validate.
func edges[T any](validate func(T) error, lo, hi, below, above T) []rangeCase {
	var out []rangeCase
	for i, v := range []T{lo, hi, below, above} {
		out = append(out, rangeCase{fmt.Sprint(v), i < 2, func() error { return validate(v) }})
	}
	return out
}

// rangeCases are lo and hi (accepted) and just outside them (refused), for the flag's type.
func rangeCases(f cli.Flag, lo, hi string) []rangeCase {
	switch f := f.(type) {
	case *cli.IntFlag:
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil {
			return edges(f.Validator, l, h, l-1, h+1)
		}
	case *cli.StringFlag: // --concurrency auto|N
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil {
			return append(edges(f.Validator, lo, hi, strconv.Itoa(l-1), strconv.Itoa(h+1)), rangeCase{"auto", true, func() error { return f.Validator("auto") }})
		}
	case *cli.DurationFlag:
		l, err1 := time.ParseDuration(lo)
		h, err2 := time.ParseDuration(hi)
		if err1 == nil && err2 == nil {
			return edges(f.Validator, l, h, l-time.Millisecond, h+time.Millisecond)
		}
	}
	return nil
}
