// Package fuzz fuzzes BPF programs: a [Target] names an object, a program,
// its setup and seeds, and runs under `go test -fuzz` (Target.Fuzz) or in
// the in-process engine behind `bpffuzz fuzz` ([Engine]).
//
// One execution: the fuzz input is a corpus.Entry (packet, context, ops);
// the ops are decisions (read through internal/consume) that package mutate
// applies to the packet and context, structure-aware; maps are restored to
// their state after setup; the program runs through BPF_PROG_RUN; the BPF
// blocks it took reach Go's fuzzer through cover.Feed; every oracle checks
// the run. An execution is reproducible from its input alone.
//
// Findings are written to testdata/findings/<FuzzName>/<oracle>/: a report,
// the input as a go test fuzz v1 file, the input and output packets as a
// pcapng file, and the command that replays it.
//
// Environment: BPFFUZZ_FINDINGS overrides the findings directory;
// BPFFUZZ_NO_COVERAGE=1 runs every target uninstrumented.
package fuzz
