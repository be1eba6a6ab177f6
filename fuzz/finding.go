package fuzz

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bpffuzz/bpffuzz/corpus"
)

// writeFinding writes a finding's directory: report.txt, the input as a
// go test fuzz v1 file, and the input and output packets as pcapng. The
// directory is per oracle, so a rerun of the same bug replaces it.
func (x *executor) writeFinding(fd *Finding, replaying bool) (string, error) {
	dir := filepath.Join(findingsDir(x.name), sanitize(fd.Oracle))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return dir, err
	}
	data := corpus.Marshal(fd.Entry)
	name := corpus.FileName(data)
	var b strings.Builder
	b.WriteString(fd.Report)
	if x.engine {
		if x.corpusDir != "" {
			fmt.Fprintf(&b, "\ncorpus file  %s\n", filepath.Join(x.corpusDir, name))
		}
		fmt.Fprintf(&b, "replay       bpffuzz replay %s %s %s\n", x.t.Object, x.t.Program, filepath.Join(dir, name))
	} else {
		fmt.Fprintf(&b, "\ncorpus file  testdata/fuzz/%s/%s\n", x.name, name)
		fmt.Fprintf(&b, "replay       go test -run '%s/%s' .\n", x.name, name)
	}
	fmt.Fprintf(&b, "packets      %s (open in Wireshark)\n", filepath.Join(dir, "packets.pcapng"))
	if err := corpus.WriteFileAtomic(filepath.Join(dir, "report.txt"), []byte(b.String())); err != nil {
		return dir, err
	}
	if err := corpus.WriteFileAtomic(filepath.Join(dir, name), data); err != nil {
		return dir, err
	}
	// The capture holds the frames; XDP metadata in front of them is left
	// out (the report's hex dump shows it).
	meta := func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf(" (after %d bytes of XDP metadata, not in this frame)", n)
	}
	pkts := []corpus.ExportPacket{{Data: fd.Packet[fd.InMeta:], Comment: fmt.Sprintf("input %s: %s: %s%s", name, fd.Oracle, fd.Message, meta(fd.InMeta))}}
	if fd.Output != nil {
		pkts = append(pkts, corpus.ExportPacket{Data: fd.Output[fd.OutMeta:], Comment: fmt.Sprintf("output of %s, retval %d%s", name, fd.Retval, meta(fd.OutMeta))})
	}
	if err := corpus.WritePcapng(filepath.Join(dir, "packets.pcapng"), pkts); err != nil {
		return dir, err
	}
	return dir, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
