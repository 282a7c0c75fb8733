package embedded_test

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
)

func runEmbedded(t *testing.T, dir, name string) (grants chan recovery.Grant, stop func()) {
	el := recovery.NewEmbeddedElection(dir, logging.ForTest(t).With().Str("who", name).Logger())
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

func retrieveEmbedded(t *testing.T, dir string) *retriever {
	r := &retriever{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = recovery.RetrieveEmbedded(ctx, dir, recovery.Dispatcher, func(i recovery.LeaderInfo) {
			r.mu.Lock()
			r.infos = append(r.infos, i)
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
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
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "first" && i.SessionID == g1.SessionID() }, "retrieval sees the leader")

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
	require.Empty(t, g2.GuardOps())
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "second" }, "retrieval follows")
}

func TestEmbeddedElectionKilledLeaderProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), contenderEnv+"=child", "AMKEEPER_TEST_EMBEDDED_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	cc := &childContender{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			n, err := out.Read(buf)
			acc += string(buf[:n])
			for {
				i := indexByte(acc, '\n')
				if i < 0 {
					break
				}
				cc.lines <- acc[:i]
				acc = acc[i+1:]
			}
			if err != nil {
				close(cc.lines)
				return
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	cc.expect(t, "LEADER", 10*time.Second)

	r := retrieveEmbedded(t, dir)
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "child" }, "child leads")
	grants, _ := runEmbedded(t, dir, "survivor")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait() // reaped: its PID is gone and the kernel released its flock
	select {
	case <-grants:
	case <-time.After(5 * time.Second):
		t.Fatal("the lock of a killed leader was not released")
	}
	requireLeader(t, r, func(i recovery.LeaderInfo) bool { return i.Address == "survivor" }, "retrieval sees the survivor")
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}
