package extract

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// FuzzParseRow feeds arbitrary JSON objects to the strict row parser of every report kind: it
// never panics, and it either accepts a row whose bucket lies in the requested range, or
// refuses it with a RowError naming the client, the kind and a field.
func FuzzParseRow(f *testing.F) {
	seeds := []string{
		`{"campaign_id":"2385","campaign_name":"Été — 夏","spend":"12.34","impressions":"9708","clicks":"151","reach":"7001","actions":[{"action_type":"link_click","value":"118"}],"date_start":"2026-01-12","date_stop":"2026-01-18"}`,
		`{"ad_id":6011,"ad_name":"A","campaign_id":"1","quality_ranking":"BELOW_AVERAGE_10","spend":"0.5","impressions":"3","date_start":"2026-01-19","date_stop":"2026-01-21"}`,
		`{"spend":"1.00","impressions":"10","reach":"7","frequency":"1.4286","date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"publisher_platform":"instagram","platform_position":"reels","spend":"3","impressions":"4","date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"age":"65+","gender":"unknown","spend":"0","date_start":"2026-01-12","date_stop":"2026-01-18"}`,
		`{"spend":12.34,"impressions":9708,"date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"spend":"-1","date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"spend":"1e3","impressions":"99999999999999999999","date_start":"2026-01-06","date_stop":"2026-01-11"}`,
		`{"date_start":null,"date_stop":"2026-01-11"}`,
		`{"actions":[{"action_type":"lead"}],"date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"actions":"x","spend":{"a":1},"date_start":"2026-13-45"}`,
		`{}`,
	}
	for i, s := range seeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, js string, k uint8) {
		var raw resultRow
		if json.Unmarshal([]byte(js), &raw) != nil {
			return
		}
		kind := records.Kinds[int(k)%len(records.Kinds)]
		rng := testRange()
		p := newRowParser("Acme", Specs[kind], rng)
		err := p.add(&raw)
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a RowError", err)
			}
			if re.Client != "Acme" || re.Kind != kind || re.Field == "" || !strings.Contains(err.Error(), "field "+re.Field) {
				t.Fatalf("error %q does not name the client, the kind and the field", err)
			}
			return
		}
		if len(p.rows) != 1 {
			t.Fatalf("accepted, %d rows kept", len(p.rows))
		}
		r := p.rows[0]
		if start := records.DayTime(r.DateStart); start.Before(rng.Since) || start.After(rng.Until) || r.DateStop < r.DateStart || r.DateStop > r.DateStart+6 {
			t.Fatalf("accepted a bucket %d..%d outside %s", r.DateStart, r.DateStop, rng)
		}
		if r.Impressions < 0 || r.Clicks < 0 || r.Reach < 0 || strings.HasPrefix(r.Spend, "-") {
			t.Fatalf("accepted a negative figure: %+v", r)
		}
		// The same row again (a second page) is dropped, not refused.
		if err := p.add(&raw); err != nil || len(p.rows) != 1 {
			t.Fatalf("the same row twice: %v, %d rows", err, len(p.rows))
		}
	})
}

// FuzzGraphError feeds arbitrary bodies and statuses to the Graph error parser: it never
// panics, every error it returns classifies, prints its code, and carries no token once
// scrubbed the way the client scrubs it.
func FuzzGraphError(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{400, `{"error":{"message":"(#80004) There have been too many calls to this ad-account. Wait a bit and try again.","type":"OAuthException","code":80004,"error_subcode":2446079,"is_transient":false,"fbtrace_id":"AFm-w0VSqFxoRyuKXJgg48H"}}`},
		{500, `{"error":{"message":"An unexpected error has occurred.","code":2,"is_transient":true}}`},
		{400, `{"error":{"code":"190","error_subcode":"463","message":"Error validating access token: EAAB-fuzz-token"}}`},
		{400, `{"error":{"code":1,"message":"Please reduce the amount of data you're asking for, then retry your request"}}`},
		{400, `{"error":{"code":2601,"error_subcode":1815107,"is_transient":true}}`},
		{400, `{"error":{"code":100,"error_subcode":1487534}}`},
		{400, `{"error":null}`},
		{400, `{"error":{"code":1.5e3,"is_transient":"yes"}}`},
		{502, `<html><body>Bad Gateway</body></html>`},
		{200, `{"data":[]}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.body)
	}
	tok := NewToken("EAAB-fuzz-token")
	f.Fuzz(func(t *testing.T, status int, body string) {
		ge := parseGraphError(status, []byte(body))
		if ge == nil {
			return
		}
		ge.Message = Scrub(ge.Message, tok)
		msg := ge.Error()
		if strings.Contains(msg, tok.Reveal()) {
			t.Fatalf("scrubbed error still holds the token: %q", msg)
		}
		c := ClassOf(ge)
		if c.String() == "" || c != ge.Class() {
			t.Fatalf("class %v / %v", c, ge.Class())
		}
		if !strings.HasPrefix(msg, "graph api error ") {
			t.Fatalf("error %q", msg)
		}
		if ge.Code == 0 && status >= 500 && c != ClassTransient {
			t.Fatalf("an HTTP %d without a code is %v, want transient (retried)", status, c)
		}
	})
}
