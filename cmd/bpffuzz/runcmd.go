package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/cilium/ebpf"
)

const runUsage = `Usage: bpffuzz run OBJECT PROGRAM [flags]

Runs PROGRAM of the ELF OBJECT once through BPF_PROG_RUN and prints the
return value (with its name), the output packet (hex dump, decoded layers,
what changed), the output context fields that changed, duration and errno.

Input (one of):
  --data-hex HEX          packet bytes as hex
  --data FILE             packet bytes from a file
  --pcap FILE --packet N  packet N (1-based, as Wireshark numbers them) of a pcap/pcapng file
Context (one of):
  --ctx-hex HEX           raw context bytes, judged by the kernel alone
  --ctx FIELD=VALUE       a context field, repeatable:
                            xdp: ingress_ifindex rx_queue_index meta_len linear_len
                            skb: mark priority ingress_ifindex ifindex cb0..cb4 tstamp
                                 wire_len gso_segs gso_size hwtstamp
                            flow_dissector: flags
                            sk_lookup: family(inet|inet6) protocol(tcp|udp) remote_ip
                                 remote_port local_ip local_port
Run:
  --repeat N              run N times on the same buffers (default 1)
  --checksum-complete     skb: let the kernel verify skb->csum after the run (6.11+)
Load:
  --type TYPE             program type when the section does not say it: xdp, tc,
                          sched_act, socket, cgroup_skb/ingress, cgroup_skb/egress,
                          lwt_in, lwt_out, lwt_xmit, flow_dissector, sk_lookup, raw_tp, syscall
  --var NAME=VALUE        set a global variable or struct member (config.port=53);
                          VALUE is an integer or hex:BYTES; repeatable
  --map NAME:KEYHEX=VALHEX  add a map entry before the run; repeatable
  --prog-array MAP:SLOT=PROGRAM  put PROGRAM into a PROG_ARRAY slot; repeatable
  --verifier-log          print the whole verifier log when the program is rejected
Output:
  --json                  one JSON object
` + liveUsage

