package records

import (
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	parquetzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

// zstdCodec is parquet-go's zstd codec (same library, same settings, so the same bytes) with one
// long-lived encoder. parquet-go keeps its encoders in a sync.Pool, which every garbage
// collection empties; each new encoder then allocates its history buffers again, which cost a
// quarter of the transform's allocations while writing summaries. One klauspost encoder serves
// concurrent EncodeAll calls, one goroutine per processor at a time.
type zstdCodec struct {
	parquetzstd.Codec // name, format code and Decode
}

var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderLevel(parquetzstd.DefaultLevel),
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
