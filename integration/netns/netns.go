package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/amkeeper/amkeeper/internal/procid"
)

// maxBeds bounds the subnet number N of 10.213.N.0/24.
const maxBeds = 250

// aliasPrefix marks our bridges; the rest of the alias names their creator.
const aliasPrefix = "amkeeper-netns "

var hostName = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)

// Bed is a set of hosts on one bridge.
type Bed struct {
	n      int
	bridge string
	hosts  []*Host
	t      testing.TB // nil for a bed made with Create
}

// Host is one network namespace with one address.
type Host struct {
	bed  *Bed
	Name string
	// NS is the namespace's name (ip netns).
	NS string
	// Addr is the host's address on the bed's subnet.
	Addr netip.Addr
	// cable is the bridge's end of the host's veth.
	cable string
}

// New makes a bed with one host per name (lower-case letters and digits, at
// most 6), and removes it when the test ends. It fails the test when the bed
// cannot be made: not root, no ip or nft, namespaces refused.
func New(t testing.TB, names ...string) *Bed {
	t.Helper()
	b, err := create(t.Logf, names)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	b.t = t
	t.Cleanup(func() {
		if err := b.remove(); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	return b
}

// Create makes a bed outside a test (a benchmark command); logf reports what it
// cleaned up. The caller removes it with Close; Host returns nil for a name it
// does not have.
func Create(logf func(format string, args ...any), names ...string) (*Bed, error) {
	b, err := create(logf, names)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	return b, nil
}

// Close removes a bed made with Create: its namespaces and bridge.
func (b *Bed) Close() error { return b.remove() }

func create(logf func(format string, args ...any), names []string) (*Bed, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the multi-host test bed needs root (network namespaces, veth, a bridge): run the tests as root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (run scripts/install-deps): %w", tool, err)
		}
	}
	if len(names) == 0 || len(names) > 200 {
		return nil, fmt.Errorf("want 1 to 200 hosts, not %d", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !hostName.MatchString(n) || seen[n] {
			return nil, fmt.Errorf("host name %q: want distinct names of lower-case letters and digits, at most 6, starting with a letter", n)
		}
		seen[n] = true
	}
	removeStale(logf)
	b := &Bed{}
	for n := 1; ; n++ {
		if n > maxBeds {
			return nil, fmt.Errorf("no free subnet: bridges amkb1..amkb%d all exist", maxBeds)
		}
		bridge := "amkb" + strconv.Itoa(n)
		// Creating the bridge is the lock on N: it fails when another bed has it.
		if _, err := run("ip", "link", "add", bridge, "type", "bridge"); err != nil {
			if strings.Contains(err.Error(), "File exists") {
				continue
			}
			return nil, err
		}
		b.n, b.bridge = n, bridge
		err := b.setUp(names)
		if err == nil {
			return b, nil
		}
		_ = b.remove()
		if !errors.Is(err, errTaken) {
			return nil, err
		}
		// A namespace or veth of N outlives a removed bed while a process still
		// runs in it (its bridge gone): N is taken after all.
		logf("netns: subnet %d still in use (%v); trying the next", n, err)
		b = &Bed{}
	}
}

// errTaken: a name of the bed's N exists already.
var errTaken = errors.New("name in use")

func (b *Bed) setUp(names []string) error {
	self, err := procid.Of(os.Getpid())
	if err != nil {
		return fmt.Errorf("netns: this process's identity: %w", err)
	}
	subnet := fmt.Sprintf("10.213.%d.", b.n)
	if _, err := run("ip", "link", "set", b.bridge, "alias", fmt.Sprintf("%spid=%d start=%d", aliasPrefix, self.PID, self.StartTicks)); err != nil {
		return err
	}
	if _, err := run("ip", "addr", "add", subnet+"254/24", "dev", b.bridge); err != nil {
		return err
	}
	if _, err := run("ip", "link", "set", b.bridge, "up"); err != nil {
		return err
	}
	for i, name := range names {
		h := &Host{bed: b, Name: name, NS: fmt.Sprintf("amk%d-%s", b.n, name),
			Addr: netip.MustParseAddr(subnet + strconv.Itoa(i+1)), cable: fmt.Sprintf("amk%dh%d", b.n, i)}
		// Only what this bed created is its to remove.
		if _, err := run("ip", "netns", "add", h.NS); err != nil {
			if strings.Contains(err.Error(), "File exists") {
				return fmt.Errorf("host %s: namespace %s: %w", name, h.NS, errTaken)
			}
			return fmt.Errorf("host %s: %w", name, err)
		}
		b.hosts = append(b.hosts, h)
		peer := h.cable + "p"
		// The bridge makes N ours, so a veth of that name is a leftover of an
		// earlier bed of N: the kernel destroys a deleted namespace's veths
		// asynchronously, after `ip netns delete` returns.
		dropLink(h.cable)
		if _, err := run("ip", "link", "add", h.cable, "type", "veth", "peer", "name", peer); err != nil {
			if strings.Contains(err.Error(), "File exists") {
				return fmt.Errorf("host %s: veth %s: %w", name, h.cable, errTaken)
			}
			return fmt.Errorf("host %s: %w", name, err)
		}
		for _, args := range [][]string{
			{"link", "set", peer, "netns", h.NS},
			{"-n", h.NS, "link", "set", peer, "name", "eth0"},
			{"-n", h.NS, "addr", "add", h.Addr.String() + "/24", "dev", "eth0"},
			{"-n", h.NS, "link", "set", "eth0", "up"},
			{"-n", h.NS, "link", "set", "lo", "up"},
			{"link", "set", h.cable, "master", b.bridge},
			{"link", "set", h.cable, "up"},
		} {
			if _, err := run("ip", args...); err != nil {
				return fmt.Errorf("host %s: %w", name, err)
			}
		}
	}
	return nil
}

// Host returns the host of that name; it fails the test when there is none.
func (b *Bed) Host(name string) *Host {
	for _, h := range b.hosts {
		if h.Name == name {
			return h
		}
	}
	if b.t != nil {
		b.t.Fatalf("netns: no host %q in the bed", name)
	}
	return nil
}

// Gateway is the bridge's own address: the test process's address on the bed.
func (b *Bed) Gateway() netip.Addr { return netip.MustParseAddr(fmt.Sprintf("10.213.%d.254", b.n)) }

// remove deletes the hosts' namespaces (their veths go with them) and the bridge.
func (b *Bed) remove() error {
	var errs []error
	for _, h := range b.hosts {
		// Deleting one end of a veth deletes the pair at once; left to the
		// namespace's deletion it would linger and take the name from the
		// next bed of this N.
		dropLink(h.cable)
		if _, err := run("ip", "netns", "delete", h.NS); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	if b.bridge != "" {
		if _, err := run("ip", "link", "delete", b.bridge); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dropLink deletes the link of that name if there is one.
func dropLink(name string) {
	if _, err := run("ip", "link", "show", name); err == nil {
		_, _ = run("ip", "link", "delete", name)
	}
}

// removeStale removes the beds whose creator is gone: their bridge alias names
// a PID and start time that no longer match a live process.
func removeStale(logf func(format string, args ...any)) {
	out, err := run("ip", "-o", "link", "show", "type", "bridge")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[1], "amkb") {
			continue
		}
		bridge := strings.TrimSuffix(f[1], ":")
		_, alias, ok := strings.Cut(line, "alias "+aliasPrefix)
		if !ok {
			continue // a bed being set up right now has no alias yet
		}
		var id procid.Identity
		if _, err := fmt.Sscanf(strings.TrimSpace(alias), "pid=%d start=%d", &id.PID, &id.StartTicks); err != nil {
			continue
		}
		if procid.Verify(id) == nil {
			continue
		}
		n := strings.TrimPrefix(bridge, "amkb")
		if nss, err := run("ip", "netns", "list"); err == nil {
			for _, l := range strings.Split(nss, "\n") {
				if ns, _, _ := strings.Cut(l, " "); strings.HasPrefix(ns, "amk"+n+"-") {
					_, _ = run("ip", "netns", "delete", ns)
				}
			}
		}
		if links, err := run("ip", "-o", "link", "show"); err == nil {
			for _, l := range strings.Split(links, "\n") {
				if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "amk"+n+"h") {
					name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
					dropLink(name)
				}
			}
		}
		_, _ = run("ip", "link", "delete", bridge)
		logf("netns: removed bed %s left by process %d", bridge, id.PID)
	}
}

// Command returns a command that runs name inside the host. Its process is the
// program itself (ip netns exec replaces itself with it), so its PID is the
// program's.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	h.Wrap(cmd)
	return cmd
}

