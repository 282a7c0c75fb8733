package embedded_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

// open is the embedded backend of dir (an election and retrieval of its own).
func open(t *testing.T, dir, name string) *embedded.Backend {
	b, err := embedded.Open(dir, logging.ForTest(t).With().Str("who", name).Logger())
	require.NoError(t, err)
	return b
}

func runEmbedded(t *testing.T, dir, name string) (grants chan recovery.Grant, stop func()) {
	el := open(t, dir, name).Election()
	ctx, cancel := context.WithCancel(context.Background())
	grants = make(chan recovery.Grant, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = el.Run(ctx, func(g recovery.Grant) {
			require.NoError(t, g.Confirm(g.Context(), recovery.Dispatcher, name))
			grants <- g
			<-g.Done()
		})
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return grants, stop
}

func retrieveEmbedded(t *testing.T, dir string) *recoverytest.Leaders {
	return recoverytest.Follow(t, open(t, dir, "retriever"), recovery.Dispatcher)
}

func TestEmbeddedElectionOneLeaderAndHandover(t *testing.T) {
	dir := t.TempDir()
	r := retrieveEmbedded(t, dir)
	g1s, stop1 := runEmbedded(t, dir, "first")
	var g1 recovery.Grant
	select {
	case g1 = <-g1s:
	case <-time.After(5 * time.Second):
		t.Fatal("embedded leadership not granted at once")
	}
	recoverytest.RequireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "first" && i.SessionID == g1.SessionID() }, "retrieval sees the leader")

	g2s, _ := runEmbedded(t, dir, "second")
	select {
	case <-g2s:
		t.Fatal("two embedded leaders at once")
	case <-time.After(100 * time.Millisecond):
	}
	stop1()
	require.ErrorIs(t, g1.Err(), recovery.ErrNotLeader)
	var g2 recovery.Grant
	select {
	case g2 = <-g2s:
	case <-time.After(5 * time.Second):
		t.Fatal("no handover")
	}
	require.NotEqual(t, g1.SessionID(), g2.SessionID())
	recoverytest.RequireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "second" }, "retrieval follows")
}

func TestEmbeddedElectionKilledLeaderProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), contenderEnv+"=child", "AMKEEPER_TEST_EMBEDDED_DIR="+dir)
	cc := recoverytest.StartChild(t, cmd)
	cc.Expect(t, "LEADER", 10*time.Second)

	r := retrieveEmbedded(t, dir)
	recoverytest.RequireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "child" }, "child leads")
	grants, _ := runEmbedded(t, dir, "survivor")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait() // reaped: its PID is gone and the kernel released its flock
	select {
	case <-grants:
	case <-time.After(5 * time.Second):
		t.Fatal("the lock of a killed leader was not released")
	}
	recoverytest.RequireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "survivor" }, "retrieval sees the survivor")
}

// contenderEnv names the child contender: the test binary run with it set
// contends in AMKEEPER_TEST_EMBEDDED_DIR instead of running tests.
const contenderEnv = "AMKEEPER_TEST_CONTENDER"

// runContender is the child process: it contends, confirms the dispatcher with
// its name as address and prints LEADER <session> when granted.
func runContender() int {
	b, err := embedded.Open(os.Getenv("AMKEEPER_TEST_EMBEDDED_DIR"), zerolog.New(os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("READY")
	_ = b.Election().Run(context.Background(), func(l recovery.Grant) {
		if err := l.Confirm(l.Context(), recovery.Dispatcher, os.Getenv(contenderEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "confirm:", err)
		}
		fmt.Println("LEADER", l.SessionID())
		<-l.Done()
	})
	return 0
}
