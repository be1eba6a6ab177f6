package fuzz

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/cover"
	"github.com/bpffuzz/bpffuzz/internal/consume"
)

// EngineOptions tune the in-process engine. The zero value fuzzes with one
// worker per CPU until the context is done, writing nothing but findings.
type EngineOptions struct {
	// Workers is the number of parallel workers, each with its own loaded
	// program. Default: runtime.NumCPU().
	Workers int
	// Duration stops the run after this long. Default: until ctx is done.
	Duration time.Duration
	// CorpusDir is read at start and receives every new interesting input
	// as a go test fuzz v1 file, so `go test -fuzz` continues from it.
	// Default: none.
	CorpusDir string
	// Name names the run in findings paths. Default: the program's name.
	Name string
	// Progress, if set, gets a status line every Interval (default 2s).
	Progress io.Writer
	Interval time.Duration
	// Seed makes the run's random choices repeatable. Default: from time.
	Seed uint64
	// KeepGoing continues after a finding; by default the run stops at the
	// first one, like go test -fuzz.
	KeepGoing bool
}

// Stats describe an engine run.
type Stats struct {
	Execs       uint64        `json:"execs"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	ExecsPerSec float64       `json:"execs_per_sec"`
	Corpus      int           `json:"corpus"`
	BlocksHit   int           `json:"blocks_hit"`
	BlocksTotal int           `json:"blocks_total"`
	// Coverage is "" when the program runs instrumented; otherwise why not.
	Coverage string `json:"coverage,omitempty"`
	// Findings are the finding directories written.
	Findings []string `json:"findings"`
	// Skipped counts inputs outside what BPF_PROG_RUN accepts.
	Skipped uint64 `json:"skipped"`
}

// engine is the shared state of one Run.
type engine struct {
	t    *Target
	opts EngineOptions

	mu       sync.Mutex
	entries  []corpus.Entry
	union    []byte        // blocks (and branch edges) ever hit
	layout   *cover.Layout // what union's bytes are
	findings []string
	seen     map[string]bool // oracle names already reported

	execs, skipped atomic.Uint64
	done           atomic.Bool
}

// Run fuzzes the target in this process until ctx is done, Duration has
// passed, or (without KeepGoing) a finding was written.
func (t *Target) Run(ctx context.Context, opts EngineOptions) (*Stats, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Name == "" {
		opts.Name = t.Program
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	e := &engine{t: t, opts: opts, seen: map[string]bool{}}

	workers := make([]*executor, opts.Workers)
	for i := range workers {
		x, err := t.newExecutor(opts.Name)
		if err != nil {
			for _, w := range workers[:i] {
				w.close()
			}
			return nil, err
		}
		defer x.close()
		x.engine, x.corpusDir = true, opts.CorpusDir
		workers[i] = x
	}
	stats := &Stats{Coverage: workers[0].fallback}
	if workers[0].cov != nil && workers[0].cov.Layout != nil {
		stats.BlocksTotal = workers[0].cov.Layout.Probed()
		e.layout = workers[0].cov.Layout
		e.union = make([]byte, len(e.layout.Blocks))
	} else if stats.Coverage == "" {
		stats.Coverage = "disabled"
	}

	// Seeds, then the corpus directory, each run once to learn coverage.
	var initial []corpus.Entry
	if t.Seeds != nil {
		seeds, err := t.Seeds()
		if err != nil {
			return nil, err
		}
		initial = append(initial, seeds...)
	}
	if opts.CorpusDir != "" {
		entries, errs := corpus.ReadDir(opts.CorpusDir)
		for _, err := range errs {
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "bpffuzz: skipping corpus file: %v\n", err)
			}
		}
		initial = append(initial, entries...)
	}
	if len(initial) == 0 {
		initial = []corpus.Entry{{Packet: make([]byte, 64)}}
	}
	for _, x := range workers {
		x.setPeers(initial)
	}
	start := time.Now()
	for _, s := range initial {
		if err := e.try(workers[0], s, true); err != nil {
			return nil, err
		}
	}

	var wg sync.WaitGroup
	errc := make(chan error, len(workers))
	for i, x := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.work(ctx, x, rand.New(rand.NewPCG(opts.Seed, uint64(i)))); err != nil {
				errc <- err
				e.done.Store(true)
			}
		}()
	}
	progress := time.NewTicker(opts.Interval)
	defer progress.Stop()
	stop := make(chan struct{})
	go func() { wg.Wait(); close(stop) }()
	report := func() {
		e.fill(stats, start)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "elapsed %s  execs %d (%.0f/s)  corpus %d  blocks %s  findings %d\n",
				stats.Elapsed.Round(time.Second), stats.Execs, stats.ExecsPerSec, stats.Corpus, blocks(stats), len(stats.Findings))
		}
	}
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-progress.C:
			report()
		}
	}
	report()
	select {
	case err := <-errc:
		return stats, err
	default:
	}
	return stats, nil
}

func blocks(s *Stats) string {
	if s.Coverage != "" {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d", s.BlocksHit, s.BlocksTotal)
}

func (e *engine) fill(s *Stats, start time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.Execs = e.execs.Load()
	s.Skipped = e.skipped.Load()
	s.Elapsed = time.Since(start)
	s.ExecsPerSec = float64(s.Execs) / s.Elapsed.Seconds()
	s.Corpus = len(e.entries)
	if e.layout != nil {
		s.BlocksHit = e.layout.BlocksHit(e.union)
	}
	s.Findings = append(s.Findings[:0], e.findings...)
}

// syncEvery is how many executions a worker runs between looks at the
// shared state (the corpus, the coverage union, the counters, ctx): the
// loop itself then takes no lock and touches no shared cache line.
const syncEvery = 256

// work is one worker's loop: pick an entry, give it fresh ops, run it.
func (e *engine) work(ctx context.Context, x *executor, r *rand.Rand) error {
	ops := make([]byte, x.mut.PacketDecisions()+contextDecisions)
	local := make([]byte, len(e.union))
	var entries []corpus.Entry
	var execs, skipped uint64
	defer func() { e.execs.Add(execs); e.skipped.Add(skipped) }()
	for n := 0; ; n++ {
		if n%syncEvery == 0 {
			e.execs.Add(execs)
			e.skipped.Add(skipped)
			execs, skipped = 0, 0
			if ctx.Err() != nil || e.done.Load() {
				return nil
			}
			e.sync(local, &entries)
		}
		base := entries[pickEntry(r, len(entries))]
		cand := corpus.Entry{Packet: base.Packet, Context: base.Context, Ops: freshOps(r, ops, x.mut.PacketDecisions())}
		fd, err := x.execute(cand)
		execs++
		switch {
		case err == errSkip:
			skipped++
			continue
		case err != nil:
			return err
		case fd != nil:
			if err := e.report(x, fd); err != nil {
				return err
			}
			n = -1 // look at the shared state (done) now
			continue
		}
		if x.hits != nil && newBlocks(x.hits, local) {
			if err := e.keep(x); err != nil {
				return err
			}
			n = -1 // pick up the new entry and coverage now
		}
	}
}

// contextDecisions is how many bytes of context decisions freshOps gives.
const contextDecisions = 8

// freshOps fills ops (of packetLen+contextDecisions bytes) with the
// decisions of one candidate and returns them: the first byte, one to
// eight of the mutation slots (mostly a few mutations: deep code is
// reached a step at a time), and half of the time context decisions.
func freshOps(r *rand.Rand, ops []byte, packetLen int) []byte {
	ops[0] = byte(r.Uint32())
	n := 1 + r.IntN(min(8, (packetLen-1)/consume.SlotLen))
	for i := 1; i < 1+n*consume.SlotLen; i += consume.SlotLen {
		v := r.Uint32()
		if v == 0 {
			v = 1 // a zero slot would be empty
		}
		binary.LittleEndian.PutUint32(ops[i:], v)
	}
	if r.IntN(2) == 0 {
		return ops[:1+n*consume.SlotLen]
	}
	clear(ops[1+n*consume.SlotLen : packetLen])
	binary.LittleEndian.PutUint64(ops[packetLen:], r.Uint64())
	return ops[:packetLen+contextDecisions]
}

// sync refreshes a worker's view of the coverage union and the corpus.
// Entries are only ever appended, so the worker's slice stays valid.
func (e *engine) sync(local []byte, entries *[]corpus.Entry) {
	e.mu.Lock()
	copy(local, e.union)
	*entries = e.entries
	e.mu.Unlock()
}

// pickEntry favours recent entries, which tend to reach deeper code.
func pickEntry(r *rand.Rand, n int) int {
	if r.IntN(2) == 0 {
		return n - 1 - r.IntN(min(n, 8))
	}
	return r.IntN(n)
}

func newBlocks(hits, known []byte) bool {
	for i, h := range hits {
		if h != 0 && known[i] == 0 {
			return true
		}
	}
	return false
}

// try runs an entry and keeps it if it adds coverage (or always, for
// seeds).
func (e *engine) try(x *executor, s corpus.Entry, always bool) error {
	fd, err := x.execute(s)
	e.execs.Add(1)
	switch {
	case errors.Is(err, errSkip):
		e.skipped.Add(1)
		return nil
	case err != nil:
		return err
	case fd != nil:
		return e.report(x, fd)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if x.hits != nil {
		for i, h := range x.hits {
			if h != 0 {
				e.union[i] = 1
			}
		}
	}
	if always {
		e.entries = append(e.entries, s)
	}
	return nil
}

// keep adds the input that just ran, as the concrete packet and context
// it became, to the corpus (and the corpus directory).
func (e *engine) keep(x *executor) error {
	in := x.lastInput()
	e.mu.Lock()
	fresh := false
	for i, h := range x.hits {
		if h != 0 && e.union[i] == 0 {
			e.union[i] = 1
			fresh = true
		}
	}
	if fresh {
		e.entries = append(e.entries, in)
	}
	e.mu.Unlock()
	if fresh && e.opts.CorpusDir != "" {
		_, err := corpus.WriteEntry(e.opts.CorpusDir, in)
		return err
	}
	return nil
}

func (e *engine) report(x *executor, fd *Finding) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen[fd.Oracle] {
		return nil
	}
	e.seen[fd.Oracle] = true
	// Findings are written as the concrete input, so they replay without
	// the mutator.
	fd.Entry = x.lastInput()
	dir, err := x.writeFinding(fd, false)
	if err != nil {
		return fmt.Errorf("write finding: %w", err)
	}
	if e.opts.CorpusDir != "" {
		if _, err := corpus.WriteEntry(e.opts.CorpusDir, fd.Entry); err != nil {
			return err
		}
	}
	e.findings = append(e.findings, dir)
	if e.opts.Progress != nil {
		fmt.Fprintf(e.opts.Progress, "\n%s\nfinding written to %s\n\n", fd.Report, dir)
	}
	if !e.opts.KeepGoing {
		e.done.Store(true)
	}
	return nil
}

// lastInput is the concrete entry of the last run: the mutated frame
// (without XDP metadata, which the context's MetaLen puts back) and the
// context bytes, with no ops.
func (x *executor) lastInput() corpus.Entry {
	pkt := x.pkt
	ctx := contextValue(x.lastCtx)
	if c, ok := ctx.(bpf.XDPContext); ok && int(c.MetaLen) <= len(pkt) {
		pkt = pkt[c.MetaLen:]
	}
	return corpus.Entry{Packet: bytes.Clone(pkt), Context: bpf.ContextBytes(ctx, len(x.pkt))}
}
