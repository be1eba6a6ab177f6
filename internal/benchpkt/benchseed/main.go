// Command benchseed writes a pcapng file holding one benchpkt.UDP frame of
// the given size, the seed of scripts/bench.sh.
//
//	go run ./internal/benchpkt/benchseed -size 64 -o seed.pcapng
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/benchpkt"
)

func main() {
	size := flag.Int("size", 64, "frame size in bytes")
	out := flag.String("o", "seed.pcapng", "output file")
	flag.Parse()
	if err := corpus.WritePcapng(*out, []corpus.ExportPacket{{Data: benchpkt.UDP(*size)}}); err != nil {
		fmt.Fprintln(os.Stderr, "benchseed:", err)
		os.Exit(1)
	}
}
