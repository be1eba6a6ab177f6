package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/live"
	"github.com/bpffuzz/bpffuzz/oracle"
	"github.com/cilium/ebpf"
)

const liveUsage = `Live frame mode (--live, XDP only, Linux 5.18+):
  --live                  let the kernel carry out the verdicts (BPF_F_TEST_XDP_LIVE_FRAMES):
                          the frame is run --repeat times in a network namespace bpffuzz
                          creates and removes, receiving on veth0; XDP_TX leaves on veth1
  --repeat N              frames to run (default 1)
  --batch-size B          frames per kernel batch and page pool size (default 64, at most 256)
  --ifname NAME           run on this existing interface instead: XDP_TX really transmits there
  --loopback              receive on the namespace's lo instead of veth0
  --no-capture            no packet sockets, and the peer drops what it counted: the
                          highest rate, for use as a traffic generator
  Prints packets/s, verdict counts, redirects and their errors, exceptions, frames seen on
  the peer and by the stack, and the live oracles' findings (exit 3 when one fires).
  --ctx, --ctx-hex and --checksum-complete do not apply: live runs return no output.
`

// wantsLive reports whether a run command line asks for live frame mode.
func wantsLive(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--live" || a == "-live" || strings.HasPrefix(a, "--live=") || strings.HasPrefix(a, "-live=") {
			return true
		}
	}
	return false
}

// liveCmd is `bpffuzz run OBJECT PROGRAM --live ...`.
func liveCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run --live", flag.ContinueOnError)
	var (
		_         = fs.Bool("live", true, "")
		dataHex   = fs.String("data-hex", "", "")
		dataFile  = fs.String("data", "", "")
		pcapFile  = fs.String("pcap", "", "")
		packetN   = fs.Int("packet", 0, "")
		repeat    = fs.Uint("repeat", 1, "")
		batch     = fs.Uint("batch-size", 0, "")
		ifname    = fs.String("ifname", "", "")
		loopback  = fs.Bool("loopback", false, "")
		noCapture = fs.Bool("no-capture", false, "")
		typ       = fs.String("type", "", "")
		asJSON    = fs.Bool("json", false, "")
		fullLog   = fs.Bool("verifier-log", false, "")
		ctxHex    = fs.String("ctx-hex", "", "")
		csum      = fs.Bool("checksum-complete", false, "")
		ctxFields multiFlag
		vars      multiFlag
		mapsF     multiFlag
		progArr   multiFlag
	)
	fs.Var(&ctxFields, "ctx", "")
	fs.Var(&vars, "var", "")
	fs.Var(&mapsF, "map", "")
	fs.Var(&progArr, "prog-array", "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("run takes OBJECT and PROGRAM, got %d arguments", len(pos))
	}
	object, program := pos[0], pos[1]
	switch {
	case *ctxHex != "" || len(ctxFields) > 0:
		return usagef("--ctx and --ctx-hex do not apply to --live: a live run takes no context and returns none (the kernel rejects ctx_out and data_out with one); name the ingress interface with --ifname")
	case *csum:
		return usagef("--checksum-complete is for skb programs; --live runs XDP programs")
	case *ifname != "" && *loopback:
		return usagef("give --ifname or --loopback, not both")
	case *repeat > 1<<32-1:
		return usagef("--repeat %d is too large (at most %d)", *repeat, uint32(1<<32-1))
	case *batch > bpf.MaxLiveBatch:
		return fmt.Errorf("input rejected before the run: batch_size: batch size %d is above the kernel's maximum of %d (the kernel would return E2BIG); use --batch-size %d or less", *batch, bpf.MaxLiveBatch, bpf.MaxLiveBatch)
	}
	inputs := 0
	for _, set := range []bool{*dataHex != "", *dataFile != "", *pcapFile != ""} {
		if set {
			inputs++
		}
	}
	if inputs != 1 {
		return usagef("--live needs one frame: give one of --data-hex, --data and --pcap")
	}
	if *pcapFile != "" && *packetN < 1 {
		return usagef("--pcap needs --packet N (1 is the first packet)")
	}

	opts := &bpf.Options{}
	if *typ != "" {
		t, at, ok := parseType(*typ)
		if !ok {
			return usagef("unknown --type %q", *typ)
		}
		opts.Type, opts.AttachType = t, at
	}
	if opts.Variables, err = parseVars(vars); err != nil {
		return err
	}
	if opts.Maps, err = parseMaps(mapsF); err != nil {
		return err
	}
	if opts.ProgArrays, err = parseProgArrays(progArr); err != nil {
		return err
	}
	var packet []byte
	switch {
	case *dataHex != "":
		if packet, err = decodeHex(*dataHex); err != nil {
			return fmt.Errorf("--data-hex: %w", err)
		}
	case *dataFile != "":
		if packet, err = os.ReadFile(*dataFile); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
	default:
		if packet, err = pcapPacket(*pcapFile, *packetN); err != nil {
			return err
		}
	}

	p, err := bpf.Load(object, program, opts)
	if err != nil {
		var le *bpf.LoadError
		if *fullLog && errors.As(err, &le) {
			fmt.Fprintf(stderr, "bpffuzz: the verifier rejected program %s; full log:\n%s\n", program, le.FullLog())
			return errReported
		}
		return err
	}
	defer p.Close()
	if p.Type != ebpf.XDP {
		return fmt.Errorf("--live runs XDP programs; %s is a %s program", program, p.Type)
	}
	s, err := live.Start(p, live.Options{Ifname: *ifname, Loopback: *loopback, NoCapture: *noCapture})
	if err != nil {
		return err
	}
	defer s.Close()
	rep, runErr := s.Run(live.Input{Packet: packet, Repeat: uint32(*repeat), BatchSize: uint32(*batch)})
	if bpf.IsInputError(runErr) {
		return fmt.Errorf("input rejected before the run: %w", runErr)
	}
	if rep == nil {
		return runErr
	}
	test, testErr := s.Test(packet)
	findings := oracle.CheckLive(&oracle.LiveRun{Test: test, TestErr: testErr, Report: rep})
	if *asJSON {
		if err := writeLiveJSON(stdout, rep, test, testErr, findings); err != nil {
			return err
		}
	} else {
		writeLiveText(stdout, rep, test, testErr, findings)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "bpffuzz: the kernel failed the live run: %s (%v)\n", bpf.ErrnoName(rep.Errno), runErr)
		return errReported
	}
	if len(findings) > 0 {
		return errFound
	}
	return nil
}

