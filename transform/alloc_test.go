package transform

import (
	"bytes"
	"testing"
)

// TestBufferPool checks the page readers' allocator: buffers of a class come back zeroed, of the
// size asked for; Reallocate keeps the bytes and zeroes the new ones; a buffer freed is handed
// out again (with its old bytes cleared); sizes beyond the classes are plain allocations.
func TestBufferPool(t *testing.T) {
	p := &bufferPool{}
	b := p.Allocate(5000)
	if len(b) != 5000 || cap(b) != 8192 {
		t.Fatalf("Allocate(5000): len %d cap %d, want 5000 and 8192", len(b), cap(b))
	}
	for i := range b {
		b[i] = 0xAA
	}
	b = p.Reallocate(6000, b)
	if len(b) != 6000 || !bytes.Equal(b[:5000], bytes.Repeat([]byte{0xAA}, 5000)) || !bytes.Equal(b[5000:], make([]byte, 1000)) {
		t.Fatalf("Reallocate(6000) within the class: len %d, old bytes kept %v, new bytes zero %v",
			len(b), bytes.Equal(b[:5000], bytes.Repeat([]byte{0xAA}, 5000)), bytes.Equal(b[5000:], make([]byte, 1000)))
	}
	b = p.Reallocate(20000, b)
	if len(b) != 20000 || cap(b) != 32768 || b[0] != 0xAA || b[4999] != 0xAA || b[5000] != 0 || b[19999] != 0 {
		t.Fatalf("Reallocate(20000) to a larger class: len %d cap %d, b[0]=%x b[4999]=%x b[5000]=%x", len(b), cap(b), b[0], b[4999], b[5000])
	}
	p.Free(b)
	// sync.Pool may drop what it holds at any time; under a GC-free test it hands the buffer back.
	c := p.Allocate(17000)
	if len(c) != 17000 || cap(c) != 32768 || !bytes.Equal(c, make([]byte, 17000)) {
		t.Fatalf("Allocate after Free: len %d cap %d, zeroed %v", len(c), cap(c), bytes.Equal(c, make([]byte, 17000)))
	}
	if d := p.Allocate(10); cap(d) != 4096 || len(d) != 10 {
		t.Fatalf("Allocate(10): len %d cap %d, want 10 and 4096", len(d), cap(d))
	}
	if e := p.Allocate(5 << 20); len(e) != 5<<20 {
		t.Fatalf("Allocate(5 MiB): len %d", len(e))
	}
	p.Free(make([]byte, 3000)) // not of a class: ignored
	p.Free(make([]byte, 0, 5000))
	if f := p.Allocate(3000); cap(f) != 4096 {
		t.Fatalf("a foreign buffer was handed out: cap %d", cap(f))
	}
}
