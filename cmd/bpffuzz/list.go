package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/bpffuzz/bpffuzz/bpf"
)

func listCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("list takes one OBJECT, got %d arguments", len(pos))
	}
	obj, err := bpf.Inspect(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(obj)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tTYPE\tSECTION\tINSNS\tRUNNABLE")
	for _, p := range obj.Programs {
		runnable := "yes"
		if !p.Runnable {
			runnable = "no: " + p.Reason
		} else if p.SeesL3 {
			runnable = "yes (sees the packet from the IP header)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Name, p.Type, p.Section, p.Instructions, runnable)
	}
	if len(obj.Maps) > 0 {
		fmt.Fprintln(tw, "\nMAP\tTYPE\tKEY\tVALUE\tENTRIES")
		for _, m := range obj.Maps {
			pinned := ""
			if m.Pinned {
				pinned = "\tpinned by name (bpffuzz clears the pinning)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d%s\n", m.Name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, pinned)
		}
	}
	if len(obj.Variables) > 0 {
		fmt.Fprintln(tw, "\nVARIABLE\tSECTION\tSIZE\tTYPE")
		for _, v := range obj.Variables {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", v.Name, v.Section, v.Size, v.Type)
		}
	}
	return tw.Flush()
}

func probeCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("probe takes no arguments")
	}
	f := bpf.Probe()
	outcome := func(err error) string {
		switch {
		case err == nil:
			return "supported"
		case errors.Is(err, bpf.ErrNotSupported):
			return "not supported"
		}
		return "couldn't tell: " + err.Error()
	}
	rows := [][2]string{}
	for _, t := range bpf.ProbeTypes {
		rows = append(rows, [2]string{"BPF_PROG_RUN " + t.String(), outcome(f.ProgRun[t.String()])})
	}
	rows = append(rows,
		[2]string{"XDP live frames", outcome(f.XDPLiveFrames)},
		[2]string{"XDP linear length from ctx", outcome(f.XDPLinearFromContext)},
		[2]string{"XDP metadata limit", func() string {
			if f.XDPMetadataLimitErr != nil {
				return outcome(f.XDPMetadataLimitErr)
			}
			return fmt.Sprintf("%d bytes", f.XDPMetadataLimit)
		}()},
		[2]string{"skb checksum-complete flag", outcome(f.SKBChecksumComplete)},
		[2]string{"short IPv4/IPv6 frames rejected", outcome(f.ShortIPFrameRejection)},
	)
	if *asJSON {
		m := map[string]string{}
		for _, r := range rows {
			m[r[0]] = r[1]
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}
