package records

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// What the long-lived encoder writes, parquet-go's own zstd codec decodes, byte for byte.
func TestZstdCodecRoundTrip(t *testing.T) {
	for _, src := range [][]byte{nil, []byte("x"), []byte(strings.Repeat(`{"campaign_id":"2385","spend":12.30},`, 5000))} {
		got, err := stagedCodec.Encode(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		if len(src) > 1000 && len(got) > len(src)/10 {
			t.Errorf("%d bytes of repeated JSON compressed to %d", len(src), len(got))
		}
		back, err := parquet.Zstd.Decode(nil, got)
		if err != nil || !bytes.Equal(back, src) {
			t.Errorf("%d bytes: round trip %v", len(src), err)
		}
	}
}
