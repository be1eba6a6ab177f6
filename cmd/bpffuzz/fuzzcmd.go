package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/fuzz"
	"github.com/bpffuzz/bpffuzz/oracle"
)

const fuzzUsage = `Usage: bpffuzz fuzz OBJECT PROGRAM [flags]

Fuzzes PROGRAM in this process with the same target definition, mutators,
oracles and BPF coverage as go test -fuzz, and writes new corpus entries
(go test fuzz v1) and findings. Exit codes: 0 nothing found, 3 a finding
was written, 1 could not run, 2 usage.

  --seed PCAP          seed from every packet of a pcap/pcapng file; repeatable
  --time DURATION      stop after this long (default 30s; 0 runs until Ctrl-C)
  --corpus DIR         read and extend this corpus (e.g. testdata/fuzz/FuzzX)
  --findings DIR       where findings go (default testdata/findings)
  --oracle NAME        turn on an oracle (repeatable); --oracle list shows them
  --no-default-oracles only the oracles named with --oracle
  --maps FILE          JSON: {"type": "...", "variables": {...}, "maps": {"name": [{"key": K, "value": V}]}, "prog_arrays": {"map": {"0": "prog"}}}
                       where a key or value is an integer, a hex string, or {"member": INT|HEX, "a.b": ...}
                       naming members of its BTF struct
  --workers N          parallel workers (default: one per CPU)
  --deterministic      run every input twice and compare (for stateless programs)
  --no-coverage        run uninstrumented
  --keep-going         continue after the first finding
  --json               print the final statistics as JSON
`

func fuzzCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
	var seeds, oracles multiFlag
	fs.Var(&seeds, "seed", "")
	fs.Var(&oracles, "oracle", "")
	dur := fs.Duration("time", 30*time.Second, "")
	corpusDir := fs.String("corpus", "", "")
	findings := fs.String("findings", "", "")
	noDefault := fs.Bool("no-default-oracles", false, "")
	mapsFile := fs.String("maps", "", "")
	workers := fs.Int("workers", 0, "")
	det := fs.Bool("deterministic", false, "")
	noCov := fs.Bool("no-coverage", false, "")
	keepGoing := fs.Bool("keep-going", false, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(oracles) == 1 && oracles[0] == "list" {
		for _, n := range oracle.Names() {
			o, _ := oracle.ByName(n)
			fmt.Fprintf(stdout, "%-14s %s\n", n, firstSentence(o.Doc()))
		}
		return nil
	}
	if len(pos) != 2 {
		return usagef("fuzz takes OBJECT and PROGRAM, got %d arguments", len(pos))
	}
	t := &fuzz.Target{Object: pos[0], Program: pos[1], Deterministic: *det, NoCoverage: *noCov}
	if *mapsFile != "" {
		if t.Options, err = readSetup(*mapsFile); err != nil {
			return err
		}
	}
	if len(seeds) > 0 {
		t.Seeds = fuzz.Pcap(seeds...)
	}
	if *noDefault || len(oracles) > 0 {
		if !*noDefault {
			t.Oracles = oracle.Default()
		} else {
			t.Oracles = []oracle.Oracle{}
		}
		for _, n := range oracles {
			o, ok := oracle.ByName(n)
			if !ok {
				return usagef("unknown oracle %q (have %s)", n, strings.Join(oracle.Names(), ", "))
			}
			t.Oracles = append(t.Oracles, o)
		}
	}
	if *findings != "" {
		os.Setenv("BPFFUZZ_FINDINGS", *findings)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	progress := stderr
	fmt.Fprintf(stderr, "bpffuzz: fuzzing %s in %s for %s\n", t.Program, t.Object, durationText(*dur))
	st, err := t.Run(ctx, fuzz.EngineOptions{Workers: *workers, Duration: *dur, CorpusDir: *corpusDir,
		Progress: progress, KeepGoing: *keepGoing})
	if err != nil {
		return err
	}
	if st.Coverage != "" {
		fmt.Fprintf(stderr, "bpffuzz: coverage: %s\n", st.Coverage)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%d execs in %s (%.0f/s), corpus %d, blocks %d/%d, %d findings\n",
			st.Execs, st.Elapsed.Round(time.Millisecond), st.ExecsPerSec, st.Corpus, st.BlocksHit, st.BlocksTotal, len(st.Findings))
		for _, f := range st.Findings {
			fmt.Fprintf(stdout, "finding: %s\n", f)
		}
	}
	if len(st.Findings) > 0 {
		return errFound
	}
	return nil
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "ever (Ctrl-C stops)"
	}
	return d.String()
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// setupFile is the --maps file: the load options a Go target sets in code.
type setupFile struct {
	Type       string                       `json:"type"`
	Variables  map[string]json.RawMessage   `json:"variables"`
	Maps       map[string][]setupEntry      `json:"maps"`
	ProgArrays map[string]map[string]string `json:"prog_arrays"`
}

type setupEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// readSetup reads a --maps file. Values are JSON integers, hex strings
// ("0a000001", or "hex:0a000001"), or, for map keys and values, objects
// naming the members of their BTF struct ({"action": 1, "addr.port": 53}).
func readSetup(path string) (*bpf.Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sf setupFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("%s: %w (see bpffuzz help fuzz for the format)", path, err)
	}
	o := &bpf.Options{}
	if sf.Type != "" {
		t, at, ok := parseType(sf.Type)
		if !ok {
			return nil, fmt.Errorf("%s: unknown type %q", path, sf.Type)
		}
		o.Type, o.AttachType = t, at
	}
	var value func(what string, raw json.RawMessage) (any, error)
	value = func(what string, raw json.RawMessage) (any, error) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err == nil && fields != nil {
			// Members of the key's or value's BTF struct, by name.
			out := make(map[string]any, len(fields))
			for name, f := range fields {
				v, err := value(what+" member "+name, f)
				if err != nil {
					return nil, err
				}
				if _, nested := v.(map[string]any); nested {
					return nil, fmt.Errorf("%s: %s member %s: name nested members with dots (\"addr.port\")", path, what, name)
				}
				out[name] = v
			}
			return out, nil
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err == nil {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %s: want an integer, a hex string or an object of struct members, got %s", path, what, raw)
		}
		b, err := decodeHex(strings.TrimPrefix(s, "hex:"))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, what, err)
		}
		return b, nil
	}
	if len(sf.Variables) > 0 {
		o.Variables = map[string]any{}
		for name, raw := range sf.Variables {
			v, err := value("variable "+name, raw)
			if err != nil {
				return nil, err
			}
			o.Variables[name] = v
		}
	}
	if len(sf.Maps) > 0 {
		o.Maps = map[string][]bpf.MapEntry{}
		for name, entries := range sf.Maps {
			for i, e := range entries {
				k, err := value(fmt.Sprintf("map %s entry %d key", name, i), e.Key)
				if err != nil {
					return nil, err
				}
				v, err := value(fmt.Sprintf("map %s entry %d value", name, i), e.Value)
				if err != nil {
					return nil, err
				}
				o.Maps[name] = append(o.Maps[name], bpf.MapEntry{Key: k, Value: v})
			}
		}
	}
	if len(sf.ProgArrays) > 0 {
		var specs []string
		for m, slots := range sf.ProgArrays {
			for slot, prog := range slots {
				specs = append(specs, m+":"+slot+"="+prog)
			}
		}
		if o.ProgArrays, err = parseProgArrays(specs); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return o, nil
}
