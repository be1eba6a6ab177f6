package mutate

import (
	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/consume"
	"github.com/bpffuzz/bpffuzz/internal/pkt"
)

// Options tune a Mutator. The zero value is the default.
type Options struct {
	// BrokenChecksums is the fraction of mutated packets whose lengths and
	// checksums are left as the mutations made them. Zero means the
	// default, 0.05; negative means never.
	BrokenChecksums float64
	// MaxOps caps the mutations per packet. Default 8.
	MaxOps int
	// MaxLen caps the output packet. Default 3712 (the skb limit).
	MaxLen int
}

// Mutator applies fuzz decisions to packets and contexts. It is not safe
// for concurrent use (it reuses buffers); use one per worker.
type Mutator struct {
	dict   *Dictionary
	opts   Options
	broken byte // decision byte below which checksums stay broken
	work   []byte
	tmp    []byte
	hdr    []byte // encapPush's outer headers
	st     state  // reused by Packet
	// xdpCtx and skbCtx are what ContextReused returns pointers to.
	xdpCtx bpf.XDPContext
	skbCtx bpf.SKBContext
}

// New returns a Mutator using dict (nil for none).
func New(dict *Dictionary, opts Options) *Mutator {
	if dict == nil {
		dict = &Dictionary{}
	}
	if opts.BrokenChecksums == 0 {
		opts.BrokenChecksums = 0.05
	}
	if opts.MaxOps <= 0 {
		opts.MaxOps = 8
	}
	if opts.MaxLen <= 0 {
		opts.MaxLen = 3712
	}
	m := &Mutator{dict: dict, opts: opts}
	if opts.BrokenChecksums > 0 {
		m.broken = byte(min(255, opts.BrokenChecksums*256))
	}
	return m
}

// state is the packet being mutated.
type state struct {
	p       []byte
	resized bool
	changed bool
	peers   [][]byte
}

// op is one mutation. It returns false when it could not apply (e.g. no
// such header), which costs no further decisions.
type op struct {
	name string
	fn   func(m *Mutator, s *state, d *consume.Decisions) bool
}

var ops []op // filled in ops.go

// Packet applies the decisions to seed and returns the result appended to
// dst[:0]. Without decisions it returns seed unchanged. peers are other
// packets to splice from (may be nil). It never panics.
func (m *Mutator) Packet(dst, seed []byte, d *consume.Decisions, peers [][]byte) []byte {
	s := &m.st
	*s = state{p: append(m.work[:0], seed...), peers: peers}
	defer func() { m.work, s.p, s.peers = s.p, nil, nil }()
	first, err := d.Byte()
	if err != nil {
		return append(dst[:0], seed...)
	}
	keepBroken := first < m.broken
	for i := 0; i < m.opts.MaxOps; i++ {
		b, err := d.Byte()
		if err != nil {
			break
		}
		o := ops[int(b)%len(ops)]
		if o.fn(m, s, d) {
			s.changed = true
		}
		if len(s.p) > m.opts.MaxLen {
			s.p = s.p[:m.opts.MaxLen]
		}
		if b >= 240 { // a decision to stop early keeps some inputs small
			break
		}
	}
	if s.changed && !keepBroken {
		pkt.Fix(s.p, 0, false, s.resized)
	}
	return append(dst[:0], s.p...)
}
