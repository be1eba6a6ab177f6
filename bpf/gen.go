package bpf

//go:generate ../scripts/build-bpf.sh testdata
