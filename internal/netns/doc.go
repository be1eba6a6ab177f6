// Package netns creates throwaway network namespaces with a veth pair and
// runs code inside them, so live XDP runs never touch a host interface.
//
// A namespace is held only by a file descriptor: it is never bind-mounted
// or named, so it disappears with its interfaces when [NS.Close] closes the
// descriptor, or when the process dies. Needs CAP_SYS_ADMIN and
// CAP_NET_ADMIN (root). Package netns reads no environment variables.
package netns
