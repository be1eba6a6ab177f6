package live_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/bpffuzz/bpffuzz/internal/netns"
	"github.com/bpffuzz/bpffuzz/live"
	"golang.org/x/sys/unix"
)

// benchFrames is how many frames one benchmark operation sends.
const benchFrames = 1 << 16

var benchCases = []struct {
	program string
	batch   uint32
}{
	{"xdp_drop", 1}, {"xdp_drop", 64}, {"xdp_drop", 256},
	{"xdp_tx", 1}, {"xdp_tx", 64}, {"xdp_tx", 256},
}

// BenchmarkLive is bpffuzz's live run as a traffic generator: a Session
// with NoCapture (counters on, the peer counts and drops), benchFrames
// 64-byte frames per operation. The pkts/s metric is frames over wall time,
// the session's counting and waiting for the peer included.
func BenchmarkLive(b *testing.B) {
	for _, c := range benchCases {
		b.Run(fmt.Sprintf("%s/batch=%d", c.program, c.batch), func(b *testing.B) {
			kerneltest.Skip(b)
			p, err := bpf.Load(object, c.program, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			s, err := live.Start(p, live.Options{NoCapture: true, Quiet: 20 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			in := live.Input{Packet: frame(), Repeat: benchFrames, BatchSize: c.batch}
			b.ResetTimer()
			for range b.N {
				r, err := s.Run(in)
				if err != nil {
					b.Fatal(err)
				}
				if c.program == "xdp_tx" && r.PeerFrames+r.XmitDrops != benchFrames {
					b.Fatalf("%d frames on the peer, %d dropped, want %d", r.PeerFrames, r.XmitDrops, benchFrames)
				}
			}
			b.ReportMetric(float64(b.N)*benchFrames/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// rawAttr is bpf_attr.test for BPF_PROG_TEST_RUN, written out here so that
// the raw loop shares nothing with package bpf's run path.
type rawAttr struct {
	progFD, retval, dataSizeIn, dataSizeOut uint32
	dataIn, dataOut                         uint64
	repeat, duration, ctxSizeIn, ctxSizeOut uint32
	ctxIn, ctxOut                           uint64
	flags, cpu, batchSize, _                uint32
}

// BenchmarkRawLoop is the reference: the same live BPF_PROG_RUN syscall
// issued in a loop with nothing else (no counters, no session), on the
// same veth pair with a peer program that drops what arrives.
func BenchmarkRawLoop(b *testing.B) {
	for _, c := range benchCases {
		b.Run(fmt.Sprintf("%s/batch=%d", c.program, c.batch), func(b *testing.B) {
			kerneltest.Skip(b)
			p, err := bpf.Load(object, c.program, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			ns, err := netns.New()
			if err != nil {
				b.Fatal(err)
			}
			defer ns.Close()
			v, err := ns.AddVeth(live.Ingress, live.Peer, live.MTU)
			if err != nil {
				b.Fatal(err)
			}
			pkt := frame()
			ctx := make([]byte, 24)
			ctx[4] = byte(len(pkt)) // data_end
			*(*uint32)(unsafe.Pointer(&ctx[12])) = uint32(v.Index)
			var elapsed time.Duration
			err = ns.Do(func() error {
				peer, err := bpf.AttachPeerCounter(v.PeerIndex, false)
				if err != nil {
					return err
				}
				defer peer.Close()
				a := rawAttr{
					progFD: uint32(p.Raw().FD()), dataSizeIn: uint32(len(pkt)), dataIn: uint64(uintptr(unsafe.Pointer(&pkt[0]))),
					repeat: benchFrames, ctxSizeIn: 24, ctxIn: uint64(uintptr(unsafe.Pointer(&ctx[0]))),
					flags: bpf.FlagXDPLiveFrames, batchSize: c.batch,
				}
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if _, _, errno := unix.Syscall(unix.SYS_BPF, 10, uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a)); errno != 0 {
						return errno
					}
				}
				elapsed = time.Since(start)
				runtime.KeepAlive(pkt)
				runtime.KeepAlive(ctx)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)*benchFrames/elapsed.Seconds(), "pkts/s")
		})
	}
}
