package corpus

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/bpffuzz/bpffuzz/internal/netns"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestSeedLiveCapture captures real traffic in a fresh network namespace
// (UDP datagrams and a TCP connection over loopback) with tcpdump (pcap,
// Ethernet link type) and tshark (pcapng on the "any" device, Linux cooked
// headers), seeds a corpus from both captures, and exports it back. It
// needs root and the Debian packages tcpdump and tshark; in CI
// (BPFFUZZ_REQUIRE_KERNEL=1) a missing one fails the test.
func TestSeedLiveCapture(t *testing.T) {
	kerneltest.Skip(t)
	tcpdump := needTool(t, "tcpdump", "tcpdump")
	tshark := needTool(t, "tshark", "tshark")
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	tmp := t.TempDir()
	loPcap, anyPcapng := filepath.Join(tmp, "lo.pcap"), filepath.Join(tmp, "any.pcapng")
	marker := fmt.Sprintf("bpffuzz live capture %d", os.Getpid())
	err = ns.Do(func() error {
		// Processes started on this thread are in the namespace.
		dump, err := startCapture(tcpdump, "listening on", "-i", "lo", "-U", "--immediate-mode", "-n", "-w", loPcap)
		if err != nil {
			return err
		}
		defer dump.stop()
		shark, err := startCapture(tshark, "Capturing on", "-i", "any", "-n", "-w", anyPcapng)
		if err != nil {
			return err
		}
		defer shark.stop()
		// Both tools say they capture before they do, and hand frames over
		// in batches: send datagrams until both files hold one, then the
		// traffic, and wait until both files hold its last frame.
		sync, err := net.Dial("udp4", "127.0.0.1:9")
		if err != nil {
			return err
		}
		defer sync.Close()
		if err := waitFor(func() { fmt.Fprintf(sync, "%s sync", marker) }, []byte(marker+" sync"), loPcap, anyPcapng); err != nil {
			return err
		}
		if err := traffic(marker); err != nil {
			return err
		}
		if err := waitFor(func() {}, []byte(marker+" tcp"), loPcap, anyPcapng); err != nil {
			return err
		}
		if err := dump.stop(); err != nil {
			return err
		}
		return shark.stop()
	})
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(tmp, "FuzzLive")
	r, err := Seed(dir, []string{loPcap, anyPcapng}, SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d packets into %d entries; synthesized %d, skipped %v", r.Packets, r.Written, r.Synthesized, r.Skipped)
	for _, f := range r.Files {
		// 5 UDP datagrams and at least a TCP handshake, data and close.
		if f.Error != "" || f.Packets < 10 || f.Written == 0 {
			t.Errorf("%s: %d packets, %d written, error %q", f.Path, f.Packets, f.Written, f.Error)
		}
	}
	if r.Synthesized == 0 {
		t.Error("no synthesized Ethernet header from the \"any\" capture")
	}
	d, err := ReadDirFiles(dir)
	if err != nil || len(d.Bad) > 0 {
		t.Fatal(err, d.Bad)
	}
	found := map[string]int{} // transport with the marker → entries, by note
	for _, f := range d.Files {
		pkt := gopacket.NewPacket(f.Entry.Packet, layers.LayerTypeEthernet, gopacket.Default)
		if pkt.ErrorLayer() != nil {
			t.Errorf("%s does not decode: %v", f.Path, pkt.ErrorLayer().Error())
			continue
		}
		tl := pkt.TransportLayer()
		if tl != nil && bytes.HasPrefix(tl.LayerPayload(), []byte(marker)) {
			kind := tl.LayerType().String()
			if f.Note != "" {
				kind += " synthesized"
			}
			found[kind]++
		}
	}
	// Each capture has the datagrams and the TCP data: from lo as Ethernet,
	// from any with a synthesized header.
	for _, k := range []string{"UDP", "TCP", "UDP synthesized", "TCP synthesized"} {
		if found[k] == 0 {
			t.Errorf("no %s entry carries the payload sent (found %v)", k, found)
		}
	}

	// And back: the export holds every entry's packet.
	out := filepath.Join(tmp, "export.pcapng")
	files := exportDir(t, dir, out)
	back, err := ReadFile(out)
	if err != nil || len(back.Packets) != len(files) {
		t.Fatalf("export reads back %v packets of %d (%v)", back, len(files), err)
	}
	for i, p := range back.Packets {
		if !bytes.Equal(p.Data, files[i].Entry.Packet) {
			t.Errorf("exported packet %d differs from %s", i+1, files[i].Path)
		}
	}
}

// waitFor calls send every 100ms until every file holds b, for up to 20s.
func waitFor(send func(), b []byte, files ...string) error {
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		send()
		missing := ""
		for _, f := range files {
			if data, _ := os.ReadFile(f); !bytes.Contains(data, b) {
				missing = f
			}
		}
		if missing == "" {
			return nil
		}
	}
	return fmt.Errorf("capture files do not hold %q after 20s", b)
}

// capture is a running tcpdump or tshark.
type capture struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
	once   sync.Once
	err    error
}

// startCapture starts a capture tool and waits until its stderr says it
// listens (ready).
func startCapture(tool, ready string, args ...string) (*capture, error) {
	cmd := exec.Command(tool, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", tool, err)
	}
	c := &capture{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	readyc := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			c.stderr.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), ready) {
				readyc <- true
			}
		}
		io.Copy(io.Discard, pipe)
		c.done <- cmd.Wait()
	}()
	select {
	case <-readyc:
		return c, nil
	case err := <-c.done:
		c.done <- err
		return nil, fmt.Errorf("%s exited before capturing: %v", tool, err)
	case <-time.After(startTimeout):
		c.stop()
		return nil, fmt.Errorf("%s did not start capturing in %v", tool, startTimeout)
	}
}

// startTimeout is how long a capture tool may take to start. tshark loads
// every dissector first: on a 2-vCPU machine busy with fuzzing it took more
// than 20 s.
const startTimeout = 90 * time.Second

// stop interrupts the tool (it then writes out the capture) and waits for
// it; stopping again returns the first result.
func (c *capture) stop() error {
	c.once.Do(func() {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-c.done:
			if err != nil {
				c.err = fmt.Errorf("%s: %v\n%s", c.cmd.Path, err, c.stderr)
			}
		case <-time.After(20 * time.Second):
			c.cmd.Process.Kill()
			c.err = fmt.Errorf("%s did not stop in 20s", c.cmd.Path)
		}
	})
	return c.err
}

// traffic sends five UDP datagrams and one TCP exchange over loopback, each
// carrying marker.
func traffic(marker string) error {
	uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer uc.Close()
	us, err := net.Dial("udp4", uc.LocalAddr().String())
	if err != nil {
		return err
	}
	defer us.Close()
	for i := range 5 {
		if _, err := fmt.Fprintf(us, "%s udp %d", marker, i); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	acc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acc <- err
			return
		}
		_, err = io.Copy(io.Discard, c)
		c.Close()
		acc <- err
	}()
	tc, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(tc, "%s tcp", marker); err != nil {
		return err
	}
	tc.Close()
	return <-acc
}
