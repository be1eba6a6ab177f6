// Package corpus reads packet captures (pcap and pcapng) into packets a BPF
// program can run on, and reads and writes bpffuzz's corpus: fuzz inputs
// (Entry) as `go test fuzz v1` files that plain `go test -fuzz` reads too.
// It never touches the kernel.
//
// Corpus files are parsed, never evaluated (ParseFile reads the literals
// with go/scanner), written through a temporary file and a link or rename
// (WriteFile), and named as Go names them (FileName), so Go and bpffuzz
// agree on names and a duplicate is written once. A corrupt file is
// reported by path and left in place, never deleted.
//
//   - Seed: every packet of captures becomes an entry (bpffuzz seed).
//   - Merge: the union of corpus directories, deduplicated (bpffuzz merge).
//   - ExportEntry, WritePcapng: entries back to a pcapng capture with a
//     packet comment per entry (bpffuzz export).
package corpus
