package mutate

import (
	"encoding/binary"
	"math/rand/v2"

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
	// MaxOps is the number of mutation slots the ops have (see Packet).
	// Default 32: under go test, an input's progress is held in the slots
	// it has filled, and a change Go's engine makes to a filled slot undoes
	// it; the more slots are empty, the more of its changes add a mutation.
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
	// slotBuf, slotGen and slotDec are the decisions of one slot.
	slotBuf [64]byte
	slotGen rand.PCG
	slotDec consume.Decisions
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
		opts.MaxOps = 32
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
//
// The decisions are one byte (whether lengths and checksums are fixed
// afterwards) and then Options.MaxOps slots of consume.SlotLen bytes, one
// mutation each, in order; a slot of zeros is empty. A slot's mutation is
// drawn whole from a generator seeded by the slot's bytes and its place.
// So a change Go's engine makes to one slot re-draws that one mutation and
// leaves the others alone, and a slot it fills adds one mutation to those
// an input already has; a single changed byte already picks among every
// mutation, not among those its neighbours' zeros allow. What follows the
// slots is left for the context (ContextReused).
func (m *Mutator) Packet(dst, seed []byte, d *consume.Decisions, peers [][]byte) []byte {
	s := &m.st
	*s = state{p: append(m.work[:0], seed...), peers: peers}
	defer func() { m.work, s.p, s.peers = s.p, nil, nil }()
	first, err := d.Byte()
	if err != nil {
		return append(dst[:0], seed...)
	}
	keepBroken := first < m.broken
	for i := range m.opts.MaxOps {
		v, err := d.Slot()
		if err != nil {
			break
		}
		if v != 0 {
			m.apply(s, m.slot(i, v))
		}
	}
	if s.changed && !keepBroken {
		pkt.Fix(s.p, 0, false, s.resized)
	}
	return append(dst[:0], s.p...)
}

// apply makes one mutation, the one the decisions pick.
func (m *Mutator) apply(s *state, d *consume.Decisions) {
	b, _ := d.Byte()
	if ops[int(b)%len(ops)].fn(m, s, d) {
		s.changed = true
	}
	if len(s.p) > m.opts.MaxLen {
		s.p = s.p[:m.opts.MaxLen]
	}
}

// PacketDecisions is how many bytes of decisions Packet can read: the one
// byte and the slots. The context's decisions start after them.
func (m *Mutator) PacketDecisions() int { return 1 + consume.SlotLen*m.opts.MaxOps }

// slot returns the decisions of slot i holding v.
func (m *Mutator) slot(i int, v uint32) *consume.Decisions {
	m.slotGen.Seed(uint64(v), uint64(i)<<32|0x736c6f74) // "slot"
	for j := 0; j < len(m.slotBuf); j += 8 {
		binary.LittleEndian.PutUint64(m.slotBuf[j:], m.slotGen.Uint64())
	}
	m.slotDec.Reset(m.slotBuf[:])
	return &m.slotDec
}

// Dict is the mutator's dictionary.
func (m *Mutator) Dict() *Dictionary { return m.dict }
