package corpus

// Entry is one fuzz input as bpffuzz stores it: a `go test fuzz v1` file
// with three string values, in this order, so that plain `go test -fuzz`
// reads, mutates and replays it:
//
//	go test fuzz v1
//	string("<packet>")
//	string("<context>")
//	string("<ops>")
type Entry struct {
	// Packet is the input packet (data_in) before any mutation.
	Packet []byte
	// Context is the program type's context struct as the kernel lays it
	// out (struct xdp_md, struct __sk_buff, ...), possibly shorter than the
	// struct (the rest is zero); empty means the type's default context.
	Context []byte
	// Ops are the mutation decisions the fuzz target applies to Packet and
	// Context before the run; empty means none (the packet runs as is).
	Ops []byte
}
