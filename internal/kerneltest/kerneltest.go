// Package kerneltest gates tests that need the kernel's BPF_PROG_RUN.
//
// Environment: BPFFUZZ_REQUIRE_KERNEL=1 (or CI=true) turns every skip for
// missing privilege into a test failure, so CI never passes by skipping.
package kerneltest

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
)

var (
	once   sync.Once
	reason string
)

// Required reports whether kernel tests must run rather than skip.
func Required() bool {
	return os.Getenv("BPFFUZZ_REQUIRE_KERNEL") == "1" || os.Getenv("CI") == "true"
}

// Skip skips tb (or fails it, when Required) unless this process can load
// and run BPF programs. It probes once by loading a trivial socket filter.
func Skip(tb testing.TB) {
	tb.Helper()
	once.Do(func() {
		_ = rlimit.RemoveMemlock()
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type: ebpf.SocketFilter, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			reason = "cannot load BPF programs (" + err.Error() + "); run as root or under scripts/qemu-run.sh"
			if !errors.Is(err, os.ErrPermission) {
				reason = "BPF unavailable: " + err.Error()
			}
			return
		}
		prog.Close()
	})
	if reason == "" {
		return
	}
	if Required() {
		tb.Fatalf("kernel test cannot run and BPFFUZZ_REQUIRE_KERNEL/CI forbids skipping: %s", reason)
	}
	tb.Skipf("skipping, %s", reason)
}
