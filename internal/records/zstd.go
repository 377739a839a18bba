package records

import (
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	parquetzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

// zstdCodec compresses staged Parquet files with zstd at its fastest level, with one long-lived
// klauspost encoder. The fastest level: the transform writes summaries.parquet from one goroutine
// and its JSON columns are most of the bytes (5-50 KB a row), so compression sets the pace of the
// whole stage; the files live on local disk for one run. One long-lived encoder: parquet-go keeps
// its encoders in a sync.Pool, which every garbage collection empties, and each new encoder
// allocates its history buffers again. It serves concurrent EncodeAll calls, one goroutine per
// processor at a time. Any zstd reader reads the files (parquet-go's and Arrow's do).
type zstdCodec struct {
	parquetzstd.Codec // name, format code and Decode (parquet-go's)
}

var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		panic(err) // only for invalid options
	}
	return e
})

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	return zstdEncoder().EncodeAll(src, dst[:0]), nil
}

var stagedCodec = &zstdCodec{}
