package cover

import (
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Map is a loaded coverage map, mapped into this process.
type Map struct {
	m   *ebpf.Map
	mem []byte
	n   int
}

// OpenMap maps the coverage map m (created by an instrumented load) with n
// blocks into memory.
func OpenMap(m *ebpf.Map, n int) (*Map, error) {
	if m == nil {
		return nil, fmt.Errorf("program has no coverage map %s", MapName)
	}
	size := int(m.ValueSize())
	if size < n {
		return nil, fmt.Errorf("coverage map has %d bytes for %d blocks", size, n)
	}
	page := unix.Getpagesize()
	mem, err := unix.Mmap(m.FD(), 0, (size+page-1)/page*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap coverage map: %w", err)
	}
	return &Map{m: m, mem: mem, n: n}, nil
}

// Hits is the coverage of the runs since the last Reset: byte i is 1 when
// block i ran. It aliases kernel memory: the next run changes it.
func (c *Map) Hits() []byte { return c.mem[:c.n] }

// Reset clears the hits.
func (c *Map) Reset() { clear(c.mem[:c.n]) }

// Close unmaps the memory. The map itself belongs to the program.
func (c *Map) Close() error {
	if c.mem == nil {
		return nil
	}
	err := unix.Munmap(c.mem)
	c.mem = nil
	return err
}