// Wrap makes a prepared command run inside the host.
func (h *Host) Wrap(cmd *exec.Cmd) {
	path := cmd.Path
	if ip, err := exec.LookPath("ip"); err == nil {
		cmd.Path = ip
	} else {
		cmd.Path = "/usr/sbin/ip"
	}
	cmd.Args = append([]string{"ip", "netns", "exec", h.NS, path}, cmd.Args[1:]...)
}

// Listen opens a listener of the test process inside the host: a server of the
// test (an in-process fake such as integration/hdfspeer) then lives on the host,
// reached at the host's address and cut off by the host's faults. The socket is
// made on an OS thread moved into the host's namespace; that thread is never
// returned to the runtime (it ends with its goroutine), so no other goroutine
// runs in the host by accident.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		ns, err := os.Open("/run/netns/" + h.NS)
		if err != nil {
			ch <- result{err: fmt.Errorf("netns: listen on %s: %w", h.Name, err)}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("netns: listen on %s: setns %s: %w", h.Name, h.NS, err)}
			return
		}
		ln, err := net.Listen(network, address)
		if err != nil {
			err = fmt.Errorf("netns: listen on %s: %w", h.Name, err)
		}
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// Address is the host's address as text.
func (h *Host) Address() string { return h.Addr.String() }

