package transform

import (
	"encoding/json"
	"testing"

	"github.com/quagmt/udecimal"
)

// fixed rounds half away from zero (udecimal's RoundHAZ); pin it, negatives included, because
// money and frequency rely on it.
func TestDecimalRoundHalfAwayFromZero(t *testing.T) {
	tests := []struct {
		in     string
		places uint8
		want   string
	}{
		{"0.00005", 4, "0.0001"},
		{"-0.00005", 4, "-0.0001"},
		{"0.00004999", 4, "0.0000"},
		{"1.38665", 4, "1.3867"}, // banker's rounding would give 1.3866
		{"1.38675", 4, "1.3868"},
		{"-1.38665", 4, "-1.3867"},
		{"2.345", 2, "2.35"},
		{"-2.345", 2, "-2.35"},
		{"2.355", 2, "2.36"},
		{"12.3", 2, "12.30"},
		{"0.005", 2, "0.01"},
		{"-0.005", 2, "-0.01"},
		{"-0.004", 2, "0.00"},
	}
	for _, tt := range tests {
		got := fixed(udecimal.MustParse(tt.in), tt.places)
		if got != tt.want {
			t.Errorf("%s to %d places = %s, want %s", tt.in, tt.places, got, tt.want)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		num, den string
		want     *string
	}{
		{"1", "0", nil},
		{"0", "0", nil},
		{"0", "5", sp("0.0000")},
		{"1", "20000", sp("0.0001")},   // 0.00005 exactly
		{"-1", "20000", sp("-0.0001")}, // -0.00005 exactly
		{"1", "32", sp("0.0313")},      // 0.03125
		{"1", "-32", sp("-0.0313")},    // -0.03125
		{"1", "3", sp("0.3333")},       //
		{"2", "3", sp("0.6667")},       //
		{"123456789.99", "1", sp("123456789.9900")},
		// A quotient whose 5th decimal is 4 followed by many 9s must not round up: an inexact
		// division to 16 digits then rounding would (0.000049999999999999995 → 0.00005 → 0.0001).
		{"49999999999999995", "1000000000000000000000", sp("0.0000")},
	}
	for _, tt := range tests {
		got := ratio(udecimal.MustParse(tt.num), udecimal.MustParse(tt.den))
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("ratio(%s, %s) = %v, want %v", tt.num, tt.den, deref(got), deref(tt.want))
		}
	}
	if got := deref(ctrOf(1, 2000000)); got != "0.0001" { // 100/2000000 = 0.00005
		t.Errorf("ctr = %s", got)
	}
	if got := deref(cpmOf(udecimal.MustParse("0.70"), 2000000)); got != "0.0004" { // 0.00035
		t.Errorf("cpm = %s", got)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestWeekday(t *testing.T) {
	for d, want := range map[string]int32{"1970-01-01": 3, "1970-01-05": 0, "1969-12-29": 0, "1969-12-31": 2, "2024-01-07": 6, "2024-01-08": 0} {
		if got := weekday(day(d)); got != want {
			t.Errorf("weekday(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"Café Été — 日本 🎉", `"Café Été — 日本 🎉"`},
		{`<b>&"x"\`, `"<b>&\"x\"\\"`},
		{"a\nb\tc\r\x01\x1f", `"a\nb\tc\r\u0001\u001f"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"sep\u2028\u2029", `"sep\u2028\u2029"`},
		{"", `""`},
	}
	for _, tt := range tests {
		var j jsonBuf
		j.str(tt.in)
		if string(j.b) != tt.want {
			t.Errorf("str(%q) = %s, want %s", tt.in, j.b, tt.want)
		}
		var back string
		if err := json.Unmarshal(j.b, &back); err != nil {
			t.Errorf("str(%q): %v", tt.in, err)
		}
	}
}
