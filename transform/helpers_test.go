package transform

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/parquet-go/parquet-go"
)

func sp(s string) *string { return &s }
func ip(v int64) *int64   { return &v }

func day(s string) int32 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return extract.DayNumber(t)
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
type clientFiles map[extract.Kind][]extract.InsightRow

// writeClient writes every kind (an empty file for a kind without rows) under dir/clientID.
func writeClient(tb testing.TB, dir, clientID string, files clientFiles) ClientInput {
	tb.Helper()
	cdir := filepath.Join(dir, "extract", clientID)
	for _, k := range extract.Kinds {
		writeRows(tb, filepath.Join(cdir, string(k)+".parquet"), files[k])
	}
	return ClientInput{ClientID: clientID, Dir: cdir}
}

func readAll(tb testing.TB, path string) []Summary {
	tb.Helper()
	var rows []Summary
	if err := ReadSummaries(path, func(s Summary) error { rows = append(rows, s); return nil }); err != nil {
		tb.Fatal(err)
	}
	return rows
}

func openFileForTest(path string) (*os.File, error) { return os.Open(path) }
