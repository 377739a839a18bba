package store

// Benchmarks of the load against its alternatives, side by side:
//
//	go test -bench . -run '^$' -benchtime=1x -timeout 2h ./load/
//
// (with TEST_DATABASE_URL set, or under scripts/with-test-db.sh). Each case does its whole
// operation once per b.N; use -benchtime=1x: the 54,000-row cases move about 1.5 GB of JSON
// each and take minutes. Cases:
//
//	load-empty      Load into an empty campaign_summaries
//	load-unchanged  the same Load again: nothing to copy
//	per-row-upsert  one INSERT … ON CONFLICT per row, autocommit, like the old collector
//	                (through the proxy: the first 1,000 rows only, 20 ms a row adds up)
//	copy-unlogged   plain COPY into an empty UNLOGGED table without indexes: the ceiling
//
// each on a local connection and through a proxy adding 10 ms each way (a hosted database).
// Metrics: rows/s and MB/s of JSON (campaign_data + meta_tables).

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/parquet-go/parquet-go"

	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/internal/records"
)

const benchWeeks = 54

type benchData struct {
	path      string
	clientIDs []string
	rows      int
	jsonBytes int64
}

// newBenchData writes rows/54 clients × 54 weeks with campaign_data of 5-50 KB.
func newBenchData(b *testing.B, rows int, clientIDs []string) benchData {
	b.Helper()
	d := benchData{path: filepath.Join(b.TempDir(), "summaries.parquet"), clientIDs: clientIDs, rows: rows}
	writeSummariesTo(b, d.path, func(w *parquet.GenericWriter[records.Summary]) {
		batch := make([]records.Summary, 0, 256)
		flush := func() {
			if _, err := w.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		for i, id := range clientIDs {
			for wk := range benchWeeks {
				seed := i*benchWeeks + wk
				s := summary(id, monday(wk), seed, 5000+(seed*7919)%45000)
				d.jsonBytes += int64(len(s.CampaignData) + len(s.MetaTables))
				batch = append(batch, s)
				if len(batch) == cap(batch) {
					flush()
				}
			}
		}
		flush()
	})
	return d
}

// benchDB is a migrated database with clients, reached directly and through the proxy.
type benchDB struct {
	url   string
	local *pgxpool.Pool
	proxy *pgxpool.Pool
	ids   []string
}

func newBenchDB(b *testing.B, clients int) *benchDB {
	b.Helper()
	ctx := context.Background()
	db := &benchDB{url: pgtest.NewDatabase(b)}
	var err error
	if db.local, err = pgxpool.New(ctx, db.url); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.local.Close)
	if err := Migrate(ctx, db.local); err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(db.url)
	p := newDelayProxy(b, u.Host, 10*time.Millisecond)
	u.Host = p.Addr()
	if db.proxy, err = pgxpool.New(ctx, u.String()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.proxy.Close)
	rows, err := db.local.Query(ctx,
		`INSERT INTO clients (name) SELECT 'Klient ' || i || ' – Łódź' FROM generate_series(1, $1) i RETURNING id::text`, clients)
	if err != nil {
		b.Fatal(err)
	}
	if db.ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		b.Fatal(err)
	}
	return db
}

func (db *benchDB) exec(b *testing.B, sql string) {
	b.Helper()
	if _, err := db.local.Exec(context.Background(), sql); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, rows := range []int{5400, 54000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			db := newBenchDB(b, rows/benchWeeks)
			data := newBenchData(b, rows, db.ids)
			for _, network := range []string{"local", "proxy10ms"} {
				pool := db.local
				if network == "proxy10ms" {
					pool = db.proxy
				}
				b.Run(network, func(b *testing.B) { benchCases(b, db, pool, data, network != "local") })
			}
		})
	}
}

