// Package examples holds the example BPF programs bundled with bpffuzz, compiled from C.
package examples

//go:generate ../scripts/build-bpf.sh .
