package zkclient_test

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goZooKeeper is the module the wire-level parts of this package reach behind.
const goZooKeeper = "github.com/go-zookeeper/zk"

// verifiedGoZooKeeper is the go-zookeeper version those parts were verified
// against. Change it only after re-verifying what the test's message lists.
const verifiedGoZooKeeper = "v1.0.4"

// TestWireLevelPartsPinnedToGoZooKeeper fails when the go-zookeeper version in
// use is not the one this package's wire-level parts were verified against: they
// depend on how go-zookeeper talks on the wire, not only on its API.
func TestWireLevelPartsPinnedToGoZooKeeper(t *testing.T) {
	got, where := goZooKeeperVersion(t)
	if got == verifiedGoZooKeeper {
		return
	}
	t.Fatalf(`%s is %s (%s), but recovery/zkha/zkclient's wire-level parts were verified against %s.
Before changing verifiedGoZooKeeper in this test, re-verify against the new version:
  - sniff.go, the session tap: go-zookeeper dials every connection through zk.WithDialer,
    sends the ConnectRequest {protocolVersion, lastZxidSeen, timeOut, sessionId, passwd}
    as the first Write, and reads the ConnectResponse {protocolVersion, timeOut,
    sessionId, passwd} as the first frame; it keeps the session password private (if it
    now exposes it, read it there and drop the tap); a ConnectRequest rewritten to session
    0 with a zero password still makes it take the new session the server grants
    (TestSessionCredentialsAreCaptured, TestTapAsksForANewSessionOnlyWhenRenewing,
    TestStates*); it reads the whole ConnectResponse before it uses the session or
    sends queued requests, sets the handshake's read deadline through the
    connection's SetReadDeadline, and closes a connection through its Close before
    it reports Disconnected (TestTapRefusedSessionNeverReachesTheClient,
    TestAbandonedSessionIsNeverTakenUpAgain, TestTapBoundsTheHandshake).
  - close.go, the session closer (CloseSession), and multiread.go, the multiRead reader:
    they speak jute themselves (wire.go); the Stat layout decoded there and the errors
    codeError maps to (zk.ErrNoNode, zk.ErrNoAuth, zk.ErrAuthFailed) must still be
    go-zookeeper's; if go-zookeeper now speaks multiRead (op 22), use it instead of the
    reader's second connection (TestCloseSession*, TestCoalescedReads*).
  - sasl.go, the SASL dialer: go-zookeeper writes the whole ConnectRequest in its
    first Write on a connection and reads the ConnectResponse only after that Write
    returned; its write and read deadlines go through the connection's Set*Deadline
    (TestSASL*). If go-zookeeper now speaks SASL, use it instead.
  - coalesce.go and Client.Multi: zk.Conn.Multi still returns one MultiResponse per op
    with no error on the ops before the failing one, so the first error names the cause
    (MultiError.Index), and errors it cannot place still match zk.ErrAPIError
    (TestCreateCoalesced*, TestChrootCreateGetMulti).
  - scripts/run-tests compiles go-zookeeper without the race detector for its own race
    on lastZxid (samuel/go-zookeeper#260): keep that only while the race is there.`,
		goZooKeeper, got, where, verifiedGoZooKeeper)
}

// goZooKeeperVersion reads the version in use from the binary's build info, or,
// where a test binary records no dependencies, from the module's go.mod.
func goZooKeeperVersion(t *testing.T) (version, where string) {
	t.Helper()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != goZooKeeper {
				continue
			}
			if d.Replace != nil {
				return d.Replace.Path + "@" + d.Replace.Version, "replaced, from the build info"
			}
			return d.Version, "from the build info"
		}
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
	gomod := filepath.Join(dir, "go.mod")
	f, err := os.Open(gomod)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		switch {
		case len(fields) >= 1 && fields[0] == "replace" && len(fields) >= 2 && fields[1] == goZooKeeper:
			return strings.Join(fields[1:], " "), "replaced in " + gomod
		case len(fields) >= 2 && fields[0] == goZooKeeper && version == "":
			version = fields[1]
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, version, "%s does not require %s", gomod, goZooKeeper)
	return version, "from " + gomod
}
