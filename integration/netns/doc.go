// Package netns is the multi-host test bed: hosts as Linux network namespaces
// joined by a bridge, each with its own address, processes started inside them,
// and faults made with real network operations.
//
// A Bed is one bridge (amkb<N>) with the subnet 10.213.<N>.0/24; the bridge
// itself holds 10.213.<N>.254, so the test process (in the root namespace) can
// reach every host, as an operator's machine on the same network would. Host i
// is the namespace amk<N>-<name> with the address 10.213.<N>.<i+1> on eth0, a
// veth whose other end (amk<N>h<i>) is a port of the bridge. N is the first
// number whose bridge does not exist yet, so beds of tests running in parallel
// (other packages, other engineers) never share a subnet.
//
// Host.Wrap and Host.Command run a process inside a host; Host.Listen opens a
// listener of the test process itself inside a host, for in-process servers
// such as integration/hdfspeer (hdfspeer.WithHost).
//
// Faults:
//   - LinkDown / LinkUp: the host's cable (the bridge's end of its veth) is
//     pulled and plugged back: nothing reaches the host, nothing leaves it, and
//     its processes are not told (no error, as with a real cable).
//   - Drop: nftables rules in the host drop a share of the packets to and from
//     some peers (or all); Partition drops everything between two hosts; Heal
//     removes a host's rules.
//
// What it guarantees: a bed's namespaces and bridge are removed when the test
// ends (processes started with Command should be stopped by the test first; a
// namespace cannot keep a process from running, only from talking), and a bed
// left behind by a test binary that died (its bridge's alias names the PID and
// start time of its creator) is removed by the next New. It needs root, ip
// (iproute2) and nft (nftables), which scripts/install-deps installs; without
// them New fails the test — it never skips.
package netns
