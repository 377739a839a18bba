package records

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The long-lived encoder writes the bytes parquet-go's own zstd codec writes, and they decode.
func TestZstdCodecSameBytes(t *testing.T) {
	for _, src := range [][]byte{nil, []byte("x"), []byte(strings.Repeat(`{"campaign_id":"2385","spend":12.30},`, 5000))} {
		got, err := stagedCodec.Encode(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := parquet.Zstd.Encode(nil, src)
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes: encoded differently from parquet.Zstd", len(src))
		}
		back, err := parquet.Zstd.Decode(nil, got)
		if err != nil || !bytes.Equal(back, src) {
			t.Errorf("%d bytes: round trip %v", len(src), err)
		}
	}
}