// LinkDown pulls the host's cable: the bridge's end of its veth goes down.
func (h *Host) LinkDown() error {
	_, err := run("ip", "link", "set", h.cable, "down")
	return err
}

// LinkUp plugs the cable back.
func (h *Host) LinkUp() error {
	_, err := run("ip", "link", "set", h.cable, "up")
	return err
}

// Drop makes the host drop percent (1..100) of the packets it sends to or
// receives from the peers (all hosts when none are named), with nftables rules
// inside the host, replacing any rules Drop set before.
func (h *Host) Drop(percent int, peers ...*Host) error {
	if percent < 1 || percent > 100 {
		return fmt.Errorf("netns: drop %d%%: want 1..100", percent)
	}
	verdict := "drop"
	if percent < 100 {
		verdict = fmt.Sprintf("numgen random mod 100 < %d drop", percent)
	}
	match := func(dir string) []string {
		if len(peers) == 0 {
			return []string{verdict} // every packet but the loopback's (accepted first)
		}
		var rules []string
		for _, p := range peers {
			rules = append(rules, fmt.Sprintf("ip %s %s %s", dir, p.Addr, verdict))
		}
		return rules
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "table inet amkfault {\n")
	fmt.Fprintf(&b, " chain in {\n  type filter hook input priority 0; policy accept;\n  iif lo accept\n  %s\n }\n", strings.Join(match("saddr"), "\n  "))
	fmt.Fprintf(&b, " chain out {\n  type filter hook output priority 0; policy accept;\n  oif lo accept\n  %s\n }\n", strings.Join(match("daddr"), "\n  "))
	fmt.Fprintf(&b, "}\n")
	if err := h.Heal(); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", h.NS, "nft", "-f", "-")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netns: drop on %s: nft: %w: %s", h.Name, err, bytes.TrimSpace(out))
	}
	return nil
}

// Heal removes the host's drop rules (none is fine).
func (h *Host) Heal() error {
	out, err := run("ip", "netns", "exec", h.NS, "nft", "list", "tables")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "inet amkfault") {
		return nil
	}
	_, err = run("ip", "netns", "exec", h.NS, "nft", "delete", "table", "inet", "amkfault")
	return err
}

// Partition cuts a from b (both directions) and nothing else; Heal on a ends it.
func Partition(a, b *Host) error { return a.Drop(100, b) }

// Reachable reports whether a TCP port on the host answers from the test
// process within d: for tests that wait for a host to come back.
func (h *Host) Reachable(port int, within time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(h.Addr, uint16(port)).String())
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// PIDs lists the processes running inside the host (those whose network
// namespace is the host's), as a machine's process table would.
func (h *Host) PIDs() ([]int, error) {
	var st unix.Stat_t
	if err := unix.Stat("/run/netns/"+h.NS, &st); err != nil {
		return nil, fmt.Errorf("netns: host %s: %w", h.Name, err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("netns: host %s: %w", h.Name, err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}