func benchCases(b *testing.B, db *benchDB, pool *pgxpool.Pool, data benchData, remote bool) {
	ctx := context.Background()
	req := Request{SummariesPath: data.path, ClientIDs: data.clientIDs, DataSource: "bench"}
	report := func(b *testing.B, elapsed time.Duration, rows int, jsonBytes int64) {
		sec := elapsed.Seconds() / float64(b.N)
		b.ReportMetric(float64(rows)/sec, "rows/s")
		b.ReportMetric(float64(jsonBytes)/1e6/sec, "MB/s")
		b.ReportMetric(sec, "s/op")
	}

	truncate := func(b *testing.B) { db.exec(b, `TRUNCATE campaign_summaries`) }

	b.Run("load-empty", func(b *testing.B) {
		elapsed := timedLoop(b, truncate, func() {
			if res, err := Load(ctx, pool, req); err != nil || res.Inserted != int64(data.rows) {
				b.Fatalf("Load: %+v %v", res, err)
			}
		})
		report(b, elapsed, data.rows, data.jsonBytes)
	})

	b.Run("load-unchanged", func(b *testing.B) {
		truncate(b)
		if _, err := Load(ctx, pool, req); err != nil {
			b.Fatal(err)
		}
		elapsed := timedLoop(b, nil, func() {
			if res, err := Load(ctx, pool, req); err != nil || res.Unchanged != int64(data.rows) {
				b.Fatalf("Load: %+v %v", res, err)
			}
		})
		report(b, elapsed, data.rows, data.jsonBytes)
	})

	limit := data.rows
	name := "per-row-upsert"
	if remote && limit > 1000 {
		limit = 1000
		name = "per-row-upsert-first1000"
	}
	b.Run(name, func(b *testing.B) {
		var jsonBytes int64
		elapsed := timedLoop(b, truncate, func() { jsonBytes = perRowUpserts(b, pool, data, limit) })
		report(b, elapsed, limit, jsonBytes)
	})

	b.Run("copy-unlogged", func(b *testing.B) {
		elapsed := timedLoop(b, func(b *testing.B) {
			db.exec(b, `DROP TABLE IF EXISTS ceiling`)
			db.exec(b, `CREATE UNLOGGED TABLE ceiling AS SELECT `+strings.Join(stagingColumns, ", ")+` FROM campaign_summaries WITH NO DATA`)
		}, func() {
			if n := plainCopy(b, pool, data); n != int64(data.rows) {
				b.Fatalf("copied %d rows", n)
			}
		})
		report(b, elapsed, data.rows, data.jsonBytes)
	})
}

// timedLoop runs op once per iteration of b.Loop, after reset(b) (when not nil) with the
// timer stopped, and returns the time spent in op alone.
func timedLoop(b *testing.B, reset func(*testing.B), op func()) time.Duration {
	var elapsed time.Duration
	for b.Loop() {
		if reset != nil {
			b.StopTimer()
			reset(b)
			b.StartTimer()
		}
		start := time.Now()
		op()
		elapsed += time.Since(start)
	}
	return elapsed
}

// benchSource streams every row of the file, the way Load does, with nothing stored.
func benchSource(b *testing.B, data benchData) (*summarySource, func()) {
	b.Helper()
	f, err := openSummaries(data.path)
	if err != nil {
		b.Fatal(err)
	}
	clients := map[[16]byte]string{}
	for _, id := range data.clientIDs {
		u, _ := parseUUID(id)
		clients[u.Bytes] = id
	}
	return newSummarySource(context.Background(), f, clients, map[rowKey]storedRow{}), func() { f.Close() }
}

// perRowUpserts writes the first limit rows one statement each, autocommit, like the old
// collector, and returns the JSON bytes written.
func perRowUpserts(b *testing.B, pool *pgxpool.Pool, data benchData, limit int) int64 {
	ctx := context.Background()
	src, done := benchSource(b, data)
	defer done()
	cols := strings.Join(stagingColumns, ", ")
	params := make([]string, len(stagingColumns))
	var set []string
	for i, c := range stagingColumns {
		params[i] = fmt.Sprintf("$%d", i+1)
		if c != "client_id" && c != "summary_date" {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	sql := `INSERT INTO campaign_summaries (` + cols + `, summary_type, platform, data_source, last_updated)
		VALUES (` + strings.Join(params, ", ") + `, 'weekly', 'meta', 'bench', now())
		ON CONFLICT (client_id, summary_type, summary_date, platform) DO UPDATE SET ` + strings.Join(set, ", ") +
		`, last_updated = now()`
	var jsonBytes int64
	for n := 0; n < limit && src.Next(); n++ {
		v, _ := src.Values()
		jsonBytes += int64(len(v[11].(string)) + len(v[12].(string)))
		if _, err := pool.Exec(ctx, sql, v...); err != nil {
			b.Fatal(err)
		}
	}
	if err := src.Err(); err != nil {
		b.Fatal(err)
	}
	return jsonBytes
}

// plainCopy streams the file into the unlogged table ceiling, with lz4 like Load.
func plainCopy(b *testing.B, pool *pgxpool.Pool, data benchData) int64 {
	ctx := context.Background()
	src, done := benchSource(b, data)
	defer done()
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setupSettings, "0", "0"); err != nil {
			return err
		}
		var err error
		n, err = tx.CopyFrom(ctx, pgx.Identifier{"ceiling"}, stagingColumns, src)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
