// Package corpus reads packet captures (pcap and pcapng) into packets a BPF
// program can run on. It never touches the kernel.
package corpus
