package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/parquet-go/parquet-go"

	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/internal/records"
)

// newMigratedPool is a fresh database with the schema.
func newMigratedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.NewPool(t)
	if err := Migrate(context.Background(), pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return pool
}

func insertClient(t testing.TB, pool *pgxpool.Pool, name string) string {
	t.Helper()
	var id string
	err := pool.QueryRow(context.Background(),
		`INSERT INTO clients (name, meta_ad_account_id, meta_access_token) VALUES ($1, $2, $3) RETURNING id::text`,
		name, "act_"+fmt.Sprint(len(name)*1000003), "EAAB-secret-"+name).Scan(&id)
	if err != nil {
		t.Fatalf("insert client: %v", err)
	}
	return id
}

// writeSummaries writes rows to a summaries.parquet in a temporary folder.
func writeSummaries(t testing.TB, rows []records.Summary) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "summaries.parquet")
	writeSummariesTo(t, path, func(w *parquet.GenericWriter[records.Summary]) {
		if _, err := w.Write(rows); err != nil {
			t.Fatalf("write parquet: %v", err)
		}
	})
	return path
}

func writeSummariesTo(t testing.TB, path string, fill func(w *parquet.GenericWriter[records.Summary])) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[records.Summary](f)
	fill(w)
	if err := w.Close(); err != nil {
		t.Fatalf("close parquet writer: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func monday(n int) time.Time { return time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*n) }

func days(t time.Time) int32 { return int32(t.Unix() / 86400) }

func ptr[T any](v T) *T { return &v }

// campaignNames have non-ASCII text on purpose.
var campaignNames = []string{
	"Zimowe Ferie – Zakopane ❄️", "Spa & Wellness Łódź", "Wesela 2025 — pakiet złoty",
	"Ski opening Špindlerův Mlýn", "\"Quoted\" offer \\ backslash", "Погода в горах", "家族旅行 キャンペーン",
}

// campaignData is a campaign_data array of about targetBytes bytes.
func campaignData(seed, targetBytes int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; ; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		spend := fmt.Sprintf("%d.%02d", 50+(seed*7+i*13)%900, (seed+i)%100)
		impr := 1000 + (seed*31+i*17)%90000
		clicks := impr / (20 + i%7)
		obj := map[string]any{
			"campaign_id":   fmt.Sprintf("120210%09d", seed*100+i),
			"campaign_name": campaignNames[(seed+i)%len(campaignNames)],
			"spend":         json.Number(spend),
			"impressions":   impr,
			"clicks":        clicks,
			"reach":         impr * 3 / 4,
			"ctr":           json.Number(fmt.Sprintf("%.4f", float64(clicks)/float64(impr)*100)),
			"cpc":           json.Number("0.4512"),
			"cpm":           json.Number("10.0050"),
			"actions": map[string]any{
				"link_click": clicks, "landing_page_view": clicks / 2,
				"offsite_conversion.fb_pixel_purchase": i % 5, "onsite_conversion.messaging_first_reply": i % 3,
			},
		}
		enc, _ := json.Marshal(obj)
		b.Write(enc)
		if b.Len() >= targetBytes {
			break
		}
	}
	b.WriteByte(']')
	return b.String()
}

func metaTables(seed int) string {
	return fmt.Sprintf(`{"placementPerformance":[{"publisher_platform":"facebook","platform_position":"feed","spend":%d.10,"impressions":%d,"clicks":12,"ctr":1.2,"cpc":0.5,"cpm":4.1},{"publisher_platform":"instagram","platform_position":"story","spend":3.00,"impressions":10,"clicks":0,"ctr":0,"cpc":null,"cpm":300}],"demographicPerformance":[{"age":"25-34","gender":"female","spend":1.5,"impressions":40,"clicks":2,"ctr":5,"cpc":0.75,"cpm":37.5}],"adRelevanceResults":[{"ad_id":"2385%d","ad_name":"Reklama – śnieg","campaign_id":"120210000000001","quality_ranking":"ABOVE_AVERAGE","engagement_rate_ranking":"AVERAGE","conversion_rate_ranking":"UNKNOWN","spend":1.00,"impressions":33}]}`,
		seed%50, 100+seed, seed)
}

// weeks are a client's summaries of its first n weeks (monday(0) on), of seeds 0 to n-1.
func weeks(clientID string, n, jsonBytes int) []records.Summary {
	var rows []records.Summary
	for i := range n {
		rows = append(rows, summary(clientID, monday(i), i, jsonBytes))
	}
	return rows
}

// summary builds a realistic row; kpi says whether KPI days are present.
func summary(clientID string, week time.Time, seed int, jsonBytes int) records.Summary {
	s := records.Summary{
		ClientID:         clientID,
		SummaryDate:      days(week),
		TotalSpend:       fmt.Sprintf("%d.%02d", 1000+seed*37, seed%100),
		TotalImpressions: int64(100000 + seed*101),
		TotalClicks:      int64(2000 + seed*3),
		Reach:            int64(60000 + seed*7),
		Frequency:        ptr(fmt.Sprintf("1.%04d", seed%10000)),
		AverageCTR:       ptr("1.9876"),
		AverageCPC:       ptr(fmt.Sprintf("0.%04d", 1000+seed%9000)),
		AverageCPM:       ptr("10.0000"),
		ActiveCampaigns:  int32(3 + seed%5),
		CampaignData:     campaignData(seed, jsonBytes),
		MetaTables:       metaTables(seed),
		KPIDays:          int32(seed % 8),
		Currency:         "PLN",
		AsOf:             days(week) + 6, // the week's Sunday
	}
	if s.KPIDays > 0 {
		s.TotalConversions = ptr(int64(seed % 40))
		s.ClickToCall = ptr(int64(seed % 7))
		s.EmailContacts = ptr(int64(seed % 3))
		s.BookingStep1 = ptr(int64(30 + seed%10))
		s.BookingStep2 = ptr(int64(20 + seed%10))
		s.BookingStep3 = ptr(int64(10 + seed%10))
		s.Reservations = ptr(int64(seed % 6))
		s.ReservationValue = ptr(fmt.Sprintf("%d.%02d", 5000+seed, seed%100))
		s.ROAS = ptr("4.5000")
		if *s.Reservations > 0 {
			s.CostPerReservation = ptr("123.4567")
		}
	}
	s.ContentHash = hashOf(s)
	return s
}

// hashOf is the test's own content hash: any stable function of the fields will do.
func hashOf(s records.Summary) string {
	s.ContentHash, s.AsOf = "", 0 // as_of is not content
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// dump is every row of a table with its xmin, in a stable order.
func dump(t testing.TB, pool *pgxpool.Pool, table string) string {
	t.Helper()
	var s *string
	err := pool.QueryRow(context.Background(),
		`SELECT string_agg(x.xmin::text || ' ' || x::text, E'\n' ORDER BY x::text) FROM `+table+` x`).Scan(&s)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	if s == nil {
		return ""
	}
	return *s
}
