package childproc_test

import (
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/childproc"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

const envChild = "AMKEEPER_TEST_CHILDPROC"

// TestMain turns the re-executed test binary into a child that runs until its
// stdin closes.
func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(leakcheck.Code(m.Run()))
}

// groupOf starts a child with the attributes of g and returns its process
// group ID and PID.
func groupOf(t *testing.T, g childproc.Group) (pgid, pid int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1")
	cmd.SysProcAttr = childproc.SysProcAttr(g)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { stdin.Close(); require.NoError(t, cmd.Wait()) }()
	pgid, err = syscall.Getpgid(cmd.Process.Pid)
	require.NoError(t, err)
	return pgid, cmd.Process.Pid
}

func TestOwnGroupLeadsANewProcessGroup(t *testing.T) {
	pgid, pid := groupOf(t, childproc.OwnGroup)
	require.Equal(t, pid, pgid)
}

func TestSameGroupStaysInTheParentsGroup(t *testing.T) {
	pgid, _ := groupOf(t, childproc.SameGroup)
	require.Equal(t, syscall.Getpgrp(), pgid)
}
