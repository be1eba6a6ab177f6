package fuzz

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/cover"
)

// MinimizeOptions controls Minimize. The zero value may drop any entry.
type MinimizeOptions struct {
	// Fixed is how many of the first entries are kept whatever they cover
	// (a merge's output directory, whose files are never removed); what
	// they cover counts as covered. Default 0.
	Fixed int
}

// CorpusStats is the coverage and outcomes of a set of entries.
type CorpusStats struct {
	Entries int `json:"entries"`
	// Bytes is the sum of the entries' packet, context and ops lengths.
	Bytes int `json:"bytes"`
	// Skipped counts entries BPF_PROG_RUN does not take for this program.
	Skipped     int `json:"skipped"`
	BlocksHit   int `json:"blocks_hit"`
	BlocksTotal int `json:"blocks_total"`
	LinesHit    int `json:"lines_hit"`
	LinesTotal  int `json:"lines_total"`
	EdgesHit    int `json:"edges_hit"`
	EdgesTotal  int `json:"edges_total"`
	// Outcomes counts distinct outcome classes (see OutcomeClass).
	Outcomes int `json:"outcomes"`
	// Profile is the block coverage, nil when the program runs
	// uninstrumented.
	Profile *cover.Profile `json:"-"`
}

// Minimized is what Minimize chose.
type Minimized struct {
	// Keep are the indexes of the entries kept, ascending.
	Keep []int `json:"keep"`
	// Before is the whole corpus, After the kept entries replayed on their
	// own.
	Before CorpusStats `json:"before"`
	After  CorpusStats `json:"after"`
	// Restored counts entries added back because the kept set, replayed on
	// its own, missed a block or outcome the whole corpus has (an entry
	// with ops can splice in another entry's packet, so its run depends on
	// the corpus around it).
	Restored int `json:"restored"`
	// Lost names blocks and outcomes of the whole corpus that the kept set
	// still does not reproduce after adding entries back: only a program
	// whose runs are not reproducible (random numbers, time) loses any.
	Lost []string `json:"lost,omitempty"`
	// Coverage is "" when the program runs instrumented; otherwise why
	// there are no blocks and only outcomes are preserved.
	Coverage string `json:"coverage,omitempty"`
	// Execs counts program runs; Elapsed is the time taken.
	Execs   int           `json:"execs"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// OutcomeClass names the class of one run's outcome that Minimize keeps an
// entry for: the return value, the errno, the size class of the output
// packet (none, 0, then powers of two: "1-1", "2-3", "4-7", ...) and the
// oracle of a finding. The size classes are a heuristic: they tell a
// shrunk or grown packet (bpf_xdp_adjust_head, bpf_skb_change_tail) apart
// from a passed one without keeping one entry per packet length.
func OutcomeClass(retval uint32, errno string, outLen int, oracle string) string {
	s := fmt.Sprintf("retval %d, errno %s, output %s", retval, cmp.Or(errno, "0"), sizeClass(outLen))
	if oracle != "" {
		s += ", finding " + oracle
	}
	return s
}

func sizeClass(n int) string {
	switch {
	case n < 0:
		return "none"
	case n == 0:
		return "0 bytes"
	}
	lo := 1 << (bits.Len(uint(n)) - 1)
	return fmt.Sprintf("%d-%d bytes", lo, 2*lo-1)
}

// observation is what one entry's run showed.
type observation struct {
	skipped bool
	class   string
	blocks  []int // block IDs hit
}

// observeAll runs entries once each, with the entries' packets as the
// mutator's peers (as the fuzz target has its corpus), and returns what
// each run showed and the stats of the set.
func (x *executor) observeAll(entries []corpus.Entry) ([]observation, CorpusStats, error) {
	x.setPeers(entries)
	st := CorpusStats{Entries: len(entries)}
	if x.cov != nil && x.cov.Layout != nil {
		st.Profile = cover.NewProfile(x.cov.Layout)
	}
	obs := make([]observation, len(entries))
	classes := map[string]bool{}
	for i, e := range entries {
		st.Bytes += entrySize(e)
		fd, err := x.execute(e)
		switch {
		case errors.Is(err, errSkip):
			obs[i].skipped = true
			st.Skipped++
			continue
		case err != nil:
			return nil, st, fmt.Errorf("entry %d: %w", i, err)
		}
		o := &obs[i]
		if fd != nil {
			n := len(fd.Output)
			if fd.Output == nil {
				n = -1
			}
			o.class = OutcomeClass(fd.Retval, bpf.ErrnoName(fd.Errno), n, fd.Oracle)
		} else {
			n := len(x.last.Packet)
			if x.last.Packet == nil {
				n = -1
			}
			o.class = OutcomeClass(x.last.Retval, bpf.ErrnoName(x.last.Errno), n, "")
		}
		classes[o.class] = true
		if x.hits != nil {
			for b, h := range x.hits {
				if h != 0 {
					o.blocks = append(o.blocks, b)
				}
			}
			st.Profile.Add(x.hits)
		}
	}
	st.Outcomes = len(classes)
	if st.Profile != nil {
		s := st.Profile.Summary()
		st.BlocksHit, st.BlocksTotal, st.LinesHit, st.LinesTotal = s.BlocksHit, s.BlocksTotal, s.LinesHit, s.LinesTotal
		st.EdgesHit, st.EdgesTotal = s.EdgesHit, s.EdgesTotal
	}
	return obs, st, nil
}

func entrySize(e corpus.Entry) int { return len(e.Packet) + len(e.Context) + len(e.Ops) }

// Minimize chooses the smallest set of entries it can find that keeps the
// corpus's BPF block and branch-edge coverage and every distinct outcome class
// (OutcomeClass), preferring smaller entries: a greedy set cover (the entry
// adding the most blocks and outcomes first, the smaller of equals), then
// dropping entries the rest make redundant, largest first, then swapping a
// kept entry for a smaller one that covers what only it covers. The result
// is deterministic for a deterministic program. Entries BPF_PROG_RUN does
// not take for this program are dropped.
//
// The kept set is then replayed on its own and compared with the whole
// corpus; entries are added back for anything it misses (Minimized.Restored,
// Minimized.Lost). Minimize loads the program once (instrumented, as the
// fuzz target runs it) and needs the privileges bpf.Load needs.
func (t *Target) Minimize(entries []corpus.Entry, opts MinimizeOptions) (*Minimized, error) {
	start := time.Now()
	if opts.Fixed < 0 || opts.Fixed > len(entries) {
		return nil, fmt.Errorf("minimize: %d fixed entries of %d", opts.Fixed, len(entries))
	}
	x, err := t.newExecutor(t.Program)
	if err != nil {
		return nil, err
	}
	defer x.close()
	m := &Minimized{Coverage: x.fallback}
	nblocks := 0
	if x.cov != nil && x.cov.Layout != nil {
		nblocks = len(x.cov.Layout.Blocks)
	} else if m.Coverage == "" {
		m.Coverage = "disabled"
	}
	obs, before, err := x.observeAll(entries)
	if err != nil {
		return nil, err
	}
	m.Before, m.Execs = before, len(entries)

	// Features: blocks 0..nblocks-1, then one per outcome class.
	classID := map[string]int{}
	var classNames []string
	feats := make([][]int, len(entries))
	for i, o := range obs {
		if o.skipped {
			continue
		}
		id, ok := classID[o.class]
		if !ok {
			id = len(classNames)
			classID[o.class] = id
			classNames = append(classNames, o.class)
		}
		feats[i] = append(slices.Clone(o.blocks), nblocks+id)
	}
	sizes := make([]int, len(entries))
	for i, e := range entries {
		sizes[i] = entrySize(e)
	}
	nfeat := nblocks + len(classNames)
	chosen := selectCover(feats, sizes, nfeat, opts.Fixed)

	// Replay the kept set on its own; add back what it misses.
	want := union(feats, nil, nfeat)
	for round := 0; ; round++ {
		keep := keptIndexes(chosen)
		kept := make([]corpus.Entry, len(keep))
		for j, i := range keep {
			kept[j] = entries[i]
		}
		kobs, after, err := x.observeAll(kept)
		if err != nil {
			return nil, err
		}
		m.Execs += len(kept)
		m.Keep, m.After = keep, after
		have := make([]bool, nfeat)
		for _, o := range kobs {
			if o.skipped {
				continue
			}
			for _, b := range o.blocks {
				have[b] = true
			}
			if id, ok := classID[o.class]; ok {
				have[nblocks+id] = true
			}
		}
		var missing []int
		for f := range nfeat {
			if want[f] && !have[f] {
				missing = append(missing, f)
			}
		}
		if len(missing) == 0 {
			m.Lost = nil
			break
		}
		m.Lost = m.Lost[:0]
		for _, f := range missing {
			if f < nblocks {
				m.Lost = append(m.Lost, fmt.Sprintf("block %d (%s)", f, x.cov.Layout.Blocks[f].Func))
			} else {
				m.Lost = append(m.Lost, "outcome "+classNames[f-nblocks])
			}
		}
		if round == 3 {
			break
		}
		added := false
		for _, f := range missing {
			best := -1
			for i, fs := range feats {
				if !chosen[i] && slices.Contains(fs, f) && (best < 0 || sizes[i] < sizes[best]) {
					best = i
				}
			}
			if best >= 0 {
				chosen[best], added = true, true
				m.Restored++
			}
		}
		if !added {
			break
		}
	}
	m.Elapsed = time.Since(start)
	return m, nil
}

func keptIndexes(chosen []bool) []int {
	var keep []int
	for i, c := range chosen {
		if c {
			keep = append(keep, i)
		}
	}
	return keep
}

// union marks the features of the entries (all entries when only is nil).
func union(feats [][]int, only []bool, n int) []bool {
	u := make([]bool, n)
	for i, fs := range feats {
		if only != nil && !only[i] {
			continue
		}
		for _, f := range fs {
			u[f] = true
		}
	}
	return u
}

// selectCover chooses entries whose features cover the union of all
// features; entries 0..fixed-1 are always chosen, entries with no features
// (skipped) never. See Minimize for the three passes.
func selectCover(feats [][]int, sizes []int, nfeat, fixed int) []bool {
	n := len(feats)
	chosen := make([]bool, n)
	covered := make([]bool, nfeat)
	for i := range fixed {
		chosen[i] = true
		for _, f := range feats[i] {
			covered[f] = true
		}
	}
	// smaller reports whether entry i is preferred to j at equal gain.
	smaller := func(i, j int) bool { return sizes[i] < sizes[j] || sizes[i] == sizes[j] && i < j }
	for {
		best, bestGain := -1, 0
		for i, fs := range feats {
			if chosen[i] || len(fs) == 0 {
				continue
			}
			gain := 0
			for _, f := range fs {
				if !covered[f] {
					gain++
				}
			}
			if gain > bestGain || gain == bestGain && gain > 0 && smaller(i, best) {
				best, bestGain = i, gain
			}
		}
		if best < 0 {
			break
		}
		chosen[best] = true
		for _, f := range feats[best] {
			covered[f] = true
		}
	}

	count := make([]int, nfeat)
	for i, c := range chosen {
		if c {
			for _, f := range feats[i] {
				count[f]++
			}
		}
	}
	bySize := make([]int, 0, n)
	for i := fixed; i < n; i++ {
		bySize = append(bySize, i)
	}
	// Largest first.
	slices.SortFunc(bySize, func(a, b int) int {
		if smaller(b, a) {
			return -1
		}
		return 1
	})
	prune := func() {
		for _, i := range bySize {
			if !chosen[i] {
				continue
			}
			redundant := true
			for _, f := range feats[i] {
				if count[f] < 2 {
					redundant = false
					break
				}
			}
			if redundant {
				chosen[i] = false
				for _, f := range feats[i] {
					count[f]--
				}
			}
		}
	}
	prune()
	// Swap a kept entry for the smallest unkept one that has every feature
	// only the kept entry has.
	has := make([]map[int]bool, n)
	for i, fs := range feats {
		has[i] = make(map[int]bool, len(fs))
		for _, f := range fs {
			has[i][f] = true
		}
	}
	for _, i := range bySize {
		if !chosen[i] {
			continue
		}
		var unique []int
		for _, f := range feats[i] {
			if count[f] == 1 {
				unique = append(unique, f)
			}
		}
		best := -1
		for j := range feats {
			if chosen[j] || j < fixed || len(feats[j]) == 0 || !smaller(j, i) || best >= 0 && !smaller(j, best) {
				continue
			}
			ok := true
			for _, f := range unique {
				if !has[j][f] {
					ok = false
					break
				}
			}
			if ok {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		chosen[i], chosen[best] = false, true
		for _, f := range feats[i] {
			count[f]--
		}
		for _, f := range feats[best] {
			count[f]++
		}
	}
	prune()
	return chosen
}

// ErrNoFinding is returned by MinimizeFinding for an entry no oracle
// objects to.
var ErrNoFinding = errors.New("no oracle objects to this input")

// FindingOptions controls MinimizeFinding. The zero value is a budget of
// 100000 runs.
type FindingOptions struct {
	// MaxExecs caps the program runs; default 100000.
	MaxExecs int
}

// MinimizedFinding is a finding's input made as small as MinimizeFinding
// could while the same oracle still objects.
type MinimizedFinding struct {
	// Oracle and Message are the finding of the minimized input (the
	// message can differ from the original's: it describes this input).
	Oracle  string `json:"oracle"`
	Message string `json:"message"`
	// Entry is the minimized input: a concrete packet and context, with
	// ops only when the finding needs the mutator's decisions.
	Entry    corpus.Entry `json:"-"`
	Original corpus.Entry `json:"-"`
	// Execs counts program runs; Elapsed is the time taken.
	Execs   int           `json:"execs"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// MinimizeFinding shrinks the input of a finding to the shortest packet
// (then the shortest context) it finds on which the same oracle still
// objects: it replaces ops by the concrete input they produced, tries
// every shorter prefix of the packet, then removes chunks of halving size,
// then shortens and zeroes the context four bytes at a time. Every
// candidate is one run through BPF_PROG_RUN with the target's oracles and
// checks, maps restored before each. It returns an error wrapping
// ErrNoFinding when the entry triggers nothing.
func (t *Target) MinimizeFinding(e corpus.Entry, opts FindingOptions) (*MinimizedFinding, error) {
	start := time.Now()
	if opts.MaxExecs <= 0 {
		opts.MaxExecs = 100000
	}
	x, err := t.newExecutor(t.Program)
	if err != nil {
		return nil, err
	}
	defer x.close()
	x.peers = [][]byte{e.Packet}
	fd, err := x.execute(e)
	if errors.Is(err, errSkip) {
		return nil, fmt.Errorf("%w: BPF_PROG_RUN does not take it for %s", ErrNoFinding, t.Program)
	}
	if err != nil {
		return nil, err
	}
	if fd == nil {
		return nil, ErrNoFinding
	}
	r := &MinimizedFinding{Oracle: fd.Oracle, Message: fd.Message, Original: e, Execs: 1}
	concrete := x.lastInput()
	var runErr error
	try := func(c corpus.Entry) bool {
		if runErr != nil || r.Execs >= opts.MaxExecs {
			return false
		}
		r.Execs++
		fd, err := x.execute(c)
		if err != nil && !errors.Is(err, errSkip) {
			runErr = err
		}
		if fd == nil || fd.Oracle != r.Oracle {
			return false
		}
		r.Message = fd.Message
		return true
	}
	cur := corpus.Entry{Packet: bytes.Clone(e.Packet), Context: bytes.Clone(e.Context), Ops: bytes.Clone(e.Ops)}
	if len(cur.Ops) > 0 {
		if try(concrete) {
			cur = concrete
		} else if c := (corpus.Entry{Packet: cur.Packet, Context: cur.Context}); try(c) {
			cur = c
		}
	}
	with := func(pkt, ctx []byte) corpus.Entry { return corpus.Entry{Packet: pkt, Context: ctx, Ops: cur.Ops} }
	// The shortest prefix.
	for n := range len(cur.Packet) {
		if c := with(cur.Packet[:n:n], cur.Context); try(c) {
			cur = c
			break
		}
	}
	// Chunks of halving size.
	for size := len(cur.Packet) / 2; size >= 1; size /= 2 {
		for i := 0; i+size <= len(cur.Packet); {
			p := slices.Concat(cur.Packet[:i], cur.Packet[i+size:])
			if c := with(p, cur.Context); try(c) {
				cur = c
				continue
			}
			i += size
		}
	}
	// The context: none, shorter, then zeroed words.
	if len(cur.Context) > 0 {
		if c := with(cur.Packet, []byte{}); try(c) {
			cur = c
		}
	}
	for len(cur.Context) > 0 {
		n := (len(cur.Context) - 1) / 4 * 4
		c := with(cur.Packet, cur.Context[:n:n])
		if !try(c) {
			break
		}
		cur = c
	}
	for i := 0; i < len(cur.Context); i += 4 {
		w := cur.Context[i:min(i+4, len(cur.Context))]
		if bytes.Equal(w, make([]byte, len(w))) {
			continue
		}
		ctx := bytes.Clone(cur.Context)
		clear(ctx[i:min(i+4, len(ctx))])
		if c := with(cur.Packet, ctx); try(c) {
			cur = c
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	if cur.Context == nil {
		cur.Context = []byte{}
	}
	if cur.Ops == nil {
		cur.Ops = []byte{}
	}
	r.Entry = cur
	r.Elapsed = time.Since(start)
	return r, nil
}
