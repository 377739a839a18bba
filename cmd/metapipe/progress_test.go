package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// The terminal's client lines, rendered without a terminal: every state of a report kind, long
// and wide-character names, large counts; no line is wider than 80 or 160 columns, and each
// says the elapsed time, the requests so far and Meta's state and percent.
func TestProgressLinesFit(t *testing.T) {
	start := time.Date(2026, 11, 29, 6, 15, 0, 0, time.UTC)
	now := start.Add(42 * time.Second)
	running := func(requests int64, states ...extract.Progress) clientView {
		v := clientView{started: start, requests: requests, kinds: map[records.Kind]extract.Progress{}}
		for i, p := range states {
			p.Kind = records.Kinds[i]
			v.kinds[p.Kind] = p
		}
		return v
	}
	mixed := []extract.Progress{
		{State: extract.StateDone, Percent: 100},
		{State: "Job Running", Percent: 45},
		{State: extract.StateReading, Percent: 100, Pages: 2},
		{State: "Job Started", Percent: 10},
		{State: extract.StateSubmitted},
	}
	cases := []struct {
		name string
		v    clientView
		want []string // at every width
		wide []string // at 160 columns
	}{
		{"mixed states", running(17, mixed...), []string{"0:42", "17 req", "45%"},
			[]string{"campaigns running 45%", "placements reading page 3", "demographics started 10%", "ad_relevance submitted", "account done"}},
		{"not started yet", running(5, extract.Progress{State: extract.StateSubmitting}, extract.Progress{State: "Job Not Started"}), []string{"0:42", "5 req"},
			[]string{"account submitting", "campaigns not started", "placements queued"}},
		{"long name", running(123456, mixed...), []string{"0:42", "123456 req"}, []string{"campaigns running 45%"}},
		{"wide characters", running(9, mixed...), []string{"0:42", "9 req"}, []string{"campaigns running 45%"}},
		{"an hour in", clientView{started: start.Add(-time.Hour), requests: 3, kinds: map[records.Kind]extract.Progress{records.KindAccount: {Kind: records.KindAccount, State: "Job Running", Percent: 99}}},
			[]string{"1:00:42", "3 req"}, []string{"account running 99%"}},
		{"done", clientView{started: start, ended: start.Add(2300 * time.Millisecond), requests: 17}, []string{"0:02", "17 req", "done"}, nil},
		{"failed", clientView{started: start, ended: start.Add(5 * time.Second), requests: 4, failed: true}, []string{"0:05", "4 req", "failed"}, nil},
	}
	cases[0].v.name = "Demo Casa Lumbre"
	cases[1].v.name = "Demo Hotel Alpenblick"
	cases[2].v.name = "An Agency Client With A Very Long Name Indeed, Ltd."
	cases[3].v.name = "夏のホテル・アルペンブリック"
	cases[4].v.name = "Slow"
	cases[5].v.name = "Demo Nordlys Cabins"
	cases[6].v.name = "Broken"
	for _, tc := range cases {
		for _, width := range []int{80, 160} {
			line := renderClient(tc.v, maxNameWidth, now, width)
			if w := runewidth.StringWidth(line); w > width || strings.Contains(line, "\n") {
				t.Errorf("%s at %d columns: %d columns wide:\n%s", tc.name, width, w, line)
			}
			want := tc.want
			if width == 160 {
				want = append(append([]string{}, want...), tc.wide...)
			}
			for _, s := range want {
				if !strings.Contains(line, s) {
					t.Errorf("%s at %d columns: no %q in\n%s", tc.name, width, s, line)
				}
			}
		}
	}
	// A terminal too narrow for anything still gets no more than its width.
	if line := renderClient(cases[0].v, maxNameWidth, now, 20); runewidth.StringWidth(line) > 20 {
		t.Errorf("20 columns: %q", line)
	}
}

// The reporter keeps each kind's last word and the client's request count, from the pipeline's
// events, and ends the line with how the client ended.
func TestBarReporterState(t *testing.T) {
	var out bytes.Buffer
	r := newBarReporter(&out)
	r.ClientStarted("c1", "Demo Casa Lumbre")
	r.KindProgress("c1", extract.Progress{Kind: records.KindCampaigns, State: "Job Running", Percent: 30, Requests: 4})
	r.KindProgress("c1", extract.Progress{Kind: records.KindCampaigns, State: "Job Running", Percent: 60, Requests: 6})
	r.KindProgress("c1", extract.Progress{Kind: records.KindAccount, State: extract.StateDone, Percent: 100, Requests: 5})
	line := r.line("c1", time.Now(), 160)
	for _, s := range []string{"6 req", "campaigns running 60%", "account done"} {
		if !strings.Contains(line, s) {
			t.Errorf("no %q in %q", s, line)
		}
	}
	r.ClientDone("c1", nil)
	if line := r.line("c1", time.Now(), 80); !strings.HasSuffix(line, "6 requests  done") {
		t.Errorf("after the client: %q", line)
	}
	r.Close()
	var _ pipeline.Reporter = r
}
