package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

var (
	zkc *zktest.Cluster
	// bin is the yarn-session binary built for this run; the processes under test
	// are real processes of it.
	bin string
	// benchBin is the amkeeper-bench binary built for this run; its sessions run
	// bin.
	benchBin string
)

func TestMain(m *testing.M) {
	if plan := os.Getenv(envAttack); plan != "" {
		os.Exit(runAttacks(plan)) // this process is the attacker of trust_test.go
	}
	dir, err := os.MkdirTemp("", "amkeeper-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "yarn-session")
	benchBin = filepath.Join(dir, "amkeeper-bench")
	// One go build for both: the package list shares its work.
	build := exec.Command("go", "build", "-o", dir, "github.com/amkeeper/amkeeper/cmd/yarn-session", "github.com/amkeeper/amkeeper/cmd/amkeeper-bench")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build yarn-session and amkeeper-bench:", err)
		os.Exit(1)
	}
	code := zktest.Main(m, func(c *zktest.Cluster) { zkc = c })
	for _, exe := range []string{bin, benchBin} {
		if left := leftovers(exe); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "integration: processes of %s still running after the tests (killed now): %v\n", exe, left)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(leakcheck.Code(code))
}

// leftovers lists live processes running exe: no test may leave one behind.
func leftovers(exe string) []int {
	return processes(func(cmdline string) bool { return strings.HasPrefix(cmdline, exe+"\x00") })
}

// processes lists the live processes whose command line (NUL-separated) matches.
func processes(match func(cmdline string) bool) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !match(string(b)) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
