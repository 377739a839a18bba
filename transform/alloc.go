package transform

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// pageBuffers is the memory.Allocator of the Parquet page readers (parquet.ReaderProperties),
// and of nothing else: it hands out the buffers arrow-go's page readers decompress pages into
// and takes them back when a column reader is released, instead of a new zeroed buffer each
// time. Every column chunk's page reader starts with a 16 KiB decompression buffer and the data
// and dictionary page buffers, and a client has about 40 column chunks in its five small files
// plus its KPI seeks: with the Go allocator that was about 1 MB of garbage per client, a third
// of the transform's allocated bytes.
//
// The Arrow arrays (pqarrow's allocator) keep memory.DefaultAllocator: the rows' strings alias
// them until a client is built (clientData.release), and nothing from a page buffer outlives its
// column reader (the decoders copy values into the arrays' own buffers).
//
// Buffers come in power-of-two classes from 4 KiB to 4 MiB; a larger one is a plain allocation,
// left to the garbage collector. A buffer is zeroed when handed out, as the Go allocator's are.
var pageBuffers memory.Allocator = &bufferPool{}

const (
	minPoolShift = 12 // 4 KiB
	maxPoolShift = 22 // 4 MiB
)

type bufferPool struct {
	classes [maxPoolShift - minPoolShift + 1]sync.Pool // of *[]byte, cap 1<<(minPoolShift+i)
}

// class is the index of the smallest class that holds size bytes, or -1.
func (p *bufferPool) class(size int) int {
	if size > 1<<maxPoolShift {
		return -1
	}
	shift := bits.Len(uint(max(size, 1<<minPoolShift) - 1))
	return shift - minPoolShift
}

func (p *bufferPool) Allocate(size int) []byte {
	c := p.class(size)
	if c < 0 {
		return make([]byte, size)
	}
	if v, ok := p.classes[c].Get().(*[]byte); ok {
		b := (*v)[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<(minPoolShift+c))
}

func (p *bufferPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		if size > len(b) {
			clear(b[len(b):size])
		}
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes back a buffer of one of the classes; any other is left to the garbage collector.
func (p *bufferPool) Free(b []byte) {
	n := cap(b)
	if n < 1<<minPoolShift || n > 1<<maxPoolShift || n&(n-1) != 0 {
		return
	}
	b = b[:0]
	p.classes[bits.Len(uint(n))-1-minPoolShift].Put(&b)
}
