// Command bpffuzz runs and fuzzes eBPF programs through the kernel's
// BPF_PROG_RUN.
//
//	bpffuzz list OBJECT [--json]
//	bpffuzz run OBJECT PROGRAM [input flags] [--json]
//	bpffuzz probe [--json]
//
// Exit codes: 0 the command ran (and fuzz found nothing), 1 it could not run
// (bad input, missing privilege, verifier rejection, kernel error), 2 usage
// error, 3 fuzz wrote a finding.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// usageError is a command line the tool does not understand (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errFound means a finding was written (exit 3).
var errFound = errors.New("finding written")

// errReported means the command already printed its failure (exit 1).
var errReported = errors.New("reported")

func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "bpffuzz: %s\nRun 'bpffuzz help' for usage.\n", ue.msg)
		return 2
	case errors.Is(err, errFound):
		return 3
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "bpffuzz: %v\n", err)
		return 1
	}
}

const usage = `bpffuzz runs eBPF programs through the kernel's BPF_PROG_RUN.

Usage:
  bpffuzz list OBJECT [--json]              programs, maps and variables of an ELF object
  bpffuzz run OBJECT PROGRAM [flags]        run a program once on one input
  bpffuzz fuzz OBJECT PROGRAM [flags]       fuzz a program (exit 3 when a finding was written)
  bpffuzz replay OBJECT PROGRAM FILE|DIR... run corpus entries with the oracles (exit 3 on a finding)
  bpffuzz cover OBJECT PROGRAM DIR...      BPF block and line coverage of a corpus [--html FILE] [--json]
  bpffuzz seed PCAP... --out DIR            corpus entries from every packet of captures
  bpffuzz merge DIR... --out DIR            union of corpora, deduplicated [--minimize OBJECT PROGRAM]
  bpffuzz minimize OBJECT PROGRAM DIR       smallest corpus with the same coverage and outcomes
  bpffuzz minimize OBJECT PROGRAM FINDING   shortest input the finding's oracle still objects to
  bpffuzz export DIR|FINDING... --pcap F    corpus entries or findings as a pcapng capture
  bpffuzz diff A.json B.json                entries whose outcome differs between two replay --record files
  bpffuzz probe [--json]                    what this kernel's BPF_PROG_RUN supports
  bpffuzz help [COMMAND]

Run 'bpffuzz help run' for the input flags.
Needs root, or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON (or run under scripts/qemu-run.sh).
`

// commandUsage is each command's help text (bpffuzz help COMMAND).
var commandUsage = map[string]string{
	"run":      runUsage,
	"fuzz":     fuzzUsage,
	"replay":   replayUsage,
	"diff":     diffUsage,
	"cover":    coverUsage,
	"seed":     seedUsage,
	"merge":    mergeUsage,
	"minimize": minimizeUsage,
	"export":   exportUsage,
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "list":
		return listCmd(rest, stdout)
	case "run":
		return runCmd(rest, stdout, stderr)
	case "probe":
		return probeCmd(rest, stdout)
	case "fuzz":
		return fuzzCmd(rest, stdout, stderr)
	case "replay":
		return replayCmd(rest, stdout, stderr)
	case "diff":
		return diffCmd(rest, stdout)
	case "cover":
		return coverCmd(rest, stdout, stderr)
	case "seed":
		return seedCmd(rest, stdout, stderr)
	case "merge":
		return mergeCmd(rest, stdout, stderr)
	case "minimize":
		return minimizeCmd(rest, stdout, stderr)
	case "export":
		return exportCmd(rest, stdout, stderr)
	case "help", "-h", "--help":
		if len(rest) > 0 && commandUsage[rest[0]] != "" {
			fmt.Fprint(stdout, commandUsage[rest[0]])
			return nil
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}
