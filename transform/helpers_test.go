package transform

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/parquet-go/parquet-go"
)

func sp(s string) *string { return &s }
func ip(v int64) *int64   { return &v }

func day(s string) int32 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return records.DayNumber(t)
}

func writeRows[T any](tb testing.TB, path string, rows []T) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// clientFiles is the raw input of one client, by kind.
type clientFiles map[records.Kind][]records.InsightRow

// writeClient writes every kind (an empty file for a kind without rows) under dir/clientID.
func writeClient(tb testing.TB, dir, clientID string, files clientFiles) ClientInput {
	tb.Helper()
	cdir := records.RunDir(dir).Client(clientID)
	for _, k := range records.Kinds {
		writeRows(tb, cdir.Report(k), files[k])
	}
	return ClientInput{ClientID: clientID, Dir: cdir}
}

func readAll(tb testing.TB, path string) []records.Summary {
	tb.Helper()
	rows, err := records.ReadParquet[records.Summary](path)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}
