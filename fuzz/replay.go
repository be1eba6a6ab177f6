package fuzz

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/cover"
)

// Outcome is what one entry did, for replays across kernels and corpus
// tools.
type Outcome struct {
	Retval uint32 `json:"retval"`
	Errno  string `json:"errno,omitempty"`
	// OutLen is the output packet's length, -1 when there is none.
	OutLen int `json:"out_len"`
	// Skipped is true when BPF_PROG_RUN would not take the input.
	Skipped bool `json:"skipped,omitempty"`
	// Finding is the oracle's message when one objected.
	Finding string `json:"finding,omitempty"`
	// Hits are the blocks the run took (nil without coverage).
	Hits []byte `json:"-"`
	// Input and ContextIn are the packet and context bytes the run was
	// given (after the entry's ops); Output and ContextOut are what the
	// kernel wrote back, nil when it wrote nothing or the entry was
	// skipped. All are copies, for kernel-vs-kernel records.
	Input, ContextIn, Output, ContextOut []byte `json:"-"`
}

// Replay runs entries once each, the way the fuzz target runs them, and
// returns their outcomes and the coverage profile (nil when the program
// runs uninstrumented). It never stops at a finding.
//
// An entry's splice mutations read other packets: under go test, the fuzz
// target's seeds. With t.Seeds set those are the seeds' packets, so that a
// go test corpus replays as go test ran it; without, the entries' own
// packets (what a corpus of bpffuzz's own holds).
func (t *Target) Replay(entries []corpus.Entry) ([]Outcome, *cover.Profile, error) {
	x, err := t.newExecutor(t.Program)
	if err != nil {
		return nil, nil, err
	}
	defer x.close()
	if t.Seeds != nil {
		seeds, err := t.Seeds()
		if err != nil {
			return nil, nil, err
		}
		x.setPeers(seeds)
	} else {
		x.setPeers(entries)
	}
	var prof *cover.Profile
	if x.cov != nil && x.cov.Layout != nil {
		prof = cover.NewProfile(x.cov.Layout)
	}
	out := make([]Outcome, len(entries))
	for i, e := range entries {
		fd, err := x.execute(e)
		o := &out[i]
		o.Input = bytes.Clone(x.inCopy)
		o.ContextIn = bpf.ContextBytes(x.lastCtx, len(x.inCopy))
		switch {
		case errors.Is(err, errSkip):
			o.Skipped, o.OutLen = true, -1
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if fd != nil {
			o.Finding = fd.Error()
			o.Retval, o.Errno = fd.Retval, bpf.ErrnoName(fd.Errno)
			o.OutLen = len(fd.Output)
			if fd.Output == nil {
				o.OutLen = -1
			}
		} else {
			o.Retval, o.Errno, o.OutLen = x.last.Retval, bpf.ErrnoName(x.last.Errno), len(x.last.Packet)
			if x.last.Packet == nil {
				o.OutLen = -1
			}
		}
		o.Output, o.ContextOut = bytes.Clone(x.last.Packet), bytes.Clone(x.last.Context)
		if x.hits != nil {
			o.Hits = append([]byte(nil), x.hits...)
			prof.Add(x.hits)
		}
	}
	return out, prof, nil
}

// RetvalName names a return value for the target's program type, once a
// Replay or Run has loaded it ("" before, or when the type has no names).
func (t *Target) RetvalName(v uint32) string {
	if t.loaded == nil {
		return ""
	}
	return bpf.RetvalName(t.loaded.Type, t.loaded.AttachType, v)
}
