package bpf

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
)

// ErrPermission is returned when the kernel refuses to load or run a program
// because the caller lacks privilege.
var ErrPermission = errors.New("permission denied: loading and running BPF programs needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; run as root or under scripts/qemu-run.sh")

// ErrNotSupported is returned when the kernel lacks a feature. It is
// cilium/ebpf's sentinel, so errors.Is works across both packages.
var ErrNotSupported = ebpf.ErrNotSupported

// ErrNotRunnable is wrapped by [*NotRunnableError].
var ErrNotRunnable = errors.New("program cannot run through BPF_PROG_RUN")

// ErrNoProgram is wrapped by [*NoProgramError].
var ErrNoProgram = errors.New("no such program")

// InputError is an input (packet, context or run option) that the kernel
// would reject. It is the caller's error, found before the syscall.
type InputError struct {
	// Field is the rejected field, e.g. "ctx.wire_len" or "packet".
	Field string
	// Reason says what the kernel requires.
	Reason string
	// Errno is what the kernel would have returned.
	Errno syscall.Errno
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s: %s (the kernel would return %s)", e.Field, e.Reason, errnoName(e.Errno))
}

func inputErr(field string, errno syscall.Errno, format string, args ...any) *InputError {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...), Errno: errno}
}

// NotRunnableError says why a program type has no BPF_PROG_RUN support.
type NotRunnableError struct {
	Program string
	Type    ebpf.ProgramType
	Reason  string
}

func (e *NotRunnableError) Error() string {
	return fmt.Sprintf("program %s (%s) cannot run through BPF_PROG_RUN: %s", e.Program, e.Type, e.Reason)
}

func (e *NotRunnableError) Unwrap() error { return ErrNotRunnable }

// NoProgramError is a program name missing from an object.
type NoProgramError struct {
	Name string
	// Available lists the programs the object has, sorted.
	Available []string
}

func (e *NoProgramError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("no program %q: the object has no programs", e.Name)
	}
	return fmt.Sprintf("no program %q: the object has %s", e.Name, strings.Join(e.Available, ", "))
}

func (e *NoProgramError) Unwrap() error { return ErrNoProgram }

// LoadError is a program the verifier rejected. Error gives the useful tail
// of the verifier log; Log holds all of it.
type LoadError struct {
	Program string
	// Log is the full verifier log, one line per element.
	Log []string
	// Err is the underlying *ebpf.VerifierError.
	Err error
}

// tailLines is how much of the verifier log an error message shows.
const tailLines = 12

func (e *LoadError) Error() string {
	log := e.Log
	// Drop the "processed N insns" summary: it says nothing about the cause.
	for len(log) > 0 && (strings.HasPrefix(log[len(log)-1], "processed ") || strings.TrimSpace(log[len(log)-1]) == "") {
		log = log[:len(log)-1]
	}
	cut := ""
	if len(log) > tailLines {
		cut = fmt.Sprintf("  (%d earlier lines cut; use the full log to see them)\n", len(log)-tailLines)
		log = log[len(log)-tailLines:]
	}
	var b strings.Builder
	why := ""
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		why = " (" + errnoName(errno) + ")"
	}
	fmt.Fprintf(&b, "the verifier rejected program %s%s; the end of its log:\n", e.Program, why)
	b.WriteString(cut)
	for _, l := range log {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

func (e *LoadError) Unwrap() error { return e.Err }

// FullLog returns the whole verifier log.
func (e *LoadError) FullLog() string { return strings.Join(e.Log, "\n") }

const errnoENOTSUPP = syscall.Errno(524) // kernel-internal ENOTSUPP

func errnoName(e syscall.Errno) string {
	if e == errnoENOTSUPP {
		return "ENOTSUPP"
	}
	if n := ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.EINTR: "EINTR", syscall.ENXIO: "ENXIO",
	syscall.E2BIG: "E2BIG", syscall.EBADF: "EBADF", syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM",
	syscall.EACCES: "EACCES", syscall.EFAULT: "EFAULT", syscall.EBUSY: "EBUSY", syscall.ENODEV: "ENODEV",
	syscall.EINVAL: "EINVAL", syscall.ENOSPC: "ENOSPC", syscall.ERANGE: "ERANGE", syscall.EPROTO: "EPROTO",
	syscall.EBADMSG: "EBADMSG", syscall.EOPNOTSUPP: "EOPNOTSUPP", syscall.EAFNOSUPPORT: "EAFNOSUPPORT",
	errnoENOTSUPP: "ENOTSUPP",
}

// ErrnoName returns the symbolic name of an errno the kernel returns from
// BPF_PROG_RUN ("EINVAL", "ENOTSUPP"), or "" for 0 and unknown values.
func ErrnoName(e syscall.Errno) string { return errnoNames[e] }

// permission turns EPERM/EACCES from the bpf syscall into ErrPermission.
func permission(err error) error {
	if errors.Is(err, syscall.EPERM) {
		// cilium/ebpf's message suggests raising RLIMIT_MEMLOCK; bpffuzz
		// already lifts it, so the cause is privilege.
		return fmt.Errorf("%w (EPERM)", ErrPermission)
	}
	return err
}