func writeLiveText(w io.Writer, r *live.Report, test bpf.Result, testErr error, findings []*oracle.Finding) {
	where := r.Interface
	switch {
	case r.Namespace && r.Interface == live.Ingress:
		where += " (in a namespace of its own; XDP_TX leaves on " + live.Peer + ")"
	case r.Namespace:
		where += " (in a namespace of its own)"
	default:
		where += " (host interface)"
	}
	fmt.Fprintf(w, "program     %s on %s\n", r.Program, where)
	fmt.Fprintf(w, "frames      %d of %d bytes, batches of %d\n", r.Frames, r.Size, r.BatchSize)
	if r.PacketsPerSecond > 0 {
		fmt.Fprintf(w, "rate        %.0f packets/s (%s for the run, kernel %d ns per frame)\n", r.PacketsPerSecond, r.Elapsed.Round(1000), r.KernelPerFrame.Nanoseconds())
	}
	if r.Verdicts != nil {
		fmt.Fprintf(w, "verdicts    %s (counted by %s)\n", live.Counts(r.Verdicts), r.VerdictMethod)
	} else {
		fmt.Fprintf(w, "verdicts    not counted: %s\n", r.VerdictError)
	}
	fmt.Fprintf(w, "redirects   %d ok, %d failed%s\n", r.Redirects, r.RedirectErrors, parenthesized(live.Counts(r.RedirectErrnos)))
	fmt.Fprintf(w, "exceptions  %d\n", r.Exceptions)
	if r.XmitSent+r.XmitDrops > 0 {
		fmt.Fprintf(w, "transmit    %d sent, %d dropped by the driver\n", r.XmitSent, r.XmitDrops)
	}
	if r.Namespace && r.Interface == live.Ingress {
		socket := " (no packet socket)"
		if c := r.PeerCapture; c != nil {
			socket = fmt.Sprintf(" (packet socket: %d frames, %d dropped)", c.Packets, c.Dropped)
		}
		fmt.Fprintf(w, "peer        %d frames, %d bytes on %s%s\n", r.PeerFrames, r.PeerBytes, live.Peer, socket)
	}
	if r.Stack != nil {
		fmt.Fprintf(w, "stack       %d frames, %d bytes (XDP_PASS)\n", r.Stack.Packets, r.Stack.Bytes)
	}
	if testErr != nil {
		fmt.Fprintf(w, "test run    failed: %v\n", testErr)
	} else {
		fmt.Fprintf(w, "test run    %s\n", bpf.RetvalName(ebpf.XDP, ebpf.AttachNone, test.Retval))
	}
	if len(findings) == 0 {
		fmt.Fprintln(w, "findings    none")
	}
	for _, f := range findings {
		fmt.Fprintf(w, "finding     %s\n", f)
	}
}

type liveJSON struct {
	*live.Report
	TestRetval     uint32   `json:"test_retval"`
	TestRetvalName string   `json:"test_retval_name"`
	TestError      string   `json:"test_error,omitempty"`
	Findings       []string `json:"findings"`
}

func writeLiveJSON(w io.Writer, r *live.Report, test bpf.Result, testErr error, findings []*oracle.Finding) error {
	out := liveJSON{Report: r, TestRetval: test.Retval, TestRetvalName: bpf.RetvalName(ebpf.XDP, ebpf.AttachNone, test.Retval), Findings: []string{}}
	if testErr != nil {
		out.TestError = testErr.Error()
	}
	for _, f := range findings {
		out.Findings = append(out.Findings, f.Error())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
