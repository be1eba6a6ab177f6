package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// permissionChildEnv marks the child process of TestPermission and holds
// the path of the object it loads.
const permissionChildEnv = "BPFFUZZ_PERMISSION_CHILD_OBJECT"

const nobody = 65534

// TestPermission loads a program without privilege and checks the error
// says what is missing. It runs a copy of this test binary as uid and gid
// 65534 (nobody), with no capabilities, and reads what the child printed.
func TestPermission(t *testing.T) {
	kerneltest.Skip(t)
	if os.Geteuid() != 0 {
		t.Fatalf("the test switches to uid %d, which needs root (euid %d)", nobody, os.Geteuid())
	}
	// Unprivileged BPF (unprivileged_bpf_disabled = 0) only ever allows
	// socket filters and cgroup_skb programs; xdp_linlen is XDP and needs
	// CAP_BPF and CAP_NET_ADMIN whatever the setting, so the load must fail.
	sysctl, _ := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	t.Logf("kernel.unprivileged_bpf_disabled = %s", bytes.TrimSpace(sysctl))

	// t.TempDir and its parent are 0700 and root's: open them up for nobody.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bpf.test")
	copyFile(t, os.Args[0], bin, 0o755)
	obj := filepath.Join(dir, "types.o")
	copyFile(t, types, obj, 0o644)

	cmd := exec.Command(bin, "-test.run=^TestPermissionHelper$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), permissionChildEnv+"="+obj)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child as uid %d did not exit cleanly: %v", nobody, err)
	}
	s := string(out)
	if strings.Contains(s, "panic") || !strings.Contains(s, "--- PASS: TestPermissionHelper") {
		t.Fatalf("child did not run TestPermissionHelper to the end")
	}
	if !strings.Contains(s, "uid=65534 ") {
		t.Fatalf("child did not run as uid %d", nobody)
	}
	if strings.Contains(s, "LOADED") {
		t.Fatalf("an XDP program loaded without privilege")
	}
	for _, want := range []string{"load error: ", "permission denied", "root", "CAP_BPF", "is ErrPermission: true"} {
		if !strings.Contains(s, want) {
			t.Errorf("child output lacks %q", want)
		}
	}
}

// TestPermissionHelper is the child of TestPermission. It does nothing in a
// normal test run.
func TestPermissionHelper(t *testing.T) {
	obj := os.Getenv(permissionChildEnv)
	if obj == "" {
		return // not the child: nothing to do, and not a skip
	}
	fmt.Printf("uid=%d euid=%d\n", os.Getuid(), os.Geteuid())
	p, err := Load(obj, "xdp_linlen", nil)
	if err == nil {
		p.Close()
		fmt.Println("LOADED")
		return
	}
	fmt.Printf("load error: %v\n", err)
	fmt.Printf("is ErrPermission: %v\n", errors.Is(err, ErrPermission))
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