func runCmd(args []string, stdout, stderr io.Writer) error {
	if wantsLive(args) {
		return liveCmd(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var (
		dataHex   = fs.String("data-hex", "", "")
		dataFile  = fs.String("data", "", "")
		pcapFile  = fs.String("pcap", "", "")
		packetN   = fs.Int("packet", 0, "")
		ctxHex    = fs.String("ctx-hex", "", "")
		repeat    = fs.Uint("repeat", 1, "")
		csum      = fs.Bool("checksum-complete", false, "")
		typ       = fs.String("type", "", "")
		asJSON    = fs.Bool("json", false, "")
		fullLog   = fs.Bool("verifier-log", false, "")
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
	inputs := 0
	for _, set := range []bool{*dataHex != "", *dataFile != "", *pcapFile != ""} {
		if set {
			inputs++
		}
	}
	if inputs > 1 {
		return usagef("give one of --data-hex, --data and --pcap")
	}
	if *pcapFile != "" && *packetN < 1 {
		return usagef("--pcap needs --packet N (1 is the first packet)")
	}
	if *ctxHex != "" && len(ctxFields) > 0 {
		return usagef("give --ctx-hex or --ctx, not both")
	}
	if *repeat > 1<<32-1 {
		return usagef("--repeat %d is too large", *repeat)
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
	case *pcapFile != "":
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

	in := bpf.Input{Packet: packet, Repeat: uint32(*repeat)}
	if *csum {
		in.Flags |= bpf.FlagSKBChecksumComplete
	}
	switch {
	case *ctxHex != "":
		raw, err := decodeHex(*ctxHex)
		if err != nil {
			return fmt.Errorf("--ctx-hex: %w", err)
		}
		in.Context = bpf.RawContext(raw)
	case len(ctxFields) > 0:
		if in.Context, err = buildContext(p.Type, ctxFields); err != nil {
			return err
		}
	}

	res, runErr := p.Run(in)
	var ie *bpf.InputError
	if errors.As(runErr, &ie) {
		return fmt.Errorf("input rejected before the run: %w", runErr)
	}
	var errno syscall.Errno
	if runErr != nil && !errors.As(runErr, &errno) {
		return runErr
	}
	report := newReport(p, in, res)
	if *asJSON {
		if err := report.writeJSON(stdout); err != nil {
			return err
		}
	} else {
		report.writeText(stdout)
	}
	if runErr != nil {
		hint := ""
		if *ctxHex != "" && errno == syscall.EINVAL {
			hint = "; the raw --ctx-hex context is judged by the kernel alone, --ctx FIELD=VALUE is checked by bpffuzz with a reason"
		}
		fmt.Fprintf(stderr, "bpffuzz: the kernel failed the run: %s (%v)%s\n", bpf.ErrnoName(errno), runErr, hint)
		return errReported
	}
	return nil
}

func decodeHex(s string) ([]byte, error) {
	s = strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(strings.TrimPrefix(s, "0x"))
	return hex.DecodeString(s)
}

func pcapPacket(path string, n int) ([]byte, error) {
	c, err := corpus.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, pkt := range c.Packets {
		if pkt.Index == n {
			return pkt.Data, nil
		}
	}
	return nil, fmt.Errorf("%s has no packet %d usable as an Ethernet frame (%d usable packets, skipped by link type: %v)", path, n, len(c.Packets), c.Skipped)
}

var programTypes = map[string]struct {
	t  ebpf.ProgramType
	at ebpf.AttachType
}{
	"xdp": {ebpf.XDP, ebpf.AttachXDP}, "tc": {ebpf.SchedCLS, ebpf.AttachNone}, "sched_cls": {ebpf.SchedCLS, ebpf.AttachNone},
	"classifier": {ebpf.SchedCLS, ebpf.AttachNone}, "sched_act": {ebpf.SchedACT, ebpf.AttachNone}, "action": {ebpf.SchedACT, ebpf.AttachNone},
	"socket": {ebpf.SocketFilter, ebpf.AttachNone}, "socket_filter": {ebpf.SocketFilter, ebpf.AttachNone},
	"cgroup_skb/ingress": {ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress}, "cgroup_skb/egress": {ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress},
	"lwt_in": {ebpf.LWTIn, ebpf.AttachNone}, "lwt_out": {ebpf.LWTOut, ebpf.AttachNone}, "lwt_xmit": {ebpf.LWTXmit, ebpf.AttachNone},
	"flow_dissector": {ebpf.FlowDissector, ebpf.AttachFlowDissector}, "sk_lookup": {ebpf.SkLookup, ebpf.AttachSkLookup},
	"raw_tp": {ebpf.RawTracepoint, ebpf.AttachNone}, "syscall": {ebpf.Syscall, ebpf.AttachNone},
}

func parseType(s string) (ebpf.ProgramType, ebpf.AttachType, bool) {
	v, ok := programTypes[strings.ToLower(s)]
	return v.t, v.at, ok
}

// parseValue reads an integer (decimal, 0x hex, negative) or hex:BYTES.
func parseValue(s string) (any, error) {
	if h, ok := strings.CutPrefix(s, "hex:"); ok {
		return decodeHex(h)
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return i, nil
	}
	u, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is neither an integer nor hex:BYTES", s)
	}
	return u, nil
}

func parseVars(vs []string) (map[string]any, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	m := map[string]any{}
	for _, v := range vs {
		name, val, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, usagef("--var %q: want NAME=VALUE", v)
		}
		x, err := parseValue(val)
		if err != nil {
			return nil, usagef("--var %s: %v", name, err)
		}
		m[name] = x
	}
	return m, nil
}

func parseMaps(ms []string) (map[string][]bpf.MapEntry, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	out := map[string][]bpf.MapEntry{}
	for _, s := range ms {
		name, kv, ok1 := strings.Cut(s, ":")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok1 || !ok2 || name == "" {
			return nil, usagef("--map %q: want NAME:KEYHEX=VALUEHEX", s)
		}
		key, err1 := decodeHex(k)
		val, err2 := decodeHex(v)
		if err := errors.Join(err1, err2); err != nil {
			return nil, usagef("--map %q: %v", s, err)
		}
		out[name] = append(out[name], bpf.MapEntry{Key: key, Value: val})
	}
	return out, nil
}

func parseProgArrays(ps []string) (map[string]map[uint32]string, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := map[string]map[uint32]string{}
	for _, s := range ps {
		name, rest, ok1 := strings.Cut(s, ":")
		slot, prog, ok2 := strings.Cut(rest, "=")
		n, err := strconv.ParseUint(slot, 0, 32)
		if !ok1 || !ok2 || err != nil || prog == "" {
			return nil, usagef("--prog-array %q: want MAP:SLOT=PROGRAM", s)
		}
		if out[name] == nil {
			out[name] = map[uint32]string{}
		}
		out[name][uint32(n)] = prog
	}
	return out, nil
}

// buildContext makes the typed context for the program type from
// FIELD=VALUE flags.
func buildContext(t ebpf.ProgramType, fields []string) (bpf.Context, error) {
	u32 := func(v string) (uint32, error) {
		n, err := strconv.ParseUint(v, 0, 32)
		return uint32(n), err
	}
	u64 := func(v string) (uint64, error) { return strconv.ParseUint(v, 0, 64) }
	set := func(field, val string, known map[string]func(string) error) error {
		f, ok := known[field]
		if !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			return usagef("--ctx %s: %s programs take only %s (the kernel rejects any other non-zero field)", field, t, strings.Join(sortedStrings(names), ", "))
		}
		if err := f(val); err != nil {
			return usagef("--ctx %s=%s: %v", field, val, err)
		}
		return nil
	}
	apply := func(known map[string]func(string) error) error {
		for _, fv := range fields {
			field, val, ok := strings.Cut(fv, "=")
			if !ok {
				return usagef("--ctx %q: want FIELD=VALUE", fv)
			}
			if err := set(field, val, known); err != nil {
				return err
			}
		}
		return nil
	}
	into32 := func(dst *uint32) func(string) error {
		return func(v string) (err error) { *dst, err = u32(v); return }
	}
	into64 := func(dst *uint64) func(string) error {
		return func(v string) (err error) { *dst, err = u64(v); return }
	}
	switch {
	case t == ebpf.XDP:
		var c bpf.XDPContext
		err := apply(map[string]func(string) error{
			"ingress_ifindex": into32(&c.IngressIfindex), "rx_queue_index": into32(&c.RxQueueIndex),
			"meta_len": into32(&c.MetaLen), "linear_len": into32(&c.LinearLen),
		})
		return c, err
	case t == ebpf.FlowDissector:
		var c bpf.FlowDissectorContext
		err := apply(map[string]func(string) error{"flags": into32(&c.Flags)})
		return c, err
	case t == ebpf.SkLookup:
		var c bpf.SKLookupContext
		port := func(dst *uint16) func(string) error {
			return func(v string) error {
				n, err := strconv.ParseUint(v, 0, 16)
				*dst = uint16(n)
				return err
			}
		}
		addr := func(dst *netip.Addr) func(string) error {
			return func(v string) (err error) { *dst, err = netip.ParseAddr(v); return }
		}
		err := apply(map[string]func(string) error{
			"family": func(v string) error {
				switch v {
				case "inet", "ipv4":
					c.Family = syscall.AF_INET
				case "inet6", "ipv6":
					c.Family = syscall.AF_INET6
				default:
					n, err := u32(v)
					c.Family = n
					return err
				}
				return nil
			},
			"protocol": func(v string) error {
				switch v {
				case "tcp":
					c.Protocol = syscall.IPPROTO_TCP
				case "udp":
					c.Protocol = syscall.IPPROTO_UDP
				default:
					n, err := u32(v)
					c.Protocol = n
					return err
				}
				return nil
			},
			"remote_ip": addr(&c.RemoteIP), "local_ip": addr(&c.LocalIP),
			"remote_port": port(&c.RemotePort), "local_port": port(&c.LocalPort),
		})
		return c, err
	case isSKB(t):
		var c bpf.SKBContext
		known := map[string]func(string) error{
			"mark": into32(&c.Mark), "priority": into32(&c.Priority), "ingress_ifindex": into32(&c.IngressIfindex),
			"ifindex": into32(&c.Ifindex), "tstamp": into64(&c.Tstamp), "wire_len": into32(&c.WireLen),
			"gso_segs": into32(&c.GSOSegs), "gso_size": into32(&c.GSOSize), "hwtstamp": into64(&c.Hwtstamp),
		}
		for i := range c.CB {
			known[fmt.Sprintf("cb%d", i)] = into32(&c.CB[i])
		}
		err := apply(known)
		return c, err
	}
	return nil, usagef("--ctx: %s programs take a raw context: use --ctx-hex", t)
}

func isSKB(t ebpf.ProgramType) bool {
	switch t {
	case ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB, ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local:
		return true
	}
	return false
}
