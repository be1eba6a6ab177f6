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
	"golang.org/x/sys/unix"
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

// bpffsMagic is BPF_FS_MAGIC, the f_type statfs reports for a bpffs mount.
const bpffsMagic = 0xcafe4a11

// bpffsRoot is where BPFFS mounts bpffs when nothing is mounted there.
const bpffsRoot = "/sys/fs/bpf"

// BPFFS returns a fresh, empty directory on a bpffs mount for pinning, and
// removes it (with everything pinned in it) when tb ends. It mounts bpffs at
// /sys/fs/bpf first if no bpffs is mounted there. It skips tb like Skip when
// the process cannot use BPF.
func BPFFS(tb testing.TB) string {
	tb.Helper()
	Skip(tb)
	var st unix.Statfs_t
	if err := unix.Statfs(bpffsRoot, &st); err != nil || st.Type != bpffsMagic {
		if err := os.MkdirAll(bpffsRoot, 0o755); err != nil {
			tb.Fatalf("create bpffs mount point: %v", err)
		}
		if err := unix.Mount("bpf", bpffsRoot, "bpf", 0, "mode=0700"); err != nil {
			tb.Fatalf("mount bpffs at %s: %v", bpffsRoot, err)
		}
	}
	dir, err := os.MkdirTemp(bpffsRoot, "bpffuzz-test-")
	if err != nil {
		tb.Fatalf("create directory on bpffs: %v", err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("remove bpffs directory: %v", err)
		}
	})
	return dir
}
