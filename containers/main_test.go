package containers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

// Environment switches that turn the re-executed test binary into a fake process.
const (
	envFakeTM         = "AMKEEPER_TEST_FAKE_TM"          // "1": run as a fake TaskManager
	envFakeExit       = "AMKEEPER_TEST_FAKE_EXIT"        // exit at once with this code
	envFakeIgnoreTerm = "AMKEEPER_TEST_FAKE_IGNORE_TERM" // "1": ignore SIGTERM
	envFakeSupervisor = "AMKEEPER_TEST_FAKE_SUPERVISOR"  // app dir: run as a supervisor that dies by SIGKILL
	envFakeChild      = "AMKEEPER_TEST_FAKE_CHILD"       // "1": first start a fake TaskManager child in the same group
)

func TestMain(m *testing.M) {
	if os.Getenv(envFakeTM) == "1" {
		fakeTaskManager()
		return
	}
	if dir := os.Getenv(envFakeSupervisor); dir != "" {
		fakeSupervisor(dir) // never returns
	}
	os.Exit(leakcheck.Code(m.Run()))
}

// fakeTaskManager prints what the tests check, then exits with the requested code or
// runs until a signal ends it.
func fakeTaskManager() {
	if os.Getenv(envFakeIgnoreTerm) == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	pgid, _ := syscall.Getpgid(0)
	fmt.Printf("container_id=%s\n", os.Getenv("CONTAINER_ID"))
	fmt.Printf("gomemlimit=%s\n", os.Getenv("GOMEMLIMIT"))
	fmt.Printf("log_dirs=%s\n", os.Getenv("LOG_DIRS"))
	fmt.Printf("pid=%d pgid=%d\n", os.Getpid(), pgid)
	fmt.Fprintln(os.Stderr, "stderr-line from fake taskmanager")
	if os.Getenv(envFakeChild) == "1" {
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), envFakeChild+"=", envFakeExit+"=")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "start child:", err)
			os.Exit(98)
		}
		fmt.Printf("child_pid=%d\n", child.Process.Pid)
	}
	if s := os.Getenv(envFakeExit); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil {
			code = 99
		}
		os.Exit(code)
	}
	fmt.Println("ready")
	// Block until a signal ends the process; SIGUSR2 is never sent.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	<-c
	os.Exit(0)
}

// fakeSupervisor launches one fake TaskManager, prints its PID, start time and sequence number and dies by SIGKILL,
// skipping every cleanup, as a crashed supervisor would.
func fakeSupervisor(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "fake supervisor:", err)
		os.Exit(2)
	}
	m, err := containers.New(containers.Config{App: testApp, Dir: dir})
	if err != nil {
		fail(err)
	}
	c, err := m.Launch(context.Background(), fakeSpec(1))
	if err != nil {
		fail(err)
	}
	fmt.Printf("tm_pid=%d start=%d seq=%d\n", c.PID, c.StartTicks, c.ID.Seq)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // not reached
}

var testApp = containers.AppID{ClusterTimestamp: 1700000000000, Seq: 7}

// fakeSpec launches this test binary as a fake TaskManager with 512 MiB and 2 slots.
func fakeSpec(attempt int, env ...string) containers.LaunchSpec {
	return containers.LaunchSpec{
		Attempt: attempt,
		Path:    os.Args[0],
		Args:    []string{"-test.run=^$"},
		Env:     append(append(os.Environ(), envFakeTM+"=1", envFakeSupervisor+"="), env...),
		Memory:  512 << 20,
		Slots:   2,
	}
}
